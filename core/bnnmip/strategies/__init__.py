"""The built-in strategies plugin (registered through the ``bnnmip`` entry-point group)."""

from __future__ import annotations

from .. import hookimpl
from ._common import mip_start, solve_lowering, sound_integrality_tolerance, trivial_network
from .exact import ExactStrategy
from .local_search import LocalSearchStrategy

__all__ = [
    "ExactStrategy",
    "LocalSearchStrategy",
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
