"""What a backend is, and :func:`solve`, the one place that runs one.

A backend is a small object with a ``name``, declared ``features``, a cheap
``availability()`` probe that never imports the solver, ``solver_version()``, and three
steps: ``build`` (native model from a :class:`~bnnmip.milp.MilpProblem`), ``run`` (solve it
under :class:`~bnnmip.result.SolveOptions`), ``extract`` (a :class:`~bnnmip.result.SolveResult`
through a literal status map). :func:`solve` times the steps, fires the event hooks and turns
any exception into an ``ERROR`` result so that no run is lost to a solver crash.
"""

from __future__ import annotations

import time
import traceback
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from .errors import BackendUnavailableError
from .milp import MilpProblem
from .result import SolveOptions, SolveResult, SolveStatus

__all__ = ["Backend", "BackendFeature", "solve"]


class BackendFeature(Enum):
    """Capabilities a backend declares."""

    MIP_START = "mip_start"
    """Accepts a full assignment as a starting solution."""
    PARTIAL_MIP_START = "partial_mip_start"
    """Accepts a partial assignment (NaN entries) and completes it."""
    INDICATOR_CONSTRAINTS = "indicator_constraints"
    """Can replace big-M activation rows with native indicator constraints."""
    CALLBACKS = "callbacks"
    """Calls ``options.heuristic`` with new incumbents during the search and gives the solver
    the better solutions it returns."""
    LOG_FILE = "log_file"
    """Writes its log to a file."""
    THREADS = "threads"
    """Honours the thread count."""
    SEED = "seed"
    """Honours the random seed."""


@runtime_checkable
class Backend(Protocol):
    """The interface every backend plugin implements."""

    name: str
    features: frozenset[BackendFeature]

    def availability(self) -> tuple[bool, str]:
        """Return ``(True, "")`` if usable, else ``(False, reason)``; must be cheap."""

    def solver_version(self) -> str:
        """The underlying solver's version string."""

    def build(self, problem: MilpProblem, options: SolveOptions) -> Any:
        """Build the native model (options may set parameters, the MIP start...)."""

    def run(self, model: Any, options: SolveOptions) -> None:
        """Solve the native model in place."""

    def extract(self, model: Any, problem: MilpProblem, options: SolveOptions) -> SolveResult:
        """Read status, objective, bound, gap, nodes and the solution from the native model."""


def solve(backend: Backend, problem: MilpProblem, options: SolveOptions | None = None) -> SolveResult:
    """Solve ``problem`` with ``backend``: build, run, extract, timed; errors become results."""
    from .plugins import get_plugin_manager

    options = options or SolveOptions()
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(f"backend {backend.name!r} is not usable here: {reason}")
    hooks = get_plugin_manager().hook
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


def _with_times(result: SolveResult, build: float, run: float) -> SolveResult:
    import attrs

    return attrs.evolve(result, build_seconds=build, solve_seconds=run)
