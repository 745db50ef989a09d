"""The solver-neutral MILP in array form, how it is assembled and how it is written to files.

- :mod:`.problem`: :class:`MilpProblem` (column and row blocks, bounds, integrality) — what a
  backend receives.
- :mod:`.builder`: :class:`ProblemBuilder`, which formulations and the certification MILP use
  to assemble one from vectorized blocks.
- :mod:`.io`: MPS and LP writers (``bnnmip export``; ``temporary_mps`` and ``in_column_order``
  for a backend that hands its solver a file).
- :mod:`.indicators`: big-M rows in indicator form, for a backend with indicator constraints.
"""

from .builder import ProblemBuilder
from .problem import ColumnBlock, MilpProblem, RowBlock, RowKind

__all__ = ["ColumnBlock", "MilpProblem", "ProblemBuilder", "RowBlock", "RowKind"]
