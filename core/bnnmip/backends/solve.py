"""Run a backend: :func:`solve`, the one place a solver is called.

:func:`solve` checks availability and solver options, times the backend's ``build``, ``run``
and ``extract`` steps, fires the event hooks and turns any exception into an ``ERROR`` result
so that no run is lost to a solver crash.
"""

from __future__ import annotations

import math
import time
import traceback

import attrs

from ..errors import BackendUnavailableError
from ..milp import MilpProblem
from ..plugins import get_plugin_manager
from .contract import Backend, BackendFeature
from .options import check_solver_options
from .results import SolveOptions, SolveResult, SolveStatus

__all__ = ["solve"]


def solve(backend: Backend, problem: MilpProblem, options: SolveOptions | None = None) -> SolveResult:
    """Solve ``problem`` with ``backend``: build, run, extract, timed; errors become results.

    Raises :class:`bnnmip.BackendUnavailableError` if the backend cannot run here and
    :class:`bnnmip.InvalidInputError` for solver options it refuses, before anything runs.
    """
    options = options or SolveOptions()
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(f"backend {backend.name!r} is not usable here: {reason}")
    check_solver_options(backend, options)
    hooks = get_plugin_manager().hook
    if BackendFeature.CALLBACKS in backend.features and hooks.bnnmip_solve_progress.get_hookimpls():
        options = attrs.evolve(options, progress=_Progress(hooks.bnnmip_solve_progress, backend.name,
                                                           options.time_limit))
    hooks.bnnmip_solve_started(problem=problem, backend=backend.name, options=options)
    t0 = time.perf_counter()
    stage = "build"
    try:
        model = backend.build(problem, options)
        t1 = time.perf_counter()
        stage = "run"
        backend.run(model, options)
        t2 = time.perf_counter()
        stage = "extract"
        result = backend.extract(model, problem, options)
        result = _with_times(result, t1 - t0, t2 - t1)
    except Exception as exc:  # never lose a run to a solver crash: report it
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        try:
            version = backend.solver_version()
        except Exception:
            version = "?"
        result = SolveResult(
            status=SolveStatus.ERROR,
            backend=backend.name,
            solver_version=version,
            build_seconds=time.perf_counter() - t0,
            message=f"{stage} failed: {exc!r}\n{tail}",
        )
    hooks.bnnmip_solve_finished(problem=problem, backend=backend.name, result=result)
    return result


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

    def __init__(self, hook, backend: str, time_limit: float | None) -> None:
        self.hook, self.backend, self.time_limit = hook, backend, time_limit
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
            self.hook(backend=self.backend, record=record)
        except Exception:  # an observer's failure must not end the solve
            pass


def _with_times(result: SolveResult, build: float, run: float) -> SolveResult:
    return attrs.evolve(result, build_seconds=build, solve_seconds=run)
