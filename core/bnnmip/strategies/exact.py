"""The ``exact`` strategy: one MILP over all training points, with a heuristic start.

Parameters (``task.params``)
----------------------------
start : {"ste", "none"}, default "ste"
    ``"ste"``: before the MILP, train the network by gradient descent with a straight-through
    step (:func:`bnnmip.heuristics.ste_network`), move its weights as little as needed for its own
    activation pattern to meet the formulation's margins and boxes
    (:func:`bnnmip.heuristics.pattern_fit.realize`), and hand it to the solver as a MIP start when it
    beats the majority-class network. With a robustness set the gradient start keeps every
    ball on one side of every first-layer hyperplane (``robust_radius`` of
    :func:`~bnnmip.heuristics.ste_network`). The gradient search stops once it reaches the loss the
    MILP's activation groups force (its ``loss_bound``: 0 unless points that must share their
    activations disagree on labels). ``"none"``: only the majority-class start (the paper's
    setting).
start_seconds : float, default 5
    Time for the gradient start (taken from the run's time budget, never more than a quarter
    of what is left of it).
always_solve : bool, default False
    Without it, a start that already reaches the loss's trivial lower bound (a network that
    fits every training point with the margins: loss 0; or the loss that merged activation
    groups with conflicting labels force) is returned as ``OPTIMAL`` without
    calling the solver (0 nodes; the result's message says so). Set it to measure the
    solver itself on such instances.
symmetry_breaking : bool, default: the backend's preference, else True
    Keep the formulation's symmetry-breaking rows and fixings (``tight``: the first point's
    hidden neurons off, neurons ordered by bias; see ``docs/formulation.md``). They help SCIP
    and HiGHS prove and cost CBC proofs (``docs/benchmarks/symmetry.md``). So when it is not set, a
    backend's ``formulation_defaults`` decide (:func:`bnnmip.backends.formulation_defaults`;
    ``cbc`` declares ``False``), and ``True`` for backends that declare nothing (``highs``,
    ``scip``). A value set here always wins. The history's first record says what the MILP
    used: ``{"formulation": ..., "symmetry_breaking": ..., "symmetry_breaking_source": ...,
    "activation_groups": ...}``, the source being ``"user"``, ``"backend"``, ``"default"`` or
    ``"formulation"`` (one without such rows, e.g. ``paper``: always ``False``), the groups
    the number of activation patterns the MILP keeps (fewer than the points when the
    formulation merges points that must share them, :mod:`bnnmip.formulation.merging`).
improve : {"coordinate", "none"}, default "none"
    On backends that call back during the search (:attr:`BackendFeature.CALLBACKS
    <bnnmip.backends.BackendFeature.CALLBACKS>`: HiGHS, SCIP with big-M rows or indicator
    constraints), every new incumbent is improved by coordinate descent on its true loss
    (:func:`bnnmip.heuristics.improve_network`), refitted to the formulation's margins and handed
    back to the solver when it is better. Off by
    default: in ``docs/benchmarks/formulations.md`` it never found a better incumbent than the
    ones HiGHS and SCIP found (the gradient start is already coordinate-optimal).
error_bound : {False, True, "auto", "parallel"}, default False
    For one hidden layer of width 2 with biases, prove a lower bound on the loss by small
    relaxations (:mod:`bnnmip.formulation.error_bound`). ``True``: before the training MILP,
    within half the time left; the bound joins the MILP as a row and their best network as a
    start. ``"auto"``: the same where it applies, silent elsewhere, at most
    :data:`AUTO_BOUND_SECONDS` without a time limit. ``"parallel"``: in a thread beside the
    training MILP (``threads`` more solver threads), which is interrupted as soon as the
    bound meets its incumbent (``OPTIMAL``); on backends that do not declare ``CALLBACKS``
    and ``INTERRUPT`` it runs before, as ``True``. ``docs/formulation.md``, "A lower bound for width 2".
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import attrs
import numpy as np

from ..backends import BackendFeature
from ..backends.results import SolveResult, SolveStatus
from ..errors import InvalidInputError
from ..formulation import FORMULATIONS, Lowering, lower
from ..formulation.error_bound import applies, with_loss_floor
from ..heuristics import improve_network
from ..heuristics.pattern_fit import realize
from ..training.task import TrainingResult, TrainingTask
from ..verify import verify
from ._bounds import BoundBeside, error_bound
from ._common import (
    gradient_start,
    mip_start,
    solve_lowering,
    start_is_optimal,
    start_kept_or_beaten,
    start_outcome,
    symmetry_breaking,
    trivial_network,
)

__all__ = ["DEFAULT_PARAMS", "ExactStrategy", "IncumbentImprover", "gradient_start"]

DEFAULT_PARAMS = {"start": "ste", "start_seconds": 5.0, "improve": "none", "always_solve": False,
                  "symmetry_breaking": True, "error_bound": False}
"""The parameters' defaults; ``symmetry_breaking``'s only for backends without a preference."""
BOOLEAN_PARAMS = ("always_solve", "symmetry_breaking")
AUTO_BOUND_SECONDS = 60.0
"""``error_bound="auto"`` spends at most this long on its small solves when the run has no time limit."""
STARTS = ("ste", "none")
IMPROVES = ("coordinate", "none")


def _check_params(params: Mapping) -> dict:
    valid = ", ".join(f"{k} (default {v})" if k != "symmetry_breaking"
                      else f"{k} (default: the backend's preference, else {v})"
                      for k, v in DEFAULT_PARAMS.items())
    unknown = sorted(str(k) for k in params if k not in DEFAULT_PARAMS)
    if unknown:
        raise InvalidInputError(f"unknown exact parameter(s) {', '.join(unknown)}; valid keys: {valid}")
    out = {**DEFAULT_PARAMS, **params}
    if out["start"] not in STARTS:
        raise InvalidInputError(
            f"exact parameter start must be one of {', '.join(STARTS)}, got {out['start']!r}"
        )
    if out["improve"] not in IMPROVES:
        raise InvalidInputError(
            f"exact parameter improve must be one of {', '.join(IMPROVES)}, got {out['improve']!r}"
        )
    for key in BOOLEAN_PARAMS:
        if not isinstance(out[key], bool | np.bool_):
            raise InvalidInputError(f"exact parameter {key} must be true or false, got {out[key]!r}")
    if not isinstance(out["error_bound"], bool | np.bool_) and out["error_bound"] not in ("auto", "parallel"):
        raise InvalidInputError("exact parameter error_bound must be true, false, auto (on where it "
                                "applies: one hidden layer of width 2 with biases) or parallel (beside the "
                                f"training MILP, on threads of its own), got {out['error_bound']!r}")
    try:
        seconds = float(out["start_seconds"])
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(
            f"exact parameter start_seconds must be a positive number, got {out['start_seconds']!r}"
        )
    out["start_seconds"] = seconds
    return out


def _formulation_record(lowering: Lowering, source: str) -> dict:
    """The history record of the formulation settings the MILP was built with."""
    if not getattr(FORMULATIONS[lowering.formulation], "SYMMETRY_BREAKING", False):
        source = "formulation"
    return {"formulation": lowering.formulation, "symmetry_breaking": bool(lowering.symmetry_breaking),
            "symmetry_breaking_source": source, "activation_groups": lowering.ties.n_clusters}




def _error_bound_setting(value, lowering: Lowering, backend) -> tuple[str, float | None, dict | None]:
    """``(mode, cap, note)``: how to run ``error_bound`` and the cap on its seconds.

    ``mode`` is ``"off"``, ``"before"`` (the small solves before the training MILP; ``cap``
    ``None``: half the time left) or ``"beside"`` (``parallel``: in a thread beside it, on a
    backend that declares ``CALLBACKS`` and ``INTERRUPT``; elsewhere ``"before"``, and
    ``note`` is a history record that says why). ``auto`` runs it before the MILP where it
    applies (one hidden layer of width 2 with biases) and is silent elsewhere; its small
    solves get at most :data:`AUTO_BOUND_SECONDS` when the run has no time limit. Off by
    default: on small instances the main MILP often proves the optimum before the small
    solves end (``docs/benchmarks/bounds.md``).
    """
    if value == "parallel":
        missing = [f.name for f in (BackendFeature.CALLBACKS, BackendFeature.INTERRUPT)
                   if f not in backend.features]
        if missing and applies(lowering.architecture):
            return "before", None, {"error_bound_parallel": (
                f"not available on backend {backend.name} (it does not declare {' and '.join(missing)}): "
                "the small solves ran before the training MILP, as with error_bound=true")}
        return ("beside" if not missing else "before"), None, None
    if value != "auto":
        return ("before" if value else "off"), None, None
    return ("before" if applies(lowering.architecture) else "off"), AUTO_BOUND_SECONDS, None


def _conclude_beside(beside: BoundBeside, lowering: Lowering, result, network, verification):
    """The training MILP's result, network and verification with ``error_bound=parallel``'s outcome.

    After :meth:`BoundBeside.finish`: takes the small solves' network where it beats the
    solver's (the solver may stop before it takes it), and says ``OPTIMAL`` where the floor
    they proved reaches the loss returned (the message says who proved it). The bound is the
    larger of the two.
    """
    record, floor, x = beside.record, beside.floor, beside.x
    record["error_bound_setting"] = "parallel"
    objective = None if x is None else lowering.problem.objective(x)
    if (x is not None and result.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)
            and (result.objective is None or objective < result.objective - 1e-9)):
        network = lowering.decode(x)
        verification = verify(lowering, network, x, objective)
        result = attrs.evolve(result, status=SolveStatus.FEASIBLE, x=x, objective=objective,
                              gap=SolveResult.relative_gap(objective, result.bound),
                              message=f"{result.message}; the returned solution is error_bound's network "
                                      "(found beside the solver)")
        record["error_bound_network_returned"] = True
    if floor is None or not result.status.has_solution:
        return result, network, verification
    bound = floor if result.bound is None or not math.isfinite(result.bound) else max(floor, result.bound)
    if result.status is SolveStatus.FEASIBLE and result.objective <= floor + 1e-9:
        record["error_bound_proved"] = True
        result = attrs.evolve(result, status=SolveStatus.OPTIMAL, bound=bound, gap=0.0,
                              message=f"proved optimal by exact's error_bound beside the solver (loss >= "
                                      f"{floor:g}); the solver said: {result.message}")
    elif bound != result.bound:
        result = attrs.evolve(result, bound=bound, gap=SolveResult.relative_gap(result.objective, bound))
    return result, network, verification


class IncumbentImprover:
    """The primal heuristic of ``improve="coordinate"``: incumbent in, better solution or None.

    Counts its calls, the solutions it returned and its seconds (``record()``).
    """

    def __init__(self, lowering: Lowering, time_limit: float = 2.0) -> None:
        self.lowering = lowering
        self.time_limit = time_limit
        self.calls = self.improved = 0
        self.seconds = 0.0

    def __call__(self, x):
        """A better full solution than incumbent ``x``, or ``None``."""
        t0 = time.perf_counter()
        self.calls += 1
        try:
            low, data = self.lowering, self.lowering.data
            net = low.decode(x)
            before = net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
            boxes = low.bias_bounds()
            better = improve_network(net, data, bias_bound=max(boxes), time_limit=self.time_limit)
            after = better.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
            if not after < before - 1e-9:
                return None
            radius = 0.0 if low.robust is None else low.robust.radius
            fit = realize(better, low.architecture, data.X, eps=low.eps, bias_bounds=boxes,
                          robust_radius=radius, time_limit=self.time_limit)
            if not fit.realized:
                return None
            y = low.encode(fit.network)
            if low.problem.violation(y) > 1e-9 or not np.isfinite(y).all():
                return None
            self.improved += 1
            return y
        finally:
            self.seconds += time.perf_counter() - t0

    def record(self) -> dict:
        """What the heuristic did, for the strategy's history."""
        return {"improve": "coordinate", "improve_calls": self.calls,
                "improve_solutions": self.improved,
                "improve_seconds": round(self.seconds, 3)}


