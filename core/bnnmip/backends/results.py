"""What a solve is asked to do (:class:`SolveOptions`) and what it returns (:class:`SolveResult`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from types import MappingProxyType

import attrs
import numpy as np

from ..errors import InvalidInputError

__all__ = ["START_AT_BOUND_MESSAGE", "NativeResult", "SolveOptions", "SolveResult", "SolveStatus"]


class SolveStatus(Enum):
    """How a solve ended. A time-limited incumbent is never ``OPTIMAL``."""

    OPTIMAL = "optimal"
    """Proven optimal (within the requested relative gap)."""
    FEASIBLE = "feasible"
    """Stopped at a limit with a solution whose optimality is not proven."""
    NO_SOLUTION = "no_solution"
    """Stopped at a limit before any solution was found."""
    INFEASIBLE = "infeasible"
    """Proven infeasible."""
    ERROR = "error"
    """The solver failed; see ``SolveResult.message``."""
    UNSUPPORTED = "unsupported"
    """The backend declared, before building anything, that it cannot solve this problem
    (its ``supports(problem, options)`` said no); ``SolveResult.message`` gives the reason."""

    @property
    def has_solution(self) -> bool:
        """Whether a solution vector comes with this status."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


def _optional_positive(name):
    def check(_inst, _attr, value):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise InvalidInputError(f"{name} must be a positive number or None, got {value!r}")

    return check


def _whole(name: str, value) -> int:
    """``value`` as an int; a clear error for inf, NaN, fractions and non-numbers."""
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInputError(f"{name} must be a whole number, got {value!r}") from None


def _optional_float(value):
    return None if value is None else float(value)


def _solver_options(value) -> Mapping[str, bool | int | float | str]:
    """A read-only copy of ``value``: native parameter names to scalar values."""
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"solver_options must be a mapping of the solver's own parameter names to values, "
            f"e.g. {{'separating/maxrounds': 0}} on SCIP; got {type(value).__name__}"
        )
    out = {}
    for key, val in value.items():
        if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key):
            raise InvalidInputError(
                f"solver_options: {key!r} is not a parameter name (a string without spaces)"
            )
        if isinstance(val, np.generic):
            val = val.item()
        if not isinstance(val, bool | int | float | str):
            raise InvalidInputError(
                f"solver_options: the value of {key!r} must be a bool, number or string, got {val!r}"
            )
        out[key] = val
    return MappingProxyType(out)


@attrs.frozen
class SolveOptions:
    """Options every backend honours.

    ``node_limit`` stops the branch-and-bound search after that many nodes (for backends
    that declare :attr:`~bnnmip.backends.BackendFeature.NODE_LIMIT`): unlike the time limit,
    where it stops does not depend on the machine's load. ``mip_start`` is a full or
    partial assignment: an array with one entry per column, NaN
    where unknown. ``log_file`` is ``None`` for a quiet solve; ``verbose`` echoes the solver
    log to the terminal. ``heuristic`` is a primal heuristic for backends that declare
    :attr:`~bnnmip.backends.BackendFeature.CALLBACKS`: called during the search with a new
    incumbent (a full column vector), it returns a better full solution for the solver to
    take, or ``None``. Its exceptions are caught and reported in the result's message; the
    solve goes on without it. ``incumbent_source`` (same feature) is a source of solutions
    found outside this solve, e.g. by the other members of a portfolio: a backend calls it
    with no argument whenever its solver takes user solutions during the search and hands the
    solver the full solution it returns (``None``: nothing new); guarded like the heuristic.
    ``interrupt`` (for backends that declare
    :attr:`~bnnmip.backends.BackendFeature.INTERRUPT`) is polled during the search with no
    argument; when it returns ``True`` the solver stops as at a limit and the result keeps
    its incumbent (a portfolio stops its in-process member this way); guarded like the
    heuristic (an exception switches it off).
    ``solver_options`` maps the solver's own parameter names to
    values (strings are converted to the parameter's type) for backends that declare
    :attr:`~bnnmip.backends.BackendFeature.SOLVER_OPTIONS`; they are applied after every
    setting above, so they win over it, and :func:`bnnmip.backends.check_solver_options`
    refuses names and values the solver does not accept before anything runs.
    ``progress`` is set by :func:`bnnmip.solve` (callers leave it ``None``) when a plugin
    observes running solves: backends that declare ``CALLBACKS`` call it from their callbacks
    as ``progress(objective=..., bound=..., nodes=...)`` (each ``None`` when unknown), as
    often as they like; it never raises.

    ``checked_solver_options`` is set by :func:`bnnmip.solve`, not by callers: what the
    backend's ``check_solver_options`` returned for ``solver_options`` (the options converted
    to the solver's types, in whatever form the backend chose), for ``build`` to apply
    without checking again; ``None`` when there are none.
    """

    time_limit: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive("time_limit")
    )
    mip_gap: float = attrs.field(default=1e-4, converter=float)
    node_limit: int | None = attrs.field(
        default=None, converter=lambda v: None if v is None else int(v)
    )
    threads: int = attrs.field(default=1, converter=lambda v: _whole("threads", v))
    seed: int = attrs.field(default=0, converter=lambda v: _whole("seed", v))
    verbose: bool = False
    log_file: Path | None = attrs.field(
        default=None, converter=lambda p: None if p is None else Path(p)
    )
    mip_start: np.ndarray | None = attrs.field(default=None, eq=False)
    integrality_tolerance: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive("integrality_tolerance")
    )
    feasibility_tolerance: float | None = attrs.field(
        default=None, converter=_optional_float, validator=_optional_positive("feasibility_tolerance")
    )
    heuristic: Callable[[np.ndarray], np.ndarray | None] | None = attrs.field(default=None, eq=False)
    incumbent_source: Callable[[], np.ndarray | None] | None = attrs.field(default=None, eq=False)
    progress: Callable[..., None] | None = attrs.field(default=None, eq=False)
    interrupt: Callable[[], bool] | None = attrs.field(default=None, eq=False)
    solver_options: Mapping[str, bool | int | float | str] = attrs.field(
        factory=dict, converter=_solver_options, hash=False
    )
    checked_solver_options: object = attrs.field(default=None, eq=False, hash=False)

    @mip_gap.validator
    def _check_gap(self, _attr, value):
        if not math.isfinite(value) or value < 0:
            raise InvalidInputError(f"mip_gap must be >= 0, got {value}")

    @node_limit.validator
    def _check_node_limit(self, _attr, value):
        if value is not None and value < 1:
            raise InvalidInputError(f"node_limit must be >= 1 or None, got {value}")

    @threads.validator
    def _check_threads(self, _attr, value):
        if value < 1:
            raise InvalidInputError(f"threads must be >= 1, got {value}")


