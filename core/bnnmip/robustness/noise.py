"""Accuracy under random-sign noise: the paper's robustness test (random, not worst case).

Add ``r * s`` with ``s`` uniformly random signs in ``{-1, +1}^n`` to every input (in the
network's scaled input space) and measure the accuracy.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from ..network import BinarizedNetwork
from .inputs import _check_radii, _prepare

__all__ = ["noise_accuracy"]


def noise_accuracy(network: BinarizedNetwork, X, y, radii, *, n_draws: int = 1, seed: int = 0,
                   rule=None, scaled: bool = False) -> dict[float, float]:
    """Accuracy under the paper's random-sign noise, per radius.

    Each input ``x`` (scaled first by the network's input scaling unless ``scaled=True``)
    becomes ``x + r * s`` with ``s`` uniformly random in ``{-1, +1}^n``; the accuracy is
    averaged over ``n_draws`` independent draws. The same draws are used for every radius
    (common random numbers), so radius 0 gives the clean accuracy.

    Parameters
    ----------
    network : BinarizedNetwork
        The network.
    X : array-like of shape (m, n)
        Inputs, raw (``scaled=False``) or already in the network's scaled units.
    y : array-like of shape (m,)
        Labels as :meth:`BinarizedNetwork.predict` returns them: the original labels when the
        network carries ``classes``, class indices otherwise. Labels the network does not know
        count as errors.
    radii : float or sequence of float
        Noise sizes, in scaled units (the units of the robust training radius).
    n_draws : int, default 1
        Number of random sign draws averaged.
    seed : int, default 0
        Seed of the draws.
    rule : {"preactivation", "binary"} or None
        Prediction rule (default: the network's own).
    scaled : bool, default False
        Whether ``X`` is already scaled.

    Returns
    -------
    dict
        ``{radius: accuracy}``.
    """
    Xs, yi = _prepare(network, X, y, scaled)
    radii = _check_radii(radii)
    if int(n_draws) != n_draws or n_draws < 1:
        raise InvalidInputError(f"n_draws must be a positive integer, got {n_draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInputError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(radii, 0)
    for _ in range(int(n_draws)):  # one draw at a time: memory does not grow with n_draws
        s = rng.integers(0, 2, size=Xs.shape) * 2.0 - 1.0
        for r in hits:
            hits[r] += int(np.count_nonzero(network.predict_index(Xs + r * s, rule=rule, scaled=True) == yi))
    return {r: hits[r] / (Xs.shape[0] * int(n_draws)) for r in radii}
