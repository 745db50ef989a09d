r"""The ``local_search`` strategy: large-neighbourhood search from the best start.

The paper's heuristic (Kurtz & Bah 2021, which alternates between the output layer and the
rest) generalized to any depth, width and number of points: each step re-optimizes a few
neurons (rows of one weight layer) exactly, on all points or on a batch of points, while
every other weight is held fixed at the current network (:mod:`bnnmip.strategies._lns`).
On small problems a step is a whole layer over all points (the block below); on larger ones
the neurons come in groups of ``free_neurons`` and the points in batches of ``batch_size``,
points outside the batch keeping the free neurons' activations through linear rows.

Block subproblems
-----------------
Let :math:`P(\theta)` be the full training MILP of ``docs/formulation.md`` over the weights
and biases :math:`\theta = (W^1, b^1, \dots, W^L, b^L)` and the activation columns
:math:`u, s, \xi`, and let :math:`\bar\theta` be the current network. Block :math:`l`
(:math:`l = 1, \dots, L`) is the same MILP with the extra column bounds

.. math::

    W^k = \bar W^k, \quad b^k = \bar b^k \qquad \text{for every } k \ne l,

so it optimizes :math:`(W^l, b^l)` exactly; the activations :math:`u` (and the products
:math:`s`, the robust bounds :math:`\xi`) stay free, since they are determined by the weights.
It is built from the full lowering by changing only ``col_lower`` / ``col_upper`` (the
solver's presolve removes the fixed columns), so every formulation option (depth, classes,
integer weights, activation ties, robust inputs, no biases) carries over unchanged.

Why the loss never rises
------------------------
If :math:`\bar\theta` satisfies every margin (:math:`|t| \ge \varepsilon` on each
pre-activation, patterns consistent within each tie cluster), its encoding
:math:`\bar x` = ``lowering.encode(network)`` is feasible for the full MILP and, since it
agrees with every fixed column, for every block. It is handed to the solver as a MIP start,
so the block's incumbent has objective at most :math:`f(\bar x)`, the current loss; a block
solved to optimality returns a network at least as good, and

.. math::

    f(\theta^{(k+1)}) = \min_{x \in \text{block}(l, \theta^{(k)})} f(x)
    \le f(\bar x^{(k)}) = f(\theta^{(k)}).

Because a solver's tolerances can make the decoded network disagree with the MILP
(see :mod:`bnnmip.verify`), the strategy does not rely on this argument alone: a block's
network replaces the current one only if it verifies (forward pass agrees with the MILP
solution), its encoding is feasible again (after a bias nudge that changes no activation on
the training points, see :func:`repair_margins`), and its **forward-pass** loss is at most the
current loss (plus :math:`10^{-9}`). Otherwise the block is recorded as rejected and the
current network is kept. The history's loss sequence is therefore non-increasing whatever
the solver does.

Start
-----
The lowest-loss feasible network among ``task.warm_start``, the gradient start
(``start="ste"``: :func:`bnnmip.strategies._common.gradient_start`, the code ``exact`` uses)
and the majority-class network, each after :func:`repair_margins`. Only when the majority
network would win (it is a fixed point of the search: all hidden neurons off) are
:data:`RANDOM_TRIES` random networks drawn (:func:`random_network`, seeded with
``task.options.seed``) and the best feasible one added. The first history record has
``start``, ``start_loss`` and ``start_candidates``; the last one ``start_outcome``
(``beaten`` or ``kept``) and ``final_loss``.

Stop rules
----------
The search stops, after at least one solve, when

- the loss is 0 (a proven global optimum, since the Hamming loss is non-negative);
- a round of whole-layer, all-point steps left the network unchanged (a local optimum with
  respect to every block; another round would solve the same subproblems);
- ``patience`` consecutive rounds brought no strict loss decrease;
- ``max_rounds`` rounds are done;
- the time budget (``task.time_budget``) is exhausted: one :class:`~bnnmip.training.Budget`
  covers the whole run, lowering and start included, and every solve's time limit is cut to
  what is left of it;
- with a single weight layer (no hidden layer) the only block is the full MILP, so one
  optimal solve ends the search.

Finishing solve
---------------
With ``finish="exact"`` (the default), rounds that end in ``converged``, ``patience`` or
``max_rounds`` with at least :data:`FINISH_MIN_SECONDS` of the budget left and a full MILP
(not a large problem's view) are followed by the ``exact`` strategy on the whole problem,
warm-started with the incumbent: its network is accepted as a step's is, and a proof of
optimality makes the result ``OPTIMAL`` with ``stop_reason="exact"`` (record ``block="all"``).

The last history record carries ``stop_reason`` (``zero_loss``, ``converged``, ``patience``,
``max_rounds``, ``time_budget`` or ``exact``). A step's time limit is ``step_seconds`` or, by
default, a tenth of the budget left (at least 1 s), never more than ``options.time_limit``;
``task.validation`` is not used.

Parameters (``task.params``)
----------------------------
max_rounds : int, default 20
    Largest number of rounds (every neuron freed once per round, >= 1).
patience : int, default 2
    Rounds without strict loss decrease tolerated before stopping (>= 1).
start : {"ste", "none"}, default "ste"
    Whether the gradient start is a candidate.
start_seconds : float, default 5
    Time for the gradient start (at most a quarter of the budget left).
batch_size : int, default 64
    Points per step when there are more (the paper's random batches); adapted per layer.
free_neurons : int, default 4
    Neurons freed per step (a layer not wider is freed whole); adapted per layer.
step_seconds : float or None, default None
    A fixed time limit per step instead of the adaptive one.
finish : {"exact", "none"}, default "exact"
    What the budget left after the rounds is spent on (see "Finishing solve").

Result
------
``network`` is the best (that is, the last accepted) network, never ``None``. ``status`` is
``OPTIMAL`` when the final loss is 0, or when the network has a single weight layer and its
only block was solved to proven optimality; otherwise ``FEASIBLE`` (a local optimum is not a
proven global one), or ``NO_SOLUTION`` if no network satisfying the margins was ever found
(possible only without biases). ``verification`` is a fresh :func:`~bnnmip.verify` of the
final network against its own encoding on the full lowering, with the MILP objective of
that encoding. ``history`` has one record per step with ``round``, ``block`` (the
layer index), ``neurons``, ``points``, ``time_limit``, ``loss`` (current forward-pass loss
after the step), ``status``, ``seconds``
(elapsed since the run started), ``accepted``, ``objective`` (the block's MILP objective),
plus ``changed``, ``candidate_loss``, ``verified`` and ``note``; the first record also has
``start`` and ``start_loss``. ``solves`` holds every block's
:class:`~bnnmip.backends.SolveResult`, so ``result.objective`` is the *last block's* objective;
the final loss is ``result.verification.true_loss``.

Examples
--------
>>> import bnnmip
>>> from bnnmip.strategies.local_search import LocalSearchStrategy
>>> from bnnmip.testing import random_teacher
>>> teacher, data = random_teacher(3, (2,), 2, 12, seed=1)
>>> task = bnnmip.TrainingTask(
...     architecture=bnnmip.Architecture(3, (2,), 2), data=data,
...     backend=bnnmip.get_backend("highs"),
...     options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=10),
...     params={"max_rounds": 5})
>>> result = LocalSearchStrategy().train(task)
>>> losses = [r["loss"] for r in result.history]
>>> all(a >= b for a, b in zip(losses, losses[1:]))
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import attrs
import numpy as np

from ..backends.results import SolveResult, SolveStatus
from ..errors import InvalidInputError
from ..formulation import Lowering, lower
from ..network import BinarizedNetwork
from ..training.task import Budget, TrainingResult, TrainingTask, report_iteration
from ..verify import verify
from ._common import (
    StartChoice,
    check_start_params,
    choose_start,
    forward_loss,
    sound_integrality_tolerance,
    trivial_network,
)
from ._lns import (
    FEASIBLE_TOL,
    Incumbent,
    Neighbourhood,
    SearchSettings,
    StepControl,
    StepOutcome,
    draw_batch,
    forward_verification,
    full_feasibility,
    full_view,
    is_view,
    large_problem,
    loss_tol,
    network_violation,
    run_step,
    schedule,
)
from .exact import ExactStrategy

__all__ = [
    "DEFAULT_PARAMS",
    "RANDOM_TRIES",
    "LocalSearchStrategy",
    "block_problem",
    "random_network",
    "repair_margins",
]

DEFAULT_PARAMS = {"max_rounds": 20, "patience": 2, "start": "ste", "start_seconds": 5.0,
                  "batch_size": 64, "free_neurons": 4, "step_seconds": None, "finish": "exact"}
"""The strategy's parameters and their defaults."""

