"""HiGHS through highspy: build from the CSR arrays, run, extract HiGHS' own status and numbers."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, captured_output, policy
from bnnmip.backends.helpers import (
    LIMIT,
    checked_options,
    distribution_version,
    module_availability,
    solver_settings,
    start_entries,
    status_table,
)
from bnnmip.milp import MilpProblem

OWNED_OPTIONS = {  # HiGHS options that change what is solved or that bnnmip sets: refused
    "time_limit": policy.TIME_LIMIT, "mip_rel_gap": policy.GAP, "threads": policy.THREADS,
    "random_seed": policy.SEED, "mip_feasibility_tolerance": policy.TOLERANCE,
    "primal_feasibility_tolerance": policy.TOLERANCE, "objective_bound": policy.CUTOFF,
}

# HighsModelStatus name -> (status with a solution, status without one)
_STATUS = status_table(
    solved=["kOptimal"], infeasible=["kInfeasible", "kUnboundedOrInfeasible"],
    limit=["kTimeLimit", "kIterationLimit", "kSolutionLimit", "kInterrupt", "kHighsInterrupt",
           "kObjectiveBound", "kObjectiveTarget", "kMemoryLimit"],
    failed=["kUnbounded", "kNotset", "kLoadError", "kModelError", "kPresolveError", "kSolveError",
            "kPostsolveError"],
    kUnknown=(LIMIT[0], SolveStatus.ERROR), kModelEmpty=(SolveStatus.OPTIMAL, SolveStatus.OPTIMAL),
)

# SolveOptions settings -> HiGHS option names
_SETTINGS = {"time_limit": "time_limit", "mip_gap": "mip_rel_gap", "node_limit": "mip_max_nodes",
             "threads": "threads", "seed": "random_seed",
             "integrality_tolerance": "mip_feasibility_tolerance",
             "feasibility_tolerance": "primal_feasibility_tolerance"}


@dataclass
class _Native:
    highs: object
    start_used: bool | None
    callbacks: object = None


class HighsBackend:
    """MILP backend running HiGHS in process."""

    name = "highs"
    description = "HiGHS (MIT) through highspy, in process"
    features = frozenset({
        BackendFeature.MIP_START, BackendFeature.PARTIAL_MIP_START, BackendFeature.LOG_FILE,
        BackendFeature.THREADS, BackendFeature.SEED, BackendFeature.CALLBACKS,
        BackendFeature.SOLVER_OPTIONS, BackendFeature.NODE_LIMIT, BackendFeature.INTERRUPT,
    })
    status_table = _STATUS

    def availability(self) -> tuple[bool, str]:
        """Usable if highspy is importable (checked without importing it)."""
        return module_availability("highspy")

    def solver_version(self) -> str:
        """HiGHS version, read from the highspy distribution's metadata."""
        return distribution_version("highspy")

    def check_solver_options(self, options: dict) -> dict:
        """``options`` (HiGHS option names, e.g. ``mip_heuristic_effort``) typed and checked.

        Each is set on a scratch ``Highs`` object; HiGHS's own complaint (an unknown name, a
        value out of range) becomes the message of the :class:`bnnmip.InvalidInputError`.
        """
        import highspy

        kinds = {highspy.HighsOptionType.kBool: bool, highspy.HighsOptionType.kInt: int,
                 highspy.HighsOptionType.kDouble: float, highspy.HighsOptionType.kString: str}
        h = _new_highs(quiet=True)
        h.setOptionValue("output_flag", False)

        def kind_of(name):
            with captured_output(1):  # HiGHS reports an unknown name on stdout in any case
                status, kind = h.getOptionType(name)
            return kinds.get(kind) if status == highspy.HighsStatus.kOk else None

        def trial(name, value):
            with captured_output(1) as said:
                h.setOptionValue("output_flag", True)
                h.setOptionValue("log_to_console", True)
                status = h.setOptionValue(name, value)
                h.setOptionValue("output_flag", False)
            if status == highspy.HighsStatus.kOk:
                return None
            return " ".join(line.split("ERROR:", 1)[-1].strip() for line in said().splitlines()
                            if "ERROR" in line)

        return checked_options("HiGHS", options, owned=OWNED_OPTIONS, kind_of=kind_of, trial=trial,
                               noun="option", reference="https://ergo-code.github.io/HiGHS/stable/"
                               "options/definitions/")

    def build(self, problem: MilpProblem, options: SolveOptions):
        """A ``highspy.Highs`` holding the model, options set and MIP start passed."""
        import highspy

        h = _new_highs(quiet=not options.verbose)
        h.setOptionValue("output_flag", bool(options.verbose or options.log_file))
        h.setOptionValue("log_to_console", bool(options.verbose))
        if options.log_file is not None:
            h.setOptionValue("log_file", str(options.log_file))
        A = problem.A.tocsc()
        _check(h.passModel(
            problem.n_cols, problem.n_rows, A.nnz, int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize), float(problem.offset), *_floats(
                problem.c, problem.col_lower, problem.col_upper, problem.row_lower, problem.row_upper),
            A.indptr.astype(np.int32), A.indices.astype(np.int32), A.data.astype(np.float64),
            problem.integrality.astype(np.int32),  # HighsVarType: 0 continuous, 1 integer
        ), "passModel")
        user = options.checked_solver_options or {}
        for name, value in solver_settings(options, _SETTINGS).items():  # the user's options last: they win
            status = h.setOptionValue(name, value)
            if name in user:
                _check(status, f"setOptionValue({name!r})")
        start_used = None if options.mip_start is None else _set_start(h, options.mip_start)
        native = _Native(h, start_used)
        if any(f is not None for f in (options.heuristic, options.incumbent_source, options.progress,
                                       options.interrupt)):
            native.callbacks = _Callbacks(h, options.heuristic, options.progress,  # guards never raise
                                          options.incumbent_source, options.interrupt)
        return native

    def run(self, model, options: SolveOptions) -> None:
        """Solve in place."""
        model.highs.run()

    def extract(self, model, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """HiGHS' model status, solution and info."""
        import highspy

        h = model.highs
        status_name = highspy.HighsModelStatus(h.getModelStatus()).name
        info = h.getInfo()
        has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
        return NativeResult(
            status=status_name, has_solution=has_solution,
            x=np.asarray(h.getSolution().col_value, dtype=float) if has_solution else None,
            objective=float(info.objective_function_value) if has_solution else None,
            bound=float(info.mip_dual_bound), nodes=int(info.mip_node_count),
            message=f"HiGHS model status {status_name}", mip_start_used=model.start_used,
        )


class _Callbacks:
    """``options.heuristic``, ``incumbent_source``, ``progress`` and ``interrupt`` wired to HiGHS' MIP callbacks.

    One per ``Highs``. The latest improving solution not yet seen goes to the heuristic when
    HiGHS asks for user solutions, and its answer back with ``setSolution`` (HiGHS checks it);
    without an answer, the incumbent source's is handed back instead. Improving solutions and
    interrupt checks report the bounds and node count to ``progress``; at interrupt checks
    ``interrupt`` saying ``True`` stops HiGHS (status ``kInterrupt``).
    """

    def __init__(self, h, heuristic, progress, source=None, interrupt=None) -> None:
        import highspy

        self.heuristic, self.progress, self.source, self.pending = heuristic, progress, source, None
        self.interrupt = interrupt
        kinds = self.kinds = highspy.cb.HighsCallbackType
        h.setCallback(self, None)
        h.startCallback(kinds.kCallbackMipImprovingSolution)
        if heuristic is not None or source is not None:
            h.startCallback(kinds.kCallbackMipUserSolution)
        if progress is not None or interrupt is not None:
            h.startCallback(kinds.kCallbackMipInterrupt)

    def __call__(self, kind, message, data_out, data_in, user_data) -> None:
        kinds = self.kinds
        if self.progress is not None and kind in (kinds.kCallbackMipInterrupt,
                                                  kinds.kCallbackMipImprovingSolution):
            self.progress(objective=data_out.mip_primal_bound, bound=data_out.mip_dual_bound,
                          nodes=data_out.mip_node_count)
        if kind == kinds.kCallbackMipInterrupt and self.interrupt is not None and self.interrupt():
            data_in.user_interrupt = True
        if kind == kinds.kCallbackMipImprovingSolution and self.heuristic is not None:
            self.pending = np.array(data_out.mip_solution, dtype=float)
        elif kind == kinds.kCallbackMipUserSolution:
            y = None
            if self.pending is not None:
                x, self.pending = self.pending, None
                y = self.heuristic(x)
            if y is None and self.source is not None:
                y = self.source()
            if y is not None:
                data_in.setSolution(y)


def _set_start(h, start: np.ndarray) -> bool:
    """Pass a full start (HiGHS checks it) or a partial one (HiGHS completes it with a sub-MIP)."""
    import highspy

    known, values, full = start_entries(start)
    if full:
        sol = highspy.HighsSolution()
        sol.col_value = start.tolist()
        sol.value_valid = True
        status = h.setSolution(sol)
    else:
        status = h.setSolution(int(known.size), known, values)
    return status != highspy.HighsStatus.kError


def _floats(*arrays) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _new_highs(quiet: bool):
    """A ``Highs`` object, without the banner HiGHS prints at its first construction unless not ``quiet``."""
    import highspy

    with captured_output(1) if quiet else contextlib.nullcontext():
        return highspy.Highs()


def _check(status, what: str) -> None:
    import highspy

    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS {what} failed")
