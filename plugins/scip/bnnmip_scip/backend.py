"""SCIP through PySCIPOpt: build, run, extract SCIP's own status and numbers.

bnnmip's core maps the status through :attr:`ScipBackend.status_table`, applies the bound
and gap rules, guards the heuristic and checks the solver options once (:func:`bnnmip.solve`).

``ScipBackend(build_via="mps")`` (default) or ``"rows"`` builds the model, and
``ScipBackend(indicators=True)`` (registered as ``scip-indicator``) turns big-M activation
rows into indicator constraints: :mod:`bnnmip_scip.model` does both, with the heuristic
plugin and the MIP start, and says why (measured build times, the indicator model against
the big-M one, the slack variables of indicator constraints).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, captured_output, policy
from bnnmip.backends.helpers import (
    checked_options,
    distribution_version,
    module_availability,
    solver_settings,
    status_table,
)
from bnnmip.milp import MilpProblem

from .model import (
    add_indicators,
    build_mps,
    build_rows,
    include_heuristic,
    indicator_rows,
    set_start,
    without_rows,
)

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

_BUILD_VIA = ("mps", "rows")


@dataclass
class _Native:
    model: Any
    vars: list  # one pyscipopt Variable per column, in column order
    start_used: bool | None = None
    n_indicators: int = 0
    indicators: Any = None  # _IndicatorSlacks on scip-indicator
    notes: list[str] = field(default_factory=list)
    heuristic: Any = None


class ScipBackend:
    """MILP backend running SCIP in process through PySCIPOpt.

    Parameters
    ----------
    indicators
        Replace big-M activation rows by native indicator constraints (registered as
        ``scip-indicator``); ``False`` keeps the big-M rows (``scip``).
    build_via
        ``"mps"`` (default, faster) or ``"rows"``; see :mod:`bnnmip_scip.model`.
    """

    status_table = _STATUS

    def __init__(self, *, indicators: bool = False, build_via: str = "mps") -> None:
        if build_via not in _BUILD_VIA:
            raise ValueError(f"build_via must be one of {_BUILD_VIA}, got {build_via!r}")
        self.indicators = bool(indicators)
        self.build_via = build_via
        self.name = "scip-indicator" if self.indicators else "scip"
        self.description = (
            "SCIP (Apache-2.0) through PySCIPOpt, in process"
            + (", big-M activation rows as indicator constraints" if self.indicators else "")
        )
        feats = {
            BackendFeature.MIP_START,
            BackendFeature.PARTIAL_MIP_START,
            BackendFeature.LOG_FILE,
            BackendFeature.SEED,
            BackendFeature.CALLBACKS,
            BackendFeature.SOLVER_OPTIONS,
            BackendFeature.NODE_LIMIT,
        }
        if self.indicators:
            feats.add(BackendFeature.INDICATOR_CONSTRAINTS)
        self.features = frozenset(feats)

    def __repr__(self) -> str:
        return f"ScipBackend(indicators={self.indicators}, build_via={self.build_via!r})"

    def availability(self) -> tuple[bool, str]:
        """Usable if pyscipopt is importable (checked without importing it)."""
        return module_availability("pyscipopt")

    _version_cache: str | None = None

    def solver_version(self) -> str:
        """PySCIPOpt's version from its metadata, with the SCIP library's version."""
        if ScipBackend._version_cache is not None:
            return ScipBackend._version_cache
        wrapper = distribution_version("pyscipopt")
        if wrapper == "not installed":
            return wrapper
        text = f"pyscipopt {wrapper}"
        try:
            import pyscipopt

            m = pyscipopt.Model()
            text += f" (SCIP {m.getMajorVersion()}.{m.getMinorVersion()}.{m.getTechVersion()})"
        except Exception:  # the wrapper's version alone is still informative
            pass
        ScipBackend._version_cache = text
        return text

    # -- solver options --------------------------------------------------------------------
    def check_solver_options(self, options: dict) -> dict:
        """``options`` (SCIP parameter names, e.g. ``separating/maxrounds``) typed and checked.

        Each is set on a scratch model; SCIP's own complaint (a name it does not know, a value
        out of range) becomes the message of the :class:`bnnmip.InvalidInputError`.
        """
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

    # -- build -----------------------------------------------------------------------------
    def build(self, problem: MilpProblem, options: SolveOptions) -> _Native:
        """A ``pyscipopt.Model`` holding the model, parameters set and MIP start passed."""
        import pyscipopt

        model = pyscipopt.Model()
        model.hideOutput(not options.verbose)
        if options.log_file is not None:
            model.setLogfile(str(options.log_file))
        ind = indicator_rows(problem) if self.indicators else None
        linear = problem if ind is None else without_rows(problem, ind.rows)
        if self.build_via == "mps":
            variables = build_mps(model, linear)
        else:
            variables = build_rows(model, linear, pyscipopt)
        native = _Native(model, variables)
        if ind is not None:
            native.indicators = add_indicators(model, problem, ind, variables, pyscipopt)
            native.n_indicators = len(native.indicators.conss)
        # SCIP has one tolerance for rows, bounds and integrality: the tighter request wins.
        tols = [t for t in (options.feasibility_tolerance, options.integrality_tolerance) if t]
        if tols:
            model.setParam("numerics/feastol", float(min(tols)))
        for name, value in solver_settings(options, _SETTINGS).items():  # the user's options last: they win
            model.setParam(name, value)
        if options.heuristic is not None:
            slack_values = None if ind is None else native.indicators.evaluator(model, problem)
            native.heuristic = include_heuristic(model, variables, options.heuristic, pyscipopt,
                                                  slack_values)
        if options.progress is not None:
            _include_progress(model, options.progress, pyscipopt)
        if options.mip_start is not None:
            native.start_used = set_start(
                model, problem, variables, options.mip_start, complete_full=ind is not None
            )
        return native

    # -- run -------------------------------------------------------------------------------
    def run(self, model: _Native, options: SolveOptions) -> None:
        """Solve in place (and close the log file)."""
        try:  # without holding Python's lock, so progress displays keep redrawing meanwhile
            getattr(model.model, "optimizeNogil", model.model.optimize)()
        finally:
            if options.log_file is not None:
                model.model.setLogfile(None)

    # -- extract ---------------------------------------------------------------------------
    def extract(self, model: _Native, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """SCIP's status, best solution and statistics."""
        m = model.model
        status_name = m.getStatus()
        x = objective = None
        if m.getNSols() > 0:
            sol = m.getBestSol()
            x = np.fromiter((m.getSolVal(sol, v) for v in model.vars), dtype=float,
                            count=len(model.vars))
            objective = float(m.getSolObjVal(sol))
        bound = float(m.getDualbound())
        notes = [f"{model.n_indicators} indicator constraints"] if model.n_indicators else []
        notes += model.notes + ([model.heuristic.summary()] if model.heuristic is not None else [])
        return NativeResult(
            status=status_name, has_solution=x is not None, x=x, objective=objective,
            bound=None if abs(bound) >= m.infinity() else bound, nodes=int(m.getNTotalNodes()),
            message="; ".join([f"SCIP status {status_name}", *notes]), mip_start_used=model.start_used,
        )


def _include_progress(model, progress, pyscipopt) -> None:
    """``options.progress`` as a SCIP event handler: new incumbents, solved nodes and LPs.

    Each event passes the primal and dual bounds and the node count on (``bnnmip.solve``
    throttles them).
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
            progress(objective=m.getPrimalbound() if m.getNSols() else None,
                     bound=m.getDualbound(), nodes=m.getNTotalNodes())

    model.includeEventhdlr(_Events(), "bnnmip_progress", "reports the search's progress to bnnmip")
