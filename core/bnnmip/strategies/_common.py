"""Pieces every strategy uses: trivial start, MIP starts, sound tolerances, one solve."""

from __future__ import annotations

import math
import time

import attrs
import numpy as np

from ..backends import availability, formulation_defaults, solve, solver_version
from ..backends.results import START_AT_BOUND_MESSAGE, SolveResult, SolveStatus
from ..errors import InvalidInputError
from ..formulation import Lowering
from ..heuristics import ste_network
from ..heuristics.pattern_fit import realize, repair_network
from ..ir import Architecture, TrainingSet
from ..network import BinarizedNetwork
from ..training.task import TrainingTask
from ..verify import verify

__all__ = [
    "mip_start", "solve_lowering", "sound_feasibility_tolerance", "sound_integrality_tolerance",
    "start_is_optimal", "symmetry_breaking", "trivial_network",
]


def symmetry_breaking(task: TrainingTask, user=None) -> tuple[bool, str]:
    """Whether to keep the formulation's symmetry-breaking rows, and who decided.

    ``user`` (the strategy's checked parameter, ``None`` if not set) wins, then the backend's
    ``formulation_defaults`` (checked even when the user decides), then ``True``. The source
    is ``"user"``, ``"backend"`` or ``"default"``.
    """
    preferred = formulation_defaults(task.backend).get("symmetry_breaking")
    if user is not None:
        return bool(user), "user"
    if preferred is not None:
        return bool(preferred), "backend"
    return True, "default"


def trivial_network(arch: Architecture, data: TrainingSet) -> BinarizedNetwork | None:
    """A network predicting the (weighted) majority class with all hidden neurons off.

    It satisfies every margin with room to spare, so it is always a feasible MIP start and
    the solver has an incumbent from the first second. ``None`` without biases.
    """
    if not arch.bias:
        return None
    counts = np.bincount(data.y, weights=data.weights, minlength=arch.n_classes)
    widths = arch.widths
    weights = [np.zeros((widths[l + 1], widths[l])) for l in range(arch.n_layers)]
    biases = [-np.ones(widths[l + 1]) for l in range(arch.n_layers)]
    biases[-1][int(np.argmax(counts))] = 1.0
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=arch.weight_domain)


def mip_start(lowering: Lowering, *candidates: BinarizedNetwork | None, tol: float = 1e-9):
    """The best feasible full assignment among ``candidates`` (None if none is feasible)."""
    best, best_obj = None, np.inf
    for net in candidates:
        if net is None:
            continue
        x = lowering.encode(net)
        if lowering.problem.violation(x) <= tol:
            obj = lowering.problem.objective(x)
            if obj < best_obj:
                best, best_obj = x, obj
    return best


def sound_integrality_tolerance(lowering: Lowering) -> float:
    """An integrality tolerance small enough that big-M rows cannot swallow the margin.

    A binary ``u`` within ``tol`` of 0 or 1 moves a big-M row by up to ``M * tol``; keeping
    that a tenth of ``eps`` keeps every activation on the side the MILP claims. The value is
    clipped to [1e-9, 1e-6], the range every built-in solver accepts.
    """
    big_m = max(float(np.max(m)) for m in lowering.big_m.values())
    return float(np.clip(lowering.eps / (10.0 * big_m), 1e-9, 1e-6))


def sound_feasibility_tolerance(lowering: Lowering) -> float:
    """A row feasibility tolerance a tenth of eps (at most 1e-6, at least 1e-9)."""
    return float(np.clip(lowering.eps / 10.0, 1e-9, 1e-6))


def start_is_optimal(lowering: Lowering, start, tol: float = 1e-9, lower_bound: float | None = None) -> bool:
    """Whether the feasible assignment ``start`` already reaches the trivial lower bound.

    The loss is a sum of nonnegative terms, so a start with loss 0 (a network that fits
    every training point with the margins) is optimal, and no search can improve on it.
    ``lower_bound``, a proven bound on the loss (e.g. ``exact``'s ``error_bound``), counts too.
    """
    if start is None:
        return False
    return lowering.problem.objective(start) <= _known_bound(lowering, lower_bound) + tol


def _known_bound(lowering: Lowering, lower_bound: float | None) -> float:
    trivial = lowering.problem.trivial_bound()
    return trivial if lower_bound is None else max(trivial, float(lower_bound))


PROVEN_BOUND_MESSAGE = ("not solved: the start reaches the lower bound exact's error_bound proved, "
                        "so it is optimal")
"""``SolveResult.message`` of a solve skipped because the start met a bound above the trivial one."""


