"""Check a decoded network with a plain numpy forward pass against what the MILP claims.

Binaries within the solver's integrality tolerance of 0 or 1, multiplied by big-M
coefficients, can swamp the margin eps: the network recomputed in plain arithmetic may then
disagree with the activations the solver reports. Every disagreement is counted here and
reported with the result; none is hidden.
"""

from __future__ import annotations

import attrs
import numpy as np

from .formulation import Lowering
from .network import BinarizedNetwork

__all__ = ["Verification", "verify"]


@attrs.frozen
class Verification:
    """How far a decoded network agrees with its MILP solution.

    ``mismatches`` counts (point, layer, neuron) triples whose forward-pass activation differs
    from the MILP's (rounded) binary; ``per_layer`` splits it by layer. ``true_loss`` is the
    training objective recomputed from the forward pass, ``milp_objective`` what the solver
    reported, ``robust_violations`` the number of points whose first-layer pattern is not
    constant on the l-inf ball (robust models only). ``min_margin`` is the smallest
    ``|t|`` of any pre-activation on the training points. ``repaired`` is set when the
    solver's own weights failed this check and the network was replaced by weights fitted to
    the activation pattern the MILP claims (:func:`bnnmip.heuristics.pattern_fit.repair_network`); the
    numbers then describe the repaired network. ``forward_only`` is set when there was no
    MILP solution of the whole problem to compare with (``local_search`` and ``split`` on
    problems too large to build, which check every point's forward pass against the margins
    instead); ``describe`` then says so.
    """

    mismatches: int
    per_layer: tuple[int, ...]
    true_loss: float
    milp_objective: float | None
    min_margin: float
    robust_violations: int = 0
    repaired: bool = False
    forward_only: bool = False

    @property
    def ok(self) -> bool:
        """No mismatch, objective reproduced, robustness holds."""
        objective_ok = self.milp_objective is None or abs(self.true_loss - self.milp_objective) <= 1e-6 * max(
            1.0, abs(self.true_loss)
        )
        return self.mismatches == 0 and objective_ok and self.robust_violations == 0

    def describe(self) -> str:
        """One line for humans."""
        if self.ok and self.forward_only:
            return (f"checked by a forward pass on every training point (the full MILP was not "
                    f"built; min |pre-activation| {self.min_margin:.3g})")
        if self.ok:
            how = "repaired weights agree" if self.repaired else "forward pass agrees"
            return f"verified: {how} with the MILP (min |pre-activation| {self.min_margin:.3g})"
        return (
            f"NOT VERIFIED: {self.mismatches} activation mismatch(es) per layer {list(self.per_layer)}, "
            f"forward-pass loss {self.true_loss:g} vs MILP objective {self.milp_objective}, "
            f"{self.robust_violations} robustness violation(s)"
        )


def verify(lowering: Lowering, network: BinarizedNetwork, x: np.ndarray,
           milp_objective: float | None) -> Verification:
    """Compare ``network``'s forward pass on the training data with solution ``x``."""
    data = lowering.data
    fw = network.forward(data.X, scaled=True)
    claimed = lowering.activations_from(x)
    cluster = lowering.ties.cluster
    per_layer = tuple(
        int(np.count_nonzero(a != u[cluster])) for a, u in zip(fw.act, claimed, strict=True)
    )
    true_loss = network.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
    margin = float(min(np.abs(t).min() for t in fw.pre))
    robust_bad = 0
    if lowering.robust is not None and lowering.robust.radius > 0:
        robust_bad = robust_violations(network, data.X, lowering.robust.radius)
    return Verification(sum(per_layer), per_layer, true_loss, milp_objective, margin, robust_bad)


def robust_violations(network: BinarizedNetwork, X_scaled: np.ndarray, radius: float) -> int:
    """Points whose first-layer activations can flip within the l-inf ball of ``radius``.

    Layer 1 is linear in the input, so over the ball ``t`` ranges exactly over
    ``t0 +- radius * ||W_j||_1``; the pattern is constant iff that interval stays on one
    side of the step (``> 0`` or ``<= 0``).
    """
    W, b = network.weights[0], network.biases[0]
    t = X_scaled @ W.T + b
    reach = radius * np.abs(W).sum(axis=1)
    flips = np.where(t > 0, t - reach <= 0, t + reach > 0)
    return int(np.count_nonzero(flips.any(axis=1)))
