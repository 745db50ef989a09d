"""Assemble a :class:`~bnnmip.milp.MilpProblem` from vectorized blocks of columns and rows."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .problem import ColumnBlock, MilpProblem, RowBlock, RowKind


class ProblemBuilder:
    """Collects column blocks and COO row blocks, then freezes them into a MilpProblem."""

    def __init__(self) -> None:
        self.n_cols = 0
        self.n_rows = 0
        self.columns: dict[str, ColumnBlock] = {}
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._row_lo: list[np.ndarray] = []
        self._row_hi: list[np.ndarray] = []
        self.row_blocks: list[RowBlock] = []
        self._fixed: list[tuple[np.ndarray, float]] = []

    def add_columns(self, name: str, shape, lower: float, upper: float, integer: bool) -> ColumnBlock:
        """Append a block of ``prod(shape)`` columns with common bounds."""
        block = ColumnBlock(name, self.n_cols, tuple(int(s) for s in shape))
        self.columns[name] = block
        self._lower.append(np.full(block.size, float(lower)))
        self._upper.append(np.full(block.size, float(upper)))
        self._integer.append(np.full(block.size, bool(integer)))
        self.n_cols += block.size
        return block

    def index(self, name: str) -> np.ndarray:
        """Column indices of block ``name`` shaped like the block."""
        block = self.columns[name]
        return np.arange(block.start, block.stop).reshape(block.shape)

    def fix(self, columns: np.ndarray, value: float) -> None:
        """Fix ``columns`` to ``value`` (both bounds) when the problem is built."""
        self._fixed.append((np.asarray(columns, dtype=np.int64).ravel(), float(value)))

    def add_rows(
        self,
        name: str,
        kind: RowKind,
        n_rows: int,
        entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        lower,
        upper,
        binary: np.ndarray | None = None,
        big_m: np.ndarray | None = None,
    ) -> RowBlock:
        """Append ``n_rows`` rows; ``entries`` are (local row, column, value) triples."""
        start = self.n_rows
        for r, c, v in entries:
            r, c, v = np.broadcast_arrays(np.asarray(r), np.asarray(c), np.asarray(v, dtype=float))
            keep = v != 0
            self._coo.append((r[keep].ravel() + start, c[keep].ravel(), v[keep].ravel()))
        self._row_lo.append(np.broadcast_to(np.asarray(lower, dtype=float), (n_rows,)).copy())
        self._row_hi.append(np.broadcast_to(np.asarray(upper, dtype=float), (n_rows,)).copy())
        block = RowBlock(
            name, kind, start, start + n_rows,
            None if binary is None else np.asarray(binary, dtype=np.int64).ravel(),
            None if big_m is None else np.broadcast_to(np.asarray(big_m, float), (n_rows,)).copy(),
        )
        self.row_blocks.append(block)
        self.n_rows += n_rows
        return block

    def build(self, c: np.ndarray, offset: float, name: str) -> MilpProblem:
        """Freeze into a :class:`MilpProblem`."""
        if self._coo:
            rows = np.concatenate([t[0] for t in self._coo])
            cols = np.concatenate([t[1] for t in self._coo])
            vals = np.concatenate([t[2] for t in self._coo])
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
            vals = np.zeros(0)
        A = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))
        A.sum_duplicates()
        A.sort_indices()
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        col_lower, col_upper = cat(self._lower, float), cat(self._upper, float)
        for columns, value in self._fixed:
            col_lower[columns] = col_upper[columns] = value
        return MilpProblem(
            c=np.asarray(c, dtype=float),
            A=A,
            row_lower=cat(self._row_lo, float),
            row_upper=cat(self._row_hi, float),
            col_lower=col_lower,
            col_upper=col_upper,
            integrality=cat(self._integer, bool),
            offset=float(offset),
            columns=dict(self.columns),
            rows=tuple(self.row_blocks),
            name=name,
        )
