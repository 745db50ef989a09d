r"""The paper's exact MILP (Kurtz & Bah 2021, section 2 of ``docs/formulation.md``).

For a network with widths :math:`d_0 = n, d_1, \dots, d_L = K`, weights in :math:`[-P, P]`
(:math:`P = 1` for continuous and ternary weights), bias box :math:`[-B, B]` with
:math:`B = P \max(\max_i \|x_i\|_1, \max_{l \ge 1} d_l)` (0 without biases), margin
:math:`\varepsilon`, clusters :math:`c(i)` (every point its own cluster when untied), and robust
radius :math:`r \ge 0`:

Layer 1, every point :math:`i` and neuron :math:`j`, with
:math:`M_i = P\|x_i\|_1 + B + 1 + r n P`:

.. math::

    W_j x_i + r \textstyle\sum_k \xi_{jk} + b_j &\le (M_i + \varepsilon) u_{c(i) j} - \varepsilon \\
    W_j x_i - r \textstyle\sum_k \xi_{jk} + b_j &\ge (M_i + \varepsilon) u_{c(i) j} - M_i \\
    \xi_{jk} &\ge |W_{jk}| \quad (\text{only when } r > 0)

Layers :math:`l \ge 2`, every cluster :math:`c`, neuron :math:`j`, input :math:`k`, with
:math:`s_{cjk} = u^{l-1}_{ck} W^l_{jk}` linearized exactly and :math:`M^l = P d_{l-1} + B + 1`:

.. math::

    -P u \le s \le P u, \qquad W - P(1 - u) \le s \le W + P(1 - u) \\
    \textstyle\sum_k s_{cjk} + b_j \le (M^l + \varepsilon) u^l_{cj} - \varepsilon, \qquad
    \textstyle\sum_k s_{cjk} + b_j \ge (M^l + \varepsilon) u^l_{cj} - M^l

Objective (weighted Hamming distance between binary outputs and one-hot labels):

.. math::

    \min \sum_i w_i \sum_j \left[ y_{ij} + (1 - 2 y_{ij}) u^L_{c(i) j} \right]
"""

from __future__ import annotations

import attrs
import numpy as np

from ..ir import Architecture, RobustnessSet, TrainingSet
from ..milp import RowKind
from ..milp.builder import ProblemBuilder

NAME = "paper"
DEFAULT_EPS = 1e-5


def bias_bound(arch: Architecture, X: np.ndarray) -> float:
    """The bias box ``B`` (0 when the architecture has no biases)."""
    if not arch.bias:
        return 0.0
    P = arch.weight_domain.bound
    return float(P * max(np.abs(X).sum(axis=1).max(), max(arch.widths[1:])))


def bias_bounds(arch: Architecture, X: np.ndarray, radius: float, eps: float) -> list[float]:
    """The bias box of each layer: the paper uses one box ``B`` for all."""
    del radius, eps
    return [bias_bound(arch, X)] * arch.n_layers


def build(
    arch: Architecture,
    data: TrainingSet,
    cluster: np.ndarray,
    n_clusters: int,
    robust: RobustnessSet | None,
    eps: float,
):
    """Lower to a :class:`~bnnmip.milp.MilpProblem`; returns ``(problem, big_m)``."""
    P = arch.weight_domain.bound
    B = bias_bound(arch, data.X)
    r = 0.0 if robust is None else robust.radius
    n = data.n_features
    constants = BigMConstants(
        rows=np.arange(data.n_points),
        bias_bounds=[B] * arch.n_layers,
        layer1_m=P * np.abs(data.X).sum(axis=1) + B + 1.0 + r * n * P,
        deep_m=[P * arch.widths[l - 1] + B + 1.0 for l in range(2, arch.n_layers + 1)],
    )
    return assemble(Model(arch, data, cluster, n_clusters, r, eps), constants, name=NAME)


@attrs.frozen(eq=False)
class Model:
    """What every part of the MILP is built from: the network, the data and its groups."""

    arch: Architecture
    data: TrainingSet
    cluster: np.ndarray
    """Activation group of each point (every point its own group when untied)."""
    n_clusters: int
    radius: float
    """Robust radius ``r`` (0 without robustness)."""
    eps: float
    """Activation margin."""


