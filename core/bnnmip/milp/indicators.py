"""Big-M rows in indicator form, for a backend with native indicator constraints.

A row ``lo <= a x + c u <= hi`` of a ``BIGM_OFF`` / ``BIGM_ON`` block (``u`` its binary
column, ``c`` the binary's coefficient) holds the activation logic with a big-M. Imposed only
while ``u`` equals its active value ``v`` (0 for ``BIGM_OFF``, 1 for ``BIGM_ON``) it reads
``lo - c v <= a x <= hi - c v``: :func:`indicator_rows` gives those rows, without the binary's
term and with the shifted sides, and :func:`without_rows` the problem with them made free
(writers and builders skip free rows), to which a backend adds one indicator constraint per
finite side.
"""

from __future__ import annotations

import attrs
import numpy as np
import scipy.sparse as sp

from .problem import MilpProblem, RowKind

__all__ = ["IndicatorRows", "indicator_rows", "without_rows"]


@attrs.frozen(eq=False)
class IndicatorRows:
    """Big-M rows as indicator constraints: parallel arrays, one entry per row.

    ``rows`` are the problem's rows, ``binary`` each row's binary column, ``active`` the
    binary's value (0 or 1) at which the row is imposed, ``matrix`` the rows without their
    binary's term (CSR, one row each, duplicates summed) and ``lower`` / ``upper`` their sides
    shifted by the binary's coefficient times ``active`` (``±inf`` for none).
    """

    rows: np.ndarray
    binary: np.ndarray
    active: np.ndarray
    matrix: sp.csr_matrix
    lower: np.ndarray
    upper: np.ndarray

    def __len__(self) -> int:
        return int(self.rows.size)

    def violations(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(max(0, lower - a x), max(0, a x - upper))`` for columns ``x``: 0 where a side holds."""
        ax = self.matrix @ np.asarray(x, dtype=float)
        with np.errstate(invalid="ignore"):
            return np.maximum(0.0, self.lower - ax), np.maximum(0.0, ax - self.upper)


def indicator_rows(problem: MilpProblem) -> IndicatorRows:
    """The big-M rows of ``problem`` whose binary has a coefficient in them, in indicator form."""
    rows, binary, active = [], [], []
    for block in problem.rows:
        if block.kind not in (RowKind.BIGM_OFF, RowKind.BIGM_ON) or block.binary is None:
            continue
        rows.append(np.arange(block.start, block.stop))
        binary.append(np.asarray(block.binary, dtype=np.int64))
        active.append(np.full(block.size, 1 if block.kind is RowKind.BIGM_ON else 0))
    empty = np.zeros(0, dtype=np.int64)
    r, b, act = (np.concatenate(a) if rows else empty for a in (rows, binary, active))
    A = problem.A.tocsr()
    coef = np.asarray(A[r, b]).ravel() if r.size else np.zeros(0)
    ok = coef != 0  # a row without its binary's term stays an ordinary row
    r, b, act, coef = r[ok], b[ok], act[ok], coef[ok]
    matrix = A[r].tocsr() if r.size else sp.csr_matrix((0, problem.n_cols))
    matrix.sum_duplicates()
    matrix.data[matrix.indices == np.repeat(b, np.diff(matrix.indptr))] = 0.0
    matrix.eliminate_zeros()
    shift = coef * act
    return IndicatorRows(r, b, act, matrix, problem.row_lower[r] - shift, problem.row_upper[r] - shift)


def without_rows(problem: MilpProblem, rows: np.ndarray) -> MilpProblem:
    """``problem`` with ``rows`` made free (``-inf <= a x <= inf``); the arrays are copies."""
    lo, hi = problem.row_lower.copy(), problem.row_upper.copy()
    lo[rows], hi[rows] = -np.inf, np.inf
    return attrs.evolve(problem, row_lower=lo, row_upper=hi)