START_AT_BOUND_MESSAGE = "not solved: the start reaches the objective's trivial lower bound, so it is optimal"
"""``SolveResult.message`` of a solve a strategy skipped because its start was already optimal."""


@attrs.frozen(eq=False)
class SolveResult:
    """The common result of every backend.

    ``objective`` and ``bound`` include the problem's constant offset; ``gap`` is
    ``|objective - bound| / max(|objective|, 1e-9)`` (0 when both are 0), ``None`` when
    either is unknown. ``x`` is the solution vector when ``status.has_solution``.
    ``details`` is a backend's own structured record of the solve (plain data, ``{}`` for
    none): the ``portfolio`` backend puts who found the incumbent and who proved it under
    ``details["portfolio"]``; :meth:`summary` includes it when it is not empty.
    """

    status: SolveStatus
    backend: str
    solver_version: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    nodes: int | None = None
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    x: np.ndarray | None = None
    message: str = ""
    mip_start_used: bool | None = None
    details: Mapping[str, object] = attrs.field(factory=dict, converter=dict)

    @staticmethod
    def relative_gap(objective: float | None, bound: float | None) -> float | None:
        """The relative gap convention used by every backend."""
        if objective is None or bound is None:
            return None
        if not (math.isfinite(objective) and math.isfinite(bound)):
            return math.inf
        diff = abs(objective - bound)
        if diff <= 1e-9:
            return 0.0
        return diff / max(abs(objective), 1e-9)

    def summary(self) -> dict:
        """The scalar fields as a plain dict (no solution vector)."""
        return {
            "status": self.status.value,
            "backend": self.backend,
            "solver_version": self.solver_version,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "nodes": self.nodes,
            "build_seconds": round(self.build_seconds, 4),
            "solve_seconds": round(self.solve_seconds, 4),
            "message": self.message,
            "mip_start_used": self.mip_start_used,
        } | ({"details": dict(self.details)} if self.details else {})


@attrs.frozen(eq=False)
class NativeResult:
    """What a backend's ``extract`` returns: the solver's own status name and numbers.

    :func:`bnnmip.solve` turns it into a :class:`SolveResult` (``normalise`` in
    :mod:`bnnmip.backends.solve`): ``status`` is looked up in the backend's
    ``status_table`` (``{native status: (status with a solution, status without one)}``;
    a name missing from it is an ``ERROR``), ``has_solution`` picks the side. Then the
    rules every backend shares: ``x`` and ``objective`` are kept only with a solution
    status (``objective`` defaults to the problem's objective at ``x``); a bound that is
    ``None`` or not finite is unknown, an ``OPTIMAL`` result without one gets the
    objective, an ``INFEASIBLE`` one has none; ``gap`` is :meth:`SolveResult.relative_gap`;
    the backend's name and solver version are filled in. ``message`` (default:
    ``"status <native status>"``) should name the solver's status.

    A backend may still return a :class:`SolveResult` itself; it is taken as it is.
    """

    status: str
    has_solution: bool = False
    x: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    nodes: int | None = None
    message: str = ""
    mip_start_used: bool | None = None
