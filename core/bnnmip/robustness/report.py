"""One row per radius: clean, random-noise and certified accuracy (``bnnmip evaluate``)."""

from __future__ import annotations

import numpy as np

from ..backends import DEFAULT_BACKEND
from ..network import BinarizedNetwork
from .certifier import certify as _certify  # the parameter "certify" shadows the name
from .inputs import _check_radii, _prepare
from .noise import noise_accuracy

__all__ = ["robustness_report"]


def robustness_report(network: BinarizedNetwork, X, y, radii, *, backend: str = DEFAULT_BACKEND,
                      seed: int = 0, n_draws: int = 10, certify: bool = True, rule=None,
                      time_limit: float | None = None, scaled: bool = False,
                      max_enumerate: int = 16) -> list[dict]:
    """One row per radius: clean, random-noise and certified accuracy.

    Parameters are those of :func:`noise_accuracy` and :func:`certify`; ``certify=False``
    skips the certificates (their columns are then ``None``).

    Returns
    -------
    list of dict
        Keys ``radius``, ``clean_accuracy``, ``noise_accuracy``, ``certified_accuracy``,
        ``attackable`` and ``unknown`` (counts of points), ``seconds`` (certification time).
    """
    radii = _check_radii(radii)
    noise = noise_accuracy(network, X, y, radii, n_draws=n_draws, seed=seed, rule=rule, scaled=scaled)
    Xs, yi = _prepare(network, X, y, scaled)
    clean = float(np.mean(network.predict_index(Xs, rule=rule, scaled=True) == yi))
    rows = []
    for r in radii:
        row = {"radius": r, "clean_accuracy": clean, "noise_accuracy": noise[r],
               "certified_accuracy": None, "attackable": None, "unknown": None, "seconds": None}
        if certify:
            c = _certify(network, Xs, y, r, backend=backend, rule=rule, time_limit=time_limit,
                         scaled=True, max_enumerate=max_enumerate)
            row.update(certified_accuracy=c.certified_accuracy, attackable=c.n_attackable,
                       unknown=c.n_unknown, seconds=round(c.seconds, 4))
        rows.append(row)
    return rows