FINISH_KINDS = ("exact", "none")
"""Values of the ``finish`` parameter (what the budget left after the rounds is spent on)."""

FINISH_MIN_SECONDS = 1.0
"""The finishing solve runs only with at least this much of the budget left."""

INT_PARAMS = ("max_rounds", "patience", "batch_size", "free_neurons")

RANDOM_TRIES = 20
"""Random start networks drawn before falling back to the trivial network."""

_FEASIBLE_TOL = FEASIBLE_TOL


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
def _positive_int(value) -> int | None:
    parsed = None
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        parsed = int(value)
    elif isinstance(value, float | np.floating) and float(value).is_integer():
        parsed = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
        parsed = int(value)
    return parsed if parsed is not None and parsed >= 1 else None


def _positive_float_or_none(value) -> tuple[bool, float | None]:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return True, None
    if isinstance(value, bool | np.bool_):
        return False, None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return False, None
    return (math.isfinite(out) and out > 0), out


def _check_params(params: Mapping) -> tuple[SearchSettings, str, float, str]:
    """Validated params merged over :data:`DEFAULT_PARAMS`: settings, start, start_seconds, finish."""
    valid = ", ".join(f"{k} (default {v})" for k, v in DEFAULT_PARAMS.items())
    unknown = sorted(str(k) for k in params if k not in DEFAULT_PARAMS)
    if unknown:
        raise InvalidInputError(
            f"unknown local_search parameter(s) {', '.join(unknown)}; valid keys: {valid}"
        )
    out = {**DEFAULT_PARAMS, **params}
    for key in INT_PARAMS:
        parsed = _positive_int(out[key])
        if parsed is None:
            raise InvalidInputError(
                f"local_search parameter {key} must be an integer >= 1, got {out[key]!r}; "
                f"valid keys: {valid}"
            )
        out[key] = parsed
    ok, step = _positive_float_or_none(out["step_seconds"])
    if not ok:
        raise InvalidInputError(
            f"local_search parameter step_seconds must be a positive number or none, got "
            f"{out['step_seconds']!r}; valid keys: {valid}"
        )
    start, seconds = check_start_params("local_search", out["start"], out["start_seconds"])
    if out["finish"] not in FINISH_KINDS:
        raise InvalidInputError(
            f"local_search parameter finish must be one of {', '.join(FINISH_KINDS)}, got "
            f"{out['finish']!r}; valid keys: {valid}"
        )
    settings = SearchSettings(out["max_rounds"], out["patience"], out["batch_size"], out["free_neurons"],
                              step)
    return settings, start, seconds, out["finish"]


