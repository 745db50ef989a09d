"""One portfolio member: a process that solves with one backend and trades incumbents.

Started as ``python -m bnnmip_portfolio.member HOST PORT KEY LABEL`` (by the coordinator on
this machine, or by a Dask task on a worker). It leads its own process group, connects to the
coordinator, receives its job (the problem, its backend and options), solves it with
:func:`bnnmip.solve` and sends back the result. Meanwhile, on a backend with callbacks, its
heuristic sends each new incumbent to the coordinator and hands the solver the best
incumbent of the other members when that is better. When the coordinator says stop, or
disappears (its connection ends), the member kills its whole process group (a solver
subprocess such as CBC's included) at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Client

import bnnmip
from bnnmip.backends import BackendFeature, SolveOptions

__all__ = ["main"]

PROGRESS_INTERVAL = 0.5
"""Seconds between two progress messages (incumbent, bound, nodes) to the coordinator."""


def _own_group() -> None:
    with contextlib.suppress(OSError):
        if os.getpgid(0) != os.getpid():
            os.setpgid(0, 0)


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when the process that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # lazy: start-up cost, Linux only

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort: the connection's end kills the group too
        pass


def _kill_group() -> None:
    """End this member now, with every process of its group."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os._exit(75)


class _Member:
    def __init__(self, conn, job: dict) -> None:
        self.conn, self.job = conn, job
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.other = None  # (objective, x) of the best incumbent from the others
        self.last_given = None
        self.sent_objective = float("inf")
        self.sent = self.given = 0
        self.t0 = time.monotonic()
        self.last_progress = -float("inf")

    def send(self, message) -> None:
        with self.send_lock:
            try:
                self.conn.send(message)
            except OSError:  # the coordinator is gone
                _kill_group()

    def listen(self) -> None:
        """The reader thread: incumbents from the others; stop or end of connection: die."""
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                _kill_group()
            if message[0] == "incumbent":
                with self.lock:
                    if self.other is None or message[1] < self.other[0]:
                        self.other = (message[1], message[2])
            elif message[0] == "stop":
                _kill_group()

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
        options = SolveOptions(**settings, heuristic=self.heuristic if callbacks else None,
                               progress=self.progress if callbacks else None)
        result = bnnmip.solve(backend, self.problem, options)
        text = ""
        if log is not None:
            with contextlib.suppress(OSError):
                with open(log, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                os.unlink(log)
        self.send(("result", result, {"sent": self.sent, "given": self.given, "log": text}))


def main(argv: list[str] | None = None) -> None:
    """Connect to the coordinator at HOST PORT with KEY (hex), solve as LABEL, report, exit."""
    host, port, key, label = (sys.argv[1:] if argv is None else argv)[:4]
    _own_group()
    _die_with_parent()
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
    sys.path[:0] = [p for p in job.get("sys_path", []) if p not in sys.path]
    member = _Member(conn, job)
    try:
        member.run()
    except BaseException as exc:  # noqa: BLE001 - report anything, then end
        import traceback

        member.send(("error", f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-3))))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
