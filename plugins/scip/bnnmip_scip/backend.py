"""SCIP through PySCIPOpt: the MILP read from an MPS file, solved in process, SCIP's status read back.

The arrays go to SCIP through :func:`bnnmip.milp.io.temporary_mps` (faster than adding rows
through PySCIPOpt: 0.146 s against 0.233 s at 50,000 nonzeros, ``docs/benchmarks/backends.md``).
``ScipBackend(indicators=True)``, registered as ``scip-indicator``, imposes the big-M rows as
SCIP indicator constraints (:func:`bnnmip.milp.indicators.indicator_rows`); the big-M model
was much faster on the harder instances tried (random teachers on 30-40 points: 14 s against
51 s with two hidden layers, 18 s against no proof in 60 s with three classes), so it is ``scip``.

SCIP's model has variables the problem has not: the MPS file's ``OBJCONST`` column (fixed to 1)
and one slack ``s >= 0`` per indicator constraint (SCIP keeps ``a x - s <= rhs``, a lower side
negated by PySCIPOpt, and forces ``s = 0`` while the indicator is active). A solution handed to
SCIP sets them: ``OBJCONST`` to 1, each slack to its side's violation (0 on an active row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, captured_output, policy
from bnnmip.backends.helpers import (
    checked_options,
    distribution_version,
    module_availability,
    solver_settings,
    start_entries,
    status_table,
)
from bnnmip.milp import MilpProblem
from bnnmip.milp.indicators import indicator_rows, without_rows
from bnnmip.milp.io import OBJCONST, in_column_order, temporary_mps

OWNED_OPTIONS = {  # SCIP parameters that change what is solved or that bnnmip sets: refused
    "limits/time": policy.TIME_LIMIT, "limits/gap": policy.GAP,
    "randomization/randomseedshift": policy.SEED, "numerics/feastol": policy.TOLERANCE,
    "limits/objectivestop": policy.CUTOFF, "limits/primal": policy.CUTOFF,
}

# SCIP status string (Model.getStatus) -> (status with a solution, status without one)
_STATUS = status_table(
    solved=["optimal"], infeasible=["infeasible", "inforunbd"], failed=["unbounded"],
    limit=["timelimit", "nodelimit", "totalnodelimit", "stallnodelimit", "memlimit", "sollimit",
           "bestsollimit", "restartlimit", "primallimit", "duallimit", "userinterrupt", "terminate"],
    gaplimit=(SolveStatus.OPTIMAL, SolveStatus.NO_SOLUTION),  # proved within limits/gap
    unknown=(SolveStatus.FEASIBLE, SolveStatus.ERROR),
)

# SolveOptions settings -> SCIP parameters (the tolerances: see build)
_SETTINGS = {"time_limit": "limits/time", "mip_gap": "limits/gap", "node_limit": "limits/nodes",
             "seed": ("randomization/randomseedshift", lambda seed: int(seed) % (2**31 - 1))}


@dataclass
class _Native:
    model: Any
    vars: list  # one pyscipopt Variable per column, in column order
    objconst: list  # the OBJCONST variable
    indicators: list  # the indicator constraints (scip-indicator)
    slacks: Any = None  # y -> [(slack variable, value)], the nonzero slacks of columns y
    start_used: bool | None = None
    heuristic: Any = None


class ScipBackend:
    """MILP backend running SCIP in process (``indicators``: big-M rows as indicator constraints)."""

    status_table = _STATUS
    _version: str | None = None

    def __init__(self, *, indicators: bool = False) -> None:
        self.indicators = bool(indicators)
        self.name = "scip-indicator" if self.indicators else "scip"
        self.description = "SCIP (Apache-2.0) through PySCIPOpt, in process" + (
            ", big-M activation rows as indicator constraints" if self.indicators else "")
        self.features = frozenset({
            BackendFeature.MIP_START, BackendFeature.PARTIAL_MIP_START, BackendFeature.LOG_FILE,
            BackendFeature.SEED, BackendFeature.CALLBACKS, BackendFeature.SOLVER_OPTIONS,
            BackendFeature.NODE_LIMIT, BackendFeature.INTERRUPT,
            *([BackendFeature.INDICATOR_CONSTRAINTS] if indicators else []),
        })

    def __repr__(self) -> str:
        return f"ScipBackend(indicators={self.indicators})"

    def availability(self) -> tuple[bool, str]:
        """Usable if pyscipopt is importable (checked without importing it)."""
        return module_availability("pyscipopt")

    def solver_version(self) -> str:
        """PySCIPOpt's version from its metadata, with the SCIP library's version."""
        if ScipBackend._version is None:
            wrapper = distribution_version("pyscipopt")
            if wrapper == "not installed":
                return wrapper
            text = f"pyscipopt {wrapper}"
            try:  # the wrapper's version alone is still informative
                import pyscipopt

                m = pyscipopt.Model()
                text += f" (SCIP {m.getMajorVersion()}.{m.getMinorVersion()}.{m.getTechVersion()})"
            except Exception:
                pass
            ScipBackend._version = text
        return ScipBackend._version

    def check_solver_options(self, options: dict) -> dict:
        """``options`` (SCIP parameter names, e.g. ``separating/maxrounds``), checked on a scratch model."""
        import pyscipopt

        model = pyscipopt.Model()
        model.hideOutput()

        def kind_of(name):
            try:
                current = model.getParam(name)
            except KeyError:
                return None
            return type(current) if isinstance(current, bool | int | float) else str

        def trial(name, value):
            with captured_output(2) as said:
                try:
                    model.setParam(name, value)
                    return None
                except Exception as exc:
                    failure = exc
            return " ".join(line.split("ERROR:", 1)[-1].strip() for line in said().splitlines()
                            if "Invalid value" in line) or str(failure)

        return checked_options("SCIP", options, owned=OWNED_OPTIONS, kind_of=kind_of, trial=trial,
                               reference="https://www.scipopt.org/doc/html/PARAMETERS.php")

    def build(self, problem: MilpProblem, options: SolveOptions) -> _Native:
        """A ``pyscipopt.Model`` holding the model, parameters set and MIP start passed."""
        import pyscipopt

        model = pyscipopt.Model()
        model.hideOutput(not options.verbose)
        if options.log_file is not None:
            model.setLogfile(str(options.log_file))
        ind = indicator_rows(problem) if self.indicators else None
        with temporary_mps(problem if ind is None else without_rows(problem, ind.rows)) as path:
            model.readProblem(path)
        native = _Native(model, in_column_order(model.getVars(), problem.n_cols, lambda v: v.name),
                         [v for v in model.getVars() if v.name == OBJCONST], [])
        if ind is not None:
            native.slacks = _add_indicators(model, ind, native, pyscipopt)
        # SCIP has one tolerance for rows, bounds and integrality: the tighter request wins.
        tols = [t for t in (options.feasibility_tolerance, options.integrality_tolerance) if t]
        if tols:
            model.setParam("numerics/feastol", float(min(tols)))
        for name, value in solver_settings(options, _SETTINGS).items():  # the user's options last: they win
            model.setParam(name, value)
        if options.heuristic is not None or options.incumbent_source is not None:
            native.heuristic = _include_heuristic(native, options.heuristic, pyscipopt,
                                                  options.incumbent_source)
        if options.progress is not None or options.interrupt is not None:
            _include_events(model, options.progress, options.interrupt, pyscipopt)
        if options.mip_start is not None:
            native.start_used = _set_start(native, options.mip_start)
        return native

    def run(self, model: _Native, options: SolveOptions) -> None:
        """Solve in place (and close the log file)."""
        try:  # without holding Python's lock, so progress displays keep redrawing meanwhile
            getattr(model.model, "optimizeNogil", model.model.optimize)()
        finally:
            if options.log_file is not None:
                model.model.setLogfile(None)

    def extract(self, model: _Native, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """SCIP's status, best solution and statistics."""
        m = model.model
        status_name = m.getStatus()
        x = objective = None
        if m.getNSols() > 0:
            x, objective = _values(m, m.getBestSol(), model.vars), float(m.getSolObjVal(m.getBestSol()))
        bound = float(m.getDualbound())
        notes = [f"{len(model.indicators)} indicator constraints"] if model.indicators else []
        notes += [model.heuristic.summary()] if model.heuristic is not None else []
        return NativeResult(
            status=status_name, has_solution=x is not None, x=x, objective=objective,
            bound=None if abs(bound) >= m.infinity() else bound, nodes=int(m.getNTotalNodes()),
            message="; ".join([f"SCIP status {status_name}", *notes]), mip_start_used=model.start_used,
        )