@attrs.frozen(eq=False)
class BigMConstants:
    """The boxes and big-M constants a formulation chooses.

    ``rows`` are the points that get first-layer big-M rows (a formulation may drop points
    whose rows would repeat another's), ``bias_bounds[l]`` the bias box of layer ``l + 1``,
    ``layer1_m[i]`` the big-M of point ``rows[i]``'s first-layer rows, ``deep_m[l - 2]`` that
    of layer ``l >= 2``.
    """

    rows: np.ndarray
    bias_bounds: list
    layer1_m: np.ndarray
    deep_m: list


def assemble(model: Model, constants: BigMConstants, *, name: str, extra=None):
    """The model of this module's docstring with the given boxes and big-M constants.

    ``extra(builder)``, if given, adds rows or bounds before the objective. Returns
    ``(problem, big_m)`` with ``big_m[l]`` the big-M constants of layer ``l``'s rows.
    """
    pb = ProblemBuilder()
    _add_columns(pb, model, constants.bias_bounds)
    if model.radius > 0:
        _add_abs_rows(pb)
    big_m = {1: _add_layer1_rows(pb, model, constants)}
    for l in range(2, model.arch.n_layers + 1):
        big_m[l] = _add_deep_rows(pb, model, l, float(constants.deep_m[l - 2]))
    if extra is not None:
        extra(pb)
    c, offset = _objective(pb, model)
    return pb.build(c, offset, name), big_m


def _add_columns(pb: ProblemBuilder, model: Model, bias_bounds) -> None:
    """Weights, biases, |W1| bounds (robust), activations and the products ``s = u W``."""
    arch, widths, L = model.arch, model.arch.widths, model.arch.n_layers
    P = arch.weight_domain.bound
    for l in range(1, L + 1):
        pb.add_columns(f"W{l}", (widths[l], widths[l - 1]), -P, P, arch.weight_domain.is_integer)
        if arch.bias:
            pb.add_columns(f"b{l}", (widths[l],), -bias_bounds[l - 1], bias_bounds[l - 1], False)
    if model.radius > 0:
        pb.add_columns("xi1", (widths[1], model.data.n_features), 0, P, False)
    for l in range(1, L + 1):
        pb.add_columns(f"u{l}", (model.n_clusters, widths[l]), 0, 1, True)
    for l in range(2, L + 1):
        pb.add_columns(f"s{l}", (model.n_clusters, widths[l], widths[l - 1]), -P, P, False)


def _add_abs_rows(pb: ProblemBuilder) -> None:
    """``xi1 >= |W1|`` (robust training)."""
    W1, xi = pb.index("W1").ravel(), pb.index("xi1").ravel()
    k = W1.size
    idx = np.arange(2 * k)
    pb.add_rows(
        "abs1", RowKind.ABS, 2 * k,
        [(idx, np.concatenate([W1, W1]), np.r_[np.ones(k), -np.ones(k)]),
         (idx, np.concatenate([xi, xi]), -1.0)],
        -np.inf, 0.0,
    )


def _add_layer1_rows(pb: ProblemBuilder, model: Model, constants: BigMConstants) -> np.ndarray:
    """Layer 1 big-M rows: one pair per (kept) point and neuron; returns their big-M."""
    d1, eps, r = model.arch.widths[1], model.eps, model.radius
    rows = constants.rows
    Xr, m = model.data.X[rows], len(rows)
    M = np.asarray(constants.layer1_m, dtype=float)  # (m,)
    row = np.arange(m * d1).reshape(m, d1)  # row (i, j)
    Wcol = pb.index("W1")  # (d1, n)
    u1 = pb.index("u1")[model.cluster[rows]]  # (m, d1)
    w_entries = (row[:, :, None], Wcol[None, :, :], Xr[:, None, :])  # W_j . x_i
    shared = [w_entries]
    if model.arch.bias:
        shared.append((row, pb.index("b1")[None, :], 1.0))
    u_entry = (row, u1, -(M + eps)[:, None])
    for rname, kind, sign, lo, hi in (
        ("act1_off", RowKind.BIGM_OFF, 1.0, -np.inf, -eps),
        ("act1_on", RowKind.BIGM_ON, -1.0, np.repeat(-M, d1), np.inf),
    ):
        entries = [*shared, u_entry]
        if r > 0:
            entries.append((row[:, :, None], pb.index("xi1")[None, :, :], sign * r))
        pb.add_rows(rname, kind, m * d1, entries, lo, hi, binary=u1, big_m=np.repeat(M + eps, d1))
    return M


