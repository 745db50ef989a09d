"""Pieces every strategy uses: trivial start, MIP starts, sound tolerances, one solve."""

from __future__ import annotations

import attrs
import numpy as np

from ..backends import availability, formulation_defaults, solve, solver_version
from ..backends.results import START_AT_BOUND_MESSAGE, SolveResult, SolveStatus
from ..formulation import Lowering
from ..heuristics.pattern_fit import repair_network
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


def start_is_optimal(lowering: Lowering, start, tol: float = 1e-9) -> bool:
    """Whether the feasible assignment ``start`` already reaches the trivial lower bound.

    The loss is a sum of nonnegative terms, so a start with loss 0 (a network that fits
    every training point with the margins) is optimal, and no search can improve on it.
    """
    if start is None:
        return False
    return lowering.problem.objective(start) <= lowering.problem.trivial_bound() + tol


def _result_at_bound(lowering: Lowering, backend, start) -> SolveResult:
    """The result of a solve skipped because ``start`` meets the trivial bound."""
    obj = lowering.problem.objective(start)
    return SolveResult(
        status=SolveStatus.OPTIMAL, backend=backend.name, solver_version=solver_version(backend),
        objective=obj, bound=lowering.problem.trivial_bound(), gap=0.0, nodes=0,
        x=np.array(start, dtype=float),
        message=START_AT_BOUND_MESSAGE,
        mip_start_used=True,
    )


def solve_lowering(lowering: Lowering, task: TrainingTask, start=None, budget=None, heuristic=None,
                   skip_if_start_optimal: bool = True):
    """Solve one lowering and decode and verify its solution.

    Unless the task sets them, the integrality and feasibility tolerances are derived from
    eps and the big-M constants (:func:`sound_integrality_tolerance`,
    :func:`sound_feasibility_tolerance`). With a :class:`~bnnmip.training.Budget`, the
    solve's time limit is cut to what is left of it. ``heuristic`` becomes
    ``options.heuristic`` (see :class:`~bnnmip.backends.SolveOptions`).

    If the decoded network's forward pass disagrees with the solution, weights are fitted to
    the activation pattern the MILP claims (:func:`~bnnmip.heuristics.pattern_fit.repair_network`); when
    that succeeds the repaired network is returned (``verification.repaired``), otherwise the
    solver's network with a failed verification: never a silently wrong one.

    With ``skip_if_start_optimal`` (the default) and a start that reaches the trivial lower
    bound (:func:`start_is_optimal`), the solver is not called: the result is ``OPTIMAL``
    with the start as its solution, 0 nodes and a message saying so. An unavailable backend
    is still reported as such.
    """
    options = task.options
    if options.integrality_tolerance is None:
        options = attrs.evolve(options, integrality_tolerance=sound_integrality_tolerance(lowering))
    if options.feasibility_tolerance is None:
        options = attrs.evolve(options, feasibility_tolerance=sound_feasibility_tolerance(lowering))
    if start is not None:
        options = attrs.evolve(options, mip_start=start)
    if heuristic is not None:
        options = attrs.evolve(options, heuristic=heuristic)
    if budget is not None:
        options = budget.limit(options)
    if skip_if_start_optimal and start_is_optimal(lowering, start) and availability(task.backend)[0]:
        result = _result_at_bound(lowering, task.backend, start)
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