def _result_at_bound(lowering: Lowering, backend, start, lower_bound: float | None = None) -> SolveResult:
    """The result of a solve skipped because ``start`` meets the trivial (or a proven) bound."""
    obj = lowering.problem.objective(start)
    trivial = obj <= lowering.problem.trivial_bound() + 1e-9
    return SolveResult(
        status=SolveStatus.OPTIMAL, backend=backend.name, solver_version=solver_version(backend),
        objective=obj, bound=_known_bound(lowering, lower_bound), gap=0.0, nodes=0,
        x=np.array(start, dtype=float),
        message=START_AT_BOUND_MESSAGE if trivial else PROVEN_BOUND_MESSAGE,
        mip_start_used=True,
    )


def solve_lowering(lowering: Lowering, task: TrainingTask, start=None, budget=None, heuristic=None,
                   skip_if_start_optimal: bool = True, lower_bound: float | None = None,
                   incumbent_source=None, interrupt=None):
    """Solve one lowering and decode and verify its solution.

    Unless the task sets them, the integrality and feasibility tolerances are derived from
    eps and the big-M constants (:func:`sound_integrality_tolerance`,
    :func:`sound_feasibility_tolerance`). With a :class:`~bnnmip.training.Budget`, the
    solve's time limit is cut to what is left of it. ``heuristic``, ``incumbent_source`` and
    ``interrupt`` become the options' fields of those names (see
    :class:`~bnnmip.backends.SolveOptions`).

    If the decoded network's forward pass disagrees with the solution, weights are fitted to
    the activation pattern the MILP claims (:func:`~bnnmip.heuristics.pattern_fit.repair_network`); when
    that succeeds the repaired network is returned (``verification.repaired``), otherwise the
    solver's network with a failed verification: never a silently wrong one.

    With ``skip_if_start_optimal`` (the default) and a start that reaches the trivial lower
    bound (:func:`start_is_optimal`), the solver is not called: the result is ``OPTIMAL``
    with the start as its solution, 0 nodes and a message saying so. An unavailable backend
    is still reported as such. ``lower_bound`` is a proven lower bound on the loss that a
    start may meet instead of the trivial one.
    """
    options = task.options
    if options.integrality_tolerance is None:
        options = attrs.evolve(options, integrality_tolerance=sound_integrality_tolerance(lowering))
    if options.feasibility_tolerance is None:
        options = attrs.evolve(options, feasibility_tolerance=sound_feasibility_tolerance(lowering))
    if start is not None:
        options = attrs.evolve(options, mip_start=start)
    hooks = {"heuristic": heuristic, "incumbent_source": incumbent_source, "interrupt": interrupt}
    options = attrs.evolve(options, **{k: v for k, v in hooks.items() if v is not None})
    if budget is not None:
        options = budget.limit(options)
    if (skip_if_start_optimal and start_is_optimal(lowering, start, lower_bound=lower_bound)
            and availability(task.backend)[0]):
        result = _result_at_bound(lowering, task.backend, start, lower_bound)
    else:
        result = solve(task.backend, lowering.problem, options)
    network = verification = None
    if result.status.has_solution:
        network = lowering.decode(result.x)
        verification = verify(lowering, network, result.x, result.objective)
        if not verification.ok:
            fit = repair_network(lowering, result.x, time_limit=10.0)
            if fit.realized:
                fixed = verify(lowering, fit.network, result.x, result.objective)
                if fixed.ok:
                    network, verification = fit.network, attrs.evolve(fixed, repaired=True)
    return result, network, verification


# -- the best available start (every built-in strategy) ----------------------------------------

START_KINDS = ("ste", "none")
"""Values of the ``start`` parameter of ``local_search`` and ``split`` (as in ``exact``)."""


def forward_loss(network: BinarizedNetwork, data: TrainingSet) -> float:
    """The weighted Hamming loss of ``network`` on ``data`` from its plain forward pass."""
    return network.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)


def check_start_params(strategy: str, start, seconds) -> tuple[str, float]:
    """The validated ``start`` and ``start_seconds`` parameters of ``strategy``."""
    if start not in START_KINDS:
        raise InvalidInputError(
            f"{strategy} parameter start must be one of {', '.join(START_KINDS)}, got {start!r}"
        )
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(seconds, bool) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"{strategy} parameter start_seconds must be a positive number, got {seconds!r}"
        )
    return start, value


class StartChoice:
    """The start a strategy runs from: the lowest-loss feasible candidate, and all candidates.

    ``network`` is the chosen network, ``kind`` its origin (``"warm_start"``, ``"ste"`` (the
    gradient start of :func:`gradient_start`), ``"random"``,
    ``"trivial"``...), ``loss`` its forward-pass training loss, ``x`` its feasible encoding on
    the lowering it was chosen for, ``candidates`` the loss of every feasible candidate by
    kind and ``info`` the gradient start's record (``None`` when it did not run).
    """

    def __init__(self, network, kind, loss, x, candidates, info=None) -> None:
        self.network, self.kind, self.loss, self.x = network, kind, loss, x
        self.candidates, self.info = candidates, info

    def record(self) -> dict:
        """The history record of the choice (an auxiliary record: it has a ``start`` key)."""
        out = {"start": self.kind, "start_loss": self.loss,
               "start_candidates": {k: float(v) for k, v in self.candidates.items()}}
        if self.info is not None:
            out["start_seconds"] = self.info.get("start_seconds")
        return out

    def outcome(self, final_loss: float | None) -> dict:
        """Whether the returned network beat the start or kept it (``start_outcome``)."""
        beaten = final_loss is not None and final_loss < self.loss - 1e-9 * max(1.0, self.loss)
        return {"start": self.kind, "start_loss": self.loss, "final_loss": final_loss,
                "start_outcome": "beaten" if beaten else "kept"}


