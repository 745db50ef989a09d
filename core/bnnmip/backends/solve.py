"""Run a backend: :func:`solve`, the one place a solver is called.

:func:`solve` checks availability and solver options, holds back what the backend does not
declare (:func:`declared_options`), asks the backend whether it supports the problem, times
its ``build``, ``run`` and ``extract`` steps, fires the event hooks and turns any exception
into an ``ERROR`` result so that no run is lost to a solver crash.
"""

from __future__ import annotations

import math
import time
import traceback
import warnings

import attrs
import numpy as np

from ..errors import BackendUnavailableError, FeatureWarning, InvalidInputError
from ..milp import MilpProblem
from ..plugins.manager import get_plugin_manager, notify
from .contract import Backend, BackendFeature, availability, declared_features, solver_version, supports
from .options import check_solver_options
from .results import NativeResult, SolveOptions, SolveResult, SolveStatus

__all__ = ["HeuristicGuard", "InterruptGuard", "SourceGuard", "declared_options", "normalise", "prepared_options", "solve"]


def declared_options(backend: Backend, problem: MilpProblem,
                     options: SolveOptions) -> tuple[SolveOptions, list[str]]:
    """``options`` with what ``backend`` does not declare held back, and a note for each.

    - A MIP start goes to a backend that declares :attr:`BackendFeature.MIP_START` when every
      integer column is known (NaN entries only on continuous columns, which fixing the
      integers determines), and to one that also declares
      :attr:`BackendFeature.PARTIAL_MIP_START` when integer entries are NaN too; otherwise it
      is not passed (a start with no known entry never is).
    - ``heuristic`` and ``incumbent_source`` without :attr:`BackendFeature.CALLBACKS`, ``log_file`` without
      :attr:`BackendFeature.LOG_FILE` and ``node_limit`` without
      :attr:`BackendFeature.NODE_LIMIT` are not passed (``None``).
    - ``interrupt`` without :attr:`BackendFeature.INTERRUPT` is not passed.
    - ``threads > 1`` without :attr:`BackendFeature.THREADS` and ``seed != 0`` without
      :attr:`BackendFeature.SEED` are not passed either (1 and 0 are).

    Each note names the setting, the backend and the feature; a
    :class:`bnnmip.errors.FeatureWarning` says the same. ``bnnmip.train`` refuses ``threads``
    and ``log_file`` a backend does not declare before anything runs.

    Raises
    ------
    bnnmip.InvalidInputError
        If the MIP start does not have one entry per column.
    bnnmip.PluginError
        If the backend's ``features`` is not a set of :class:`BackendFeature`.
    """
    features = declared_features(backend)
    notes, changes = [], {}

    def undeclared(what: str, feature: BackendFeature, done: str) -> None:
        note = f"{what} {done}: backend {backend.name!r} does not declare {feature.value}"
        notes.append(note)
        warnings.warn(note, FeatureWarning, stacklevel=3)

    if options.threads > 1 and BackendFeature.THREADS not in features:
        undeclared(f"threads={options.threads}", BackendFeature.THREADS, "not passed (1 passed)")
        changes["threads"] = 1
    if options.seed != 0 and BackendFeature.SEED not in features:
        undeclared(f"seed={options.seed}", BackendFeature.SEED, "not passed (0 passed)")
        changes["seed"] = 0
    if options.node_limit is not None and BackendFeature.NODE_LIMIT not in features:
        undeclared(f"node_limit={options.node_limit}", BackendFeature.NODE_LIMIT, "not passed")
        changes["node_limit"] = None
    if options.log_file is not None and BackendFeature.LOG_FILE not in features:
        undeclared(f"log_file={str(options.log_file)!r}", BackendFeature.LOG_FILE, "not written")
        changes["log_file"] = None
    if options.heuristic is not None and BackendFeature.CALLBACKS not in features:
        undeclared("the heuristic", BackendFeature.CALLBACKS, "not called")
        changes["heuristic"] = None
    if options.incumbent_source is not None and BackendFeature.CALLBACKS not in features:
        undeclared("the incumbent source", BackendFeature.CALLBACKS, "not called")
        changes["incumbent_source"] = None
    if options.interrupt is not None and BackendFeature.INTERRUPT not in features:
        undeclared("the interrupt check", BackendFeature.INTERRUPT, "not polled (the solve runs to its limits)")
        changes["interrupt"] = None
    if options.mip_start is not None:
        start = np.asarray(options.mip_start, dtype=float)
        if start.shape != (problem.n_cols,):
            raise InvalidInputError(
                f"mip_start must have one entry per column ({problem.n_cols}), got shape {start.shape}")
        known = ~np.isnan(start)
        if not known.any():
            changes["mip_start"] = None
        elif BackendFeature.MIP_START not in features:
            undeclared("the MIP start", BackendFeature.MIP_START, "not passed")
            changes["mip_start"] = None
        elif (not known[problem.integrality].all()
              and BackendFeature.PARTIAL_MIP_START not in features):
            unknown = int(np.count_nonzero(~known[problem.integrality]))
            undeclared(f"the partial MIP start ({unknown} integer column(s) unknown)",
                       BackendFeature.PARTIAL_MIP_START, "not passed")
            changes["mip_start"] = None
        else:
            changes["mip_start"] = start
    return (attrs.evolve(options, **changes) if changes else options), notes


