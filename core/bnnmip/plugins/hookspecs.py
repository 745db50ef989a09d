"""Every hook bnnmip calls, in one place: the one source of the hook reference.

A plugin implements any of these with ``@bnnmip.hookimpl`` and registers itself through the
``bnnmip`` entry-point group::

    [project.entry-points.bnnmip]
    my_solver = "my_package.plugin_module"

The "Hook reference" of ``docs/plugins.md`` is generated from this module
(:func:`hook_reference`) and a test checks that the page holds exactly that text; after
changing a hook here, paste the output of
``python -c "from bnnmip.plugins.hookspecs import hook_reference; print(hook_reference(), end='')"``
between the page's ``hooks:begin`` and ``hooks:end`` markers.

Every implementation is called on its own (:func:`bnnmip.plugins.manager.call_each`): one
that raises is recorded against its plugin (``bnnmip plugins`` shows plugin, hook and error),
a :class:`bnnmip.errors.PluginWarning` names it, and the other plugins' implementations still
run.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..backends import Backend
    from ..backends.results import SolveOptions, SolveResult
    from ..milp import MilpProblem
    from ..training import Splitter, Strategy

__all__ = ["RegisterBackend", "RegisterSplitter", "RegisterStrategy", "hook_reference", "hookimpl",
           "hookspec"]

hookspec = pluggy.HookspecMarker("bnnmip")
"""Marker for hook specifications (this module's functions)."""

hookimpl = pluggy.HookimplMarker("bnnmip")
"""Marker for hook implementations: ``@bnnmip.hookimpl`` (the same object)."""

RegisterBackend = Callable[["Backend"], None]
"""The ``register`` callback of :func:`bnnmip_register_backends`."""
RegisterStrategy = Callable[["Strategy"], None]
"""The ``register`` callback of :func:`bnnmip_register_strategies`."""
RegisterSplitter = Callable[["Splitter"], None]
"""The ``register`` callback of :func:`bnnmip_register_splitters`."""

# ---------------------------------------------------------------------------------------------
# Registration: called once, when the registry is first built in a process.
# ---------------------------------------------------------------------------------------------


@hookspec
def bnnmip_register_backends(register: RegisterBackend) -> None:
    """Register MILP backends.

    Called once per process, the first time bnnmip needs its backend registry.

    Parameters
    ----------
    register
        Call ``register(backend)`` once per backend object (a
        :class:`bnnmip.backends.Backend`): a lowercase ``name`` (letters, digits, ``_``,
        ``-``), a ``features`` frozenset of :class:`bnnmip.BackendFeature`, a cheap
        ``availability()`` probe returning ``(ok, reason)`` that must not import the solver,
        ``solver_version()``, and the three steps ``build``, ``run`` and ``extract``;
        optionally ``supports(problem, options)``, ``status_table`` and the others of
        ``bnnmip.backends.OPTIONAL_ATTRIBUTES``. Anything else given to ``register`` raises
        :class:`bnnmip.errors.PluginError` in your hook: the hook fails, what it registered
        is dropped and the failure is listed against your plugin. A name another plugin
        registered first is refused the same way.
    """


@hookspec
def bnnmip_register_strategies(register: RegisterStrategy) -> None:
    """Register training strategies.

    Called once per process, the first time bnnmip needs its strategy registry.

    Parameters
    ----------
    register
        Call ``register(strategy)`` once per strategy object (a
        :class:`bnnmip.training.Strategy`): a unique lowercase ``name``, a one-line
        ``description`` and ``train(task) -> TrainingResult`` (a
        :class:`bnnmip.TrainingTask` in, a :class:`bnnmip.TrainingResult` out). The same
        checks and isolation as for backends apply.
    """


@hookspec
def bnnmip_register_splitters(register: RegisterSplitter) -> None:
    """Register cluster splitters for the iterative data-splitting strategy.

    Called once per process, the first time the ``split`` strategy needs its splitter registry.

    Parameters
    ----------
    register
        Call ``register(splitter)`` once per splitter object (a
        :class:`bnnmip.training.Splitter`): a unique lowercase ``name``, a one-line
        ``description`` and ``split(X, y, *, seed) -> numpy.ndarray`` returning a 0/1 label
        per row of ``X`` (the points of one cluster, scaled inputs, integer class labels
        ``y``) that puts at least one point on each side.
    """


# ---------------------------------------------------------------------------------------------
# Events: called around every solve and strategy iteration, for progress bars, loggers and
# experiment stores. Implementations must be quick; one that raises is recorded and skipped.
# ---------------------------------------------------------------------------------------------


@hookspec
def bnnmip_solve_started(problem: MilpProblem, backend: str, options: SolveOptions) -> None:
    """Observe a solve about to start.

    Called by :func:`bnnmip.solve` just before the backend is asked whether it supports the
    problem and builds its native model. A solve that a strategy skips because its start
    already reaches the objective's trivial lower bound fires no events: no solver ran.

    Parameters
    ----------
    problem
        The MILP about to be solved (read-only arrays).
    backend
        The backend's registered name.
    options
        The options of this solve, as the backend gets them (undeclared settings held back).
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
    """Observe a finished solve, whatever its status (errors and refusals included).

    Called by :func:`bnnmip.solve` once the result is known. An exception here never loses
    the result: it is recorded and the solve returns as usual.

    Parameters
    ----------
    problem
        The MILP that was solved.
    backend
        The backend's registered name.
    result
        The common result: status, objective, bound, gap, nodes, times, message.
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
    """


HOOKS = (bnnmip_register_backends, bnnmip_register_strategies, bnnmip_register_splitters,
         bnnmip_solve_started, bnnmip_solve_progress, bnnmip_solve_finished, bnnmip_strategy_iteration)
"""Every hook, in the order of the reference."""


def _markdown(text: str) -> str:
    """reST-flavoured docstring text as Markdown: roles and double backquotes dropped."""
    text = re.sub(r":(?:func|class|attr|meth|mod|data):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def hook_reference() -> str:
    """The "Hook reference" section of ``docs/plugins.md``, generated from the specifications."""
    out = []
    for hook in HOOKS:
        params = ", ".join(inspect.signature(hook).parameters)
        head, _, rest = inspect.cleandoc(hook.__doc__ or "").partition("\nParameters\n----------\n")
        paragraphs = [" ".join(p.split()) for p in head.strip().split("\n\n")]
        out.append(f"#### `{hook.__name__}({params})`\n")
        out += [_markdown(p) + "\n" for p in paragraphs]
        items: list[list[str]] = []
        for line in rest.splitlines():
            if line and not line.startswith(" "):
                items.append([line.strip()])
            elif line.strip():
                items[-1].append(line.strip())
        out += [f"- `{name}`: {_markdown(' '.join(text))}" for name, *text in items]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
