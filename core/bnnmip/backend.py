"""What a backend is, and :func:`solve`, the one place that runs one.

A backend is a small object with a ``name``, declared ``features``, a cheap
``availability()`` probe that never imports the solver, ``solver_version()``, and three
steps: ``build`` (native model from a :class:`~bnnmip.milp.MilpProblem`), ``run`` (solve it
under :class:`~bnnmip.result.SolveOptions`), ``extract`` (a :class:`~bnnmip.result.SolveResult`
through a literal status map). :func:`solve` times the steps, fires the event hooks and turns
any exception into an ``ERROR`` result so that no run is lost to a solver crash.

A backend may also prefer formulation settings (``formulation_defaults``, read and checked by
:func:`formulation_defaults`): strategies use them where the user did not choose. A backend
that declares :attr:`BackendFeature.SOLVER_OPTIONS` takes the solver's own parameters
(``SolveOptions.solver_options``) and checks them in ``check_solver_options``, which
:func:`check_solver_options` calls before anything runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import BackendUnavailableError, InvalidInputError, PluginError
from .milp import MilpProblem
from .result import SolveOptions, SolveResult, SolveStatus

__all__ = [
    "FORMULATION_SETTINGS", "Backend", "BackendFeature", "captured_output", "check_solver_options",
    "formulation_defaults", "option_value", "solve",
]


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
    SOLVER_OPTIONS = "solver_options"
    """Applies ``options.solver_options`` (the solver's own parameter names) after its other
    settings, and has a ``check_solver_options(options)`` method that returns them converted
    to the parameters' types or raises :class:`bnnmip.InvalidInputError` naming each name or
    value the solver does not accept."""


FORMULATION_SETTINGS: Mapping[str, type] = MappingProxyType({"symmetry_breaking": bool})
"""The settings a backend may prefer in ``formulation_defaults``, with their types.

``symmetry_breaking``: keep the formulation's symmetry-breaking rows and fixings (the ``exact``
strategy's parameter of that name; see ``docs/formulation.md``).
"""


@runtime_checkable
class Backend(Protocol):
    """The interface every backend plugin implements.

    Optional attributes, read with ``getattr`` (a backend without them is still a backend):

    ``formulation_defaults``
        A mapping of :data:`FORMULATION_SETTINGS` names to values, e.g.
        ``{"symmetry_breaking": False}``: the formulation settings this solver does best with.
        A strategy uses such a value only where the user did not set it (the ``exact``
        strategy records which value it used and where it came from in its history).
        Undeclared settings keep bnnmip's defaults. Checked by :func:`formulation_defaults`.
    ``size_limits``
        ``(max_columns, max_rows)`` for a solver with a size-limited licence (the conformance
        suite sizes its large instance to fit).
    ``check_solver_options(options)``
        Required with :attr:`BackendFeature.SOLVER_OPTIONS`: see there.
    """

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


def formulation_defaults(backend) -> dict[str, object]:
    """The formulation settings ``backend`` prefers (its ``formulation_defaults``), checked.

    ``{}`` when the backend declares none (no attribute, or ``None``).

    Raises
    ------
    bnnmip.PluginError
        Naming the backend, if the declaration is not a mapping, has a key other than those
        of :data:`FORMULATION_SETTINGS` or a value of the wrong type.
    """
    declared = getattr(backend, "formulation_defaults", None)
    if declared is None:
        return {}
    name = getattr(backend, "name", backend)
    known = ", ".join(f"{key} ({kind.__name__})" for key, kind in FORMULATION_SETTINGS.items())
    if not isinstance(declared, Mapping):
        raise PluginError(
            f"backend {name!r}: formulation_defaults must be a mapping of setting name to value, "
            f"e.g. {{'symmetry_breaking': False}}; got {declared!r}. Known settings: {known}"
        )
    unknown = sorted(repr(key) if not isinstance(key, str) else key
                     for key in declared if key not in FORMULATION_SETTINGS)
    if unknown:
        raise PluginError(
            f"backend {name!r} declares unknown formulation default(s) {', '.join(unknown)}; "
            f"known settings: {known}"
        )
    out = {}
    for key, value in declared.items():
        kind = FORMULATION_SETTINGS[key]
        if kind is bool and isinstance(value, bool | np.bool_):
            value = bool(value)
        if not isinstance(value, kind):
            what = "True or False" if kind is bool else f"a {kind.__name__}"
            raise PluginError(
                f"backend {name!r}: formulation default {key} must be {what}, got {value!r}"
            )
        out[key] = value
    return out


def check_solver_options(backend: Backend, options: SolveOptions) -> None:
    """Refuse ``options.solver_options`` that ``backend`` cannot apply, before any solve.

    Raises
    ------
    bnnmip.InvalidInputError
        If the backend does not declare :attr:`BackendFeature.SOLVER_OPTIONS`, or its
        ``check_solver_options`` refuses a name or value (the message names each). A backend
        that cannot run here is not asked: its solve raises
        :class:`bnnmip.BackendUnavailableError` instead.
    """
    if not options.solver_options:
        return
    names = ", ".join(options.solver_options)
    if BackendFeature.SOLVER_OPTIONS not in backend.features:
        from .registry import list_backends

        takers = [name for name, b in list_backends().items() if BackendFeature.SOLVER_OPTIONS in b.features]
        raise InvalidInputError(
            f"backend {backend.name!r} does not take solver options (given: {names}); drop them, "
            f"or use a backend that does: {', '.join(takers) or 'none installed'}"
        )
    if backend.availability()[0]:
        backend.check_solver_options(dict(options.solver_options))


@contextlib.contextmanager
def captured_output(fd: int):
    """Capture what native code writes to file descriptor ``fd`` (1 or 2) meanwhile.

    Yields a function that returns the captured text once the block has ended; backends use
    it to put a solver's own complaint about a parameter into their error message.
    """
    stream = sys.stdout if fd == 1 else sys.stderr
    text = []
    stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield lambda: "".join(text)
        finally:
            stream.flush()
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            text.append(tmp.read().decode(errors="replace"))


_TRUE, _FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def option_value(solver: str, name: str, value, kind: type):
    """``value`` converted to ``kind`` (bool, int, float or str) for parameter ``name``.

    For backends' ``check_solver_options``: strings from the command line are parsed
    (``true/false``, ``on/off``, ``yes/no``, ``1/0`` for bools), numbers must fit the type.

    Raises
    ------
    bnnmip.InvalidInputError
        Naming the solver, the parameter, the value and the type expected.
    """
    def refuse():
        what = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]
        return InvalidInputError(f"{solver} parameter {name!r} takes {what}, got {value!r}")

    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise refuse()
    if kind is str:
        return str(value)
    if isinstance(value, bool):
        raise refuse()
    try:
        if kind is float:
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise refuse() from None


def solve(backend: Backend, problem: MilpProblem, options: SolveOptions | None = None) -> SolveResult:
    """Solve ``problem`` with ``backend``: build, run, extract, timed; errors become results.

    Raises :class:`bnnmip.BackendUnavailableError` if the backend cannot run here and
    :class:`bnnmip.InvalidInputError` for solver options it refuses, before anything runs.
    """
    from .plugins import get_plugin_manager

    options = options or SolveOptions()
    ok, reason = backend.availability()
    if not ok:
        raise BackendUnavailableError(f"backend {backend.name!r} is not usable here: {reason}")
    check_solver_options(backend, options)
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
