"""One portfolio member: a process that solves with one backend and trades incumbents.

Started as ``python -m bnnmip_portfolio.member HOST PORT KEY LABEL`` (by the coordinator on
this machine, or by a Dask task on a worker). It leads its own process group, connects to the
coordinator, receives its job (the problem, its backend and options), solves it with
:func:`bnnmip.solve` and sends back the result. Meanwhile, on a backend with callbacks, its
heuristic sends each new incumbent to the coordinator and hands the solver the best
incumbent of the other members when that is better, and its incumbent source
(``SolveOptions.incumbent_source``) offers that incumbent whenever the solver takes user
solutions, between its own improvements too. When the coordinator says stop, or
disappears (its connection ends), the member kills its whole process group (a solver
subprocess such as CBC's included) at once.

The portfolio's lead member runs the same code in a thread of the coordinator's process
(:func:`serve_in_thread`), connected by a pipe; asked to stop, it interrupts its solver
(``SolveOptions.interrupt``) instead of killing anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from multiprocessing.connection import Client

import bnnmip
from bnnmip.backends import BackendFeature, SolveOptions

__all__ = ["main", "serve_in_thread"]

PROGRESS_INTERVAL = 0.5
"""Seconds between two progress messages (incumbent, bound, nodes) to the coordinator."""


def _own_group() -> None:
    with contextlib.suppress(OSError):
        if os.getpgid(0) != os.getpid():
            os.setpgid(0, 0)


def _own_temp_folder() -> str:
    """A temporary folder for this member alone (its solver's files land there too)."""
    folder = tempfile.mkdtemp(prefix=f"bnnmip-portfolio-{os.getpid()}-")
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder  # solver subprocesses too
    return folder


_FOLDER: list[str] = []


def _group_members(group: int) -> list[int]:
    """The processes of process group ``group`` (from ``/proc``; empty where there is none)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read().decode(errors="replace")
                fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
                if len(fields) > 2 and fields[2] == str(group):
                    found.append(int(entry))
    return found


def _kill_group() -> None:
    """End this member now: every other process of its group (a solver's), its files, itself."""
    me = os.getpid()
    with contextlib.suppress(OSError):
        if os.getpgid(0) == me:
            others = [pid for pid in _group_members(me) if pid != me]
            for pid in others:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not os.path.isdir("/proc"):  # no process list here: the whole group, this one too
                for folder in _FOLDER:
                    shutil.rmtree(folder, ignore_errors=True)
                os.killpg(me, signal.SIGKILL)
    for folder in _FOLDER:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(75)


class _Member:
    """One member's solve and its side of the protocol; ``in_process``: the portfolio's lead, in a thread."""

    def __init__(self, conn, job: dict, in_process: bool = False) -> None:
        self.conn, self.job, self.in_process = conn, job, in_process
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.other = None  # (objective, x) of the best incumbent from the others
        self.last_given = None
        self.sent_objective = float("inf")
        self.sent = self.given = 0
        self.t0 = time.monotonic()
        self.last_progress = -float("inf")

    def end(self) -> None:
        """Stop now: a process kills its group; the lead (a thread) interrupts its solver instead."""
        if self.in_process:
            self.stopped.set()
        else:
            _kill_group()

    def send(self, message) -> None:
        with self.send_lock:
            try:
                self.conn.send(message)
            except OSError:  # the coordinator is gone
                self.end()

    def listen(self) -> None:
        """The reader thread: incumbents from the others; stop or end of connection: end."""
        while not self.stopped.is_set():
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                self.end()
                return
            if message[0] == "incumbent":
                with self.lock:
                    if self.other is None or message[1] < self.other[0]:
                        self.other = (message[1], message[2])
            elif message[0] == "stop":
                self.end()
                return

    def heuristic(self, x):
        """Send a new incumbent; return the others' best when it is better (once each)."""
        objective = self.problem.objective(x)
        if objective < self.sent_objective - 1e-9:
            self.sent_objective = objective
            self.sent += 1
            self.send(("incumbent", objective, x, time.monotonic() - self.t0))
        with self.lock:
            other = self.other
        if other is not None and other is not self.last_given and other[0] < objective - 1e-9:
            self.last_given = other
            self.given += 1
            return other[1]
        return None

    def outside(self):
        """The others' best incumbent whenever the solver takes one, if better than this member's (once each).

        Without it a member would take the others' incumbents only at its own next improvement
        (when its solver calls the heuristic). What it hands over is not sent back as found here.
        """
        with self.lock:
            other = self.other
        if other is None or other is self.last_given or other[0] >= self.sent_objective - 1e-9:
            return None
        self.last_given = other
        self.given += 1
        self.sent_objective = other[0]
        return other[1]

    def progress(self, objective=None, bound=None, nodes=None) -> None:
        now = time.monotonic()
        if now - self.last_progress >= PROGRESS_INTERVAL:
            self.last_progress = now
            self.send(("progress", objective, bound, nodes))

    def run(self) -> None:
        job = self.job
        self.problem = job["problem"]
        backend = bnnmip.get_backend(job["backend"])
        threading.Thread(target=self.listen, daemon=True).start()
        settings = dict(job["options"])
        log = None
        if job["log"]:
            fd, log = tempfile.mkstemp(prefix="bnnmip-portfolio-", suffix=".log")
            os.close(fd)
            settings["log_file"] = log
        callbacks = BackendFeature.CALLBACKS in backend.features
        interrupt = self.in_process and BackendFeature.INTERRUPT in backend.features
        options = SolveOptions(**settings, heuristic=self.heuristic if callbacks else None,
                               incumbent_source=self.outside if callbacks else None,
                               progress=self.progress if callbacks else None,
                               interrupt=self.stopped.is_set if interrupt else None)
        result = bnnmip.solve(backend, self.problem, options)
        text = ""
        if log is not None:
            with contextlib.suppress(OSError):
                with open(log, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                os.unlink(log)
        self.send(("result", result, {"sent": self.sent, "given": self.given, "log": text}))


def serve_in_thread(conn, label: str) -> None:
    """The lead member: the same protocol over ``conn`` (a pipe), in a thread of the coordinator's process.

    It saves the start-up of a process (about a second with SCIP's import); its backend must
    declare ``INTERRUPT``, since a thread cannot be killed: at "stop" (or when the pipe
    closes) the solver is interrupted at its next check and the thread ends.
    """
    try:
        conn.send(("hello", label, os.getpid()))
        job = conn.recv()
    except (EOFError, OSError):
        return
    if job[0] == "stop":
        return
    member = _Member(conn, job[1], in_process=True)
    try:
        member.run()
    except Exception as exc:  # noqa: BLE001 - report anything, then end
        member.send(("error", f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-3))))


def main(argv: list[str] | None = None) -> None:
    """Connect to the coordinator at HOST PORT with KEY (hex), solve as LABEL, report, exit."""
    host, port, key, label = (sys.argv[1:] if argv is None else argv)[:4]
    _own_group()
    try:
        conn = Client((host, int(port)), authkey=bytes.fromhex(key))
    except OSError:
        os._exit(76)  # the coordinator is gone already
    conn.send(("hello", label, os.getpid()))
    try:
        job = conn.recv()
    except (EOFError, OSError):
        _kill_group()
    if job[0] == "stop":
        _kill_group()
    job = job[1]
    _FOLDER.append(_own_temp_folder())
    sys.path[:0] = [p for p in job.get("sys_path", []) if p not in sys.path]
    member = _Member(conn, job)
    try:
        member.run()
    except BaseException as exc:  # noqa: BLE001 - report anything, then end
        member.send(("error", f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-3))))
    sys.stdout.flush()
    sys.stderr.flush()
    for folder in _FOLDER:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


if __name__ == "__main__":
    main()
