"""Dynamic-range checks: refuse problems the solvers' tolerances cannot represent.

A MILP solver compares numbers with fixed tolerances (integrality and feasibility down to
1e-9, optimality gaps around 1e-6 absolute). Two inputs can push a training problem past them,
and the solver then reports a confident "optimal" that is wrong:

- **sample weights** whose largest and smallest positive values differ by more than
  :data:`MAX_WEIGHT_RATIO` (``[1e20, 1, ..., 1]``: the small points vanish in the objective's
  round-off and are misclassified at "optimal objective 0"), or whose values are so small or
  large that one point's loss falls below the absolute tolerances or above what a double
  represents exactly (outside [:data:`MIN_SAMPLE_WEIGHT`, :data:`MAX_SAMPLE_WEIGHT`]);
- **an integer weight bound** P so large that the big-M constants (at least ``P`` times a
  neuron's fan-in) times the smallest integrality tolerance a solver accepts (1e-9) reach the
  activation margin eps: a binary within tolerance could then flip an activation.

:func:`check_training_numerics` refuses both with a :class:`bnnmip.InvalidInputError` that
says what to do; :func:`bnnmip.train` (and so the estimator and the command line) calls it
before anything runs. bnnmip does not rescale silently: the objective it reports is in the
units the caller gave.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "MAX_SAMPLE_WEIGHT", "MAX_WEIGHT_RATIO", "MIN_INTEGRALITY_TOLERANCE", "MIN_SAMPLE_WEIGHT",
    "check_sample_weights", "check_training_numerics", "check_weight_bound", "max_weight_bound",
]

MAX_WEIGHT_RATIO = 1e6
"""Largest accepted ratio of the largest to the smallest positive sample weight."""
MIN_SAMPLE_WEIGHT = 1e-4
"""Smallest accepted positive sample weight (a hundred times the 1e-6 absolute gap of HiGHS)."""
MAX_SAMPLE_WEIGHT = 1e9
"""Largest accepted sample weight."""
MIN_INTEGRALITY_TOLERANCE = 1e-9
"""The smallest integrality tolerance bnnmip asks of a solver (see ``docs/formulation.md``)."""


def check_sample_weights(weights) -> None:
    """Refuse point weights whose dynamic range the solvers' tolerances cannot represent."""
    w = np.asarray(weights, dtype=float)
    positive = w[w > 0]
    if positive.size == 0:
        return
    lo, hi = float(positive.min()), float(positive.max())
    if hi / lo > MAX_WEIGHT_RATIO:
        raise InvalidInputError(
            f"sample weights range from {lo:g} to {hi:g}, a ratio of {hi / lo:.3g}; above "
            f"{MAX_WEIGHT_RATIO:g} the solver's tolerances cannot tell the small weights from "
            "round-off and it would report a wrong 'optimal' network. Cap the large weights, drop "
            f"the tiny ones (weight 0), or bring them within a ratio of {MAX_WEIGHT_RATIO:g}"
        )
    if lo < MIN_SAMPLE_WEIGHT or hi > MAX_SAMPLE_WEIGHT:
        raise InvalidInputError(
            f"sample weights range from {lo:g} to {hi:g}; the solvers' absolute tolerances need "
            f"every positive weight in [{MIN_SAMPLE_WEIGHT:g}, {MAX_SAMPLE_WEIGHT:g}]. Divide all "
            f"weights by {lo:g} (their smallest positive value): the optimal network is the same"
        )


def max_weight_bound(fan_in: int, eps: float) -> int:
    """The largest integer weight bound P whose big-M rows stay sound for ``fan_in`` inputs."""
    return max(1, int(eps / (10.0 * MIN_INTEGRALITY_TOLERANCE * max(fan_in, 1))))


def check_weight_bound(architecture, eps: float) -> None:
    """Refuse an ``integer:P`` domain whose big-M constants swamp the margin ``eps``.

    A neuron with fan-in ``d`` (plus a bias) needs big-M at least ``P * d``; the integrality
    tolerance bnnmip derives is ``eps / (10 M)`` and cannot go below 1e-9, so ``P * d`` must
    stay below ``eps / 1e-8``.
    """
    domain = architecture.weight_domain
    if not domain.is_integer:
        return
    fan_in = max(architecture.widths[:-1])
    limit = max_weight_bound(fan_in, eps)
    if domain.bound > limit:
        raise InvalidInputError(
            f"weight domain {domain} is too wide for exact training: its big-M constants (about "
            f"P x {fan_in} inputs) times the smallest integrality tolerance solvers accept "
            f"({MIN_INTEGRALITY_TOLERANCE:g}) exceed the activation margin eps={eps:g}, so the solver "
            f"could claim activations the network does not have. Use integer:P with P <= {limit} "
            "(a step activation does not care about the weights' scale, so a larger P adds "
            "little), continuous weights, or a larger eps"
        )


def check_training_numerics(architecture, data, eps: float) -> None:
    """Both checks of this module, for :func:`bnnmip.train` (before anything runs)."""
    check_sample_weights(data.weights)
    check_weight_bound(architecture, eps)
