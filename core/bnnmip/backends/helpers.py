"""Small helpers for writing a backend: the parts every backend repeated, so each keeps its solver's.

A backend calls them from its own methods; none is required (the contract is
:class:`~bnnmip.backends.Backend`):

- :func:`module_availability` and :func:`distribution_version`: ``availability()`` and
  ``solver_version()`` of a solver reached through a Python package;
- :func:`status_table`: a ``status_table`` from the native status names of each kind;
- :func:`checked_options`: the body of ``check_solver_options`` (refuse bnnmip's own settings,
  unknown names and values the solver refuses, convert the rest; one error naming each);
- :func:`solver_settings`: the time limit, gap, node limit, threads, seed and tolerances of a
  :class:`~bnnmip.backends.SolveOptions` under the solver's names, then the checked solver
  options, in the order to apply them;
- :func:`start_entries`: a MIP start's known columns and values, and whether it is full;
- :func:`one_sided_rows`: the rows as ``=``, ``<=`` and ``>=`` rows, for a solver without
  ranged rows;
- :func:`run_logged` and :func:`copy_log`: a solver executable run under a watchdog with its
  output in a log, and that log copied to ``options.log_file``;
- :class:`SolverRun`: both, for a solver executable working on files in a temporary directory
  of its own, with why a run left nothing to read and the log's tail for the message;
- :func:`executable_version`: a version read from an executable's banner.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..errors import InvalidInputError
from .options import option_value
from .policy import owned_option_problem
from .results import SolveOptions, SolveStatus

__all__ = [
    "FAILED", "INFEASIBLE", "LIMIT", "SOLVED", "SolverRun", "checked_options", "copy_log",
    "distribution_version", "executable_version", "module_availability", "one_sided_rows", "run_logged",
    "solver_settings", "start_entries", "status_table",
]

SOLVED = (SolveStatus.OPTIMAL, SolveStatus.ERROR)
"""A proof of optimality: ``OPTIMAL`` with a solution, an ``ERROR`` without one."""
LIMIT = (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION)
"""Stopped at a limit (time, nodes, solutions, interrupt...): never ``OPTIMAL``."""
INFEASIBLE = (SolveStatus.INFEASIBLE, SolveStatus.INFEASIBLE)
"""A proof that no solution exists."""
FAILED = (SolveStatus.ERROR, SolveStatus.ERROR)
"""The solver failed (or says unbounded, which bnnmip's bounded models never are)."""


def module_availability(module: str, install: str | None = None) -> tuple[bool, str]:
    """``availability()`` for a solver reached through Python module ``module``, without importing it.

    ``(True, "")`` if it can be imported, else ``(False, "MODULE is not installed (pip install
    INSTALL)")``; ``install`` defaults to ``module``.
    """
    if importlib.util.find_spec(module) is None:
        return False, f"{module} is not installed (pip install {install or module})"
    return True, ""


def distribution_version(distribution: str) -> str:
    """The installed version of ``distribution`` from its metadata, or ``"not installed"``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def status_table(*, solved: Iterable[str] = (), limit: Iterable[str] = (), infeasible: Iterable[str] = (),
                 failed: Iterable[str] = (), **special: tuple[SolveStatus, SolveStatus]) -> dict:
    """A backend's ``status_table`` from the native status names of each kind.

    ``solved`` names map to :data:`SOLVED`, ``limit`` to :data:`LIMIT`, ``infeasible`` to
    :data:`INFEASIBLE`, ``failed`` to :data:`FAILED`; ``special`` gives any other pair by
    name (``kUnknown=(SolveStatus.FEASIBLE, SolveStatus.ERROR)``). Order: as given, kinds first.
    """
    table = {}
    for names, pair in ((solved, SOLVED), (limit, LIMIT), (infeasible, INFEASIBLE), (failed, FAILED)):
        table.update(dict.fromkeys(names, pair))
    table.update(special)
    return table


def checked_options(solver: str, options: Mapping[str, object], *, kind_of: Callable[[str], object],
                    owned: Mapping[str, str] | None = None, prefix: bool = False,
                    trial: Callable[[str, object], str | None] | None = None,
                    noun: str = "parameter", reference: str = "") -> dict:
    """The work of a backend's ``check_solver_options``: each option refused or converted.

    For each ``name, value`` of ``options``, in order: refused if ``owned`` lists it
    (:func:`bnnmip.backends.policy.owned_option_problem`, with ``prefix`` for solvers that
    take abbreviations); ``kind_of(name)`` gives its type (``bool``, ``int``, ``float`` or
    ``str``: the value is converted with :func:`bnnmip.backends.option_value`), a function
    that converts the value itself, ``None`` for a name the solver does not have, or a
    string, the reason it is refused; then
    ``trial(name, converted)``, if given, tries it on the solver and returns ``None`` if the
    solver takes it, else its complaint (``""`` for none in words).

    Returns
    -------
    dict
        ``{name: converted value}``.

    Raises
    ------
    bnnmip.InvalidInputError
        Naming every refused option: ``SOLVER has no NOUN 'name' (SOLVER's NOUNs:
        REFERENCE)``, ``SOLVER refuses name=value: COMPLAINT``, the conversion's or the policy's
        message.
    """
    out, problems = {}, []
    for name, value in options.items():
        owned_why = owned_option_problem(solver, name, owned, prefix=prefix) if owned else None
        kind = None if owned_why else kind_of(name)
        if owned_why or isinstance(kind, str):
            problems.append(owned_why or kind)
            continue
        if kind is None:
            where = f" ({solver}'s {noun}s: {reference})" if reference else ""
            problems.append(f"{solver} has no {noun} {name!r}{where}")
            continue
        try:
            typed = option_value(solver, name, value, kind) if kind in _KINDS else kind(value)
        except InvalidInputError as exc:
            problems.append(str(exc))
            continue
        complaint = trial(name, typed) if trial is not None else None
        if complaint is not None:
            problems.append(f"{solver} refuses {name}={value!r}" + (f": {complaint}" if complaint else ""))
            continue
        out[name] = typed
    if problems:
        raise InvalidInputError("; ".join(problems))
    return out


_KINDS = (bool, int, float, str)
_SETTINGS = {"time_limit": float, "mip_gap": float, "node_limit": int, "threads": int, "seed": int,
             "integrality_tolerance": float, "feasibility_tolerance": float}


def solver_settings(options: SolveOptions, names: Mapping[str, str | tuple[str, Callable]]) -> dict:
    """``{solver's name: value}``: the common settings of ``options``, then its solver options.

    ``names`` maps each of ``time_limit``, ``mip_gap``, ``node_limit``, ``threads``, ``seed``,
    ``integrality_tolerance`` and ``feasibility_tolerance`` that the solver takes to its own
    parameter name, or to ``(name, convert)`` where the solver wants the value changed (a seed
    range, say). A setting that is ``None`` (no limit, the solver's default tolerance) is left
    out, the others are converted to ``float`` or ``int``. ``options.checked_solver_options``
    (the user's own parameters, checked and converted by :func:`bnnmip.solve`) come last, so
    applying the result in order lets them win.
    """
    out = {}
    for setting, native in names.items():
        value = getattr(options, setting)
        if value is None:
            continue
        native, convert = native if isinstance(native, tuple) else (native, _SETTINGS[setting])
        out[native] = convert(value)
    out.update(options.checked_solver_options or {})
    return out


def start_entries(start: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """A MIP start's known entries: ``(columns, values, full)``.

    ``columns`` are the indices of the entries that are not NaN (``int32``, the type solver
    APIs take), ``values`` their values and ``full`` whether every column is known (a solver
    checks a full start; it completes a partial one).
    """
    start = np.asarray(start, dtype=float)
    known = np.flatnonzero(~np.isnan(start)).astype(np.int32)
    return known, start[known], known.size == start.size


def one_sided_rows(problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(equal, upper, lower)``: the rows to add as ``a x = lo``, ``a x <= hi`` and ``a x >= lo``.

    For a solver without ranged rows: a row with both sides finite and different is in
    ``upper`` and in ``lower`` (two rows), a free row (both sides infinite) in none.
    """
    lo, up = problem.row_lower, problem.row_upper
    has_lo, has_up = np.isfinite(lo), np.isfinite(up)
    equal = has_lo & has_up & (lo == up)
    return np.flatnonzero(equal), np.flatnonzero(has_up & ~equal), np.flatnonzero(has_lo & ~equal)


def run_logged(command: list[str], *, log: str | os.PathLike, cwd: str | os.PathLike | None = None,
               timeout: float | None = None, echo: bool = False, solver: str = "the solver"):
    """Run a solver's executable under a wall-clock watchdog, its output copied to ``log``.

    For a backend that drives a solver binary: ``log`` gets the command line (``$ ...``) and
    everything the process prints (stdout and stderr), and the terminal too with ``echo``
    (``options.verbose``). After ``timeout`` seconds (``None``: none) the process is killed and
    the log says so (``[bnnmip] SOLVER killed by the watchdog after T s``).

    Returns
    -------
    tuple
        ``(returncode, killed)``. ``OSError`` (no such executable) propagates.
    """
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        copier = threading.Thread(target=_tee, args=(proc.stdout, out, echo), daemon=True)
        copier.start()
        killed = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            proc.kill()
            proc.wait()
        finally:
            copier.join(timeout=5)
        if killed:
            out.write(f"\n[bnnmip] {solver} killed by the watchdog after {timeout:.1f} s\n")
    return proc.returncode, killed


def _tee(stream, log, echo: bool) -> None:
    """Copy a process's output ``stream`` to the ``log`` file (and the terminal if ``echo``)."""
    for line in stream:
        log.write(line)
        if echo:
            sys.stdout.write(line)
            sys.stdout.flush()
    stream.close()


def copy_log(log: str | os.PathLike, log_file: str | os.PathLike | None) -> str:
    """Copy a solver's ``log`` to ``options.log_file`` (if not ``None``); ``""`` or why it failed.

    A log that cannot be written does not fail the solve: the backend puts the returned note
    (``could not write the log file: ...``) in its result's message.
    """
    if log_file is None:
        return ""
    try:
        shutil.copyfile(log, log_file)
    except OSError as exc:
        return f"could not write the log file: {exc}"
    return ""


def executable_version(command: list[str], pattern: str, timeout: float = 5.0) -> str | None:
    """The first group of regular expression ``pattern`` in ``command``'s output, or ``None``.

    For a solver executable that prints its version in a banner (``cbc -quit``: ``Version:
    2.10.3``); a command that cannot run, times out or prints no match gives ``None``.
    """
    try:
        out = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=timeout,
                             stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(pattern, out.stdout + out.stderr)
    return found.group(1) if found else None


class SolverRun:
    """One run of a solver executable on files in a fresh temporary directory of its own.

    :meth:`path` names a file there (the model, a start, the solution the solver writes);
    :meth:`run` runs a command there under :func:`run_logged` (output in :attr:`log`, a
    watchdog) and copies the log to ``log_file`` (:func:`copy_log`), never raising: an
    executable that cannot be started is recorded in :attr:`error`. :meth:`failure` says why
    there is no output file to read, :meth:`log_tail` gives the log's last lines for a message,
    and :meth:`close` removes the directory (so does garbage collection, at the latest).

    Parameters
    ----------
    solver
        The solver's name in messages (``"CBC"``); the log is ``<solver in lower case>.log``.
    """

    TAIL_LINES = 25
    """Lines of the log in :meth:`log_tail`."""

    def __init__(self, solver: str) -> None:
        self.solver = solver
        self.directory = tempfile.mkdtemp(prefix=f"bnnmip-{solver.lower()}-")
        self.log = self.path(f"{solver.lower()}.log")
        self.returncode: int | None = None
        self.killed = False
        self.error = ""  # why the executable did not run
        self.log_note = ""  # why the log could not be copied to log_file
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, ignore_errors=True)

    def path(self, name: str) -> str:
        """The path of file ``name`` in the run's directory."""
        return os.path.join(self.directory, name)

    def run(self, command: list[str] | None, *, timeout: float | None = None, echo: bool = False,
            log_file: str | os.PathLike | None = None) -> None:
        """Run ``command`` (``None``: no executable, recorded as such) in the directory; never raises."""
        if command is None:
            self.error = f"no {self.solver.lower()} executable found"
            return
        try:
            self.returncode, self.killed = run_logged(command, log=self.log, cwd=self.directory,
                                                      timeout=timeout, echo=echo, solver=self.solver)
            self.log_note = copy_log(self.log, log_file)
        except Exception as exc:  # recorded: the backend reports an ERROR result
            self.error = f"could not run {self.solver}: {exc!r}"

    def failure(self, output: str) -> str:
        """Why the run left no file ``output`` to read (``""`` if it did)."""
        if self.error:
            return self.error
        if self.killed:
            return f"{self.solver} did not stop in time and was killed by the watchdog"
        if self.returncode not in (0, None):
            return f"{self.solver} exited with code {self.returncode}"
        return "" if os.path.exists(output) else f"{self.solver} wrote no solution file"

    def log_text(self) -> str:
        """The log's text, ``""`` if there is none."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    def log_tail(self) -> str:
        """The log's last :attr:`TAIL_LINES` lines, for an error message."""
        lines = self.log_text().rstrip().splitlines()
        return "\n".join(lines[-self.TAIL_LINES:]) if lines else f"(no {self.solver} output)"

    def close(self) -> None:
        """Remove the directory and its files (again: nothing)."""
        self._finalizer()