# ---------------------------------------------------------------------------------------------
# networks: random start, margin repair, feasibility
# ---------------------------------------------------------------------------------------------
def random_network(lowering: Lowering, rng: np.random.Generator) -> BinarizedNetwork:
    """A random network for ``lowering``'s architecture whose neurons are not constant.

    Weights are uniform on the weight domain (integers for integer domains). Each bias puts
    the neuron's threshold halfway between two consecutive distinct pre-activation values on
    the training points, between the 25th and 75th percentile (a random choice weighted
    towards wide gaps, which leave room for the margin eps), so that the neuron fires on part
    of the data. Without biases, biases are 0. Biases are clipped to
    the formulation's bias box.
    """
    arch, X = lowering.architecture, lowering.data.X
    domain, widths = arch.weight_domain, arch.widths
    P = domain.bound
    boxes = lowering.bias_bounds()
    a = X
    weights, biases = [], []
    for l in range(arch.n_layers):
        shape = (widths[l + 1], widths[l])
        if domain.is_integer:
            W = rng.integers(-P, P + 1, size=shape).astype(float)
        else:
            W = rng.uniform(-1.0, 1.0, size=shape)
        t = a @ W.T
        b = np.zeros(shape[0])
        if arch.bias:
            for j in range(shape[0]):
                values = np.unique(t[:, j])
                if values.size < 2:
                    b[j] = -values[0] + (0.5 if rng.random() < 0.5 else -0.5)
                    continue
                # a split between consecutive values in the middle half, preferring wide gaps
                gaps = np.diff(values)
                lo = int(0.25 * (gaps.size - 1))
                hi = max(lo + 1, int(np.ceil(0.75 * (gaps.size - 1))) + 1)
                k = lo + int(np.argmax(gaps[lo:hi] * rng.uniform(0.5, 1.0, hi - lo)))
                b[j] = -0.5 * (values[k] + values[k + 1])
            b = np.clip(b, -boxes[l], boxes[l])
        weights.append(W)
        biases.append(b)
        a = (t + b > 0).astype(float)
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=domain,
                                        metadata={"bias": arch.bias})