class ExactStrategy:
    """One MILP over all training points, warm-started.

    The solver always gets a feasible start: the best (lowest loss) of the task's warm start,
    the gradient-trained start (``start="ste"``) and the majority-class network.
    """

    name = "exact"
    description = "one exact MILP over all points, started from a gradient-trained network"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Lower, start, solve, decode, verify."""
        t0 = time.perf_counter()
        params = _check_params(task.params)
        breaks, source = symmetry_breaking(
            task, params["symmetry_breaking"] if "symmetry_breaking" in task.params else None)
        budget = task.budget()
        lowering = lower(
            task.architecture, task.data, formulation=task.formulation,
            robust=task.robust, ties=task.ties, eps=task.eps, symmetry_breaking=breaks,
        )
        candidates = [task.warm_start, trivial_network(task.architecture, task.data)]
        history = [_formulation_record(lowering, source)]
        info = None
        if params["start"] == "ste":
            seconds = min(params["start_seconds"], budget.remaining() / 4)
            if seconds > 0.05:
                net, info = gradient_start(lowering, seconds, seed=task.options.seed)
                candidates.append(net)
                history.append(info)
        start = mip_start(lowering, *candidates)
        if info is not None:
            info["start_objective"] = None if start is None else lowering.problem.objective(start)
        floor = beside = None
        mode, cap, note = _error_bound_setting(params["error_bound"], lowering, task.backend)
        if note is not None:
            history.append(note)
        improver = None
        if params["improve"] == "coordinate" and BackendFeature.CALLBACKS in task.backend.features:
            improver = IncumbentImprover(lowering)
        upper = None if start is None else lowering.problem.objective(start)
        if mode != "off" and start_is_optimal(lowering, start):
            history.append({"error_bound": "skipped: the start reaches the trivial bound"})
        elif mode == "beside":
            beside = BoundBeside(lowering, task, budget, upper, cap_seconds=cap, then=improver)
        elif mode == "before":
            floor, networks, record = error_bound(lowering, task, budget, upper, cap_seconds=cap)
            record["error_bound_setting"] = str(params["error_bound"]).lower()
            history.append(record)
            if networks:
                candidates.extend(networks)
                start = mip_start(lowering, *candidates)
            if floor is not None and floor > lowering.problem.trivial_bound():
                lowering = attrs.evolve(lowering, problem=with_loss_floor(lowering.problem, floor))
        hooks = {"heuristic": improver}
        if beside is not None:
            hooks = {"heuristic": beside.observe, "incumbent_source": beside.source,
                     "interrupt": beside.interrupt}
        try:
            result, network, verification = solve_lowering(
                lowering, task, start, budget, **hooks,
                skip_if_start_optimal=not params["always_solve"], lower_bound=floor,
            )
        finally:
            if beside is not None:
                beside.finish()  # no solver thread outlives the solve, whatever ended it
        if beside is not None:
            result, network, verification = _conclude_beside(beside, lowering, result, network, verification)
            history.append(beside.record)
            candidates.extend(beside.networks)
        if improver is not None:
            history.append(improver.record())
        status = result.status
        if network is not None and start is not None and not start_kept_or_beaten(lowering, start, network):
            network = None  # a solver network worse than its start (e.g. repaired): keep the start
        if network is not None and start is not None:
            history.append(start_outcome(lowering, start, candidates, network))
        if network is None and start is not None:
            # the solver failed or found nothing: the start is still a checked, feasible network
            network = lowering.decode(start)
            verification = verify(lowering, network, start, lowering.problem.objective(start))
            status = SolveStatus.FEASIBLE
            history.append({"fallback": "start", "start_outcome": "kept",
                            "solver_status": result.status.value,
                            "solver_message": result.message})
        return TrainingResult(
            network=network,
            status=status,
            solves=(result,),
            verification=verification,
            problem_size=lowering.problem.size_summary(),
            strategy=self.name,
            backend=task.backend.name,
            seconds=time.perf_counter() - t0,
            history=tuple(history),
        )
