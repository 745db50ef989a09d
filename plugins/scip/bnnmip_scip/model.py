"""Building SCIP's native model from the arrays: the two routes, indicator constraints, the start.

Two ways to build the native model, chosen with ``ScipBackend(build_via=...)``:

- ``"mps"`` (default): write the arrays with :func:`bnnmip.milp.io.write_mps` to a temporary
  file and let SCIP's MPS reader load it (the objective constant rides on the fixed column
  ``OBJCONST``);
- ``"rows"``: one ``addVar`` per column and one linear constraint per CSR row, built from
  ``Expr`` dicts over precomputed ``Term`` objects (the cheapest public PySCIPOpt path; it
  measured the same as ``quicksum`` and as ``addConsCoeff`` per nonzero, because the cost is
  per-constraint overhead in PySCIPOpt, not per coefficient).

Measured build times (SCIP 10.0.2, PySCIPOpt 6.3.0, 2-core VM, ``bnnmip.lower`` on 250
random points, 10 features, ``hidden=(4,)``, 2 classes: 3,554 columns, 11,000 rows, 50,000
nonzeros; ``ScipBackend.build`` timed 9 times each, interleaved, median (min)):

- big-M rows: ``mps`` 0.125 s (0.115 s), ``rows`` 0.147 s (0.134 s);
- indicators: ``mps`` 0.134 s (0.123 s), ``rows`` 0.154 s (0.142 s).

A first stand-alone run of the same comparison measured ``rows`` 0.19-0.22 s against ``mps``
0.10-0.13 s (``mps`` = write 0.05 s + read 0.06 s). The MPS route is 15-40 % faster, hence
the default.

The ``scip-indicator`` backend (``ScipBackend(indicators=True)``) replaces every row of a
``BIGM_OFF`` / ``BIGM_ON`` row block by SCIP indicator constraints: the row's own binary term
is dropped and the remaining row, with its sides shifted by the binary's actual coefficient
times the binary's active value, is imposed only when the binary is 0 (``BIGM_OFF``) or 1
(``BIGM_ON``). On the reference instances both reach the same optima; on the harder
ones tried (random teachers on 30-40 points) the big-M model was much faster: 14 s against
51 s with two hidden layers, 18 s against no proof in 60 s with three classes. So ``scip``
(big-M) is the plain name and the indicator model an alternative.

Both backends declare ``CALLBACKS``: ``options.heuristic`` runs as a SCIP primal heuristic
plugin that gets each new incumbent over the problem's columns and hands its answer to
``trySol``. SCIP's solution also covers columns the problem does not have, which are filled
in from the answer: the MPS build's ``OBJCONST`` column (1) and, on ``scip-indicator``, the
slack variable SCIP adds to every indicator constraint. pyscipopt passes each one-sided row
as ``a x <= rhs`` (a lower side negated) and SCIP keeps ``a x - s <= rhs`` with ``s >= 0``
forced to 0 while the indicator is active, so ``s`` is set to the row's violation,
``max(0, a y - hi)`` or ``max(0, lo - a y)``: 0 on every active row of a feasible answer.
SCIP checks the whole solution, so a wrong slack would only get the answer rejected.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import attrs
import numpy as np

from bnnmip.milp import MilpProblem, RowKind
from bnnmip.milp.io import OBJCONST, column_index, write_mps


@dataclass
class _Indicators:
    """BIGM rows turned into indicator constraints (parallel arrays, one entry per row)."""

    rows: np.ndarray
    binary: np.ndarray
    coef: np.ndarray
    active: np.ndarray  # 1 if imposed when the binary is 1, 0 if when it is 0


@dataclass
class _IndicatorSlacks:
    """The indicator constraints added, with what sets their slack variables from the columns.

    ``addConsIndicator`` hands SCIP a one-sided row ``a x <= rhs`` (pyscipopt negates a
    ``lhs <= a x`` side into ``-a x <= -lhs``) and SCIP adds a slack variable ``s >= 0`` of
    its own: the linear constraint it keeps is ``a x - s <= rhs``, and the indicator forces
    ``s = 0`` while its binary is at the active value (``activeone=False`` only makes pyscipopt
    pass the negated binary; the row is the same). For columns ``y`` the smallest slack that
    satisfies the row is therefore ``max(0, a y - hi)`` on an upper side and
    ``max(0, lo - a y)`` on a lower side: 0 on every active row of a feasible ``y``.
    """

    conss: list = field(default_factory=list)  # one pyscipopt Constraint per indicator
    rows: list[int] = field(default_factory=list)  # the problem's row it came from
    binary: list[int] = field(default_factory=list)  # the binary column (its term is dropped)
    bound: list[float] = field(default_factory=list)  # the shifted side: hi, or lo
    upper: list[bool] = field(default_factory=list)  # True for ``a x <= hi``, False for ``lo <= a x``

    def evaluator(self, model, problem: MilpProblem):
        """``f(y) -> (slack variables, values)``: the nonzero slacks for columns ``y``."""
        slack_vars = [model.getSlackVarIndicator(c) for c in self.conss]
        rows = np.asarray(self.rows, dtype=np.int64)
        binary = np.asarray(self.binary, dtype=np.int64)
        M = problem.A.tocsr()[rows].tocsr()  # one row per constraint, without its binary's term
        M.sum_duplicates()
        M.data[M.indices == np.repeat(binary, np.diff(M.indptr))] = 0.0
        M.eliminate_zeros()
        bound = np.asarray(self.bound, dtype=float)
        sign = np.where(np.asarray(self.upper, dtype=bool), 1.0, -1.0)

        def values(y: np.ndarray) -> tuple[list, list[float]]:
            slack = np.maximum(0.0, sign * (M @ y - bound))
            nonzero = np.flatnonzero(slack).tolist()
            return [slack_vars[k] for k in nonzero], slack[nonzero].tolist()

        return values


def include_heuristic(model, variables: list, heuristic, pyscipopt, slack_values=None):
    """``options.heuristic`` as a SCIP primal heuristic plugin.

    Run after every node; it works only when the incumbent changed since its last run: the
    incumbent (over the problem's columns) goes to the heuristic, and its answer, if any, to
    ``trySol`` (SCIP checks it). The answer covers the problem's columns only; the MPS
    build's objective-constant column is set to 1 and, on ``scip-indicator``, every indicator
    constraint's slack variable to ``slack_values(y)`` (see :class:`_IndicatorSlacks`).
    """

    class _Heuristic(pyscipopt.Heur):
        def __init__(self):
            super().__init__()
            self.seen = None
            self.accepted = 0
            self.error = ""

        def heurexec(self, heurtiming, nodeinfeasible):
            m = self.model
            if self.error or m.getNSols() == 0:
                return {"result": pyscipopt.SCIP_RESULT.DIDNOTRUN}
            best = m.getBestSol()
            value = m.getSolObjVal(best)
            if self.seen is not None and value >= self.seen:
                return {"result": pyscipopt.SCIP_RESULT.DIDNOTRUN}
            self.seen = value
            x = np.fromiter((m.getSolVal(best, v) for v in variables), dtype=float, count=len(variables))
            y = heuristic(x)  # a HeuristicGuard: never raises, None or one checked value per column
            if y is None:
                return {"result": pyscipopt.SCIP_RESULT.DIDNOTFIND}
            try:
                sol = m.createOrigSol(self)  # every value starts at 0
                for v, val in zip(variables, y.tolist(), strict=True):
                    m.setSolVal(sol, v, val)
                for v in objconst:  # the MPS build's fixed objective-constant column
                    m.setSolVal(sol, v, 1.0)
                if slack_values is not None:  # the indicator constraints' own slack variables
                    for v, val in zip(*slack_values(y), strict=True):
                        m.setSolVal(sol, v, val)
                found = m.trySol(sol, printreason=False)
                self.accepted += bool(found)
            except Exception as exc:  # e.g. a solution SCIP cannot take: report, carry on
                self.error = f"handing the solution to SCIP failed: {type(exc).__name__}: {exc}"
                return {"result": pyscipopt.SCIP_RESULT.DIDNOTFIND}
            return {"result": pyscipopt.SCIP_RESULT.FOUNDSOL if found else pyscipopt.SCIP_RESULT.DIDNOTFIND}

        def summary(self) -> str:
            return f"{self.accepted} heuristic solution(s) accepted by SCIP" + (
                f"; {self.error}" if self.error else "")

    objconst = [v for v in model.getVars() if v.name == OBJCONST]
    heur = _Heuristic()
    timing = pyscipopt.SCIP_HEURTIMING
    model.includeHeur(heur, "bnnmip", "bnnmip incumbent improvement (options.heuristic)", "Y",
                      timingmask=timing.AFTERLPNODE | timing.AFTERPSEUDONODE, freq=1)
    return heur


def build_mps(model, problem: MilpProblem) -> list:
    """Load ``problem`` through an MPS file; one variable per column, in column order."""
    tmp = tempfile.mkdtemp(prefix="bnnmip-scip-")
    try:
        path = os.path.join(tmp, "model.mps")
        write_mps(problem, path)
        model.readProblem(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    variables: list = [None] * problem.n_cols
    for var in model.getVars():
        j = column_index(var.name)
        if j is not None:
            variables[j] = var
        elif var.name != OBJCONST:
            raise RuntimeError(f"unexpected variable {var.name!r} read back from the MPS file")
    if any(v is None for v in variables):
        raise RuntimeError("SCIP's MPS reader lost a column")
    return variables


def build_rows(model, problem: MilpProblem, pyscipopt) -> list:
    """Add ``problem`` variable by variable and row by row; the variables, in column order."""
    from pyscipopt.scip import Term

    vtype = ["I" if f else "C" for f in problem.integrality.tolist()]
    lower = [None if math.isinf(v) else v for v in problem.col_lower.tolist()]
    upper = [None if math.isinf(v) else v for v in problem.col_upper.tolist()]
    cost = problem.c.tolist()
    w = max(7, len(str(max(problem.n_cols - 1, 0))))
    variables = [
        model.addVar(name=f"C{j:0{w}d}", vtype=vtype[j], lb=lower[j], ub=upper[j], obj=cost[j])
        for j in range(problem.n_cols)
    ]
    if problem.offset:
        model.addObjoffset(float(problem.offset))
    terms = [Term(v) for v in variables]
    A = problem.A.tocsr()
    indptr, indices, data = A.indptr.tolist(), A.indices.tolist(), A.data.tolist()
    row_lo, row_hi = problem.row_lower.tolist(), problem.row_upper.tolist()
    wr = max(7, len(str(max(problem.n_rows - 1, 0))))
    Expr, ExprCons = pyscipopt.Expr, pyscipopt.scip.ExprCons
    for i in range(problem.n_rows):
        lo = None if math.isinf(row_lo[i]) else row_lo[i]
        hi = None if math.isinf(row_hi[i]) else row_hi[i]
        if lo is None and hi is None:
            continue
        a, b = indptr[i], indptr[i + 1]
        expr = Expr({terms[j]: v for j, v in zip(indices[a:b], data[a:b], strict=True)})
        model.addCons(ExprCons(expr, lo, hi), name=f"R{i:0{wr}d}")
    return variables


def indicator_rows(problem: MilpProblem) -> _Indicators:
    """The big-M rows that can become indicators (those whose binary has a coefficient)."""
    rows, binary, active = [], [], []
    for block in problem.rows:
        if block.kind not in (RowKind.BIGM_OFF, RowKind.BIGM_ON) or block.binary is None:
            continue
        rows.append(np.arange(block.start, block.stop))
        binary.append(np.asarray(block.binary, dtype=np.int64))
        active.append(np.full(block.size, 1 if block.kind is RowKind.BIGM_ON else 0))
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return _Indicators(empty, empty, np.zeros(0), empty)
    r, b, act = np.concatenate(rows), np.concatenate(binary), np.concatenate(active)
    coef = np.asarray(problem.A.tocsr()[r, b]).ravel()
    ok = coef != 0  # a row without its binary's term stays an ordinary row
    return _Indicators(r[ok], b[ok], coef[ok], act[ok])


def without_rows(problem: MilpProblem, rows: np.ndarray) -> MilpProblem:
    """The problem with ``rows`` made free (both writers and builders skip free rows)."""
    lo, hi = problem.row_lower.copy(), problem.row_upper.copy()
    lo[rows], hi[rows] = -np.inf, np.inf
    return attrs.evolve(problem, row_lower=lo, row_upper=hi)


def add_indicators(model, problem: MilpProblem, ind: _Indicators, variables: list,
                    pyscipopt) -> _IndicatorSlacks:
    """Add one indicator constraint per finite side of every converted row; return them.

    Row ``lo <= a x + c u <= hi`` with the binary fixed at its active value ``v`` reads
    ``lo - c v <= a x <= hi - c v``; that is what is imposed when ``u == v``.
    """
    from pyscipopt.scip import Term

    A = problem.A.tocsr()
    Expr, ExprCons = pyscipopt.Expr, pyscipopt.scip.ExprCons
    terms: dict[int, Any] = {}
    added = _IndicatorSlacks()
    for i, b, c, v in zip(ind.rows.tolist(), ind.binary.tolist(), ind.coef.tolist(),
                          ind.active.tolist(), strict=True):
        a0, a1 = A.indptr[i], A.indptr[i + 1]
        coeffs = {}
        for j, val in zip(A.indices[a0:a1].tolist(), A.data[a0:a1].tolist(), strict=True):
            if j == b:
                continue
            t = terms.get(j)
            if t is None:
                t = terms[j] = Term(variables[j])
            coeffs[t] = coeffs.get(t, 0.0) + val
        lo = float(problem.row_lower[i]) - c * v
        hi = float(problem.row_upper[i]) - c * v
        for side, bound in (("u", hi), ("l", lo)):
            if math.isinf(bound):
                continue
            upper = side == "u"
            cons = ExprCons(Expr(dict(coeffs)), None if upper else bound, bound if upper else None)
            added.conss.append(model.addConsIndicator(cons, binvar=variables[b], activeone=bool(v),
                                                      name=f"I{i:07d}{side}"))
            added.rows.append(i)
            added.binary.append(b)
            added.bound.append(bound)
            added.upper.append(upper)
    return added


def set_start(model, problem: MilpProblem, variables: list, start, *, complete_full: bool) -> bool:
    """Pass a full (checked) or partial (completed by SCIP) start; True if SCIP took it.

    With ``complete_full`` a full start is passed as a partial solution too: indicator
    constraints add slack variables of their own, which a start of the problem's columns
    does not set, so SCIP must complete them.
    """
    known = np.flatnonzero(~np.isnan(start))  # bnnmip.solve passes no empty, misshapen start
    objconst = [v for v in model.getVars() if v.name == OBJCONST]
    if known.size == problem.n_cols and not complete_full:
        sol = model.createSol()
        for j, val in enumerate(start.tolist()):
            model.setSolVal(sol, variables[j], val)
        for v in objconst:
            model.setSolVal(sol, v, 1.0)
        if not model.checkSol(sol, original=True):
            model.freeSol(sol)
            return False
        return bool(model.addSol(sol))
    # partial: SCIP's completesol heuristic fills the unknowns; keep it even when most
    # values are unknown (its default drops starts with more than 85% unknowns)
    model.setParam("heuristics/completesol/maxunknownrate", 1.0)
    sol = model.createPartialSol()
    values = start[known].tolist()
    for j, val in zip(known.tolist(), values, strict=True):
        model.setSolVal(sol, variables[j], val)
    for v in objconst:
        model.setSolVal(sol, v, 1.0)
    return bool(model.addSol(sol))
