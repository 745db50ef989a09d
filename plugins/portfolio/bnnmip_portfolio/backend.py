"""The ``portfolio`` backend: several backends side by side, sharing incumbents; the first proof ends it.

``build`` picks the members (its solver options, :mod:`.config`), ``run`` runs them
(:class:`~.coordinator.Coordinator`), ``extract`` reads off the best checked incumbent, the
best bound no known solution contradicts, who found the incumbent and who proved it
(``SolveResult.details["portfolio"]`` and the message).
"""

from __future__ import annotations

import contextlib

import numpy as np

from bnnmip.backends import (
    BackendFeature,
    SolveOptions,
    SolveResult,
    SolveStatus,
    availability,
    solver_version,
    supports,
)
from bnnmip.milp import MilpProblem
from bnnmip.plugins import list_backends

from .config import DEFAULT_MEMBERS, NAME, PortfolioConfig, default_config, parse_options
from .coordinator import FEASIBILITY, Coordinator, MemberRun

__all__ = ["PortfolioBackend"]


class PortfolioBackend:
    """Runs member backends side by side, one thread each, and trades their incumbents.

    The first member (the lead) runs in the calling process when its backend declares
    ``INTERRUPT`` (``lead=thread``, the default); every other member in a process of its own.
    """

    name = NAME
    description = ("member backends side by side in separate processes (local or Dask), sharing "
                   "incumbents; stops at the first proof")
    features = frozenset({
        BackendFeature.MIP_START, BackendFeature.PARTIAL_MIP_START, BackendFeature.CALLBACKS,
        BackendFeature.LOG_FILE, BackendFeature.THREADS, BackendFeature.SEED, BackendFeature.NODE_LIMIT,
        BackendFeature.SOLVER_OPTIONS, BackendFeature.INTERRUPT,
    })

    def availability(self) -> tuple[bool, str]:
        """Usable when one of the built-in general MILP backends is (without importing any solver)."""
        backends = list_backends()
        reasons = []
        for name in DEFAULT_MEMBERS:
            if name not in backends:
                reasons.append(f"{name} is not installed")
                continue
            ok, reason = availability(backends[name])
            if ok:
                return True, ""
            reasons.append(f"{name}: {reason}")
        return False, "no member backend is usable (" + "; ".join(reasons) + ")"

    def solver_version(self) -> str:
        """The default members' versions."""
        backends = list_backends()
        members = default_config().members
        return " + ".join(f"{m.backend} {solver_version(backends[m.backend])}" for m in members)

    def check_solver_options(self, options: dict) -> PortfolioConfig | dict:
        """``members=A,B``, ``executor=local|dask:ADDRESS`` and ``LABEL:NAME=VALUE``, checked.

        A :class:`~.config.PortfolioConfig`; ``{}`` for no options (the default members).
        """
        return parse_options(options) if options else {}

    @staticmethod
    def config(options: SolveOptions) -> PortfolioConfig:
        """The members and executor of ``options`` (the defaults when it has no solver options)."""
        if isinstance(options.checked_solver_options, PortfolioConfig):
            return options.checked_solver_options
        return parse_options(dict(options.solver_options)) if options.solver_options else default_config()

    def supports(self, problem: MilpProblem, options: SolveOptions) -> tuple[bool, str]:
        """Whether one member can run here and takes ``problem``."""
        reasons = []
        for member in self.config(options).members:
            backend = list_backends()[member.backend]
            ok, reason = availability(backend)
            if ok:
                ok, reason = supports(backend, problem, SolveOptions(threads=1))
            if ok:
                return True, ""
            reasons.append(f"{member.label}: {reason}")
        return False, "no member can solve it (" + "; ".join(reasons) + ")"

    # -- build, run, extract -----------------------------------------------------------------
    def build(self, problem: MilpProblem, options: SolveOptions) -> Coordinator:
        """The coordinator of this solve: members chosen and checked, none started yet."""
        config = self.config(options)
        runs, notes, occurrence = [], [], {}
        backends = list_backends()
        for member in config.members:
            occurrence[member.backend] = occurrence.get(member.backend, 0) + 1
            seed = member.seed if member.seed is not None else options.seed + occurrence[member.backend] - 1
            run = MemberRun(member.label, member.backend, seed, dict(member.solver_options))
            backend = backends[member.backend]
            ok, reason = availability(backend)
            if ok:
                ok, reason = supports(backend, problem, SolveOptions(threads=1))
            if not ok:
                run.state, run.note = "not run", reason
            elif options.threads > 1 and sum(r.state == "starting" for r in runs) >= options.threads:
                run.state, run.note = "not run", f"threads={options.threads}: one member process per thread"
            runs.append(run)
        for run in runs:
            if run.state == "not run":
                notes.append(f"member {run.label} not run: {run.note}")
        start = None
        if options.mip_start is not None and not np.isnan(options.mip_start).any():
            start = options.mip_start
        coordinator = Coordinator(problem, options, config, runs, start=start)
        coordinator.notes.extend(notes)
        return coordinator

    def run(self, model: Coordinator, options: SolveOptions) -> None:
        """Run the members until the first proof, the limit, or their end."""
        model.run()

    def extract(self, model: Coordinator, problem: MilpProblem, options: SolveOptions) -> SolveResult:
        """The best checked incumbent, the best uncontradicted bound, and who found and proved them."""
        c = model
        runs = [m for m in c.members if m.state != "not run"]
        best, proof = c.best, c.proof
        x = objective = bound = None
        if proof is not None and proof[1] == "infeasible":
            status = SolveStatus.INFEASIBLE
        elif best is not None:
            objective, x = best[0], best[1]
            status = SolveStatus.OPTIMAL if proof is not None else SolveStatus.FEASIBLE
            bound = c.bound()
            if status is SolveStatus.OPTIMAL:
                bound = objective if bound is None else min(bound, objective)
        elif any(m.result is not None and m.result.status is SolveStatus.NO_SOLUTION for m in runs) or any(
                m.state == "killed" for m in runs):
            status, bound = SolveStatus.NO_SOLUTION, c.bound()
        else:
            status = SolveStatus.ERROR
        if status is SolveStatus.FEASIBLE and bound is not None and objective is not None:
            gap = SolveResult.relative_gap(objective, bound)
            if gap is not None and gap <= options.mip_gap:  # no member proved it, but the bounds close it
                status = SolveStatus.OPTIMAL
        used = [m.result.mip_start_used for m in runs if m.result is not None]
        start_used = None
        if options.mip_start is not None:
            start_used = any(u is True for u in used) or any(s == "start" for _, s, _ in c.history) or (
                False if used and all(u is False for u in used) else None)
        details = self._details(c, runs)
        backends = list_backends()
        version = " + ".join(f"{m.label} {solver_version(backends[m.backend])}" for m in runs) or "no member"
        self._write_log(c, options)
        return SolveResult(
            status=status, backend=self.name, solver_version=version, objective=objective, bound=bound,
            gap=SolveResult.relative_gap(objective, bound), nodes=c.nodes(), x=x,
            message=self._message(c, runs, status, details), mip_start_used=start_used,
            details={"portfolio": details},
        )

    # -- the record --------------------------------------------------------------------------
    @staticmethod
    def _details(c: Coordinator, runs: list[MemberRun]) -> dict:
        members = []
        for m in c.members:
            r = m.result
            members.append({
                "label": m.label, "backend": m.backend, "seed": m.seed, "state": m.state,
                "runs_in": "this process" if m.thread is not None else "dask" if m.future is not None
                else "not run" if m.state == "not run" else "process",
                "status": None if r is None else r.status.value,
                "objective": None if r is None else r.objective,
                "bound": m.bound if r is None or m.wrong else (r.bound if r.bound is not None else m.bound),
                "nodes": m.nodes, "seconds": None if m.ended is None or m.started is None
                else round(m.ended - m.started, 3),
                "incumbents_sent": m.sent, "incumbents_taken": m.given,
                "note": m.note or ("" if r is None else r.message.splitlines()[0] if r.message else ""),
                "wrong": m.wrong or None,
            })
        best, proof = c.best, c.proof
        found_by = found_at = None
        if best is not None:  # the first to reach the final objective
            found_at, found_by = next((t, s) for t, s, v in c.history if v <= best[0] + 1e-9)
        return {
            "members": members, "executor": c.config.executor,
            "found_by": found_by, "found_at": found_at,
            "proved_by": None if proof is None else proof[0],
            "proof": None if proof is None else proof[1],
            "proved_at": None if proof is None else round(proof[2], 3),
            "incumbents": [list(h) for h in c.history],
            "stopped_at_limit": c.stopped_at_limit,
            "feasibility_tolerance": FEASIBILITY,
        }

    @staticmethod
    def _message(c: Coordinator, runs, status: SolveStatus, d: dict) -> str:
        head = f"portfolio of {', '.join(m.label for m in runs) or 'no member'}: {status.value}"
        parts = [head]
        if d["found_by"] is not None:
            parts.append(f"incumbent {c.best[0]:g} found by {d['found_by']} at {d['found_at']:.2f} s")
        if d["proved_by"] is not None:
            parts.append(f"proven {d['proof']} by {d['proved_by']} at {d['proved_at']:.2f} s")
        elif status is SolveStatus.OPTIMAL:
            parts.append("proven optimal by the members' bounds together")
        else:
            parts.append("not proven")
        for m in d["members"]:
            what = m["status"] or m["state"]
            extra = f", {m['incumbents_sent']} incumbent(s) sent, {m['incumbents_taken']} taken"
            parts.append(f"{m['label']}: {what}{extra}" + (f" ({m['note']})" if m["note"] else "")
                         + (f"; WRONG: {m['wrong']}" if m["wrong"] else ""))
        return "; ".join(parts + c.notes)

    @staticmethod
    def _write_log(c: Coordinator, options: SolveOptions) -> None:
        if options.log_file is None:
            return
        text = ["bnnmip portfolio log", *c.log, ""]
        for m in c.members:
            head = f"===== member {m.label} ({m.backend}, seed {m.seed}): {m.state} ====="
            text += [head, m.log or "(no log)", ""]
        with contextlib.suppress(OSError):
            with open(options.log_file, "w", encoding="utf-8") as fh:
                fh.write("\n".join(text))