def prepared_options(backend: Backend, problem: MilpProblem,
                     options: SolveOptions) -> tuple[SolveOptions, list[str]]:
    """``options`` as :func:`solve` hands them to ``backend.build``, and the notes on them.

    Solver options checked and converted (``checked_solver_options``), undeclared settings
    held back (:func:`declared_options`), the heuristic wrapped in a :class:`HeuristicGuard`,
    the incumbent source in a :class:`SourceGuard` and the interrupt check in an
    :class:`InterruptGuard`.
    For tests of a backend's ``build``.
    """
    declared_features(backend)  # a malformed declaration is the plugin's error, named
    converted = check_solver_options(backend, options)
    options, notes = declared_options(backend, problem, options)
    if options.heuristic is not None:
        options = attrs.evolve(options, heuristic=HeuristicGuard(options.heuristic, problem.n_cols))
    if options.incumbent_source is not None:
        source = SourceGuard(options.incumbent_source, problem.n_cols)
        options = attrs.evolve(options, incumbent_source=source)
    if options.interrupt is not None:
        options = attrs.evolve(options, interrupt=InterruptGuard(options.interrupt))
    if converted is not None:
        options = attrs.evolve(options, checked_solver_options=converted)
    return options, notes


def solve(backend: Backend, problem: MilpProblem, options: SolveOptions | None = None) -> SolveResult:
    """Solve ``problem`` with ``backend``: build, run, extract, timed; errors become results.

    A backend whose ``supports(problem, options)`` refuses the problem is not built: the
    result is :attr:`SolveStatus.UNSUPPORTED` with the reason as its message. Settings the
    backend does not declare are held back or noted (:func:`declared_options`).

    Raises :class:`bnnmip.BackendUnavailableError` if the backend cannot run here and
    :class:`bnnmip.InvalidInputError` for solver options it refuses, before anything runs.
    """
    options = options or SolveOptions()
    ok, reason = availability(backend)
    if not ok:
        raise BackendUnavailableError(f"backend {backend.name!r} is not usable here: {reason}")
    given_start = options.mip_start is not None
    options, notes = prepared_options(backend, problem, options)
    guard, stop = options.heuristic, options.interrupt
    if (BackendFeature.CALLBACKS in declared_features(backend)
            and get_plugin_manager().hook.bnnmip_solve_progress.get_hookimpls()):
        options = attrs.evolve(options, progress=_Progress(backend.name, options.time_limit))
    notify("bnnmip_solve_started", problem=problem, backend=backend.name, options=options)
    t0 = time.perf_counter()
    ok, reason = supports(backend, problem, options)
    stage = "build"
    if not ok:
        result = SolveResult(status=SolveStatus.UNSUPPORTED, backend=backend.name,
                             solver_version=solver_version(backend),
                             message=f"backend {backend.name!r} does not support this problem: {reason}")
    else:
        try:
            model = backend.build(problem, options)
            t1 = time.perf_counter()
            stage = "run"
            backend.run(model, options)
            t2 = time.perf_counter()
            stage = "extract"
            result = normalise(backend, problem, backend.extract(model, problem, options))
            result = attrs.evolve(result, build_seconds=t1 - t0, solve_seconds=t2 - t1)
        except Exception as exc:  # never lose a run to a solver crash: report it
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
            result = SolveResult(
                status=SolveStatus.ERROR,
                backend=backend.name,
                solver_version=solver_version(backend),
                build_seconds=time.perf_counter() - t0,
                message=f"{stage} failed: {exc!r}\n{tail}",
            )
    if guard is not None and guard.calls:
        notes.insert(0, guard.summary())
    if stop is not None and stop.summary():
        notes.insert(0, stop.summary())
    if notes:
        result = attrs.evolve(result, message="; ".join(filter(None, [result.message, *notes])))
    if given_start and options.mip_start is None:
        result = attrs.evolve(result, mip_start_used=False)
    notify("bnnmip_solve_finished", problem=problem, backend=backend.name, result=result)
    return result


