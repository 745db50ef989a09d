"""The result of a certification: per-point verdicts, counterexamples and summary counts."""

from __future__ import annotations

import math

import attrs
import numpy as np

from ..network import PredictionRule

__all__ = ["ATTACKABLE", "CERTIFIED", "MISCLASSIFIED", "STATUSES", "UNKNOWN", "Certification"]


CERTIFIED = "certified"
"""No input in the ball changes the (correct) prediction."""


ATTACKABLE = "attackable"
"""Correct at ``x``, but a confirmed counterexample in the ball changes the prediction."""


MISCLASSIFIED = "misclassified"
"""Wrong at ``x`` itself (its own counterexample)."""


UNKNOWN = "unknown"
"""Undecided: a solve hit its time limit, or the decision sits within 1e-8 of a threshold."""


STATUSES = (CERTIFIED, ATTACKABLE, MISCLASSIFIED, UNKNOWN)


SLACK_TOLERANCE = 1e-8
"""LP slacks (relative to each neuron's scale) within this of 0 count as reachable."""


LP_TOLERANCE = 1e-10
"""Primal and dual feasibility tolerances of the pattern LPs."""


MAX_CUTS = 10_000
"""Most no-good cuts the MILP fallback adds for one point before it answers ``"unknown"``."""


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class Certification:
    """Per-point verdicts of :func:`certify` at one radius.

    Attributes
    ----------
    radius : float
        The l-inf radius, in scaled input units.
    rule : PredictionRule
        The prediction rule certified.
    status : ndarray of str, shape (m,)
        One of :data:`STATUSES` per point.
    method : ndarray of str, shape (m,)
        How each verdict was reached: ``"prediction"`` (misclassified at ``x``),
        ``"interval"``, ``"table"``, ``"enumeration"``, ``"milp"`` or ``"closed-form"``.
    counterexamples : ndarray of float, shape (m, n)
        In scaled input units (check with ``network.predict_index(ce, scaled=True)``): an input
        within the ball whose prediction is not the label for ``"attackable"`` points, ``x``
        itself for ``"misclassified"`` points, NaN otherwise.
    inputs : ndarray of float, shape (m, n)
        The points, in scaled input units.
    predicted : ndarray of int, shape (m,)
        The predicted class index at each point.
    y_index : ndarray of int, shape (m,)
        The label's class index (-1 for a label the network does not know).
    lp_solves, milp_solves : int
        Solves used in total.
    seconds : float
        Wall time.
    """

    radius: float
    rule: PredictionRule
    status: np.ndarray = attrs.field(converter=_readonly)
    method: np.ndarray = attrs.field(converter=_readonly)
    counterexamples: np.ndarray = attrs.field(converter=_readonly)
    inputs: np.ndarray = attrs.field(converter=_readonly)
    predicted: np.ndarray = attrs.field(converter=_readonly)
    y_index: np.ndarray = attrs.field(converter=_readonly)
    lp_solves: int = 0
    milp_solves: int = 0
    seconds: float = 0.0

    @property
    def n_points(self) -> int:
        """Number of points."""
        return int(self.status.shape[0])

    @property
    def certified(self) -> np.ndarray:
        """Boolean per point: certified robust at this radius (and correctly classified)."""
        return self.status == CERTIFIED

    @property
    def certified_accuracy(self) -> float:
        """Fraction of points that are certified (a lower bound on accuracy under any attack)."""
        return float(np.mean(self.certified)) if self.n_points else math.nan

    @property
    def clean_accuracy(self) -> float:
        """Fraction of points predicted correctly without perturbation."""
        return float(np.mean(self.predicted == self.y_index)) if self.n_points else math.nan

    @property
    def n_certified(self) -> int:
        """Number of certified points."""
        return int(np.count_nonzero(self.status == CERTIFIED))

    @property
    def n_attackable(self) -> int:
        """Number of correctly classified points with a confirmed counterexample."""
        return int(np.count_nonzero(self.status == ATTACKABLE))

    @property
    def n_unknown(self) -> int:
        """Number of undecided points (time limit or a decision at a threshold)."""
        return int(np.count_nonzero(self.status == UNKNOWN))

    def counts(self) -> dict[str, int]:
        """Points per status."""
        return {s: int(np.count_nonzero(self.status == s)) for s in STATUSES}

    def summary(self) -> dict:
        """Scalars as a plain dict."""
        return {
            "radius": self.radius,
            "rule": self.rule.value,
            "points": self.n_points,
            "clean_accuracy": self.clean_accuracy,
            "certified_accuracy": self.certified_accuracy,
            **self.counts(),
            "lp_solves": self.lp_solves,
            "milp_solves": self.milp_solves,
            "seconds": round(self.seconds, 4),
        }