def repair_margins(lowering: Lowering, network: BinarizedNetwork) -> BinarizedNetwork:
    """``network`` with biases shifted so every pre-activation clears the margin eps.

    Per neuron, with ``t`` its pre-activations on the training points (for the first layer of
    a robust model, ``t -+ r ||W_j||_1``), a bias shift ``delta`` keeps every activation and
    satisfies the margins iff ``min(t_on) + delta >= eps`` and ``max(t_off) + delta <= -eps``.
    The smallest such shift (kept a little inside the interval) is applied; neurons that
    already satisfy the margins, or that cannot be repaired, or a network without biases, are
    left alone. No activation on the training points changes, so neither does the loss.
    Whether the result is feasible is for ``problem.violation(lowering.encode(...))`` to say.
    """
    arch = lowering.architecture
    if not arch.bias:
        return network
    eps = lowering.eps
    boxes = lowering.bias_bounds()
    radius = 0.0 if lowering.robust is None else float(lowering.robust.radius)
    fw = network.forward(lowering.data.X, scaled=True)
    biases = [np.array(b, dtype=float) for b in network.biases]
    changed = False
    for l, (t, act) in enumerate(zip(fw.pre, fw.act, strict=True)):
        reach = radius * np.abs(network.weights[0]).sum(axis=1) if l == 0 else 0.0
        on = act > 0
        lo_t = np.where(on, t - reach, np.inf).min(axis=0)  # smallest "on" value per neuron
        hi_t = np.where(on, -np.inf, t + reach).max(axis=0)  # largest "off" value per neuron
        low, high = eps - lo_t, -eps - hi_t  # admissible shifts [low, high]
        need = (low > 0) | (high < 0)
        for j in np.flatnonzero(need & (low <= high)):
            gamma = 0.5 * min(eps, 0.5 * (high[j] - low[j]))
            delta = float(np.clip(0.0, low[j] + gamma, high[j] - gamma))
            new = biases[l][j] + delta
            if -boxes[l] <= new <= boxes[l]:
                biases[l][j] = new
                changed = True
    if not changed:
        return network
    return attrs.evolve(network, biases=tuple(_frozen(b) for b in biases))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=float)
    arr.flags.writeable = False
    return arr


def _encode_feasible(lowering: Lowering, network: BinarizedNetwork):
    """``(x, violation)`` of the network's encoding on the full problem."""
    x = lowering.encode(network)
    return x, lowering.problem.violation(x)


