"""Write a :class:`~bnnmip.milp.MilpProblem` as an MPS or a CPLEX LP file.

Both writers name column ``j`` ``C%07d`` and row ``i`` ``R%07d`` (0-based; wider only past
ten million), so every name has at most 8 characters and no spaces: the MPS file parses with
free-format and with the usual whitespace-tolerant fixed-format readers alike. Numbers are
written with Python's shortest round-trip ``repr``, so the file holds exactly the arrays.

The objective constant ``problem.offset`` is carried by a column ``OBJCONST`` fixed to
``[1, 1]`` whose objective coefficient is the offset: readers disagree on the sign of an
objective-row RHS, but every one of them adds a fixed column's cost. The column is always
written (cost 0 when there is no offset), last, so solution files list the model's columns
first in their order.

Rows whose two bounds are infinite are skipped (their names keep the row's index, so the
other rows' names do not move). A row with ``row_lower > row_upper`` cannot be written and
raises :class:`ValueError`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from .problem import MilpProblem

__all__ = ["OBJCONST", "column_index", "column_names", "in_column_order", "row_names", "temporary_mps",
           "write_lp", "write_mps"]

OBJCONST = "OBJCONST"
"""Name of the fixed column that carries the objective constant."""

_OBJ_ROW = "OBJ"
T = TypeVar("T")


def _width(n: int) -> int:
    return max(7, len(str(max(n - 1, 0))))


def column_names(n: int) -> list[str]:
    """Names of ``n`` columns as written: ``C0000000``, ``C0000001``, ..."""
    w = _width(n)
    return [f"C{j:0{w}d}" for j in range(n)]


def row_names(m: int) -> list[str]:
    """Names of ``m`` rows as written: ``R0000000``, ``R0000001``, ..."""
    w = _width(m)
    return [f"R{i:0{w}d}" for i in range(m)]


def column_index(name: str) -> int | None:
    """Index of a written column name (``C0000012`` -> 12); ``None`` for ``OBJCONST``/others."""
    if len(name) > 1 and name[0] == "C" and name[1:].isdigit():
        return int(name[1:])
    return None


def in_column_order(items: Iterable[T], n_cols: int, name: Callable[[T], str]) -> list[T]:
    """``items`` named as the writers name columns (``name(item)``: ``C0000012``...), in column order.

    For a backend that reads a written file back and gets the solver's variables by name;
    ``OBJCONST`` is left out.

    Raises
    ------
    RuntimeError
        For another name, or a column ``0 .. n_cols - 1`` that no item names (a reader lost it).
    """
    out: list = [None] * n_cols
    for item in items:
        j = column_index(name(item))
        if j is not None and j < n_cols:
            out[j] = item
        elif name(item) != OBJCONST:
            raise RuntimeError(f"unexpected variable {name(item)!r} read back from the written file")
    if any(item is None for item in out):
        raise RuntimeError(f"column {column_names(n_cols)[out.index(None)]} was lost reading the file back")
    return out


@contextlib.contextmanager
def temporary_mps(problem: MilpProblem) -> Iterator[str]:
    """``problem`` written by :func:`write_mps` to a fresh temporary directory: yields the file's path.

    The directory is removed on leaving the ``with`` block (a solver reads the file inside it).
    """
    tmp = tempfile.mkdtemp(prefix="bnnmip-mps-")
    try:
        path = os.path.join(tmp, "model.mps")
        write_mps(problem, path)
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _fmt(values) -> list[str]:
    """Shortest round-trip decimal strings of floats."""
    return [repr(v) for v in np.asarray(values, dtype=np.float64).tolist()]


def _rows_to_write(problem: MilpProblem) -> np.ndarray:
    lo, hi = problem.row_lower, problem.row_upper
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"row {i} has lower bound {lo[i]} > upper bound {hi[i]}; it cannot be written"
        )
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError("row bounds contain NaN")
    return ~(np.isneginf(lo) & np.isposinf(hi))


def _csc_kept(problem: MilpProblem, keep_row: np.ndarray) -> sp.csc_matrix:
    A = sp.csc_matrix(problem.A, copy=True)
    A.sum_duplicates()
    if not keep_row.all():
        A = sp.csc_matrix(A.multiply(keep_row[:, None].astype(np.float64)))
    A.eliminate_zeros()
    A.sort_indices()
    return A


def _check_columns(problem: MilpProblem) -> None:
    lo, hi = problem.col_lower, problem.col_upper
    if np.isnan(lo).any() or np.isnan(hi).any() or not np.isfinite(problem.c).all():
        raise ValueError("column bounds or costs contain NaN (or infinite costs)")
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        j = int(bad[0])
        raise ValueError(f"column {j} has lower bound {lo[j]} > upper bound {hi[j]}")
    if not np.isfinite(problem.offset):
        raise ValueError(f"the objective offset must be finite, got {problem.offset}")


# ---------------------------------------------------------------------------------------------
# MPS
# ---------------------------------------------------------------------------------------------


def write_mps(problem: MilpProblem, path) -> None:
    """Write ``problem`` as an MPS file at ``path`` (see the module docstring).

    Parameters
    ----------
    problem
        The MILP.
    path
        Where to write (``str`` or path-like); an existing file is replaced.
    """
    _check_columns(problem)
    keep = _rows_to_write(problem)
    m, n = problem.n_rows, problem.n_cols
    lo, hi = problem.row_lower, problem.row_upper
    cname = column_names(n)
    rname = row_names(m)
    kept = np.flatnonzero(keep)
    out: list[str] = [f"NAME          {_safe_name(problem.name)}\n", "ROWS\n", f" N  {_OBJ_ROW}\n"]

    # ---- ROWS: E for equalities, L / G for one-sided rows, G + RANGES for ranged rows ----
    klo, khi = lo[kept], hi[kept]
    is_eq = klo == khi
    is_l = np.isneginf(klo)
    kind = np.where(is_eq, "E", np.where(is_l, "L", "G"))
    out.append("".join(f" {k}  {rname[i]}\n" for k, i in zip(kind.tolist(), kept.tolist(), strict=True)))

    # ---- COLUMNS, in column order, integers between markers ----
    A = _csc_kept(problem, keep)
    counts = np.diff(A.indptr)
    obj_cols = np.flatnonzero((problem.c != 0) | (counts == 0))
    ent_col = np.concatenate([obj_cols, np.repeat(np.arange(n), counts)])
    ent_row = np.concatenate([np.full(obj_cols.size, -1), A.indices.astype(np.int64)])
    ent_val = np.concatenate([problem.c[obj_cols], A.data])
    order = np.lexsort((ent_row, ent_col))
    ent_col, ent_row, ent_val = ent_col[order], ent_row[order], ent_val[order]
    names_row = [_OBJ_ROW, *rname]  # index row + 1
    col_str = [cname[j] for j in ent_col.tolist()]
    row_str = [names_row[i + 1] for i in ent_row.tolist()]
    val_str = _fmt(ent_val)
    lines = [
        f"    {c}  {r}  {v}\n" for c, r, v in zip(col_str, row_str, val_str, strict=True)
    ]
    out.append("COLUMNS\n")
    integ = np.asarray(problem.integrality, dtype=bool)
    ent_int = integ[ent_col] if ent_col.size else np.zeros(0, dtype=bool)
    # boundaries where integrality switches
    change = np.flatnonzero(np.diff(ent_int.astype(np.int8))) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    stops = np.concatenate([change, [ent_col.size]]).astype(np.int64)
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        if a == b:
            continue
        if ent_int[a]:
            out.append("    MARKER  'MARKER'  'INTORG'\n")
            out.append("".join(lines[a:b]))
            out.append("    MARKER  'MARKER'  'INTEND'\n")
        else:
            out.append("".join(lines[a:b]))
    out.append(f"    {OBJCONST}  {_OBJ_ROW}  {float(problem.offset)!r}\n")

    # ---- RHS and RANGES ----
    rhs = np.where(is_l, khi, klo)
    nz = np.flatnonzero(rhs != 0)
    out.append("RHS\n")
    out.append(
        "".join(
            f"    RHS  {rname[i]}  {v}\n"
            for i, v in zip(kept[nz].tolist(), _fmt(rhs[nz]), strict=True)
        )
    )
    ranged = np.flatnonzero(np.isfinite(klo) & np.isfinite(khi) & (klo != khi))
    if ranged.size:
        out.append("RANGES\n")
        out.append(
            "".join(
                f"    RNG  {rname[i]}  {v}\n"
                for i, v in zip(kept[ranged].tolist(), _fmt(khi[ranged] - klo[ranged]), strict=True)
            )
        )

    # ---- BOUNDS: explicit for every column that is not [0, +inf) continuous ----
    out.append("BOUNDS\n")
    out.append(_mps_bounds(problem, cname))
    out.append(f" FX BND  {OBJCONST}  1.0\n")
    out.append("ENDATA\n")
    _write(path, out)


def _mps_bounds(problem: MilpProblem, cname: list[str]) -> str:
    clo, chi = problem.col_lower, problem.col_upper
    integ = np.asarray(problem.integrality, dtype=bool)
    fixed = clo == chi
    # Integer columns always get both bounds (readers differ on defaults inside markers);
    # continuous ones only when they differ from the default [0, +inf).
    need = integ | (clo != 0) | ~np.isposinf(chi)
    lo_s = _fmt(np.where(np.isfinite(clo), clo, 0.0))
    hi_s = _fmt(np.where(np.isfinite(chi), chi, 0.0))
    parts: list[str] = []
    for j in np.flatnonzero(need).tolist():
        name = cname[j]
        if fixed[j]:
            parts.append(f" FX BND  {name}  {lo_s[j]}\n")
            continue
        lo_inf, hi_inf = np.isneginf(clo[j]), np.isposinf(chi[j])
        if lo_inf and hi_inf:
            parts.append(f" FR BND  {name}\n")
            continue
        # lower bound first: a negative UP after an implicit 0 lower bound is read as
        # "lower -inf" by some readers; an explicit LO/MI before it avoids the ambiguity.
        parts.append(f" MI BND  {name}\n" if lo_inf else f" LO BND  {name}  {lo_s[j]}\n")
        parts.append(f" PL BND  {name}\n" if hi_inf else f" UP BND  {name}  {hi_s[j]}\n")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# LP
# ---------------------------------------------------------------------------------------------

_TERMS_PER_LINE = 8


def _terms(vals: np.ndarray, names: list[str]) -> list[str]:
    signs = np.where(vals < 0, "-", "+").tolist()
    mags = _fmt(np.abs(vals))
    return [f"{s} {v} {c}" for s, v, c in zip(signs, mags, names, strict=True)]


def _wrap(terms: list[str]) -> str:
    if not terms:
        return "0 " + OBJCONST
    chunks = [" ".join(terms[k : k + _TERMS_PER_LINE]) for k in range(0, len(terms), _TERMS_PER_LINE)]
    return "\n   ".join(chunks)


def write_lp(problem: MilpProblem, path) -> None:
    """Write ``problem`` as a CPLEX LP file at ``path``.

    Ranged rows become two rows, ``R...L`` (``>=`` lower) and ``R...U`` (``<=`` upper);
    long expressions are wrapped over several lines.

    Parameters
    ----------
    problem
        The MILP.
    path
        Where to write (``str`` or path-like); an existing file is replaced.
    """
    _check_columns(problem)
    keep = _rows_to_write(problem)
    m, n = problem.n_rows, problem.n_cols
    cname = column_names(n)
    rname = row_names(m)
    out: list[str] = [f"\\ Problem name: {_safe_name(problem.name)}\n", "Minimize\n"]

    obj_cols = np.flatnonzero(problem.c != 0)
    obj_terms = _terms(problem.c[obj_cols], [cname[j] for j in obj_cols.tolist()])
    offset = float(problem.offset)
    obj_terms.append(f"{'-' if offset < 0 else '+'} {abs(offset)!r} {OBJCONST}")
    out.append(f" obj: {_wrap(obj_terms)}\n")

    out.append("Subject To\n")
    A = sp.csr_matrix(problem.A, copy=True)
    A.sum_duplicates()
    A.eliminate_zeros()
    A.sort_indices()
    all_terms = _terms(A.data, [cname[j] for j in A.indices.tolist()])
    indptr = A.indptr.tolist()
    lo_s, hi_s = _fmt(np.where(np.isfinite(problem.row_lower), problem.row_lower, 0.0)), _fmt(
        np.where(np.isfinite(problem.row_upper), problem.row_upper, 0.0)
    )
    lo, hi = problem.row_lower, problem.row_upper
    for i in np.flatnonzero(keep).tolist():
        expr = _wrap(all_terms[indptr[i] : indptr[i + 1]])
        if lo[i] == hi[i]:
            out.append(f" {rname[i]}: {expr} = {lo_s[i]}\n")
        elif np.isneginf(lo[i]):
            out.append(f" {rname[i]}: {expr} <= {hi_s[i]}\n")
        elif np.isposinf(hi[i]):
            out.append(f" {rname[i]}: {expr} >= {lo_s[i]}\n")
        else:
            out.append(f" {rname[i]}L: {expr} >= {lo_s[i]}\n")
            out.append(f" {rname[i]}U: {expr} <= {hi_s[i]}\n")

    out.append("Bounds\n")
    clo, chi = problem.col_lower, problem.col_upper
    clo_s = _fmt(np.where(np.isfinite(clo), clo, 0.0))
    chi_s = _fmt(np.where(np.isfinite(chi), chi, 0.0))
    for j in range(n):
        name = cname[j]
        lo_inf, hi_inf = bool(np.isneginf(clo[j])), bool(np.isposinf(chi[j]))
        if clo[j] == chi[j]:
            out.append(f" {name} = {clo_s[j]}\n")
        elif lo_inf and hi_inf:
            out.append(f" {name} free\n")
        else:
            left = "-inf" if lo_inf else clo_s[j]
            right = "+inf" if hi_inf else chi_s[j]
            out.append(f" {left} <= {name} <= {right}\n")
    out.append(f" {OBJCONST} = 1\n")

    integ = np.flatnonzero(problem.integrality)
    if integ.size:
        out.append("Generals\n")
        names = [cname[j] for j in integ.tolist()]
        out.append(
            "".join(" " + " ".join(names[k : k + 8]) + "\n" for k in range(0, len(names), 8))
        )
    out.append("End\n")
    _write(path, out)


# ---------------------------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in str(name))
    return cleaned[:8] or "bnnmip"


def _write(path, parts: list[str]) -> None:
    with open(os.fspath(path), "w", encoding="ascii", newline="\n") as fh:
        fh.write("".join(parts))
