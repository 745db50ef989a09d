"""The built-in strategies plugin (registered through the ``bnnmip`` entry-point group)."""

from __future__ import annotations

from ..plugins import hookimpl
from ._common import mip_start, solve_lowering, sound_integrality_tolerance, trivial_network
from .exact import ExactStrategy
from .local_search import LocalSearchStrategy
from .split import BUILTIN_SPLITTERS, ClassKMeansSplitter, KMeansSplitter, SplitStrategy

__all__ = [
    "ExactStrategy",
    "ClassKMeansSplitter",
    "KMeansSplitter",
    "LocalSearchStrategy",
    "SplitStrategy",
    "mip_start",
    "solve_lowering",
    "sound_integrality_tolerance",
    "trivial_network",
]


@hookimpl
def bnnmip_register_strategies(register):
    """Register the built-in strategies."""
    register(ExactStrategy())
    register(LocalSearchStrategy())
    register(SplitStrategy())


@hookimpl
def bnnmip_register_splitters(register):
    """Register the built-in cluster splitters for data splitting."""
    for splitter in BUILTIN_SPLITTERS:
        register(splitter)
