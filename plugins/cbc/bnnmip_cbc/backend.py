"""CBC as a subprocess: the binary PuLP ships (or any ``cbc``), driven through MPS files.

``build`` writes the MILP with :func:`bnnmip.milp.io.write_mps` (and the MIP start as a CBC
solution file) into a temporary directory; ``run`` calls::

    cbc model.mps -timeMode elapsed -sec T -ratio G [-threads N] [-randomCbcSeed S]
        [-primalTolerance F] [-integerTolerance I] [-mips start.sol]
        -solve -printingOptions all -solution out.sol

under a wall-clock watchdog (``T`` plus a grace period, then the process is killed);
``extract`` reads the solution file's status line and values and the log's objective, best
possible bound and node count, then removes the temporary directory.

A crashed, killed or missing CBC gives an ``ERROR`` result with the log's tail, never an
exception. Reading CBC's files: :mod:`bnnmip_cbc.files`.

A MIP start is written with its known values; :func:`bnnmip.solve` passes only starts
whose integer columns are all known (``PARTIAL_MIP_START`` is not declared): CBC 2.10 reads
each column missing from a start file as 0, so a start with unknown integers would silently
become a different start (for a network: all unknown neurons off). The core maps the status
through :attr:`CbcBackend.status_table` and applies the bound and gap rules.
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
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bnnmip.backends import BackendFeature, NativeResult, SolveOptions, SolveStatus, policy
from bnnmip.backends.helpers import checked_options, copy_log, run_logged
from bnnmip.milp import MilpProblem
from bnnmip.milp.io import write_mps

from .files import (
    RE_NODES,
    RE_OBJECTIVE,
    RE_STATUS_OBJ,
    cut_short,
    log_bound,
    log_tail,
    parse_values,
    read_text,
    start_accepted,
    write_start,
)

# first words of the solution file's status line -> (status with a solution, without one)
_STATUS = (
    ("Optimal", (SolveStatus.OPTIMAL, SolveStatus.ERROR)),
    ("Integer infeasible", (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE)),
    ("Infeasible", (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE)),
    ("Unbounded", (SolveStatus.ERROR, SolveStatus.ERROR)),
    ("Integer unbounded", (SolveStatus.ERROR, SolveStatus.ERROR)),
    ("Stopped on time", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped on iterations", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped on nodes", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped on solutions", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped on ctrl-c", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped on difficulties", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("Stopped", (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)),
    ("failed", (SolveStatus.ERROR, SolveStatus.ERROR)),  # CBC did not run, crashed or was killed
)
_NO_INTEGER = "no integer solution"

_RE_VERSION = re.compile(r"Version:\s*(\S+)")


@dataclass
class _Native:
    workdir: str
    mps: str
    solution: str
    log: str
    n_cols: int
    start: str | None = None
    log_note: str = ""
    returncode: int | None = None
    killed: bool = False
    failure: str = ""
    command: list[str] = field(default_factory=list)
    _finalizer: object = None


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
    status_table = dict(_STATUS)
    # Without the tight formulation's symmetry-breaking rows CBC proves more: on the 18 small
    # random-label instances of docs/benchmarks/symmetry.md (30 s, one thread) it proved 16
    # without them and 13 with them (shifted geometric mean 2.08 s vs 3.39 s: 0.6x), where
    # SCIP (3.1x) and HiGHS (1.8x) gain from them. The exact strategy uses this unless the
    # user sets symmetry_breaking (bnnmip.backends.formulation_defaults).
    formulation_defaults = MappingProxyType({"symmetry_breaking": False})

    def __init__(self, path: str | os.PathLike | None = None, *, grace_seconds: float = 10.0):
        self._explicit = None if path is None else str(path)
        self.grace_seconds = float(grace_seconds)
        self._version: str | None = None

    def __repr__(self) -> str:
        return f"CbcBackend(path={self._explicit!r})"

    # -- locating the binary ---------------------------------------------------------------
    def executable(self) -> str | None:
        """Path of the CBC executable to run, or ``None`` if none is found."""
        if self._explicit is not None:
            return self._explicit if _is_executable(self._explicit) else None
        bundled = _pulp_cbc()
        if bundled is not None and _is_executable(bundled):
            return bundled
        return shutil.which("cbc")

    def availability(self) -> tuple[bool, str]:
        """Usable if a CBC executable exists (PuLP's is located without importing PuLP)."""
        if self._explicit is not None:
            if _is_executable(self._explicit):
                return True, ""
            return False, f"{self._explicit} is not an executable file"
        if self.executable() is not None:
            return True, ""
        if importlib.util.find_spec("pulp") is None:
            return False, "no cbc executable: install PuLP (pip install pulp) or put cbc on PATH"
        return False, "PuLP ships no CBC binary for this platform and there is no cbc on PATH"

    def solver_version(self) -> str:
        """CBC's version, from the banner of ``cbc -quit`` (cached), with PuLP's version."""
        if self._version is not None:
            return self._version
        exe = self.executable()
        if exe is None:
            return "not installed"
        text = "cbc ?"
        try:
            out = subprocess.run(
                [exe, "-quit"], capture_output=True, text=True, timeout=5,
                stdin=subprocess.DEVNULL, check=False,
            ).stdout
            found = _RE_VERSION.search(out)
            if found:
                text = f"cbc {found.group(1)}"
        except (OSError, subprocess.SubprocessError):
            pass
        if self._explicit is None and exe == _pulp_cbc():
            try:
                text += f" (PuLP {importlib.metadata.version('pulp')})"
            except importlib.metadata.PackageNotFoundError:
                pass
        self._version = text
        return text

    # -- solver options --------------------------------------------------------------------
    def check_solver_options(self, options: dict) -> list[str]:
        """``options`` (CBC command-line parameters, e.g. ``cuts=off``) as command-line words.

        Each is tried in a CBC run that only sets it (``cbc -name value -quit``): anything CBC
        prints other than "changed from" (an unknown name, a value out of range or not among
        the keywords, an action instead of a parameter) becomes the message of the
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
            return _cbc_complaints(run.stdout + run.stderr) or None

        checked = checked_options("CBC", options, owned=OWNED_OPTIONS, prefix=True, kind_of=kind_of,
                                  trial=trial)
        return [word for name, text in checked.items() for word in (f"-{name.lstrip('-')}", text)]

    # -- build -----------------------------------------------------------------------------
    def build(self, problem: MilpProblem, options: SolveOptions) -> _Native:
        """Write the MPS file (and the start file) to a fresh temporary directory."""
        workdir = tempfile.mkdtemp(prefix="bnnmip-cbc-")
        native = _Native(
            workdir=workdir,
            mps=os.path.join(workdir, "model.mps"),
            solution=os.path.join(workdir, "solution.sol"),
            log=os.path.join(workdir, "cbc.log"),
            n_cols=problem.n_cols,
        )
        native._finalizer = weakref.finalize(native, shutil.rmtree, workdir, ignore_errors=True)
        try:
            write_mps(problem, native.mps)
            if options.mip_start is not None:
                native.start = write_start(problem, options.mip_start, workdir)
        except BaseException:
            native._finalizer()
            raise
        return native

    def command(self, native: _Native, options: SolveOptions) -> list[str]:
        """The CBC command line for a built model."""
        exe = self.executable() or "cbc"
        cmd = [exe, native.mps, "-timeMode", "elapsed"]
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
        cmd += ["-solve", "-printingOptions", "all", "-solution", native.solution]
        return cmd

    # -- run -------------------------------------------------------------------------------
    def run(self, model: _Native, options: SolveOptions) -> None:
        """Run CBC under a watchdog; never raises (failures are recorded for ``extract``)."""
        try:
            self._run(model, options)
        except Exception as exc:  # recorded, reported as ERROR by extract
            model.failure = f"could not run CBC: {exc!r}"

    def _run(self, model: _Native, options: SolveOptions) -> None:
        exe = self.executable()
        if exe is None:
            model.failure = "no cbc executable found"
            return
        cmd = model.command = self.command(model, options)
        timeout = None
        if options.time_limit is not None:
            timeout = options.time_limit + max(self.grace_seconds, 0.25 * options.time_limit)
        model.returncode, model.killed = run_logged(cmd, log=model.log, cwd=model.workdir, timeout=timeout,
                                                    echo=options.verbose, solver="CBC")
        model.log_note = copy_log(model.log, options.log_file)  # a failure is noted, not fatal

    # -- extract ---------------------------------------------------------------------------
    def extract(self, model: _Native, problem: MilpProblem, options: SolveOptions) -> NativeResult:
        """Parse the solution file and the log; always removes the temporary directory."""
        try:
            return self._extract(model, problem, options.time_limit)
        finally:
            model._finalizer()

    def _extract(self, model: _Native, problem: MilpProblem, time_limit: float | None) -> NativeResult:
        log = read_text(model.log)
        start_used = None if model.start is None else start_accepted(log)
        note = f"; {model.log_note}" if model.log_note else ""
        why, first, body = _run_failure(model), "", ""
        if not why:
            with open(model.solution, encoding="utf-8", errors="replace") as fh:
                first, body = fh.readline().strip(), fh.read()
            status = next((prefix for prefix, _ in _STATUS if first.startswith(prefix)), None)
            why = "" if status else f"unknown CBC status line {first!r}"
            if status in ("Integer infeasible", "Infeasible") and cut_short(log, time_limit):
                status = "Stopped on time"
                note += ("; CBC's preprocessing said infeasible when the time limit cut it short "
                         "(CBC 2.10 does so on feasible models): not a proof")
        has_solution = (not why and self.status_table[status][0].has_solution and _NO_INTEGER not in first
                        and not first.startswith(("Integer infeasible", "Infeasible")))
        x = parse_values(body, problem.n_cols) if has_solution else None
        if has_solution and x is None:
            why = f"incomplete CBC solution file ({first!r})"
        if why:
            return NativeResult("failed", message=f"{why}{note}\n{log_tail(log)}", mip_start_used=start_used)
        found = RE_OBJECTIVE.search(log) or RE_STATUS_OBJ.search(first)
        objective = float(found.group(1)) if found and has_solution else None
        nodes = RE_NODES.search(log)
        optimal = has_solution and self.status_table[status][0] is SolveStatus.OPTIMAL
        return NativeResult(
            status=status, has_solution=has_solution, x=x, objective=objective,
            bound=log_bound(log, optimal, objective), nodes=int(nodes.group(1)) if nodes else None,
            message=f"CBC: {first}{note}", mip_start_used=start_used,
        )


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _pulp_cbc() -> str | None:
    """The CBC binary inside the installed PuLP package (found without importing PuLP)."""
    try:
        spec = importlib.util.find_spec("pulp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    if sys.platform in ("win32", "cli"):
        system, exe = "win", "cbc.exe"
    elif sys.platform == "darwin":
        system, exe = "osx", "cbc"
    else:
        system, exe = "linux", "cbc"
    if sys.maxsize > 2**32:
        arch = "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "i64"
    else:
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


OWNED_OPTIONS = {  # CBC parameters (and actions) that change what is solved: refused
    "seconds": policy.TIME_LIMIT, "ratioGap": policy.GAP, "threads": policy.THREADS,
    "randomCbcSeed": policy.SEED, "randomSeed": policy.SEED, "primalTolerance": policy.TOLERANCE,
    "integerTolerance": policy.TOLERANCE, "direction": policy.SENSE, "maximize": policy.SENSE,
    "minimize": policy.SENSE, "cutoff": policy.CUTOFF,
}
_CBC_RESERVED = ("loglevel", "sloglevel", "printingoptions", "solution", "solve", "mips", "timemode", "quit",
                 "stop", "exit", "end", "import", "export", "directory")


def _cbc_complaints(output: str) -> str:
    """What a ``cbc -name value -quit`` run said beyond its banner and "changed" lines."""
    lines = output.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("command line")), 0)
    said = [line.strip() for line in lines[start:]
            if line.strip() and "changed from" not in line and not line.startswith("Total time")]
    return " ".join(said)


def _num(value: float) -> str:
    return repr(float(value))


def _run_failure(model: _Native) -> str:
    """Why CBC left no solution file to read (``""`` if it did)."""
    if model.failure:
        return model.failure
    if model.killed:
        return "CBC did not stop in time and was killed by the watchdog"
    if model.returncode not in (0, None):
        return f"CBC exited with code {model.returncode}"
    return "" if os.path.exists(model.solution) else "CBC wrote no solution file"