def _values(m, sol, variables) -> np.ndarray:
    return np.fromiter((m.getSolVal(sol, v) for v in variables), dtype=float, count=len(variables))


def _add_indicators(model, ind, native: _Native, pyscipopt):
    """One indicator constraint per finite side of each row of ``ind``; ``y -> nonzero slacks``."""
    from pyscipopt.scip import Term

    terms = [Term(v) for v in native.vars]
    M, sides = ind.matrix, []
    for k in range(len(ind)):
        i, b, v = int(ind.rows[k]), int(ind.binary[k]), int(ind.active[k])
        span = slice(M.indptr[k], M.indptr[k + 1])
        coeffs = dict(zip([terms[j] for j in M.indices[span]], M.data[span].tolist(), strict=True))
        for upper, bound in ((True, float(ind.upper[k])), (False, float(ind.lower[k]))):
            if np.isinf(bound):
                continue
            row = pyscipopt.scip.ExprCons(pyscipopt.Expr(dict(coeffs)), None if upper else bound,
                                          bound if upper else None)
            native.indicators.append(model.addConsIndicator(
                row, binvar=native.vars[b], activeone=bool(v), name=f"I{i:07d}{'u' if upper else 'l'}"))
            sides.append((k, upper))
    slack_vars = [model.getSlackVarIndicator(c) for c in native.indicators]
    row_of = np.array([k for k, _ in sides], dtype=np.int64)
    upper = np.array([u for _, u in sides], dtype=bool)

    def slacks(y: np.ndarray) -> list:
        low, up = ind.violations(y)
        slack = np.where(upper, up[row_of], low[row_of])
        return [(slack_vars[n], float(slack[n])) for n in np.flatnonzero(slack).tolist()]

    return slacks