def choose_start(lowering: Lowering, task: TrainingTask, *, start: str = "ste",
                 start_seconds: float = 5.0, budget=None, extra=(), repair=None,
                 check=None) -> StartChoice | None:
    """The lowest-loss start among the warm start, the gradient start and ``extra`` candidates.

    The gradient start is built by the same code as ``exact``'s
    (:func:`gradient_start`), given ``min(start_seconds, a quarter of
    the budget left)``; ``start="none"`` skips it. ``extra`` holds ``(kind, network)`` pairs
    (the trivial network, random draws, a parent's network...). ``repair`` (optional) maps a
    candidate to one whose margins hold before the feasibility check. Candidates whose
    encoding on ``lowering`` is infeasible are dropped; ``None`` when none is feasible. Ties
    keep the earlier candidate: warm start, gradient start, then ``extra`` in order. ``check``
    (optional) replaces the feasibility test: ``network -> (x, violation)``.
    """
    pairs, info = [("warm_start", task.warm_start)], None
    if start == "ste":
        seconds = start_seconds if budget is None else min(start_seconds, budget.remaining() / 4)
        if seconds > 0.05:
            net, info = gradient_start(lowering, seconds, seed=task.options.seed)
            pairs.append(("ste", net))
    pairs.extend(extra)
    best, candidates = None, {}
    for kind, net in pairs:
        if net is None:
            continue
        if repair is not None:
            net = repair(net)
        if check is None:
            x = lowering.encode(net)
            violation = lowering.problem.violation(x) if np.isfinite(x).all() else np.inf
        else:
            x, violation = check(net)
        if violation > 1e-9:
            continue
        loss = forward_loss(net, lowering.data)
        candidates[kind] = min(loss, candidates.get(kind, np.inf))
        if best is None or loss < best.loss:
            best = StartChoice(net, kind, loss, x, candidates, info)
    if best is not None:
        best.info = info
    return best


def start_kept_or_beaten(lowering: Lowering, start, network: BinarizedNetwork) -> bool:
    """Whether ``network``'s forward-pass loss is at most that of the MIP start ``start``."""
    start_loss = forward_loss(lowering.decode(start), lowering.data)
    return forward_loss(network, lowering.data) <= start_loss + 1e-9 * max(1.0, start_loss)


def start_outcome(lowering: Lowering, start, candidates, network: BinarizedNetwork) -> dict:
    """``exact``'s record of which start the solver began from and whether it beat it.

    ``candidates`` are the start networks offered (warm start, majority class, gradient
    start, in the order ``exact`` lists them); the start is the one whose encoding is
    ``start``.
    """
    kinds = ("warm_start", "trivial", "ste")
    kind = next((k for k, net in zip(kinds, candidates, strict=False)
                 if net is not None and np.array_equal(lowering.encode(net), start, equal_nan=True)),
                "start")
    choice = StartChoice(lowering.decode(start), kind, forward_loss(lowering.decode(start), lowering.data),
                         start, {})
    return choice.outcome(forward_loss(network, lowering.data))


def gradient_start(lowering: Lowering, seconds: float, seed: int = 0):
    """A gradient-trained network refitted to meet ``lowering``'s margins, or ``None``.

    Returns ``(network, info)``; ``info`` records the time taken and the start's loss.
    """
    t0 = time.perf_counter()
    arch, data = lowering.architecture, lowering.data
    boxes = lowering.bias_bounds()
    radius = 0.0 if lowering.robust is None else lowering.robust.radius
    # what the MILP's groups force (0 unless points that must agree disagree on labels): the
    # search can stop there, since no network does better
    bound = lowering.problem.trivial_bound()
    raw = ste_network(arch, data, seed=seed, time_limit=seconds,
                      bias_bound=boxes[0] if arch.bias else None, robust_radius=radius,
                      loss_bound=max(0.0, bound) if math.isfinite(bound) else 0.0)
    fit = realize(raw, arch, data.X, eps=lowering.eps, bias_bounds=boxes, robust_radius=radius,
                  time_limit=max(1.0, seconds))
    info = {
        "start": "ste",
        "start_seconds": round(time.perf_counter() - t0, 3),
        "start_loss": raw.hamming_loss(data.X, data.y, weights=data.weights, scaled=True),
        "start_realized": fit.realized,
    }
    return fit.network, info
