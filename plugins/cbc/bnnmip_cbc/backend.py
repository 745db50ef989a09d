"""CBC as a subprocess: the binary PuLP ships (or any ``cbc``), driven through MPS files.

``build`` writes the MILP (:func:`bnnmip.milp.io.write_mps`; the objective constant rides on
the fixed ``OBJCONST`` column, so every value CBC prints includes it) and the MIP start into a
:class:`bnnmip.backends.helpers.SolverRun` directory; ``run`` calls :meth:`CbcBackend.command`
there under a watchdog (the time limit plus a grace period); ``extract`` reads the solution
file's status line and values and the log's objective, bound and node count. A crashed,
killed or missing CBC is an ``ERROR`` result with the log's tail, never an exception.

``PARTIAL_MIP_START`` is not declared: CBC 2.10 reads a column missing from a start file as
0, so a start with unknown integers would silently become another start.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, policy
from bnnmip.backends.helpers import SolverRun, checked_options, executable_version, status_table
from bnnmip.milp import MilpProblem
from bnnmip.milp.io import OBJCONST, column_index, column_names, write_mps

OWNED_OPTIONS = {  # CBC parameters (and actions) that change what is solved: refused
    "seconds": policy.TIME_LIMIT, "ratioGap": policy.GAP, "threads": policy.THREADS,
    "randomCbcSeed": policy.SEED, "randomSeed": policy.SEED, "primalTolerance": policy.TOLERANCE,
    "integerTolerance": policy.TOLERANCE, "direction": policy.SENSE, "maximize": policy.SENSE,
    "minimize": policy.SENSE, "cutoff": policy.CUTOFF,
}
_CBC_RESERVED = ("loglevel", "sloglevel", "printingoptions", "solution", "solve", "mips", "timemode", "quit",
                 "stop", "exit", "end", "import", "export", "directory")

# The solution file's status line starts with one of these (the longest that matches decides);
# "failed": CBC did not run, crashed or was killed. "Stopped on time" with an incumbent is
# FEASIBLE here (PuLP reports it as optimal).
_STATUS = status_table(
    solved=["Optimal"], infeasible=["Integer infeasible", "Infeasible"],
    failed=["Unbounded", "Integer unbounded", "failed"],
    limit=["Stopped on time", "Stopped on iterations", "Stopped on nodes", "Stopped on solutions",
           "Stopped on ctrl-c", "Stopped on difficulties", "Stopped"],
)

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_RE_OBJECTIVE = re.compile(r"^Objective value:\s+" + _NUM, re.M)
_RE_STATUS_OBJ = re.compile(r"objective value\s+" + _NUM)
_RE_NODES = re.compile(r"^Enumerated nodes:\s+(\d+)", re.M)
_RE_BEST_POSSIBLE = re.compile(r"best possible " + _NUM)
_RE_PARTIAL = re.compile(r"Partial search - best objective \S+ \(best possible " + _NUM)
_RE_INTEGER_GAP = re.compile(r"Exiting as integer gap of " + _NUM)
_RE_LOWER_BOUND = re.compile(r"^Lower bound:\s+" + _NUM, re.M)
_RE_WALLCLOCK = re.compile(r"\(Wallclock seconds\):\s+" + _NUM)


@dataclass
class _Native:
    run: SolverRun
    start: str | None = None  # the start file


class CbcBackend:
    """MILP backend running the CBC executable on an MPS file.

    Parameters
    ----------
    path
        The ``cbc`` executable; by default the one bundled with PuLP, else ``cbc`` on PATH.
    grace_seconds
        Extra wall-clock time allowed beyond ``time_limit`` before the watchdog kills CBC
        (at least this, or a quarter of the time limit if that is more).
    """

    name = "cbc"
    description = "CBC (EPL-2.0) as a subprocess on an MPS file (PuLP's bundled binary)"
    features = frozenset({BackendFeature.MIP_START, BackendFeature.LOG_FILE, BackendFeature.THREADS,
                          BackendFeature.SEED, BackendFeature.SOLVER_OPTIONS, BackendFeature.NODE_LIMIT})
    status_table = _STATUS
    # Without the tight formulation's symmetry-breaking rows CBC proves more: 16 of the 18
    # instances of docs/benchmarks/symmetry.md within 30 s instead of 13 (SCIP and HiGHS gain
    # from the rows). The exact strategy uses this unless the user sets symmetry_breaking.
    formulation_defaults = MappingProxyType({"symmetry_breaking": False})

    def __init__(self, path: str | os.PathLike | None = None, *, grace_seconds: float = 10.0):
        self._explicit = None if path is None else str(path)
        self.grace_seconds = float(grace_seconds)
        self._version: str | None = None

    def __repr__(self) -> str:
        return f"CbcBackend(path={self._explicit!r})"

    def executable(self) -> str | None:
        """Path of the CBC executable to run, or ``None`` if none is found."""
        if self._explicit is not None:
            return self._explicit if _is_executable(self._explicit) else None
        bundled = _pulp_cbc()
        return bundled if bundled is not None and _is_executable(bundled) else shutil.which("cbc")

    def availability(self) -> tuple[bool, str]:
        """Usable if a CBC executable exists (PuLP's is located without importing PuLP)."""
        if self.executable() is not None:
            return True, ""
        if self._explicit is not None:
            return False, f"{self._explicit} is not an executable file"
        if importlib.util.find_spec("pulp") is None:
            return False, "no cbc executable: install PuLP (pip install pulp) or put cbc on PATH"
        return False, "PuLP ships no CBC binary for this platform and there is no cbc on PATH"

    def solver_version(self) -> str:
        """CBC's version, from the banner of ``cbc -quit`` (cached), with PuLP's version."""
        exe = self.executable()
        if self._version is None and exe is not None:
            self._version = "cbc " + (executable_version([exe, "-quit"], r"Version:\s*(\S+)") or "?")
            if self._explicit is None and exe == _pulp_cbc():
                try:
                    self._version += f" (PuLP {importlib.metadata.version('pulp')})"
                except importlib.metadata.PackageNotFoundError:
                    pass
        return self._version or "not installed"

    def check_solver_options(self, options: dict) -> list[str]:
        """``options`` (CBC command-line parameters, e.g. ``cuts=off``) as command-line words.

        Each is tried in a CBC run that only sets it (``cbc -name value -quit``): anything CBC
        prints other than "changed from" becomes the message of the
        :class:`bnnmip.InvalidInputError`. Parameters that decide what bnnmip reads back
        (printing, logging, the solution file, the MIP start, the time mode) are refused.
        """
        exe = self.executable()

        def kind_of(name):
            if any(word.startswith(name.lstrip("-").lower()) for word in _CBC_RESERVED):
                return (f"CBC parameter {name!r} is bnnmip's to set (it reads CBC's log and "
                        "solution file): leave it out")
            return lambda value: ("on" if value else "off") if isinstance(value, bool) else str(value)

        def trial(name, text):
            if exe is None:
                return None
            run = subprocess.run([exe, f"-{name.lstrip('-')}", text, "-quit"], capture_output=True,
                                 text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=30)
            lines = (run.stdout + run.stderr).splitlines()  # what it said beyond the banner
            start = next((i + 1 for i, line in enumerate(lines) if line.startswith("command line")), 0)
            return " ".join(line.strip() for line in lines[start:] if line.strip()
                            and "changed from" not in line and not line.startswith("Total time")) or None

        checked = checked_options("CBC", options, owned=OWNED_OPTIONS, prefix=True, kind_of=kind_of,
                                  trial=trial)
        return [word for name, text in checked.items() for word in (f"-{name.lstrip('-')}", text)]

    def build(self, problem: MilpProblem, options: SolveOptions) -> _Native:
        """Write the MPS file (and the start file) to a fresh temporary directory."""
        native = _Native(SolverRun("CBC"))
        try:
            write_mps(problem, native.run.path("model.mps"))
            if options.mip_start is not None:
                native.start = _write_start(problem, options.mip_start, native.run.path("start.sol"))
        except BaseException:
            native.run.close()
            raise
        return native

    def command(self, native: _Native, options: SolveOptions) -> list[str]:
        """The CBC command line for a built model."""
        cmd = [self.executable() or "cbc", native.run.path("model.mps"), "-timeMode", "elapsed"]
        if options.time_limit is not None:
            cmd += ["-sec", _num(options.time_limit)]
        cmd += ["-ratio", _num(options.mip_gap)]
        if options.node_limit is not None:
            cmd += ["-maxNodes", str(int(options.node_limit))]
        if options.threads > 1:
            cmd += ["-threads", str(int(options.threads))]
        seed = int(options.seed) % (2**31 - 1)
        if seed:  # 0 would make CBC seed from the clock; CBC's default seed is fixed
            cmd += ["-randomCbcSeed", str(seed)]
        if options.feasibility_tolerance is not None:
            cmd += ["-primalTolerance", _num(options.feasibility_tolerance)]
        if options.integrality_tolerance is not None:
            cmd += ["-integerTolerance", _num(min(options.integrality_tolerance, 0.5))]
        if native.start is not None:
            cmd += ["-mips", native.start]
        cmd += list(options.checked_solver_options or [])  # typed by bnnmip.solve; last: the user's win
        return cmd + ["-solve", "-printingOptions", "all", "-solution", native.run.path("solution.sol")]

    def run(self, model: _Native, options: SolveOptions) -> None:
        """Run CBC under a watchdog; never raises (failures are recorded for ``extract``)."""
        limit = options.time_limit
        model.run.run(None if self.executable() is None else self.command(model, options),
                      timeout=None if limit is None else limit + max(self.grace_seconds, 0.25 * limit),
                      echo=options.verbose, log_file=options.log_file)

    def extract(self, model: _Native, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """Parse the solution file and the log; always removes the temporary directory."""
        try:
            return self._extract(model, problem, options.time_limit)
        finally:
            model.run.close()

    def _extract(self, model: _Native, problem: MilpProblem, time_limit: float | None) -> NativeResult:
        run, solution = model.run, model.run.path("solution.sol")
        log = run.log_text()
        start_used = None if model.start is None else (
            "MIPStart provided solution" in log or "mipstart provided" in log.lower())
        note = f"; {run.log_note}" if run.log_note else ""
        why, first, body, status = run.failure(solution), "", "", None
        if not why:
            with open(solution, encoding="utf-8", errors="replace") as fh:
                first, body = fh.readline().strip(), fh.read()
            status = max((prefix for prefix in _STATUS if first.startswith(prefix)), key=len, default=None)
            why = "" if status else f"unknown CBC status line {first!r}"
            if status in ("Integer infeasible", "Infeasible") and _cut_short(log, time_limit):
                status = "Stopped on time"
                note += ("; CBC's preprocessing said infeasible when the time limit cut it short "
                         "(CBC 2.10 does so on feasible models): not a proof")
        has_solution = (not why and _STATUS[status][0].has_solution and "no integer solution" not in first
                        and not first.startswith(("Integer infeasible", "Infeasible")))
        x = _parse_values(body, problem.n_cols) if has_solution else None
        if has_solution and x is None:
            why = f"incomplete CBC solution file ({first!r})"
        if why:
            return NativeResult("failed", message=f"{why}{note}\n{run.log_tail()}", mip_start_used=start_used)
        found = _RE_OBJECTIVE.search(log) or _RE_STATUS_OBJ.search(first)
        objective = float(found.group(1)) if found and has_solution else None
        nodes = _RE_NODES.search(log)
        optimal = has_solution and _STATUS[status][0] is SolveStatus.OPTIMAL
        return NativeResult(
            status=status, has_solution=has_solution, x=x, objective=objective,
            bound=_log_bound(log, optimal, objective), nodes=int(nodes.group(1)) if nodes else None,
            message=f"CBC: {first}{note}", mip_start_used=start_used,
        )


def _pulp_cbc() -> str | None:
    """The CBC binary inside the installed PuLP package (found without importing PuLP)."""
    try:
        spec = importlib.util.find_spec("pulp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    system, exe = {"win32": ("win", "cbc.exe"), "cli": ("win", "cbc.exe"),
                   "darwin": ("osx", "cbc")}.get(sys.platform, ("linux", "cbc"))
    arch = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "i64"
    if sys.maxsize <= 2**32:
        arch = "i32"
    if system == "osx":
        arch = "i64"  # PuLP ships one (universal) macOS binary there
    for base in spec.submodule_search_locations:
        candidate = Path(base) / "solverdir" / "cbc" / system / arch / exe
        if candidate.is_file():
            return str(candidate)
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _num(value: float) -> str:
    return repr(float(value))


def _write_start(problem: MilpProblem, start, path: str) -> str:
    """A CBC solution file holding the known values of ``start`` (every integer column known)."""
    known, values = np.flatnonzero(np.isfinite(start)).tolist(), start.tolist()
    names = column_names(problem.n_cols)
    with open(path, "w", encoding="ascii") as fh:
        fh.write("Feasible - objective value 0\n")
        fh.writelines(f"{j} {names[j]} {values[j]!r}\n" for j in known)
        fh.write(f"{problem.n_cols} {OBJCONST} 1.0\n")
    return path


def _parse_values(body: str, n_cols: int) -> np.ndarray | None:
    """Column values from a ``printingOptions all`` solution file (8 significant digits), in column order."""
    x = np.full(n_cols, np.nan)
    for line in body.splitlines():
        parts = line.split()
        if parts and parts[0] == "**":  # an infeasibility marker
            parts = parts[1:]
        j = column_index(parts[1]) if len(parts) >= 3 else None
        if j is not None and j < n_cols:
            x[j] = float(parts[2])
    return None if np.isnan(x).any() else x


def _cut_short(log: str, time_limit: float | None) -> bool:
    """Whether CBC's "infeasible" came from preprocessing stopped by the time limit.

    CBC 2.10 reports ``Integer infeasible`` when its time limit interrupts the cut generators
    of its preprocessing (``Pre-processing says infeasible``), feasible model or not; the
    run's wall-clock time then reaches the limit.
    """
    if time_limit is None or "Pre-processing says infeasible" not in log:
        return False
    found = _RE_WALLCLOCK.findall(log)
    return bool(found) and float(found[-1]) >= 0.9 * time_limit


def _log_bound(log: str, optimal: bool, objective: float | None) -> float | None:
    """The best possible bound CBC proved.

    When optimal: the objective, less the integer gap CBC accepted if it stopped on the gap;
    otherwise the last ``best possible`` value of the log (or its ``Lower bound``).
    """
    if optimal and objective is not None:
        gap = _RE_INTEGER_GAP.search(log)
        return objective - abs(float(gap.group(1))) if gap else objective
    found = _RE_PARTIAL.findall(log) or _RE_BEST_POSSIBLE.findall(log)
    lower = None if found else _RE_LOWER_BOUND.search(log)
    value = float(found[-1]) if found else float(lower.group(1)) if lower else None
    return None if value is None or not np.isfinite(value) or abs(value) >= 1e49 else value