def _set_start(native: _Native, start) -> bool:
    """Pass a full (checked) or partial (completed by SCIP) start; True if SCIP took it.

    On ``scip-indicator`` a full start is passed as a partial one: SCIP completes the
    indicator constraints' slack variables, which a start of the problem's columns does not set.
    """
    model, variables = native.model, native.vars
    known, values, full = start_entries(start)
    full = full and native.slacks is None
    if full:
        sol = model.createSol()
    else:  # SCIP's completesol fills the unknowns; keep the start even with most values unknown
        model.setParam("heuristics/completesol/maxunknownrate", 1.0)  # (its default drops > 85 %)
        sol = model.createPartialSol()
    for j, val in zip(known.tolist(), values.tolist(), strict=True):
        model.setSolVal(sol, variables[j], val)
    for v in native.objconst:
        model.setSolVal(sol, v, 1.0)
    if full and not model.checkSol(sol, original=True):
        model.freeSol(sol)
        return False
    return bool(model.addSol(sol))


def _include_heuristic(native: _Native, heuristic, pyscipopt, source=None):
    """``options.heuristic`` and ``incumbent_source`` as a SCIP primal heuristic plugin, run after every node.

    The source (a guard: never raises) is asked first; without a solution from it, the
    heuristic runs when the incumbent improved since its last run: the incumbent goes to the
    heuristic (a guard too), its answer, if any, to ``trySol`` (SCIP checks it).
    """
    result = pyscipopt.SCIP_RESULT

    class _Heuristic(pyscipopt.Heur):
        seen, accepted, error = None, 0, ""

        def heurexec(self, heurtiming, nodeinfeasible):
            m = self.model
            y = source() if source is not None and not self.error else None
            if y is None:
                best = m.getBestSol() if heuristic is not None and not self.error and m.getNSols() else None
                if best is None or (self.seen is not None and m.getSolObjVal(best) >= self.seen):
                    return {"result": result.DIDNOTRUN}
                self.seen = m.getSolObjVal(best)
                y = heuristic(_values(m, best, native.vars))
            if y is None:
                return {"result": result.DIDNOTFIND}
            try:
                sol = m.createOrigSol(self)  # every value starts at 0
                extra = [(v, 1.0) for v in native.objconst] + (native.slacks(y) if native.slacks else [])
                for v, val in [*zip(native.vars, y.tolist(), strict=True), *extra]:
                    m.setSolVal(sol, v, val)
                found = m.trySol(sol, printreason=False)
                self.accepted += bool(found)
            except Exception as exc:  # e.g. a solution SCIP cannot take: report, carry on
                self.error = f"handing the solution to SCIP failed: {type(exc).__name__}: {exc}"
                return {"result": result.DIDNOTFIND}
            return {"result": result.FOUNDSOL if found else result.DIDNOTFIND}

        def summary(self) -> str:
            return f"{self.accepted} heuristic solution(s) accepted by SCIP" + (
                f"; {self.error}" if self.error else "")

    heur, timing = _Heuristic(), pyscipopt.SCIP_HEURTIMING
    native.model.includeHeur(heur, "bnnmip", "bnnmip incumbent improvement (options.heuristic)", "Y",
                             timingmask=timing.AFTERLPNODE | timing.AFTERPSEUDONODE, freq=1)
    return heur


def _include_events(model, progress, interrupt, pyscipopt) -> None:
    """``options.progress`` and ``options.interrupt`` as a SCIP event handler: new incumbents, solved nodes and LPs.

    ``interrupt`` saying ``True`` calls ``interruptSolve`` (status ``userinterrupt``).
    """
    kinds = pyscipopt.SCIP_EVENTTYPE
    mask = kinds.BESTSOLFOUND | kinds.NODESOLVED | kinds.LPSOLVED

    class _Events(pyscipopt.Eventhdlr):
        def eventinit(self):
            self.model.catchEvent(mask, self)

        def eventexit(self):
            self.model.dropEvent(mask, self)

        def eventexec(self, event):
            m = self.model
            if progress is not None:
                progress(objective=m.getPrimalbound() if m.getNSols() else None,
                         bound=m.getDualbound(), nodes=m.getNTotalNodes())
            if interrupt is not None and interrupt():
                m.interruptSolve()

    model.includeEventhdlr(_Events(), "bnnmip_progress", "reports the search's progress to bnnmip")
