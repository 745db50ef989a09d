"""What a backend is: the protocol every backend plugin implements and the features it declares.

A backend is a small object with a ``name``, declared ``features``, a cheap
``availability()`` probe that never imports the solver, ``solver_version()``, and three
steps: ``build`` (native model from a :class:`~bnnmip.milp.MilpProblem`), ``run`` (solve it
under :class:`~bnnmip.backends.SolveOptions`), ``extract`` (a :class:`~bnnmip.backends.SolveResult`
through a literal status map).

A backend may also prefer formulation settings (``formulation_defaults``, read and checked by
:func:`formulation_defaults`): strategies use them where the user did not choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import PluginError
from ..milp import MilpProblem
from ..plugins.manager import record_failure
from ..plugins.registry import owner
from .results import NativeResult, SolveOptions, SolveResult

__all__ = [
    "FORMULATION_SETTINGS", "OPTIONAL_ATTRIBUTES", "Backend", "BackendFeature", "availability",
    "declared_features", "formulation_defaults", "solver_version", "supports",
]


class BackendFeature(Enum):
    """Capabilities a backend declares."""

    MIP_START = "mip_start"
    """Accepts a starting solution with every integer column known (NaN entries only on
    continuous columns, which it completes or reports the start unused). :func:`bnnmip.solve`
    passes no other start."""
    PARTIAL_MIP_START = "partial_mip_start"
    """Also accepts a partial assignment with unknown integer columns and completes it."""
    INDICATOR_CONSTRAINTS = "indicator_constraints"
    """Can replace big-M activation rows with native indicator constraints."""
    CALLBACKS = "callbacks"
    """Calls ``options.heuristic`` with new incumbents during the search and gives the solver
    the better solutions it returns; calls ``options.incumbent_source`` (when set) whenever the
    solver takes user solutions and gives the solver what it returns; calls
    ``options.progress`` (when set) with the incumbent's objective, the bound and the node
    count as the search goes."""
    LOG_FILE = "log_file"
    """Writes its log to a file."""
    THREADS = "threads"
    """Honours the thread count."""
    SEED = "seed"
    """Honours the random seed."""
    NODE_LIMIT = "node_limit"
    """Honours ``options.node_limit`` (stops after that many branch-and-bound nodes, reported
    like a time limit: ``FEASIBLE`` with a solution, ``NO_SOLUTION`` without)."""
    INTERRUPT = "interrupt"
    """Polls ``options.interrupt`` (when set) during the search, at least after every node and
    every new incumbent, and stops as at a limit when it returns ``True`` (``FEASIBLE`` with a
    solution, ``NO_SOLUTION`` without): what the solver has found is kept."""
    SOLVER_OPTIONS = "solver_options"
    """Applies ``options.solver_options`` (the solver's own parameter names) after its other
    settings, and has a ``check_solver_options(options)`` method that returns them converted
    to the parameters' types or raises :class:`bnnmip.InvalidInputError` naming each name or
    value the solver does not accept."""


OPTIONAL_ATTRIBUTES: Mapping[str, object] = MappingProxyType({
    "description": "",
    "status_table": None,
    "formulation_defaults": None,
    "size_limits": None,
    "supports": None,
    "check_solver_options": None,
})
"""The optional attributes of a :class:`Backend` and the value that stands for a missing one
(``None``: every problem supported, no formulation preference, no size limit, no solver
options taken)."""


FORMULATION_SETTINGS: Mapping[str, type] = MappingProxyType({"symmetry_breaking": bool})
"""The settings a backend may prefer in ``formulation_defaults``, with their types.

``symmetry_breaking``: keep the formulation's symmetry-breaking rows and fixings (the ``exact``
strategy's parameter of that name; see ``docs/formulation.md``).
"""


@runtime_checkable
class Backend(Protocol):
    """The interface every backend plugin implements.

    Optional attributes, read with ``getattr`` (a backend without them is still a backend);
    :data:`OPTIONAL_ATTRIBUTES` lists each with the default that applies when it is missing:

    ``description``
        One line for ``bnnmip backends``.
    ``status_table``
        ``{native status name: (SolveStatus with a solution, SolveStatus without one)}``:
        how :func:`bnnmip.solve` reads the :class:`~bnnmip.backends.NativeResult` that
        ``extract`` returns (a name missing from it is an ``ERROR``). Needed only by a
        backend whose ``extract`` returns a ``NativeResult``.

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
    ``supports(problem, options) -> (ok, reason)``
        Whether this backend can solve ``problem`` (a :class:`~bnnmip.milp.MilpProblem`)
        under ``options``, asked before ``build``: a pure-integer solver refuses continuous
        columns that are not implied integral (``problem.implied_integrality``), say. A
        refusal becomes a :attr:`~bnnmip.backends.SolveStatus.UNSUPPORTED` result carrying
        ``reason``, and ``bnnmip.train`` refuses such a problem before any solve
        (:class:`bnnmip.errors.UnsupportedProblemError`). Without it every problem is
        accepted. Read through :func:`supports` (isolated: an exception is a refusal).
    """

    name: str
    features: frozenset[BackendFeature]

    def availability(self) -> tuple[bool, str]:
        """Return ``(True, "")`` if usable, else ``(False, reason)``; must be cheap."""

    def solver_version(self) -> str:
        """The underlying solver's version string."""

    def build(self, problem: MilpProblem, options: SolveOptions) -> Any:
        """Build the native model (options may set parameters, the MIP start...).

        ``options`` come from :func:`bnnmip.solve`, already prepared
        (:func:`~bnnmip.backends.prepared_options`): only settings the backend declares, a
        MIP start it can take (float array, one entry per column), ``heuristic`` a
        :class:`~bnnmip.backends.HeuristicGuard` that never raises, and the solver options
        checked and converted in ``checked_solver_options``.
        """

    def run(self, model: Any, options: SolveOptions) -> None:
        """Solve the native model in place."""

    def extract(self, model: Any, problem: MilpProblem, options: SolveOptions) -> NativeResult | SolveResult:
        """The solver's status name, solution, objective, bound and nodes (a ``NativeResult``).

        :func:`bnnmip.solve` maps and checks it (:func:`~bnnmip.backends.normalise`); a
        ``SolveResult`` is taken as it is.
        """


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


def _plugin_of(backend) -> str:
    name = getattr(backend, "name", None)
    found = owner("backend", name) if isinstance(name, str) else None
    return found or f"(backend object {name!r})"


def _isolated_answer(backend, what: str, call) -> tuple[bool, str]:
    """``call()``'s ``(ok, reason)``, isolated: an exception or a malformed answer is a refusal.

    The failure is recorded against the backend's plugin (``bnnmip plugins`` lists it) and
    the reason names it; it never propagates.
    """
    try:
        answer = call()
        ok, reason = answer
        if not isinstance(ok, bool | np.bool_) or not isinstance(reason, str):
            raise TypeError(f"{what} must return (bool, str), got {answer!r}")
    except Exception as exc:
        failure = record_failure(_plugin_of(backend), f"backend {backend.name!r} {what}", exc)
        return False, f"{what} failed: {failure.error}"
    return bool(ok), reason


def availability(backend) -> tuple[bool, str]:
    """``backend.availability()``, isolated: a probe that raises or answers malformed is unusable."""
    return _isolated_answer(backend, "availability()", lambda: backend.availability())


def solver_version(backend) -> str:
    """``backend.solver_version()``, isolated: ``"?"`` (and a recorded failure) if it raises."""
    try:
        version = backend.solver_version()
    except Exception as exc:
        record_failure(_plugin_of(backend), f"backend {backend.name!r} solver_version()", exc)
        return "?"
    return version if isinstance(version, str) else str(version)


def supports(backend, problem: MilpProblem, options: SolveOptions) -> tuple[bool, str]:
    """``backend.supports(problem, options)`` if it has one, isolated; ``(True, "")`` if not.

    An answer that is not ``(bool, str)`` or an exception is a refusal whose reason names it
    (and is recorded against the backend's plugin).
    """
    method = getattr(backend, "supports", None)
    if method is None:
        return True, ""
    ok, reason = _isolated_answer(backend, "supports()", lambda: method(problem, options))
    return ok, reason if not ok else ""


def declared_features(backend) -> frozenset[BackendFeature]:
    """``backend.features``, checked: a set of :class:`BackendFeature`.

    Raises
    ------
    bnnmip.PluginError
        Naming the backend and its plugin, for anything else.
    """
    features = getattr(backend, "features", None)
    if not isinstance(features, set | frozenset) or not all(isinstance(f, BackendFeature) for f in features):
        raise PluginError(
            f"backend {getattr(backend, 'name', backend)!r} (plugin {_plugin_of(backend)!r}) must declare "
            f"features as a frozenset of bnnmip.BackendFeature, got {features!r}")
    return frozenset(features)