def normalise(backend: Backend, problem: MilpProblem, native) -> SolveResult:
    """The :class:`SolveResult` of a backend's :class:`NativeResult` (see there for the rules).

    A :class:`SolveResult` is returned as it is.
    """
    if isinstance(native, SolveResult):
        return native
    if not isinstance(native, NativeResult):
        raise TypeError(f"extract must return a NativeResult or a SolveResult, got {type(native).__name__}")
    table = getattr(backend, "status_table", None) or {}
    message = native.message or f"status {native.status}"
    if native.status in table:
        status = table[native.status][0 if native.has_solution else 1]
    else:
        status = SolveStatus.ERROR
        message += f" (not in the backend's status_table: {', '.join(map(str, table)) or 'empty'})"
    x = objective = None
    if status.has_solution:
        if native.x is None:
            raise ValueError(f"status {native.status!r} with a solution, but extract gave no x")
        x = np.asarray(native.x, dtype=float)
        if x.shape != (problem.n_cols,):
            raise ValueError(f"extract gave x of shape {x.shape}, expected ({problem.n_cols},)")
        objective = problem.objective(x) if native.objective is None else float(native.objective)
    bound = native.bound
    bound = float(bound) if bound is not None and math.isfinite(bound) else None
    if status is SolveStatus.OPTIMAL and bound is None:
        bound = objective
    if status is SolveStatus.INFEASIBLE:
        bound = None
    return SolveResult(
        status=status, backend=backend.name, solver_version=solver_version(backend),
        objective=objective, bound=bound, gap=SolveResult.relative_gap(objective, bound),
        nodes=None if native.nodes is None or native.nodes < 0 else int(native.nodes),
        x=x, message=message, mip_start_used=native.mip_start_used,
    )


