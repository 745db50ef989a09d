"""A backend for a pure-integer solver: it takes only problems whose every column is integral.

It stands for a solver such as CP-SAT, which has integer variables only: ``supports``
accepts a :class:`bnnmip.MilpProblem` whose every column is integer or implied integral
(``problem.is_pure_integer``) and refuses the rest with the reason, before anything is built.
What it accepts it solves with HiGHS, declaring every column integer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, captured_output
from bnnmip.backends.helpers import distribution_version, module_availability, solver_settings, status_table
from bnnmip.milp import MilpProblem

# SolveOptions settings -> HiGHS option names (no node limit: not declared)
_SETTINGS = {"time_limit": "time_limit", "mip_gap": "mip_rel_gap", "threads": "threads",
             "seed": "random_seed", "integrality_tolerance": "mip_feasibility_tolerance",
             "feasibility_tolerance": "primal_feasibility_tolerance"}

# HighsModelStatus name -> (status with a solution, status without one)
_STATUS = status_table(
    solved=["kOptimal"], infeasible=["kInfeasible", "kUnboundedOrInfeasible"],
    limit=["kTimeLimit", "kIterationLimit", "kSolutionLimit", "kInterrupt", "kMemoryLimit"],
    failed=["kUnbounded", "kNotset", "kLoadError", "kModelError", "kSolveError", "kPresolveError",
            "kPostsolveError"],
    kUnknown=(SolveStatus.FEASIBLE, SolveStatus.ERROR), kModelEmpty=(SolveStatus.OPTIMAL,) * 2,
)


@dataclass
class _Model:
    highs: object
    start_used: bool | None


class PureIntegerBackend:
    """Integer variables only: refuses continuous columns, solves the rest as an integer program."""

    name = "pure-integer"
    description = "integer programs only (HiGHS, every column integer): refuses continuous columns"
    features = frozenset({BackendFeature.MIP_START, BackendFeature.LOG_FILE, BackendFeature.THREADS,
                          BackendFeature.SEED})
    status_table = _STATUS

    def availability(self) -> tuple[bool, str]:
        """Usable if highspy is importable (checked without importing it)."""
        return module_availability("highspy")

    def solver_version(self) -> str:
        """Return the HiGHS version, from the highspy distribution's metadata."""
        return distribution_version("highspy")

    def supports(self, problem: MilpProblem, options: SolveOptions) -> tuple[bool, str]:
        """Accept a problem without continuous columns: ``(True, "")``, else ``(False, reason)``.

        A column counts as integer if it is declared so or implied integral
        (``problem.implied_integrality``); the reason names the column blocks that are neither.
        """
        if problem.is_pure_integer:
            return True, ""
        free = np.flatnonzero(~problem.implied_integrality)
        blocks = sorted(name for name, cols in problem.columns.items()
                        if np.any((free >= cols.start) & (free < cols.stop)))
        return False, (f"{free.size} continuous column(s) not implied integral "
                       f"({', '.join(blocks) or 'unnamed'}); this solver takes integer variables only "
                       "(train with integer weights and no biases: --weights integer:P --no-bias)")

    def build(self, problem: MilpProblem, options: SolveOptions) -> _Model:
        """Build a ``highspy.Highs`` holding the problem, every column integer, options and start set."""
        import highspy  # lazy: the solver is imported only when a solve needs it

        if options.verbose:
            h = highspy.Highs()
        else:
            with captured_output(1):  # HiGHS prints a banner when constructed
                h = highspy.Highs()
        h.setOptionValue("output_flag", bool(options.verbose or options.log_file))
        h.setOptionValue("log_to_console", bool(options.verbose))
        if options.log_file is not None:
            h.setOptionValue("log_file", str(options.log_file))
        if h.passModel(_integer_lp(highspy, problem)) == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS refused the model (passModel)")
        for name, value in solver_settings(options, _SETTINGS).items():
            h.setOptionValue(name, value)
        start_used = None
        if options.mip_start is not None:
            # every declared-integer column is known; implied-integral ones may be NaN: HiGHS
            # completes a partial assignment with a sub-MIP
            known = np.flatnonzero(~np.isnan(options.mip_start))
            start_used = h.setSolution(int(known.size), known.astype(np.int32),
                                       options.mip_start[known]) != highspy.HighsStatus.kError
        return _Model(h, start_used)

    def run(self, model: _Model, options: SolveOptions) -> None:
        """Solve in place."""
        model.highs.run()

    def extract(self, model: _Model, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """HiGHS's model status, solution, bound and node count."""
        import highspy  # lazy: the solver is imported only when a solve needs it

        h = model.highs
        status = highspy.HighsModelStatus(h.getModelStatus()).name
        info = h.getInfo()
        found = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        return NativeResult(
            status=status, has_solution=found,
            x=np.asarray(h.getSolution().col_value, dtype=float) if found else None,
            objective=float(info.objective_function_value) if found else None,
            bound=float(info.mip_dual_bound), nodes=int(info.mip_node_count),
            message=f"HiGHS (every column integer) model status {status}", mip_start_used=model.start_used,
        )


def _integer_lp(highspy, problem: MilpProblem):
    """Return the problem as a column-wise ``highspy.HighsLp``, every column integer."""
    A = problem.A.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_, lp.offset_ = problem.n_cols, problem.n_rows, float(problem.offset)
    lp.col_cost_ = np.asarray(problem.c, dtype=np.float64)
    lp.col_lower_ = np.asarray(problem.col_lower, dtype=np.float64)
    lp.col_upper_ = np.asarray(problem.col_upper, dtype=np.float64)
    lp.row_lower_ = np.asarray(problem.row_lower, dtype=np.float64)
    lp.row_upper_ = np.asarray(problem.row_upper, dtype=np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(np.float64)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = problem.n_cols, problem.n_rows
    lp.integrality_ = [highspy.HighsVarType.kInteger] * problem.n_cols
    return lp
