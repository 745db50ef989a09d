r"""Large-neighbourhood moves of ``local_search``: free a few neurons on a batch of points.

A **neighbourhood** is a set of free neurons (rows of one weight layer: their weights and
bias) and a set of points. Every other weight and bias is fixed at the incumbent network.

* With **all points**, the sub-MILP is the full lowering with the other columns fixed: the
  classic block move (a whole layer when the layer has at most ``free_neurons`` neurons).
* With a **batch** ``B`` of points, the sub-MILP is the lowering of the batch (same
  formulation, the point with the largest ``|x|_1`` always in the batch so that the bias box
  is the full one), plus one linear row per point ``i`` outside the batch and free neuron
  ``j`` of layer ``l``: ``W_j a_i + b_j >= eps`` if the incumbent fires on ``i``, else
  ``<= -eps``, where ``a_i`` is ``i``'s (fixed) input to layer ``l``. Every point outside
  the batch keeps its activations, hence its output and loss, so the sub-MILP's objective is
  the full loss minus a constant: an improvement on the batch is an improvement overall.

The incumbent is feasible for every neighbourhood and is passed as MIP start. A candidate is
accepted only when it is verified twice: against the sub-MILP's solution
(:func:`bnnmip.verify.verify`), and on every training point by the plain forward pass (its
encoding on the full lowering is feasible, its loss is not above the incumbent's).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import scipy.sparse as sp

from ..backends import solve
from ..backends.results import SolveResult
from ..formulation import Lowering, lower
from ..ir import ActivationTies, TrainingSet
from ..milp import RowBlock, RowKind
from ..network import BinarizedNetwork
from ..training.task import Budget
from ..verify import Verification, verify
from ._common import forward_loss

__all__ = [
    "FULL_MILP_MAX_NONZEROS", "Incumbent", "Neighbourhood", "SearchSettings", "StepOutcome", "full_view",
    "network_violation", "run_step", "schedule",
]

FEASIBLE_TOL = 1e-9
"""Largest MILP violation of an encoded network that still counts as feasible."""


def loss_tol(loss: float) -> float:
    """Slack for comparing two forward-pass losses."""
    return 1e-9 * max(1.0, abs(loss))


FULL_MILP_MAX_NONZEROS = 2_000_000
"""Above this estimate of the full MILP's nonzeros, ``local_search`` does not build it: the
start, the steps' acceptance and the final check use the numpy forward pass on every point
(:func:`network_violation`) and a :func:`full_view` instead."""

FEASIBLE_ON_FULL = np.zeros(0)
"""The incumbent encoding used with a :func:`full_view`: feasible, but not materialized."""


def estimated_nonzeros(arch, n_points: int) -> int:
    """About the nonzeros of the full lowering: two big-M rows per point and neuron."""
    widths = arch.widths
    return int(2 * n_points * sum(widths[l] * (widths[l - 1] + 2) for l in range(1, len(widths))))


def full_view(architecture, data: TrainingSet, formulation: str, eps: float | None) -> Lowering:
    """A lowering of a few points that stands for the full problem without building its MILP.

    Its ``data`` are all the training points; its MILP is that of the point with the largest
    ``|x|_1`` and a few others, so its bias boxes (:meth:`~bnnmip.formulation.Lowering.bias_bounds`),
    margin eps and trivial bound (0: no ties, no robust inputs) are the full problem's. Use it
    for :func:`~bnnmip.strategies._common.gradient_start`, :func:`repair_margins` and
    :func:`network_violation`, never for ``encode``.
    """
    anchor = int(np.argmax(np.abs(data.X).sum(axis=1)))
    pick = np.unique([anchor, *range(min(4, data.n_points))])
    probe = TrainingSet.from_arrays(data.X[pick], data.y[pick], n_classes=data.n_classes,
                                    weights=data.weights[pick])
    low = lower(architecture, probe, formulation=formulation, eps=eps, symmetry_breaking=False)
    problem = attrs.evolve(low.problem, name=low.problem.name + VIEW_SUFFIX)
    return attrs.evolve(low, problem=problem, data=data, ties=ActivationTies.none(data.n_points))


VIEW_SUFFIX = "-full-view"


def is_view(full: Lowering) -> bool:
    """Whether ``full`` is a :func:`full_view` (marked by its MILP's name)."""
    return full.problem.name.endswith(VIEW_SUFFIX)


def network_violation(full: Lowering, network: BinarizedNetwork) -> float:
    """How far ``network`` is from a feasible point of the full MILP, by the forward pass.

    The largest of: ``eps - |t|`` over every pre-activation on every training point (the
    margins), weights beyond the weight box or off the integers, biases beyond their box.
    """
    fw = network.forward(full.data.X, scaled=True)
    parts = [float(np.max(full.eps - np.abs(t), initial=0.0)) for t in fw.pre]
    domain, boxes = full.architecture.weight_domain, full.bias_bounds()
    for W, b, box in zip(network.weights, network.biases, boxes, strict=True):
        parts.append(float(np.max(np.abs(W) - domain.bound, initial=0.0)))
        if domain.is_integer:
            parts.append(float(np.max(np.abs(W - np.round(W)), initial=0.0)))
        if full.architecture.bias:
            parts.append(float(np.max(np.abs(b) - box, initial=0.0)))
    return max(parts)


def forward_verification(full: Lowering, network: BinarizedNetwork) -> Verification:
    """The forward pass's account of ``network`` on every point (no MILP solution to compare)."""
    fw = network.forward(full.data.X, scaled=True)
    margin = float(min(np.abs(t).min() for t in fw.pre))
    return Verification(0, tuple(0 for _ in fw.pre), forward_loss(network, full.data), None, margin,
                        forward_only=True)


def large_problem(task) -> bool:
    """Whether the task's full MILP would be large enough to use a :func:`full_view` instead."""
    big = estimated_nonzeros(task.architecture, task.data.n_points) > FULL_MILP_MAX_NONZEROS
    return big and task.robust is None and task.ties is None


def full_feasibility(full: Lowering, network: BinarizedNetwork):
    """``(x, violation)``: the network's encoding on the full MILP, or on a view a placeholder."""
    if is_view(full):
        return FEASIBLE_ON_FULL, network_violation(full, network)
    x = full.encode(network)
    return x, (full.problem.violation(x) if np.isfinite(x).all() else np.inf)


@attrs.frozen
class SearchSettings:
    """The validated settings of one ``local_search`` run (see its parameters)."""

    max_rounds: int
    patience: int
    batch_size: int
    free_neurons: int
    step_seconds: float | None


@attrs.frozen(eq=False)
class Neighbourhood:
    """Free rows ``neurons`` (0-based) of weight layer ``layer`` (1-based) on ``points``.

    ``points`` is ``None`` for every training point.
    """

    layer: int
    neurons: tuple[int, ...]
    points: np.ndarray | None = None

    def exhaustive(self, width: int) -> bool:
        """Whether this is a whole-layer block over every point."""
        return self.points is None and len(self.neurons) == width


@attrs.define
class Incumbent:
    """The current network, its loss and its feasible encoding on the full lowering."""

    network: BinarizedNetwork
    loss: float
    x: np.ndarray | None

    @property
    def feasible(self) -> bool:
        """Whether the encoding is feasible (a MIP start)."""
        return self.x is not None


@attrs.frozen(eq=False)
class StepOutcome:
    """One solved neighbourhood: its solve, its record, and the incumbent after it."""

    result: SolveResult
    record: dict
    incumbent: Incumbent
    changed: bool
    size: dict = attrs.field(factory=dict)


# -- which neighbourhoods -------------------------------------------------------------------
def schedule(full: Lowering, settings: SearchSettings, rng: np.random.Generator, batch: int,
             neurons: dict[int, int] | None = None):
    """The neighbourhoods of one round: every neuron of every layer freed once, layer by layer.

    Each layer's neurons are shuffled and cut into groups of ``neurons[l]`` (default
    ``free_neurons``); a layer not wider than that is one group (the whole layer). Points: all
    of them when there are at most ``batch`` (or with activation ties or robust inputs, whose
    sub-MILPs need every point), else ``None`` here and a batch drawn when the step runs
    (:func:`draw_batch`). With all points the layers go first to last (the classic block
    cycle); with batches last to first (the output rows are the cheapest to re-fit).
    """
    arch = full.architecture
    use_all = full.data.n_points <= batch or full.robust is not None or _has_ties(full)
    use_all = use_all and not is_view(full)
    layers = range(1, arch.n_layers + 1) if use_all else range(arch.n_layers, 0, -1)
    hoods = []
    for l in layers:
        width = arch.widths[l]
        k = settings.free_neurons if neurons is None else neurons[l]
        order = np.arange(width) if width <= k else rng.permutation(width)
        for start in range(0, width, k):
            group = tuple(int(j) for j in sorted(order[start:start + k]))
            hoods.append((l, group, use_all))
    return hoods


def _has_ties(full: Lowering) -> bool:
    return full.ties.n_clusters < full.data.n_points and not _only_duplicates(full)


def _only_duplicates(full: Lowering) -> bool:
    """Whether every tie cluster holds copies of one point only (the tight formulation's merge)."""
    X, cluster = full.data.X, full.ties.cluster
    _, first = np.unique(cluster, return_index=True)
    return bool(np.array_equal(X, X[first][cluster]))


def draw_batch(full: Lowering, incumbent: Incumbent, size: int, rng: np.random.Generator,
               layer: int | None = None, neurons=()) -> np.ndarray:
    """Points for one step: wrongly predicted points and points near the free hyperplanes.

    Half of the batch (at most) are wrongly predicted points, a quarter the other points
    closest to the free neurons' hyperplanes (smallest ``min_j |t_ij|``: the ones a small move
    flips), the rest at random (the paper's random batches). Without ``neurons`` the wrong
    points are a random half. The point with the largest ``|x|_1`` is always included (it sets
    the first layer's bias box, which must be the full problem's). Sorted indices.
    """
    data = full.data
    m = data.n_points
    fw = incumbent.network.forward(data.X, scaled=True)
    wrong = np.abs(fw.act[-1] - data.one_hot()).sum(axis=1) > 0
    if layer is None or not len(neurons):
        near = rng.random(m)
    else:
        near = np.abs(fw.pre[layer - 1][:, list(neurons)]).min(axis=1)
    order = np.lexsort((rng.random(m), near))  # closest first, ties at random
    take_wrong = order[wrong[order]][: size // 2]
    take_near = order[~wrong[order]][: size // 4]
    chosen = np.concatenate([take_wrong, take_near])
    rest = np.setdiff1d(np.arange(m), chosen)
    fill = rng.choice(rest, size=min(rest.size, max(0, size - chosen.size)), replace=False)
    anchor = int(np.argmax(np.abs(data.X).sum(axis=1)))
    return np.unique(np.concatenate([chosen, fill, [anchor]]).astype(np.int64))


# -- the sub-MILP -------------------------------------------------------------------------------
def _row_columns(low: Lowering, l: int, neurons) -> np.ndarray:
    """Columns of rows ``neurons`` of ``W{l}`` and of their biases."""
    cols, n_in = low.problem.columns, low.architecture.widths[l - 1]
    W = cols[f"W{l}"].start + (np.asarray(neurons)[:, None] * n_in + np.arange(n_in)).ravel()
    parts = [W]
    if f"b{l}" in cols:
        parts.append(cols[f"b{l}"].start + np.asarray(neurons))
    return np.concatenate(parts).astype(np.int64)


def _weight_columns(low: Lowering) -> np.ndarray:
    cols = low.problem.columns
    names = [n for n in cols if n[0] in "Wb" and n[1:].isdigit()]
    return np.concatenate([np.arange(cols[n].start, cols[n].stop) for n in names]).astype(np.int64)


def _keep_rows(low: Lowering, full: Lowering, hood: Neighbourhood, network: BinarizedNetwork):
    """Rows keeping the free neurons' activations on every point outside the batch."""
    outside = np.setdiff1d(np.arange(full.data.n_points), hood.points)
    fw = network.forward(full.data.X[outside], scaled=True)
    l = hood.layer
    inputs = full.data.X[outside] if l == 1 else fw.act[l - 2]
    n_in, eps = inputs.shape[1], full.eps
    blocks, lower_, upper_ = [], [], []
    for j in hood.neurons:
        on = fw.act[l - 1][:, j] > 0
        cols = _row_columns(low, l, [j])
        vals = np.hstack([inputs, np.ones((outside.size, cols.size - n_in))])
        rows = np.repeat(np.arange(outside.size), cols.size)
        blocks.append(sp.csr_matrix((vals.ravel(), (rows, np.tile(cols, outside.size))),
                                    shape=(outside.size, low.problem.n_cols)))
        lower_.append(np.where(on, eps, -np.inf))
        upper_.append(np.where(on, np.inf, -eps))
    return sp.vstack(blocks).tocsr(), np.concatenate(lower_), np.concatenate(upper_)


def _with_rows(problem, A, lo, hi):
    start = problem.n_rows
    block = RowBlock("lns_keep", RowKind.ORDER, start, start + A.shape[0])
    return attrs.evolve(
        problem, A=sp.vstack([problem.A, A]).tocsr(), row_lower=np.concatenate([problem.row_lower, lo]),
        row_upper=np.concatenate([problem.row_upper, hi]), rows=(*problem.rows, block),
    )


def sub_lowering(full: Lowering, hood: Neighbourhood) -> Lowering:
    """The lowering the neighbourhood's MILP is built from: the full one, or the batch's."""
    if hood.points is None:
        if is_view(full):
            raise ValueError("a full view has no MILP of every point: give the step a batch")
        return full
    d = full.data
    batch = TrainingSet.from_arrays(d.X[hood.points], d.y[hood.points], n_classes=d.n_classes,
                                    weights=d.weights[hood.points])
    return lower(full.architecture, batch, formulation=full.formulation, eps=full.eps,
                 symmetry_breaking=False)


def sub_problem(full: Lowering, hood: Neighbourhood, incumbent: Incumbent):
    """``(lowering, problem, fixed, start)`` of one neighbourhood.

    ``fixed`` are the fixed weight and bias columns, ``start`` the incumbent's encoding on
    ``lowering`` when it is feasible for ``problem`` (else ``None``).
    """
    low = sub_lowering(full, hood)
    x0 = incumbent.x if low is full and incumbent.feasible else low.encode(incumbent.network)
    start = x0 if incumbent.feasible else None
    if start is None or not np.isfinite(x0).all():
        x0, start = low.encode(incumbent.network, partial=True), None
    problem = low.problem
    fixed = np.setdiff1d(_weight_columns(low), _row_columns(low, hood.layer, hood.neurons))
    lo, hi = np.array(problem.col_lower, dtype=float), np.array(problem.col_upper, dtype=float)
    values = np.clip(x0[fixed], lo[fixed], hi[fixed])
    lo[fixed] = hi[fixed] = values
    problem = attrs.evolve(problem, col_lower=lo, col_upper=hi,
                           name=f"{problem.name}-lns{hood.layer}")
    if hood.points is not None and hood.points.size < full.data.n_points:
        problem = _with_rows(problem, *_keep_rows(low, full, hood, incumbent.network))
    if start is not None and problem.violation(start) > FEASIBLE_TOL:
        start = None
    return low, problem, fixed, start


# -- one step -----------------------------------------------------------------------------------
def _candidate(low: Lowering, problem, fixed, result, incumbent: Incumbent):
    """The decoded network of a solve with the fixed columns restored, and its check."""
    x = np.array(result.x, dtype=float)
    x[fixed] = problem.col_lower[fixed]
    network = low.decode(x, metadata=dict(incumbent.network.metadata))
    return network, x


def judge(full: Lowering, low: Lowering, problem, fixed, result, incumbent: Incumbent, repair):
    """``(new incumbent or None, record fields)`` for one solve's solution."""
    fields = {"verified": False, "candidate_loss": None, "note": ""}
    if not result.status.has_solution or result.x is None:
        fields["note"] = f"no solution ({result.status.value})"
        return None, fields
    network, x = _candidate(low, problem, fixed, result, incumbent)
    network = repair(network)
    check = verify(low, network, x, result.objective)
    loss = forward_loss(network, full.data)
    fields.update(verified=check.ok, candidate_loss=loss)
    if not check.ok:
        fields["note"] = f"rejected: {check.describe()}"
        return None, fields
    if loss > incumbent.loss + loss_tol(incumbent.loss):
        fields["note"] = f"rejected: loss {loss:g} > current {incumbent.loss:g}"
        return None, fields
    x_new, violation = full_feasibility(full, network)
    if violation > FEASIBLE_TOL and incumbent.feasible:
        fields["note"] = f"rejected: the network violates the full MILP by {violation:.3g}"
        return None, fields
    return Incumbent(network, loss, x_new if violation <= FEASIBLE_TOL else None), fields


def run_step(task, full: Lowering, hood: Neighbourhood, incumbent: Incumbent, budget: Budget,
             options, repair) -> StepOutcome:
    """Solve one neighbourhood from the incumbent; accept only a verified, not worse network."""
    low, problem, fixed, start = sub_problem(full, hood, incumbent)
    opts = options if start is None else attrs.evolve(options, mip_start=start)
    result = solve(task.backend, problem, budget.limit(opts))
    new, fields = judge(full, low, problem, fixed, result, incumbent, repair)
    changed = new is not None and not _same_network(new.network, incumbent.network)
    record = {
        "block": hood.layer, "loss": (new or incumbent).loss, "status": result.status.value,
        "seconds": budget.elapsed(), "accepted": new is not None, "objective": result.objective,
        "changed": changed, **fields, "neurons": list(hood.neurons),
        "points": full.data.n_points if hood.points is None else int(hood.points.size),
        "time_limit": opts.time_limit,
    }
    return StepOutcome(result, record, new or incumbent, changed, problem.size_summary())


def _same_network(a: BinarizedNetwork, b: BinarizedNetwork) -> bool:
    return all(
        np.array_equal(wa, wb) and np.array_equal(ba, bb)
        for wa, wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=True)
    )


# -- adaptive step size -------------------------------------------------------------------------
@attrs.define
class StepControl:
    """Batch size, free neurons and time limit of one layer's steps, adapted as they go.

    A step solved to optimality in under a quarter of its limit grows the batch by half (up to
    every point); a step stopped by its limit shrinks it by a third (down to 16 points), and
    once the batch is that small, halves the neurons freed per step (down to 1). The step's
    time limit is ``step_seconds`` if set, else a tenth of the budget left, at least 1 s and
    at most the task's ``time_limit``.
    """

    batch: int
    n_points: int
    step_seconds: float | None
    neurons: int = 4

    def limit(self, options, budget: Budget):
        """``options`` with this step's time limit."""
        if self.step_seconds is not None:
            seconds = self.step_seconds
        else:
            left = budget.remaining()
            seconds = 60.0 if math.isinf(left) else max(1.0, left / 10)
        if options.time_limit is not None:
            seconds = min(seconds, options.time_limit)
        return attrs.evolve(options, time_limit=seconds)

    def update(self, result: SolveResult, limit: float | None) -> None:
        """Grow or shrink the batch (and the neurons) after a step."""
        if limit is None:
            return
        if result.status.value == "optimal" and result.solve_seconds < limit / 4:
            self.batch = min(self.n_points, int(self.batch * 1.5) + 1)
        elif result.status.value != "optimal" or result.solve_seconds >= limit * 0.9:
            if self.batch <= 16:
                self.neurons = max(1, self.neurons // 2)
            self.batch = max(16, int(self.batch / 1.5))
