"""Run a backend: :func:`solve`, the one place a solver is called.

:func:`solve` checks availability and solver options, times the backend's ``build``, ``run``
and ``extract`` steps, fires the event hooks and turns any exception into an ``ERROR`` result
so that no run is lost to a solver crash.
"""

from __future__ import annotations

import time
import traceback

import attrs

from ..errors import BackendUnavailableError
from ..milp import MilpProblem
from ..plugins.manager import notify
from .contract import Backend, availability, solver_version
from .options import check_solver_options
from .results import SolveOptions, SolveResult, SolveStatus

__all__ = ["solve"]


def solve(backend: Backend, problem: MilpProblem, options: SolveOptions | None = None) -> SolveResult:
    """Solve ``problem`` with ``backend``: build, run, extract, timed; errors become results.

    Raises :class:`bnnmip.BackendUnavailableError` if the backend cannot run here and
    :class:`bnnmip.InvalidInputError` for solver options it refuses, before anything runs.
    """
    options = options or SolveOptions()
    ok, reason = availability(backend)
    if not ok:
        raise BackendUnavailableError(f"backend {backend.name!r} is not usable here: {reason}")
    check_solver_options(backend, options)
    notify("bnnmip_solve_started", problem=problem, backend=backend.name, options=options)
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
        version = solver_version(backend)
        result = SolveResult(
            status=SolveStatus.ERROR,
            backend=backend.name,
            solver_version=version,
            build_seconds=time.perf_counter() - t0,
            message=f"{stage} failed: {exc!r}\n{tail}",
        )
    notify("bnnmip_solve_finished", problem=problem, backend=backend.name, result=result)
    return result


def _with_times(result: SolveResult, build: float, run: float) -> SolveResult:
    return attrs.evolve(result, build_seconds=build, solve_seconds=run)
