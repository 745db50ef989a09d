r"""A tighter model of the same training problem: ``tight``.

Same variables, rows and optimum as :mod:`bnnmip.formulation.paper` (section 2 of
``docs/formulation.md``); four changes, each of which leaves the set of trainable networks'
losses unchanged:

1. **Smaller boxes and big-M from interval bounds.** A first-layer bias beyond
   :math:`B_1 = P \max_i \|x_i\|_1 + r n P + \varepsilon` makes a neuron constant on every
   (robust) training point, and clamping it to :math:`\pm B_1` keeps it so with margin
   :math:`\varepsilon`; a deeper layer sees binary inputs, so :math:`B_l = P d_{l-1} +
   \varepsilon` suffices. Each row's big-M is then the exact range of its pre-activation:
   :math:`M_i = P\|x_i\|_1 + B_1 + r n P` per point in layer 1, :math:`M_l = P d_{l-1} + B_l`
   after that (the paper adds 1 and uses one global bias box).
2. **Duplicate points merged.** Points with the same input share every activation, so they
   share one set of activation binaries and first-layer rows; their labels only add up in
   the objective (conflicting labels become a constant part of the loss). Clusters of a
   tied model that contain a common point are merged for the same reason, and under robust
   training so are points whose balls must agree (:mod:`bnnmip.formulation.merging`).
3. **Symmetry breaking.** The neurons of a hidden layer can be permuted (with the next
   layer's columns) and each can be negated, :math:`(w, b) \to (-w, -b)`, with the next
   layer absorbing the flip (:math:`W'_{:j} \to -W'_{:j}`, :math:`b' \to b' + W'_{:j}`,
   clamped to the box as in 1.). So, for every hidden layer: the first training point's
   neurons are all off (their binaries are fixed to 0), and the neurons are ordered by bias,
   :math:`b_1 \ge b_2 \ge \dots` (by the first weight without biases; flips need biases and
   are only used with them).
4. **A larger default margin**, :math:`\varepsilon = 10^{-4}`, so that with the derived
   integrality tolerance (:func:`~bnnmip.strategies._common.sound_integrality_tolerance`) a
   solution within the solver's tolerances is a true network with room to spare.
"""

from __future__ import annotations

import attrs
import numpy as np

from .._validation import frozen_array
from ..ir import Architecture, RobustnessSet, TrainingSet
from ..milp import RowKind
from ..network import BinarizedNetwork
from .paper import BigMConstants, Model, assemble

NAME = "tight"
DEFAULT_EPS = 1e-4
MERGE_DUPLICATES = True
SYMMETRY_BREAKING = True


def bias_bounds(arch: Architecture, X: np.ndarray, radius: float, eps: float) -> list[float]:
    """The bias box of each layer (zeros without biases)."""
    if not arch.bias:
        return [0.0] * arch.n_layers
    P, n = arch.weight_domain.bound, arch.n_inputs
    first = P * float(np.abs(X).sum(axis=1).max()) + radius * n * P + eps
    return [first] + [P * arch.widths[l - 1] + eps for l in range(2, arch.n_layers + 1)]


def _symmetry_rows(arch: Architecture, first_cluster: int):
    """Order the neurons of every hidden layer; with biases, fix the first point's to off."""

    def extra(pb):
        for l in range(1, arch.n_layers):
            d = arch.widths[l]
            if arch.bias:
                pb.fix(pb.index(f"u{l}")[first_cluster], 0.0)
            if d < 2:
                continue
            key = pb.index(f"b{l}") if arch.bias else pb.index(f"W{l}")[:, 0]
            rows = np.arange(d - 1)
            pb.add_rows(f"order{l}", RowKind.ORDER, d - 1,
                        [(rows, key[:-1], 1.0), (rows, key[1:], -1.0)], 0.0, np.inf)

    return extra


def build(
    arch: Architecture,
    data: TrainingSet,
    cluster: np.ndarray,
    n_clusters: int,
    robust: RobustnessSet | None,
    eps: float,
    symmetry_breaking: bool = True,
):
    """Lower to a :class:`~bnnmip.milp.MilpProblem`; returns ``(problem, big_m)``.

    ``cluster`` must already merge duplicate points (:func:`bnnmip.formulation.lower` does).
    ``symmetry_breaking=False`` leaves out change 3.
    """
    X = data.X
    P, n = arch.weight_domain.bound, arch.n_inputs
    r = 0.0 if robust is None else robust.radius
    boxes = bias_bounds(arch, X, r, eps)
    # first-layer rows once per (cluster, input) pair
    _, rows = np.unique(np.c_[cluster, X], axis=0, return_index=True)
    rows = np.sort(rows)
    constants = BigMConstants(
        rows=rows,
        bias_bounds=boxes,
        layer1_m=P * np.abs(X[rows]).sum(axis=1) + boxes[0] + r * n * P,
        deep_m=[P * arch.widths[l - 1] + boxes[l - 1] for l in range(2, arch.n_layers + 1)],
    )
    return assemble(
        Model(arch, data, cluster, n_clusters, r, eps), constants, name=NAME,
        extra=_symmetry_rows(arch, int(cluster[0])) if symmetry_breaking else None,
    )


def canonicalize(lowering, network: BinarizedNetwork) -> BinarizedNetwork:
    """The network equivalent to ``network`` on the training data that meets the symmetry rows.

    Layer by layer: negate every hidden neuron that fires on the first training point (the
    next layer absorbs the flip, its bias clamped to the box, which keeps it constant where
    it was), then sort the neurons by bias (by first weight without biases), permuting the next
    layer's columns. Only a network whose pre-activations clear 0 on the training points keeps
    its activations under negation; others are returned in the same form, for the feasibility
    check of the MIP start to reject.
    """
    arch = lowering.architecture
    boxes = lowering.bias_bounds()
    Ws = [np.array(W, dtype=float) for W in network.weights]
    bs = [np.array(b, dtype=float) for b in network.biases]
    h = lowering.data.X[:1]  # the first point's activations entering layer l
    for l in range(arch.n_layers - 1):
        if arch.bias:
            flip = (h @ Ws[l].T + bs[l])[0] > 0
            if np.any(flip):
                Ws[l][flip] *= -1.0
                bs[l][flip] *= -1.0
                bs[l + 1] = np.clip(bs[l + 1] + Ws[l + 1][:, flip].sum(axis=1), -boxes[l + 1], boxes[l + 1])
                Ws[l + 1][:, flip] *= -1.0
        key = bs[l] if arch.bias else Ws[l][:, 0]
        order = np.argsort(-key, kind="stable")
        Ws[l], bs[l] = Ws[l][order], bs[l][order]
        Ws[l + 1] = Ws[l + 1][:, order]
        h = (h @ Ws[l].T + bs[l] > 0).astype(float)
    return attrs.evolve(
        network,
        weights=tuple(frozen_array(W, dtype=float, name=f"W{l + 1}", ndim=2) for l, W in enumerate(Ws)),
        biases=tuple(frozen_array(b, dtype=float, name=f"b{l + 1}", ndim=1) for l, b in enumerate(bs)),
    )
