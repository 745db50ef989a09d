"""HiGHS through highspy: build from the CSR arrays, run, extract HiGHS' own status and numbers.

bnnmip's core maps the status through :attr:`HighsBackend.status_table`, applies the
bound and gap rules, guards the heuristic and checks the solver options once
(:func:`bnnmip.solve`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass

import numpy as np

from bnnmip.backends import (
    BackendFeature,
    NativeResult,
    SolveOptions,
    SolveStatus,
    captured_output,
    option_value,
    policy,
)
from bnnmip.backends.policy import owned_option_problem
from bnnmip.errors import InvalidInputError
from bnnmip.milp import MilpProblem

OWNED_OPTIONS = {  # HiGHS options that change what is solved or that bnnmip sets: refused
    "time_limit": policy.TIME_LIMIT, "mip_rel_gap": policy.GAP, "threads": policy.THREADS,
    "random_seed": policy.SEED, "mip_feasibility_tolerance": policy.TOLERANCE,
    "primal_feasibility_tolerance": policy.TOLERANCE, "objective_bound": policy.CUTOFF,
}

# HighsModelStatus name -> (status with a solution, status without one)
_STATUS = {
    "kOptimal": (SolveStatus.OPTIMAL, SolveStatus.ERROR),
    "kInfeasible": (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE),
    "kUnboundedOrInfeasible": (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE),
    "kUnbounded": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kTimeLimit": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kIterationLimit": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kSolutionLimit": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kInterrupt": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kHighsInterrupt": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kObjectiveBound": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kObjectiveTarget": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kMemoryLimit": (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION),
    "kUnknown": (SolveStatus.FEASIBLE, SolveStatus.ERROR),
    "kNotset": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kLoadError": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kModelError": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kPresolveError": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kSolveError": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kPostsolveError": (SolveStatus.ERROR, SolveStatus.ERROR),
    "kModelEmpty": (SolveStatus.OPTIMAL, SolveStatus.OPTIMAL),
}


@dataclass
class _Native:
    highs: object
    start_used: bool | None
    heuristic: object = None


class HighsBackend:
    """MILP backend running HiGHS in process."""

    name = "highs"
    description = "HiGHS (MIT) through highspy, in process"
    features = frozenset({
        BackendFeature.MIP_START, BackendFeature.PARTIAL_MIP_START, BackendFeature.LOG_FILE,
        BackendFeature.THREADS, BackendFeature.SEED, BackendFeature.CALLBACKS,
        BackendFeature.SOLVER_OPTIONS, BackendFeature.NODE_LIMIT,
    })
    status_table = _STATUS

    def availability(self) -> tuple[bool, str]:
        """Usable if highspy is importable (checked without importing it)."""
        if importlib.util.find_spec("highspy") is None:
            return False, "highspy is not installed (pip install highspy)"
        return True, ""

    def solver_version(self) -> str:
        """HiGHS version, read from the highspy distribution's metadata."""
        try:
            return importlib.metadata.version("highspy")
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    # -- solver options --------------------------------------------------------------------
    def check_solver_options(self, options: dict) -> dict:
        """``options`` (HiGHS option names, e.g. ``mip_heuristic_effort``) typed and checked.

        Each is set on a scratch ``Highs`` object; HiGHS's own complaint (an unknown name, a
        value out of range) becomes the message of the :class:`bnnmip.InvalidInputError`.
        """
        return dict(self._checked(tuple(options.items())))

    def _checked(self, items: tuple) -> tuple:
        """The work of :meth:`check_solver_options`."""
        options = dict(items)

        import highspy

        kinds = {highspy.HighsOptionType.kBool: bool, highspy.HighsOptionType.kInt: int,
                 highspy.HighsOptionType.kDouble: float, highspy.HighsOptionType.kString: str}
        h = _new_highs(quiet=True)
        h.setOptionValue("output_flag", False)
        out, problems = {}, []
        for name, value in options.items():
            owned = owned_option_problem("HiGHS", name, OWNED_OPTIONS)
            if owned:
                problems.append(owned)
                continue
            with captured_output(1):  # HiGHS reports an unknown name on stdout in any case
                status, kind = h.getOptionType(name)
            if status != highspy.HighsStatus.kOk or kind not in kinds:
                problems.append(f"HiGHS has no option {name!r} (HiGHS's options: "
                                "https://ergo-code.github.io/HiGHS/stable/options/definitions/)")
                continue
            try:
                typed = option_value("HiGHS", name, value, kinds[kind])
            except InvalidInputError as exc:
                problems.append(str(exc))
                continue
            with captured_output(1) as said:
                h.setOptionValue("output_flag", True)
                h.setOptionValue("log_to_console", True)
                status = h.setOptionValue(name, typed)
                h.setOptionValue("output_flag", False)
            if status != highspy.HighsStatus.kOk:
                why = " ".join(line.split("ERROR:", 1)[-1].strip() for line in said().splitlines()
                               if "ERROR" in line)
                problems.append(f"HiGHS refuses {name}={value!r}" + (f": {why}" if why else ""))
            else:
                out[name] = typed
        if problems:
            raise InvalidInputError("; ".join(problems))
        return tuple(out.items())

    # -- build -----------------------------------------------------------------------------
    def build(self, problem: MilpProblem, options: SolveOptions):
        """A ``highspy.Highs`` holding the model, options set and MIP start passed."""
        import highspy

        h = _new_highs(quiet=not options.verbose)
        h.setOptionValue("output_flag", bool(options.verbose or options.log_file))
        h.setOptionValue("log_to_console", bool(options.verbose))
        if options.log_file is not None:
            h.setOptionValue("log_file", str(options.log_file))
        lp = highspy.HighsLp()
        lp.num_col_ = problem.n_cols
        lp.num_row_ = problem.n_rows
        lp.col_cost_ = np.asarray(problem.c, dtype=np.float64)
        lp.col_lower_ = np.asarray(problem.col_lower, dtype=np.float64)
        lp.col_upper_ = np.asarray(problem.col_upper, dtype=np.float64)
        lp.row_lower_ = np.asarray(problem.row_lower, dtype=np.float64)
        lp.row_upper_ = np.asarray(problem.row_upper, dtype=np.float64)
        lp.offset_ = float(problem.offset)
        A = problem.A.tocsc()
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(np.float64)
        lp.a_matrix_.num_col_ = problem.n_cols
        lp.a_matrix_.num_row_ = problem.n_rows
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in problem.integrality
        ]
        _check(h.passModel(lp), "passModel")
        self._set_options(h, options)
        for name, value in (options.checked_solver_options or {}).items():  # typed by bnnmip.solve
            _check(h.setOptionValue(name, value), f"setOptionValue({name!r})")  # last: the user's win
        start_used = None
        if options.mip_start is not None:
            start_used = self._set_start(h, problem, options.mip_start)
        native = _Native(h, start_used)
        if options.heuristic is not None:  # a HeuristicGuard: it never raises
            native.heuristic = _HeuristicCallback(options.heuristic)
            native.heuristic.attach(h)
        if options.progress is not None:
            _ProgressCallback(options.progress, native.heuristic).attach(h)
        return native

    @staticmethod
    def _set_options(h, options: SolveOptions) -> None:
        if options.time_limit is not None:
            h.setOptionValue("time_limit", float(options.time_limit))
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        if options.node_limit is not None:
            h.setOptionValue("mip_max_nodes", int(options.node_limit))
        h.setOptionValue("threads", int(options.threads))
        h.setOptionValue("random_seed", int(options.seed))
        if options.integrality_tolerance is not None:
            h.setOptionValue("mip_feasibility_tolerance", float(options.integrality_tolerance))
        if options.feasibility_tolerance is not None:
            h.setOptionValue("primal_feasibility_tolerance", float(options.feasibility_tolerance))

    @staticmethod
    def _set_start(h, problem: MilpProblem, start: np.ndarray) -> bool:
        import highspy

        known = np.flatnonzero(~np.isnan(start))  # bnnmip.solve passes no empty start
        if known.size == problem.n_cols:
            sol = highspy.HighsSolution()
            sol.col_value = start.tolist()
            sol.value_valid = True
            status = h.setSolution(sol)
        else:  # partial start: HiGHS completes it with a sub-MIP
            status = h.setSolution(int(known.size), known.astype(np.int32), start[known])
        return status != highspy.HighsStatus.kError

    # -- run -------------------------------------------------------------------------------
    def run(self, model, options: SolveOptions) -> None:
        """Solve in place."""
        model.highs.run()

    # -- extract ---------------------------------------------------------------------------
    def extract(self, model, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """HiGHS' model status, solution and info."""
        import highspy

        h = model.highs
        status_name = highspy.HighsModelStatus(h.getModelStatus()).name
        info = h.getInfo()
        has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        return NativeResult(
            status=status_name,
            has_solution=has_solution,
            x=np.asarray(h.getSolution().col_value, dtype=float) if has_solution else None,
            objective=float(info.objective_function_value) if has_solution else None,
            bound=float(info.mip_dual_bound),
            nodes=int(info.mip_node_count),
            message=f"HiGHS model status {status_name}",
            mip_start_used=model.start_used,
        )


class _HeuristicCallback:
    """``options.heuristic`` (guarded by :func:`bnnmip.solve`) wired to HiGHS' callbacks.

    HiGHS reports each improving solution (``kCallbackMipImprovingSolution``) and, at points
    of its own choosing, asks for user solutions (``kCallbackMipUserSolution``): the latest
    incumbent not yet seen is handed to the heuristic there and its answer, if any, passed
    back with ``setSolution`` (HiGHS checks it and keeps it if it is better).
    """

    def __init__(self, heuristic) -> None:
        self.heuristic = heuristic
        self.pending = None

    def attach(self, h) -> None:
        import highspy

        kinds = highspy.cb.HighsCallbackType
        h.setCallback(self, None)
        h.startCallback(kinds.kCallbackMipImprovingSolution)
        h.startCallback(kinds.kCallbackMipUserSolution)
        self._improving = kinds.kCallbackMipImprovingSolution
        self._user = kinds.kCallbackMipUserSolution

    def __call__(self, kind, message, data_out, data_in, user_data) -> None:
        if kind == self._improving:
            self.pending = np.array(data_out.mip_solution, dtype=float)
        elif kind == self._user and self.pending is not None:
            x, self.pending = self.pending, None
            y = self.heuristic(x)
            if y is not None:
                data_in.setSolution(y)


class _ProgressCallback:
    """``options.progress`` fed from HiGHS' MIP callbacks (then ``inner``'s, if any, runs too).

    HiGHS calls back at every improving solution and at its interrupt checks, often during
    the search: each call passes the primal and dual bounds and the node count on
    (``bnnmip.solve`` throttles them).
    """

    def __init__(self, progress, inner=None) -> None:
        self.progress = progress
        self.inner = inner

    def attach(self, h) -> None:
        import highspy

        kinds = highspy.cb.HighsCallbackType
        if self.inner is not None:
            self.inner.attach(h)
        h.setCallback(self, None)  # one callback per Highs object: this one calls inner's
        self._kinds = (kinds.kCallbackMipInterrupt, kinds.kCallbackMipImprovingSolution)
        for kind in self._kinds:
            h.startCallback(kind)

    def __call__(self, kind, message, data_out, data_in, user_data) -> None:
        if kind in self._kinds:
            self.progress(objective=data_out.mip_primal_bound, bound=data_out.mip_dual_bound,
                          nodes=data_out.mip_node_count)
        if self.inner is not None:
            self.inner(kind, message, data_out, data_in, user_data)


def _new_highs(quiet: bool):
    """A ``Highs`` object, constructed quietly unless asked otherwise.

    HiGHS prints a banner on stdout at its first construction in a process; a quiet solve
    keeps it off the terminal by muting file descriptor 1 meanwhile.
    """
    import highspy

    if not quiet:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _check(status, what: str) -> None:
    import highspy

    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS {what} failed")