def _same_network(a: BinarizedNetwork, b: BinarizedNetwork) -> bool:
    return all(
        np.array_equal(wa, wb) and np.array_equal(ba, bb)
        for wa, wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# block problems
# ---------------------------------------------------------------------------------------------
def _layer_columns(lowering: Lowering, l: int) -> np.ndarray:
    cols = lowering.problem.columns
    parts = [np.arange(cols[f"W{l}"].start, cols[f"W{l}"].stop)]
    if f"b{l}" in cols:
        parts.append(np.arange(cols[f"b{l}"].start, cols[f"b{l}"].stop))
    return np.concatenate(parts)


def block_problem(lowering: Lowering, l: int, x: np.ndarray):
    """The MILP of block ``l``: weights and biases of every other layer fixed to ``x``.

    Returns ``(problem, fixed)`` where ``fixed`` are the indices of the fixed columns. The
    fixed values are clipped to the original bounds; everything else (rows, objective,
    integrality, named blocks) is the full problem's.
    """
    problem = lowering.problem
    fixed = np.concatenate(
        [_layer_columns(lowering, k) for k in range(1, lowering.architecture.n_layers + 1) if k != l]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    lo = np.array(problem.col_lower, dtype=float)
    hi = np.array(problem.col_upper, dtype=float)
    values = np.clip(np.asarray(x, dtype=float)[fixed], lo[fixed], hi[fixed])
    lo[fixed] = values
    hi[fixed] = values
    return attrs.evolve(problem, col_lower=lo, col_upper=hi, name=f"{problem.name}-block{l}"), fixed


# ---------------------------------------------------------------------------------------------
# the strategy
# ---------------------------------------------------------------------------------------------
@attrs.frozen(eq=False)
class _Context:
    """What every step of one run shares.

    The task, the full lowering (or its view), the settings, the solve options, the budget
    and the start choice.
    """

    task: TrainingTask
    lowering: Lowering
    settings: SearchSettings
    options: object
    budget: Budget
    choice: StartChoice


class _Run:
    """What a run has done so far: solves, history, step count, why it stopped."""

    def __init__(self) -> None:
        self.solves: list[SolveResult] = []
        self.history: list[dict] = []
        self.k = 0
        self.stop_reason = "max_rounds"
        self.proven = False  # single weight layer solved to proven optimality
        self.largest: dict = {}  # size of the largest sub-MILP solved


class LocalSearchStrategy:
    """Large-neighbourhood search: re-optimize a few neurons at a time, the rest fixed.

    See the module docstring for the neighbourhoods, the monotonicity argument, the start,
    the stop rules and the parameters.
    """

    name = "local_search"
    description = "large-neighbourhood search from the gradient start: a few neurons, a batch of points"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Search from the best start until a stop rule fires; see the module docstring."""
        budget = task.budget()
        settings, start, start_seconds, finish = _check_params(task.params)
        lowering = _full_lowering(task)
        incumbent, choice = self._start(task, lowering, start, start_seconds, budget)
        ctx = _Context(task, lowering, settings, _step_options(task, lowering), budget, choice)
        run = _Run()
        self._search(ctx, incumbent, run, finish)
        return self._result(task, lowering, run, budget)

    # -- pieces ----------------------------------------------------------------------------
    @staticmethod
    def _start(task: TrainingTask, lowering: Lowering, start: str, start_seconds: float, budget):
        """``(incumbent, record)``: the lowest-loss feasible start and what was tried.

        Candidates, best loss first (ties: earlier): the warm start, the gradient start
        (``start="ste"``, built as ``exact`` builds it), the trivial network, each after
        :func:`repair_margins`; only when the trivial network would win (no warm start, no
        gradient start) is the best of :data:`RANDOM_TRIES` random networks added (the
        trivial network is a fixed point of the search). When none is
        feasible (possible only without biases), the warm start or the first random network is
        returned with ``x = None`` (blocks then fix the other layers to its weights).
        """
        rng = np.random.default_rng(task.options.seed)
        repair = functools.partial(repair_margins, lowering)
        trivial = [("trivial", trivial_network(task.architecture, task.data))]
        check = functools.partial(full_feasibility, lowering)
        choice = choose_start(lowering, task, start=start, start_seconds=start_seconds, budget=budget,
                              extra=trivial, repair=repair, check=check)
        draws = [random_network(lowering, rng) for _ in range(RANDOM_TRIES)]
        if choice is None or choice.kind == "trivial":  # random draws only without a better start
            extra = [("random", _best_feasible(lowering, [repair(d) for d in draws])), *trivial]
            choice = choose_start(lowering, task, start="none", extra=extra, repair=repair, check=check)
        if choice is not None:
            return Incumbent(choice.network, choice.loss, choice.x), choice
        kind, net = ("warm_start", task.warm_start) if task.warm_start is not None else ("random", draws[0])
        loss = forward_loss(net, task.data)
        return Incumbent(net, loss, None), StartChoice(net, f"{kind} (infeasible)", loss, None, {})

    def _search(self, ctx: _Context, incumbent: Incumbent, run: _Run, finish: str = "none") -> None:
        """Rounds of neighbourhood steps until a stop rule fires, then the finishing solve.

        ``run.stop_reason`` says which rule fired; the finishing solve (``finish="exact"``,
        :meth:`_finish`) follows rounds that ended without a proof.
        """
        task, settings = ctx.task, ctx.settings
        rng = np.random.default_rng(task.options.seed)
        # one batch size per layer: output rows are cheap to re-fit on many points, first-layer
        # rows (many inputs) are not
        control = {l: StepControl(settings.batch_size, task.data.n_points, settings.step_seconds,
                                  settings.free_neurons)
                   for l in range(1, task.architecture.n_layers + 1)}
        stale = 0
        for rnd in range(1, settings.max_rounds + 1):
            before = incumbent.loss
            incumbent, changed, exhaustive, stop = self._round(ctx, incumbent, run, rnd, rng, control)
            if stop is not None:
                run.stop_reason = stop
                break
            stale = 0 if incumbent.loss < before - loss_tol(before) else stale + 1
            stop = _round_stop(incumbent, run, changed, exhaustive, stale, settings)
            if stop is not None:
                run.stop_reason = stop
                break
        if finish == "exact" and _finishes(ctx, incumbent, run):
            incumbent = self._finish(ctx, incumbent, run)
        if run.history:
            run.history[-1]["stop_reason"] = run.stop_reason
            run.history[-1].update({k: v for k, v in ctx.choice.outcome(incumbent.loss).items()
                                    if k != "start"})
        run.final = incumbent

    def _finish(self, ctx: _Context, incumbent: Incumbent, run: _Run) -> Incumbent:
        """The budget left on the full MILP: the ``exact`` strategy warm-started with the incumbent.

        Its network replaces the incumbent only if it verifies, is feasible for the full MILP
        and its forward-pass loss is not above the incumbent's; a proof of optimality makes the
        result ``OPTIMAL`` (``stop_reason="exact"``).
        """
        left = ctx.budget.remaining()
        task = attrs.evolve(ctx.task, warm_start=incumbent.network, params={"start": "none"},
                            time_budget=None if math.isinf(left) else left)
        result = ExactStrategy().train(task)
        if not result.solves:
            return incumbent
        new, note = None, ""
        if result.network is None or not result.verification.ok:
            note = f"rejected: {result.status.value}, no verified network"
        else:
            loss = forward_loss(result.network, ctx.task.data)
            x, violation = full_feasibility(ctx.lowering, result.network)
            if loss > incumbent.loss + loss_tol(incumbent.loss) or violation > FEASIBLE_TOL:
                note = f"rejected: loss {loss:g}, violation {violation:.3g} of the full MILP"
            else:
                new = Incumbent(result.network, loss, x)
        if new is not None and result.status is SolveStatus.OPTIMAL:
            run.proven, run.stop_reason = True, "exact"
        last = result.solves[-1]
        record = {"block": "all", "loss": (new or incumbent).loss, "status": last.status.value,
                  "seconds": ctx.budget.elapsed(), "accepted": new is not None,
                  "objective": last.objective, "note": note or "finishing solve: exact from the incumbent",
                  "points": ctx.task.data.n_points, "time_limit": _finish_limit(ctx.task, left)}
        step = StepOutcome(last, record, new or incumbent, new is not None,
                           ctx.lowering.problem.size_summary())
        self._log(run, step, (run.history[-1]["round"] if run.history else 0) + 1, ctx.choice,
                  proven_candidate=False)
        return step.incumbent

    def _round(self, ctx: _Context, incumbent: Incumbent, run: _Run, rnd: int, rng, control):
        """One round: ``(incumbent, changed, all steps exhaustive, stop reason or None)``."""
        task, lowering, settings, budget = ctx.task, ctx.lowering, ctx.settings, ctx.budget
        arch = task.architecture
        changed_any, exhaustive = False, True
        neurons = {l: c.neurons for l, c in control.items()}
        for l, group, use_all in schedule(lowering, settings, rng, settings.batch_size, neurons):
            if run.k > 0 and incumbent.loss <= loss_tol(0.0):
                return incumbent, changed_any, exhaustive, "zero_loss"
            if run.k > 0 and budget.exhausted():
                return incumbent, changed_any, exhaustive, "time_budget"
            points = None
            if not use_all and (control[l].batch < task.data.n_points or is_view(lowering)):
                points = draw_batch(lowering, incumbent, control[l].batch, rng, l, group)
            hood = Neighbourhood(l, group, points)
            opts = control[l].limit(ctx.options, budget)
            step = run_step(task, lowering, hood, incumbent, budget, opts,
                            functools.partial(repair_margins, lowering))
            control[l].update(step.result, step.record["time_limit"])
            incumbent = step.incumbent
            changed_any |= step.changed
            exhaustive &= hood.exhaustive(arch.widths[l])
            self._log(run, step, rnd, ctx.choice,
                      proven_candidate=arch.n_layers == 1 and hood.exhaustive(arch.widths[l]))
        return incumbent, changed_any, exhaustive, None

    def _log(self, run: _Run, step: StepOutcome, rnd: int, choice: StartChoice, proven_candidate: bool):
        run.solves.append(step.result)
        if step.size.get("nonzeros", -1) > run.largest.get("nonzeros", -1):
            run.largest = step.size
        run.k += 1
        record = {"round": rnd, **step.record}
        if proven_candidate and record["accepted"] and step.result.status is SolveStatus.OPTIMAL:
            run.proven = True
        if run.k == 1:
            record.update(choice.record())
        ordered = {key: record[key] for key in
                   ("round", "block", "loss", "status", "seconds", "accepted", "objective")}
        ordered.update(record)
        run.history.append(ordered)
        report_iteration(self.name, run.k, ordered)

    def _result(self, task, lowering: Lowering, run: _Run, budget: Budget) -> TrainingResult:
        current = run.final.network
        if is_view(lowering):  # the full MILP was never built: the forward pass on every point
            violation = network_violation(lowering, current)
            verification = forward_verification(lowering, current)
            size = run.largest or lowering.problem.size_summary()
        else:
            x_final = lowering.encode(current)
            violation = lowering.problem.violation(x_final)
            verification = verify(lowering, current, x_final, lowering.problem.objective(x_final))
            size = lowering.problem.size_summary()
        if violation > FEASIBLE_TOL:
            status = SolveStatus.NO_SOLUTION
        elif run.final.loss <= loss_tol(0.0) or run.proven:
            status = SolveStatus.OPTIMAL
        else:
            status = SolveStatus.FEASIBLE
        return TrainingResult(
            network=current,
            status=status,
            solves=tuple(run.solves),
            verification=verification,
            problem_size=size,
            strategy=self.name,
            backend=task.backend.name,
            seconds=budget.elapsed(),
            history=tuple(run.history),
        )


def _round_stop(incumbent: Incumbent, run: _Run, changed: bool, exhaustive: bool, stale: int,
                settings: SearchSettings) -> str | None:
    """Why to stop after a full round (``None``: go on)."""
    if incumbent.loss <= loss_tol(0.0):
        return "zero_loss"
    if run.proven:
        return "exact"
    if not changed and exhaustive:
        return "converged"
    if stale >= settings.patience:
        return "patience"
    return None


def _finish_limit(task: TrainingTask, left: float) -> float | None:
    """The finishing solve's time limit: the task's per-solve limit cut to the budget left."""
    limits = [v for v in (task.options.time_limit, left) if v is not None and math.isfinite(v)]
    return min(limits) if limits else None


def _finishes(ctx: _Context, incumbent: Incumbent, run: _Run) -> bool:
    """Whether the finishing solve runs: rounds ended without proof, with budget and a full MILP."""
    return (run.stop_reason in ("converged", "patience", "max_rounds") and not is_view(ctx.lowering)
            and incumbent.loss > loss_tol(0.0) and not run.proven
            and ctx.budget.remaining() >= FINISH_MIN_SECONDS)


def _full_lowering(task: TrainingTask) -> Lowering:
    """The full lowering, or a :func:`full_view` when its MILP would be large.

    No symmetry-breaking rows: with the other layers fixed they would forbid moves. A view
    only without ties and robust inputs (their steps need every point).
    """
    arch, data = task.architecture, task.data
    if large_problem(task):
        return full_view(arch, data, task.formulation, task.eps)
    return lower(arch, data, formulation=task.formulation, robust=task.robust, ties=task.ties,
                 eps=task.eps, symmetry_breaking=False)


def _step_options(task: TrainingTask, lowering: Lowering):
    """The task's options with a sound integrality tolerance unless it sets one."""
    options = task.options
    if options.integrality_tolerance is None:
        options = attrs.evolve(options, integrality_tolerance=sound_integrality_tolerance(lowering))
    return options


def _best_feasible(lowering: Lowering, networks) -> BinarizedNetwork | None:
    """The feasible network of lowest MILP objective among ``networks`` (None if none)."""
    best, best_obj = None, np.inf
    for net in networks:
        x, violation = _encode_feasible(lowering, net)
        if violation <= FEASIBLE_TOL and lowering.problem.objective(x) < best_obj:
            best, best_obj = net, lowering.problem.objective(x)
    return best
