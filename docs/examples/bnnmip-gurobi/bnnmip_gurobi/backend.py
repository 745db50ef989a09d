"""Gurobi through gurobipy's matrix API: build from the CSR arrays, run, extract.

``extract`` reports Gurobi's own status name; bnnmip maps it through
:attr:`GurobiBackend.status_table` and applies the bound and gap rules. ``supports`` refuses,
before anything is built, a model too large for the size-limited licence. Whether a MIP
start was used is read from Gurobi's own log lines (see ``_START_ACCEPTED``), which the
backend receives through a ``MESSAGE`` callback when a start is given, whether or not the
log is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from bnnmip.backends import BackendFeature, NativeResult, SolveOptions
from bnnmip.backends.helpers import (
    checked_options,
    distribution_version,
    module_availability,
    one_sided_rows,
    solver_settings,
    status_table,
)
from bnnmip.milp import MilpProblem

__all__ = ["DEFAULT_INTEGRALITY_TOLERANCE", "LICENCE_MESSAGE", "GurobiBackend"]

#: What a size-limited licence error (Gurobi error 10010) becomes.
LICENCE_MESSAGE = (
    "model too large for the size-limited Gurobi licence (2,000 variables/constraints): "
    "install a full licence or use a smaller instance"
)
_SIZE_LIMITED_ERRNO = 10010

#: ``IntFeasTol`` when ``SolveOptions.integrality_tolerance`` is None (Gurobi's tightest).
#: Gurobi's own default, 1e-5, is the size of bnnmip's activation margin ``eps``: a binary
#: left at 1e-5 times a big-M of 3 to 5 then satisfies a margin row it should not, and Gurobi
#: "fits" XOR without a hidden layer with a loss of 1.6e-5 instead of 2 (a network that the
#: forward pass does not confirm). At 1e-9 a binary is a binary.
DEFAULT_INTEGRALITY_TOLERANCE = 1e-9

# GRB.Status name -> (status with a solution, status without one). Names, not numbers, so
# the table reads like Gurobi's documentation. Any status not listed (LOADED, CUTOFF,
# NUMERIC, SUBOPTIMAL, INPROGRESS, USER_OBJ_LIMIT, UNBOUNDED, ...) is an ERROR: bnnmip never
# sets a cutoff or objective limit, and its models have bounded columns.
_STATUS = status_table(
    solved=["OPTIMAL"], infeasible=["INFEASIBLE", "INF_OR_UNBD"],
    limit=["TIME_LIMIT", "NODE_LIMIT", "SOLUTION_LIMIT", "INTERRUPTED", "ITERATION_LIMIT",
           "WORK_LIMIT", "MEM_LIMIT"],
)

# SolveOptions settings -> Gurobi parameters (IntFeasTol: see DEFAULT_INTEGRALITY_TOLERANCE)
_SETTINGS = {
    "time_limit": "TimeLimit", "mip_gap": "MIPGap", "node_limit": ("NodeLimit", float),
    "threads": "Threads", "seed": ("Seed", lambda seed: int(seed) % 2_000_000_001),  # [0, 2e9]
    "feasibility_tolerance": "FeasibilityTol",
}

# Log lines by which Gurobi says it turned the user's MIP start into a feasible solution:
# "Loaded user MIP start with objective ..." (a full start checked feasible before presolve)
# and "User MIP start produced solution with objective ..." (a start, full or partial,
# completed and accepted during the search).
_START_ACCEPTED = ("Loaded user MIP start with objective", "User MIP start produced solution")


@dataclass
class _Native:
    model: object
    env: object
    x: object
    start_given: bool
    log: list[str] = field(default_factory=list)


class GurobiBackend:
    """MILP backend running Gurobi in process (the solver of Kurtz & Bah, 2021)."""

    name = "gurobi"
    description = "Gurobi through gurobipy's matrix API, in process (pip: size-limited licence)"
    features = frozenset({
        BackendFeature.MIP_START, BackendFeature.PARTIAL_MIP_START, BackendFeature.LOG_FILE,
        BackendFeature.THREADS, BackendFeature.SEED, BackendFeature.SOLVER_OPTIONS,
        BackendFeature.NODE_LIMIT,
    })
    status_table = _STATUS
    size_limits = (2000, 2000)
    """``(max_columns, max_rows)`` of the size-limited licence that ships with the pip wheel."""

    def supports(self, problem: MilpProblem, options: SolveOptions) -> tuple[bool, str]:
        """Whether the model fits :attr:`size_limits` (a ranged row counts twice), if limited."""
        if self.size_limits is None or not _size_limited_licence():
            return True, ""
        rows = sum(r.size for r in one_sided_rows(problem))  # a ranged row counts twice
        if problem.n_cols > self.size_limits[0] or rows > self.size_limits[1]:
            return False, (f"{problem.n_cols:,} columns and {rows:,} rows; {LICENCE_MESSAGE} "
                           f"({self.size_limits[0]:,} columns, {self.size_limits[1]:,} rows)")
        return True, ""

    def availability(self) -> tuple[bool, str]:
        """Usable if gurobipy is importable (checked without importing it)."""
        return module_availability("gurobipy")

    def solver_version(self) -> str:
        """Gurobi version, read from the gurobipy distribution's metadata."""
        return distribution_version("gurobipy")

    # -- solver options --------------------------------------------------------------------
    def check_solver_options(self, options: dict) -> dict:
        """``options`` (Gurobi parameter names, e.g. ``MIPFocus``) typed and checked.

        Each is set on a scratch model; Gurobi's own complaint (a value out of range) becomes
        the message of the :class:`bnnmip.InvalidInputError`.
        """
        import gurobipy as gp

        env = gp.Env(empty=True)
        env.setParam("OutputFlag", 0)
        env.start()
        model = gp.Model(env=env)

        def kind_of(name):
            info = model.getParamInfo(name)
            return None if info is None else info[1] if info[1] in (int, float) else str

        def trial(name, value):
            try:
                model.setParam(name, value)
            except gp.GurobiError as exc:
                return str(exc)
            return None

        try:
            return checked_options("Gurobi", options, kind_of=kind_of, trial=trial, reference=(
                "https://docs.gurobi.com/projects/optimizer/en/current/reference/parameters.html"))
        finally:
            model.dispose()
            env.dispose()

    # -- build -----------------------------------------------------------------------------
    def build(self, problem: MilpProblem, options: SolveOptions) -> _Native:
        """Build a ``gurobipy.Model`` from the arrays; set the parameters and the MIP start."""
        import gurobipy as gp
        from gurobipy import GRB

        start = options.mip_start  # bnnmip.solve passes no empty start
        try:
            env = gp.Env(empty=True)
            env.setParam("OutputFlag", 0)  # no licence banner on the terminal
            env.start()
            model = gp.Model(problem.name, env=env)
            self._set_params(model, options, listen=start is not None)
            inf = GRB.INFINITY
            x = model.addMVar(
                problem.n_cols,
                lb=np.clip(problem.col_lower, -inf, inf),  # numpy infinities as GRB.INFINITY
                ub=np.clip(problem.col_upper, -inf, inf),
                vtype=np.where(problem.integrality, GRB.INTEGER, GRB.CONTINUOUS),
            )
            self._add_rows(model, x, problem)
            model.setMObjective(
                None,
                np.asarray(problem.c, dtype=float),
                float(problem.offset),
                xc=x,
                sense=GRB.MINIMIZE,
            )
            if start is not None:  # unknown entries stay GRB.UNDEFINED: Gurobi completes them
                x.Start = np.where(np.isnan(start), GRB.UNDEFINED, start)
            model.update()
        except gp.GurobiError as exc:
            raise _translate(exc) from exc
        return _Native(model, env, x, start is not None)

    @staticmethod
    def _set_params(model, options: SolveOptions, *, listen: bool) -> None:
        """Gurobi parameters from the options.

        Gurobi's log is on when it is shown (``verbose``), written (``log_file``) or needed to
        tell whether a MIP start was accepted (``listen``): it then also reaches the MESSAGE
        callback, and gurobipy passes it to the Python logger ``gurobipy`` at INFO level.
        """
        p = model.Params
        p.LogToConsole = int(bool(options.verbose))
        if options.log_file is not None:
            p.LogFile = str(options.log_file)
        p.OutputFlag = int(bool(options.verbose or options.log_file is not None or listen))
        # Not Gurobi's default (1e-5) when unset: see DEFAULT_INTEGRALITY_TOLERANCE.
        tol = options.integrality_tolerance
        p.IntFeasTol = float(DEFAULT_INTEGRALITY_TOLERANCE if tol is None else tol)
        for name, value in solver_settings(options, _SETTINGS).items():  # the user's last: they win
            model.setParam(name, value)

    @staticmethod
    def _add_rows(model, x, problem: MilpProblem) -> None:
        """``row_lower <= A x <= row_upper`` as ``=``, ``<=``, ``>=`` rows (free rows dropped)."""
        from gurobipy import GRB

        A, lo, up = problem.A.tocsr(), problem.row_lower, problem.row_upper
        senses = (GRB.EQUAL, GRB.LESS_EQUAL, GRB.GREATER_EQUAL)
        for rows, sense, rhs in zip(one_sided_rows(problem), senses, (lo, up, lo), strict=True):
            if rows.size:
                model.addMConstr(A[rows], x, sense, np.asarray(rhs, dtype=float)[rows])

    # -- run -------------------------------------------------------------------------------
    def run(self, model: _Native, options: SolveOptions) -> None:
        """Solve in place; with a MIP start, collect the log lines that say what became of it."""
        import gurobipy as gp
        from gurobipy import GRB

        log = model.log

        def on_message(native, where):
            if where == GRB.Callback.MESSAGE:
                log.append(native.cbGet(GRB.Callback.MSG_STRING))

        try:
            model.model.optimize(on_message if model.start_given else None)
        except gp.GurobiError as exc:
            raise _translate(exc) from exc

    # -- extract ---------------------------------------------------------------------------
    def extract(self, model: _Native, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """Gurobi's status, best solution and attributes."""
        from gurobipy import GRB

        m = model.model
        code, n_solutions = int(m.Status), int(m.SolCount)
        status_name = next((k for k in dir(GRB.Status)
                            if k.isupper() and getattr(GRB.Status, k) == code), f"UNKNOWN_{code}")
        start_used = None
        if model.start_given:
            start_used = any(line.strip().startswith(_START_ACCEPTED)  # a chunk: several lines
                             for chunk in model.log for line in chunk.splitlines())
        result = NativeResult(
            status=status_name,
            has_solution=n_solutions > 0,
            x=np.asarray(model.x.X, dtype=float).reshape(problem.n_cols) if n_solutions else None,
            objective=float(m.ObjVal) if n_solutions else None,
            bound=_attr(m, "ObjBound"),
            nodes=_attr(m, "NodeCount"),
            message=f"Gurobi status {status_name} ({code}), {n_solutions} solution(s)",
            mip_start_used=start_used,
        )
        m.dispose()
        model.env.dispose()
        return result


_LIMITED: list[bool] = []


def _size_limited_licence() -> bool:
    """Whether this machine's licence is the size-limited one (probed once per process)."""
    if not _LIMITED:
        import gurobipy as gp

        env = gp.Env(empty=True)
        env.setParam("OutputFlag", 0)
        env.start()
        model = gp.Model(env=env)
        model.addMVar(2001)
        try:
            model.optimize()
            _LIMITED.append(False)
        except gp.GurobiError as exc:
            _LIMITED.append(getattr(exc, "errno", None) == _SIZE_LIMITED_ERRNO)
        finally:
            model.dispose()
            env.dispose()
    return _LIMITED[0]


def _attr(model, name: str) -> float | None:
    """Read a model attribute; None where Gurobi has none (ObjBound of an LP, say)."""
    import gurobipy as gp

    try:
        value = float(getattr(model, name))
    except (gp.GurobiError, AttributeError):
        return None
    return value if np.isfinite(value) and abs(value) < 1e100 else None


def _translate(exc) -> Exception:
    """Turn the size-limited licence error into a clear one; pass other errors through."""
    if getattr(exc, "errno", None) == _SIZE_LIMITED_ERRNO:
        return RuntimeError(f"{LICENCE_MESSAGE} [Gurobi error {exc.errno}: {exc}]")
    return exc
