"""Run a backend: :func:`solve`, the one place a solver is called.

:func:`solve` checks availability and solver options, holds back what the backend does not
declare (:func:`declared_options`), asks the backend whether it supports the problem, times
its ``build``, ``run`` and ``extract`` steps, fires the event hooks and turns any exception
into an ``ERROR`` result so that no run is lost to a solver crash.
"""

from __future__ import annotations

import time
import traceback
import warnings

import attrs
import numpy as np

from ..errors import BackendUnavailableError, FeatureWarning, InvalidInputError
from ..milp import MilpProblem
from ..plugins.manager import notify
from .contract import Backend, BackendFeature, availability, solver_version, supports
from .options import check_solver_options
from .results import SolveOptions, SolveResult, SolveStatus

__all__ = ["declared_options", "solve"]


def declared_options(backend: Backend, problem: MilpProblem,
                     options: SolveOptions) -> tuple[SolveOptions, list[str]]:
    """``options`` with what ``backend`` does not declare held back, and a note for each.

    - A MIP start goes to a backend that declares :attr:`BackendFeature.MIP_START` when every
      integer column is known (NaN entries only on continuous columns, which fixing the
      integers determines), and to one that also declares
      :attr:`BackendFeature.PARTIAL_MIP_START` when integer entries are NaN too; otherwise it
      is not passed (a start with no known entry never is).
    - ``heuristic`` without :attr:`BackendFeature.CALLBACKS` and ``log_file`` without
      :attr:`BackendFeature.LOG_FILE` are not passed (``None``).
    - ``threads > 1`` without :attr:`BackendFeature.THREADS` and ``seed != 0`` without
      :attr:`BackendFeature.SEED` are not passed either (1 and 0 are).

    Each note names the setting, the backend and the feature; a
    :class:`bnnmip.errors.FeatureWarning` says the same. ``bnnmip.train`` refuses ``threads``
    and ``log_file`` a backend does not declare before anything runs.

    Raises
    ------
    bnnmip.InvalidInputError
        If the MIP start does not have one entry per column.
    """
    features = backend.features
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
    if options.log_file is not None and BackendFeature.LOG_FILE not in features:
        undeclared(f"log_file={str(options.log_file)!r}", BackendFeature.LOG_FILE, "not written")
        changes["log_file"] = None
    if options.heuristic is not None and BackendFeature.CALLBACKS not in features:
        undeclared("the heuristic", BackendFeature.CALLBACKS, "not called")
        changes["heuristic"] = None
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
    check_solver_options(backend, options)
    given_start = options.mip_start is not None
    options, notes = declared_options(backend, problem, options)
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
            result = backend.extract(model, problem, options)
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
    if notes:
        result = attrs.evolve(result, message="; ".join(filter(None, [result.message, *notes])))
    if given_start and options.mip_start is None:
        result = attrs.evolve(result, mip_start_used=False)
    notify("bnnmip_solve_finished", problem=problem, backend=backend.name, result=result)
    return result
