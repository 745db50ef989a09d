"""The solver-neutral MILP: arrays a backend turns into its native model.

    minimize    c @ x + offset
    subject to  row_lower <= A @ x <= row_upper
                col_lower <=     x <= col_upper
                x[j] integer where integrality[j]

Columns come in named blocks (weights, biases, activations, ...) that map a solution back to
a network; rows come in typed blocks so a backend may replace, for example, big-M activation
rows with native indicator constraints.
"""

from __future__ import annotations

from enum import Enum

import attrs
import numpy as np
import scipy.sparse as sp

from .._validation import array_eq

__all__ = ["ColumnBlock", "MilpProblem", "RowBlock", "RowKind"]


class RowKind(Enum):
    """What a block of rows expresses."""

    BIGM_OFF = "bigm_off"
    """``t <= -eps`` when the row's binary is 0 (written with a big-M term on the binary)."""
    BIGM_ON = "bigm_on"
    """``t >= +eps`` when the row's binary is 1 (written with a big-M term on the binary)."""
    PRODUCT = "product"
    """Exact linearization of ``s = u * w`` for a binary ``u`` and a bounded weight ``w``."""
    ABS = "abs"
    """``xi >= |w|`` rows of the robust model."""
    ORDER = "order"
    """Symmetry-breaking or other ordering rows."""


@attrs.frozen
class ColumnBlock:
    """Columns ``start .. start + prod(shape)`` hold one named array in C order."""

    name: str
    start: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """Number of columns in the block."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self) -> int:
        """One past the last column."""
        return self.start + self.size

    def take(self, x: np.ndarray) -> np.ndarray:
        """This block's values from a full column vector, reshaped."""
        return np.asarray(x[self.start : self.stop]).reshape(self.shape)


@attrs.frozen
class RowBlock:
    """Rows ``start .. stop`` of one kind.

    For big-M kinds, ``binary[k]`` is the column of the binary in row ``start + k`` and
    ``big_m[k]`` its coefficient's magnitude; dropping that term and imposing the row only
    when the binary equals 0 (``BIGM_OFF``) or 1 (``BIGM_ON``) gives the indicator form.
    """

    name: str
    kind: RowKind
    start: int
    stop: int
    binary: np.ndarray | None = attrs.field(default=None, eq=attrs.cmp_using(eq=array_eq))
    big_m: np.ndarray | None = attrs.field(default=None, eq=attrs.cmp_using(eq=array_eq))

    @property
    def size(self) -> int:
        """Number of rows."""
        return self.stop - self.start


@attrs.frozen(eq=False)
class MilpProblem:
    """A minimization MILP held as arrays (see the module docstring)."""

    c: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    offset: float = 0.0
    columns: dict[str, ColumnBlock] = attrs.field(factory=dict)
    rows: tuple[RowBlock, ...] = ()
    name: str = "bnnmip"
    implied_integrality: np.ndarray | None = attrs.field(default=None, kw_only=True)
    """Per column: integral in every feasible solution (``None``: just ``integrality``).

    It includes ``integrality``; a continuous column is marked when the model forces it to
    an integer anyway, e.g. the product ``s = u * w`` of a binary and an integer weight
    (:func:`bnnmip.lower` marks those). A pure-integer solver may declare every marked
    column integer without changing the problem (:attr:`is_pure_integer`).
    """

    def __attrs_post_init__(self):
        if self.implied_integrality is None:
            object.__setattr__(self, "implied_integrality", np.array(self.integrality, dtype=bool))
        n, m = self.c.shape[0], self.A.shape[0]
        if self.A.shape[1] != n:
            raise ValueError(f"A has {self.A.shape[1]} columns but c has {n}")
        for label, arr, size in (
            ("row_lower", self.row_lower, m),
            ("row_upper", self.row_upper, m),
            ("col_lower", self.col_lower, n),
            ("col_upper", self.col_upper, n),
            ("integrality", self.integrality, n),
            ("implied_integrality", self.implied_integrality, n),
        ):
            if arr.shape != (size,):
                raise ValueError(f"{label} has shape {arr.shape}, expected ({size},)")
        integer = np.asarray(self.integrality, dtype=bool)
        if np.any(integer & ~np.asarray(self.implied_integrality, dtype=bool)):
            raise ValueError("implied_integrality must include every integer column")
        for arr in (self.c, self.row_lower, self.row_upper, self.col_lower, self.col_upper,
                    self.integrality, self.implied_integrality, self.A.data, self.A.indices, self.A.indptr):
            arr.flags.writeable = False

    @property
    def n_cols(self) -> int:
        """Number of variables."""
        return self.c.shape[0]

    @property
    def n_rows(self) -> int:
        """Number of constraints."""
        return self.A.shape[0]

    @property
    def n_integer(self) -> int:
        """Number of integer (including binary) variables."""
        return int(np.count_nonzero(self.integrality))

    @property
    def is_pure_integer(self) -> bool:
        """Whether every column is integer or implied integral (see ``implied_integrality``)."""
        return bool(np.all(self.implied_integrality))

    @property
    def n_binary(self) -> int:
        """Number of integer variables with bounds [0, 1]."""
        return int(np.count_nonzero(self.integrality & (self.col_lower == 0) & (self.col_upper == 1)))

    @property
    def nnz(self) -> int:
        """Number of nonzero constraint coefficients."""
        return int(self.A.nnz)

    def size_summary(self) -> dict[str, int]:
        """Variables, binaries, integers, rows and nonzeros."""
        return {
            "variables": self.n_cols,
            "binaries": self.n_binary,
            "integers": self.n_integer,
            "rows": self.n_rows,
            "nonzeros": self.nnz,
        }

    def objective(self, x: np.ndarray) -> float:
        """Objective value of a full assignment ``x``."""
        return float(self.c @ x + self.offset)

    def trivial_bound(self) -> float:
        """A lower bound on the objective from the column bounds alone.

        ``offset + sum(min(c_j * lower_j, c_j * upper_j))``: no feasible point can do better,
        so a feasible point that reaches it is optimal without a search. ``-inf`` when a
        column with a nonzero cost is unbounded in the improving direction.
        """
        lo = np.where(self.c > 0, self.col_lower, self.col_upper)
        active = self.c != 0
        terms = self.c[active] * lo[active]
        if not np.all(np.isfinite(terms)):
            return -np.inf
        return float(self.offset + terms.sum())

    def violation(self, x: np.ndarray) -> float:
        """Largest violation of any row, bound or integrality by ``x`` (0 when feasible)."""
        ax = self.A @ x
        parts = [
            np.max(self.row_lower - ax, initial=0.0),
            np.max(ax - self.row_upper, initial=0.0),
            np.max(self.col_lower - x, initial=0.0),
            np.max(x - self.col_upper, initial=0.0),
        ]
        xi = x[self.integrality]
        parts.append(np.max(np.abs(xi - np.round(xi)), initial=0.0))
        return float(max(parts))

    def row_block(self, name: str) -> RowBlock:
        """The row block called ``name``."""
        for block in self.rows:
            if block.name == name:
                return block
        raise KeyError(name)