def _add_deep_rows(pb: ProblemBuilder, model: Model, l: int, Ml: float) -> np.ndarray:
    """Layer ``l >= 2``: exact products, then big-M rows per cluster and neuron."""
    P, eps, C = model.arch.weight_domain.bound, model.eps, model.n_clusters
    dl = model.arch.widths[l]
    s = pb.index(f"s{l}")  # (C, dl, dk)
    u_prev = np.broadcast_to(pb.index(f"u{l - 1}")[:, None, :], s.shape)
    W = np.broadcast_to(pb.index(f"W{l}")[None, :, :], s.shape)
    k = s.size
    q = np.arange(k).reshape(s.shape)
    pb.add_rows(
        f"prod{l}", RowKind.PRODUCT, 4 * k,
        [
            (q, s, 1.0), (q, u_prev, -P),                       # s - P u <= 0
            (q + k, s, 1.0), (q + k, u_prev, P),                # s + P u >= 0
            (q + 2 * k, s, 1.0), (q + 2 * k, W, -1.0), (q + 2 * k, u_prev, -P),  # >= -P
            (q + 3 * k, s, 1.0), (q + 3 * k, W, -1.0), (q + 3 * k, u_prev, P),   # <= P
        ],
        np.concatenate([np.full(k, -np.inf), np.zeros(k), np.full(k, -P), np.full(k, -np.inf)]),
        np.concatenate([np.zeros(k), np.full(k, np.inf), np.full(k, np.inf), np.full(k, P)]),
    )
    row = np.arange(C * dl).reshape(C, dl)
    ul = pb.index(f"u{l}")
    entries = [(row[:, :, None], s, 1.0), (row, ul, -(Ml + eps))]
    if model.arch.bias:
        entries.append((row, pb.index(f"b{l}")[None, :], 1.0))
    pb.add_rows(f"act{l}_off", RowKind.BIGM_OFF, row.size, entries, -np.inf, -eps,
                binary=ul, big_m=Ml + eps)
    pb.add_rows(f"act{l}_on", RowKind.BIGM_ON, row.size, entries, -Ml, np.inf,
                binary=ul, big_m=Ml + eps)
    return np.full(C, Ml)


def _objective(pb: ProblemBuilder, model: Model) -> tuple[np.ndarray, float]:
    """Weighted Hamming loss on the output layer: cost vector and constant."""
    data = model.data
    onehot = data.one_hot()
    per_point = data.weights[:, None] * (1.0 - 2.0 * onehot)  # (m, K)
    coef = np.zeros((model.n_clusters, model.arch.n_classes))
    np.add.at(coef, model.cluster, per_point)
    c = np.zeros(pb.n_cols)
    c[pb.index(f"u{model.arch.n_layers}").ravel()] = coef.ravel()
    return c, float(data.weights @ onehot.sum(axis=1))


def encode_auxiliary(arch: Architecture, x: np.ndarray, columns, activations, weights) -> None:
    """Fill the auxiliary columns (products, |W| bounds) for a network's assignment in place."""
    P = arch.weight_domain.bound
    if "xi1" in columns:
        x[columns["xi1"].start : columns["xi1"].stop] = np.minimum(np.abs(weights[0]), P).ravel()
    for l in range(2, arch.n_layers + 1):
        s = activations[l - 2][:, None, :] * weights[l - 1][None, :, :]
        x[columns[f"s{l}"].start : columns[f"s{l}"].stop] = s.ravel()
