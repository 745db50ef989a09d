"""Backends: the contract a solver plugin implements, what it exchanges, and :func:`solve`.

- :mod:`.contract`: :class:`Backend` (the protocol), :class:`BackendFeature`, formulation
  defaults a backend may declare.
- :mod:`.results`: :class:`SolveOptions` in, :class:`SolveResult` / :class:`SolveStatus` out.
- :mod:`.options`: the solver's own parameters (checked before anything runs).
- :mod:`.solve`: :func:`solve` (build, run, extract, timed; errors become results).
"""

from .contract import (
    FORMULATION_SETTINGS,
    OPTIONAL_ATTRIBUTES,
    Backend,
    BackendFeature,
    availability,
    declared_features,
    formulation_defaults,
    solver_version,
    supports,
)
from .options import captured_output, check_solver_options, option_value
from .results import START_AT_BOUND_MESSAGE, NativeResult, SolveOptions, SolveResult, SolveStatus
from .solve import HeuristicGuard, InterruptGuard, SourceGuard, declared_options, normalise, prepared_options, solve

DEFAULT_BACKEND = "highs"
"""The backend used when none is named (``--backend``, ``BDNNClassifier(backend=...)``)."""

__all__ = [
    "DEFAULT_BACKEND",
    "FORMULATION_SETTINGS",
    "OPTIONAL_ATTRIBUTES",
    "START_AT_BOUND_MESSAGE",
    "Backend",
    "BackendFeature",
    "HeuristicGuard",
    "InterruptGuard",
    "SourceGuard",
    "NativeResult",
    "SolveOptions",
    "SolveResult",
    "SolveStatus",
    "availability",
    "captured_output",
    "declared_features",
    "declared_options",
    "check_solver_options",
    "formulation_defaults",
    "normalise",
    "prepared_options",
    "option_value",
    "solve",
    "solver_version",
    "supports",
]