class HeuristicGuard:
    """``options.heuristic`` as a backend gets it: a failure switches it off, answers are checked.

    Called with an incumbent (a full column vector) it returns the heuristic's better
    solution as a float array with one entry per column, or ``None``: when the heuristic
    returned ``None``, raised (it is then switched off, and the error is reported in the
    result's message) or answered something malformed (likewise). A backend hands a
    non-``None`` answer to its solver and need not catch anything.
    """

    def __init__(self, heuristic, n_cols: int) -> None:
        self.heuristic = heuristic
        self.n_cols = n_cols
        self.calls = self.given = 0
        self.error = ""

    def __call__(self, x):
        """The heuristic's answer for incumbent ``x``, checked, or ``None``."""
        if self.error:
            return None
        self.calls += 1
        try:
            y = self.heuristic(np.array(x, dtype=float))
            if y is None:
                return None
            y = np.asarray(y, dtype=float)
            if y.shape != (self.n_cols,) or not np.isfinite(y).all():
                raise ValueError(f"answered shape {y.shape} (finite: {bool(np.isfinite(y).all())}), "
                                 f"expected {self.n_cols} finite values")
        except Exception as exc:  # a failing heuristic must not take the solve down
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        self.given += 1
        return y

    def summary(self) -> str:
        """What the heuristic did, for the result's message."""
        text = f"heuristic called {self.calls}x, {self.given} solution(s) handed back"
        return text + (f"; heuristic failed and was switched off: {self.error}" if self.error else "")


class SourceGuard(HeuristicGuard):
    """``options.incumbent_source`` as a backend gets it: a checked full solution or ``None``.

    Called with no argument. A failure or a malformed answer switches it off, as
    :class:`HeuristicGuard` does for the heuristic.
    """

    def __init__(self, source, n_cols: int) -> None:
        super().__init__(lambda _x: source(), n_cols)

    def __call__(self):
        """The source's next solution, checked, or ``None``."""
        return super().__call__(())


class InterruptGuard:
    """``options.interrupt`` as a backend gets it: ``True`` or ``False``, never an exception.

    Once it has answered ``True`` it keeps answering ``True`` (a solver may poll again while
    it stops). An exception switches it off (``False`` from then on) and is kept in ``error``
    for the result's message.
    """

    def __init__(self, interrupt) -> None:
        self.interrupt = interrupt
        self.calls = 0
        self.requested = False
        self.error = ""

    def __call__(self) -> bool:
        """Whether the solve should stop now."""
        if self.requested or self.error:
            return self.requested
        self.calls += 1
        try:
            self.requested = bool(self.interrupt())
        except Exception as exc:  # a failing check must not take the solve down
            self.error = f"{type(exc).__name__}: {exc}"
        return self.requested

    def summary(self) -> str:
        """What the check did, for the result's message ('' when it never stopped or failed)."""
        if self.error:
            return f"interrupt check failed and was switched off: {self.error}"
        return "stopped by the interrupt check" if self.requested else ""


def _known(value) -> float | None:
    """``value`` as a float, or None when unknown (None, NaN, infinite or a solver's 1e20+)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) < 1e20 else None


class _Progress:
    """``options.progress``: a backend's callback reports -> ``bnnmip_solve_progress``, throttled.

    At most one event per :attr:`INTERVAL` seconds, but at once when the incumbent improves;
    an incumbent the backend does not repeat is kept. Never raises (a failing observer must not
    take the solve down).
    """

    INTERVAL = 0.1

    def __init__(self, backend: str, time_limit: float | None) -> None:
        self.backend, self.time_limit = backend, time_limit
        self.t0 = time.perf_counter()
        self.last = -math.inf
        self.objective = None

    def __call__(self, objective=None, bound=None, nodes=None) -> None:
        try:
            now = time.perf_counter()
            objective, bound = _known(objective), _known(bound)
            improved = objective is not None and (self.objective is None or objective < self.objective - 1e-9)
            if not improved and now - self.last < self.INTERVAL:
                return
            self.last = now
            if objective is not None:
                self.objective = objective
            record = {
                "objective": self.objective,
                "bound": bound,
                "gap": SolveResult.relative_gap(self.objective, bound),
                "nodes": None if nodes is None else int(nodes),
                "seconds": now - self.t0,
                "time_limit": self.time_limit,
            }
            notify("bnnmip_solve_progress", backend=self.backend, record=record)
        except Exception:  # an observer's failure must not end the solve
            pass
