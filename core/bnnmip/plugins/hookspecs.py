"""Every hook bnnmip calls, in one place.

A plugin implements any of these with ``@bnnmip.hookimpl`` and registers itself through the
``bnnmip`` entry-point group::

    [project.entry-points.bnnmip]
    my_solver = "my_package.plugin_module"

Each hook is documented in ``docs/plugins.md`` too (a test checks that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ..backends import Backend
    from ..backends.results import SolveOptions, SolveResult
    from ..milp import MilpProblem

hookspec = pluggy.HookspecMarker("bnnmip")
"""Marker for hook specifications (this module's functions)."""

hookimpl = pluggy.HookimplMarker("bnnmip")
"""Marker for hook implementations: ``@bnnmip.hookimpl`` (the same object)."""

# ---------------------------------------------------------------------------------------------
# Registration: called once, when the registry is first built in a process.
# ---------------------------------------------------------------------------------------------


@hookspec
def bnnmip_register_backends(register: Callable[[Backend], None]) -> None:
    """Register MILP backends.

    Called once per process when bnnmip first needs its backend registry.

    Parameters
    ----------
    register
        Call ``register(backend)`` once per backend object. A backend has a unique lowercase
        ``name``, a ``features`` frozenset of :class:`bnnmip.BackendFeature`, a cheap
        ``availability()`` probe returning ``(ok, reason)`` that must not import the solver,
        ``solver_version()``, and the three steps ``build``, ``run`` and ``extract``
        (see :class:`bnnmip.backends.Backend`). The host rejects a duplicate or malformed
        name with :class:`bnnmip.errors.PluginError`.

    Returns
    -------
    None
    """


@hookspec
def bnnmip_register_strategies(register: Callable[[Any], None]) -> None:
    """Register training strategies.

    Called once per process when bnnmip first needs its strategy registry.

    Parameters
    ----------
    register
        Call ``register(strategy)`` once per strategy object: it has a unique lowercase
        ``name``, a one-line ``description`` and ``train(task, solver) -> TrainingResult``
        (see :class:`bnnmip.training.Strategy`).

    Returns
    -------
    None
    """


@hookspec
def bnnmip_register_splitters(register: Callable[[Any], None]) -> None:
    """Register cluster splitters for the iterative data-splitting strategy.

    Called once per process when bnnmip first needs its splitter registry.

    Parameters
    ----------
    register
        Call ``register(splitter)`` once per splitter object: it has a unique lowercase
        ``name``, a one-line ``description`` and
        ``split(X, y, *, seed) -> numpy.ndarray`` returning a 0/1 label per row of ``X``
        (the points of one cluster, scaled inputs, integer class labels ``y``) that puts at
        least one point on each side.

    Returns
    -------
    None
    """


# ---------------------------------------------------------------------------------------------
# Events: called around every solve, for progress bars, loggers and experiment stores.
# Implementations must be quick and must not raise.
# ---------------------------------------------------------------------------------------------


@hookspec
def bnnmip_solve_started(problem: MilpProblem, backend: str, options: SolveOptions) -> None:
    """Observe a solve about to start.

    Called by :func:`bnnmip.solve` just before the backend builds its native model.

    Parameters
    ----------
    problem
        The MILP about to be solved (read-only arrays).
    backend
        The backend's registered name.
    options
        The options of this solve.

    Returns
    -------
    None
    """


@hookspec
def bnnmip_solve_progress(backend: str, record: dict) -> None:
    """Observe a running solve: its incumbent, bound and node count so far.

    Called by :func:`bnnmip.solve` from the solver's own callbacks, on backends that declare
    :attr:`~bnnmip.backends.BackendFeature.CALLBACKS`, only while some plugin implements this
    hook (no callback is installed otherwise); at most ten times a second, and at once when
    the incumbent improves. Other backends never call it: an observer shows their elapsed
    time and time left from :func:`bnnmip_solve_started` alone.

    Parameters
    ----------
    backend
        The backend's registered name.
    record
        A plain dict: ``objective`` (the incumbent's objective, None before the first),
        ``bound`` (the dual bound, None if unknown), ``gap`` (relative, the convention of
        :meth:`bnnmip.backends.SolveResult.relative_gap`), ``nodes`` (None if unknown),
        ``seconds`` (since the solve started) and ``time_limit`` (the solve's, None for none).

    Returns
    -------
    None
    """


@hookspec
def bnnmip_solve_finished(problem: MilpProblem, backend: str, result: SolveResult) -> None:
    """Observe a finished solve (whatever its status, errors included).

    Called by :func:`bnnmip.solve` once the backend's result has been extracted.

    Parameters
    ----------
    problem
        The MILP that was solved.
    backend
        The backend's registered name.
    result
        The common result: status, objective, bound, gap, nodes, times.

    Returns
    -------
    None
    """


@hookspec
def bnnmip_strategy_iteration(strategy: str, iteration: int, record: dict) -> None:
    """Observe one finished iteration of a training strategy.

    Called by strategies (through :func:`bnnmip.training.report_iteration`) after each round of
    local search, each split of data splitting, and so on.

    Parameters
    ----------
    strategy
        The strategy's registered name.
    iteration
        The iteration number, from 1.
    record
        What the strategy reports for this iteration: a plain dict with at least
        ``"seconds"`` (elapsed since the run started) and, where known, ``"loss"``,
        ``"status"`` and strategy-specific keys (clusters, validation accuracy...).

    Returns
    -------
    None
    """
