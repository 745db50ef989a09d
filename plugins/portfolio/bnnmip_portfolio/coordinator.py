"""The coordinator: starts the members, trades incumbents, stops everything at a proof or the limit.

It runs in the process that called :func:`bnnmip.solve`. Members are processes (local, each
leading its own process group, or started by Dask tasks on workers) that connect back to a
listener of the coordinator's (``multiprocessing.connection``, with a random key), except
the lead (the first member, by default): when its backend declares ``INTERRUPT`` it runs in
a thread of this process, connected by a pipe, and is interrupted rather than killed. Every
incumbent a member sends is checked (one finite value per column, feasible within
:data:`FEASIBILITY`, objective recomputed) before it counts or goes to the others.
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Listener

import numpy as np

from bnnmip.backends import BackendFeature, SolveStatus
from bnnmip.plugins import list_backends

from .config import PortfolioConfig
from .member import serve_in_thread

__all__ = ["FEASIBILITY", "GRACE", "Coordinator", "MemberRun", "run_member_process"]

FEASIBILITY = 1e-5
"""Largest row, bound or integrality violation accepted in a member's solution."""

GRACE = 10.0
"""Seconds past the time limit after which members still running are killed."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def member_command(host: str, port: int, key: str, label: str) -> list[str]:
    """The command line of one member process."""
    return [sys.executable, "-m", "bnnmip_portfolio.member", host, str(port), key, label]


def member_env() -> dict:
    """The environment of a member process: one thread in every thread pool."""
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    return env


def run_member_process(host: str, port: int, key: str, label: str) -> tuple[int, str]:
    """The Dask task of one member: its process, waited for; ``(exit code, output tail)``."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(member_command(host, port, key, label), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=member_env(),
                                start_new_session=True)
        try:
            code = proc.wait()
        finally:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        return code, out.read()[-4000:].decode(errors="replace")


@dataclass
class MemberRun:
    """What happened to one member."""

    label: str
    backend: str
    seed: int
    solver_options: dict
    state: str = "starting"  # starting, running, finished, crashed, killed, not run
    proc: object = None
    thread: object = None
    future: object = None
    out: object = None
    conn: object = None
    pid: int | None = None
    result: object = None
    note: str = ""
    wrong: str = ""
    sent: int = 0
    given: int = 0
    bound: float | None = None
    nodes: int | None = None
    objective: float | None = None
    started: float | None = None
    ended: float | None = None
    log: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether it is starting or running."""
        return self.state in ("starting", "running")


class Coordinator:
    """One portfolio solve: ``run()`` starts the members and returns when everything is settled."""

    def __init__(self, problem, options, config: PortfolioConfig, members: list[MemberRun],
                 start=None) -> None:
        self.problem, self.options, self.config, self.members = problem, options, config, members
        self.by_label = {m.label: m for m in members}
        self.events: queue.Queue = queue.Queue()
        self.best = None  # (objective, x, source, seconds)
        self.history: list[tuple[float, str, float]] = []  # (seconds, source, objective)
        self.proof = None  # (label, kind, seconds)
        self.notes: list[str] = []
        self.log: list[str] = []
        self.t0 = time.monotonic()
        self.stopped_at_limit = False
        self.start = start  # the user's full start, if feasible

    # -- the incumbents ----------------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds since the coordinator was made."""
        return time.monotonic() - self.t0

    def say(self, text: str) -> None:
        """One line of the portfolio's log."""
        self.log.append(f"[{self.elapsed():8.2f} s] {text}")

    def checked(self, x, who: str):
        """``(objective, x)`` of a member's solution, or ``None`` (and a note) if it is not feasible."""
        try:
            x = np.asarray(x, dtype=float)
            if x.shape != (self.problem.n_cols,) or not np.isfinite(x).all():
                raise ValueError(f"{x.shape} values, expected {self.problem.n_cols} finite ones")
            violation = self.problem.violation(x)
            if violation > FEASIBILITY:
                raise ValueError(f"violates the MILP by {violation:.3g}")
        except Exception as exc:  # noqa: BLE001 - a member's answer is data, not trusted
            note = f"{who} gave an infeasible solution ({exc}); ignored"
            if note not in self.notes:
                self.notes.append(note)
            self.say(note)
            return None
        return float(self.problem.objective(x)), x

    def offer(self, x, source: str, *, call_heuristic: bool = True) -> bool:
        """Take ``x`` from ``source`` if it is feasible and better; pass it on. Whether it was taken."""
        found = self.checked(x, source)
        if found is None:
            return False
        objective, x = found
        if self.best is not None and objective >= self.best[0] - 1e-9:
            return False
        self.best = (objective, x, source, self.elapsed())
        self.history.append((round(self.elapsed(), 3), source, objective))
        self.say(f"incumbent {objective:g} from {source}")
        for member in self.members:
            if member.label != source and member.conn is not None and member.active:
                self.send(member, ("incumbent", objective, x, source))
        if self.options.progress is not None:
            self.options.progress(objective=objective, bound=self.bound(), nodes=self.nodes())
        heuristic = self.options.heuristic
        if call_heuristic and heuristic is not None:
            y = heuristic(x)  # a HeuristicGuard: never raises, checks the shape
            if y is not None:
                self.offer(y, "heuristic", call_heuristic=False)
        return True

    def bound(self) -> float | None:
        """The best bound of a member no known solution contradicts (at most the incumbent)."""
        bounds = [m.bound for m in self.members if m.bound is not None and not m.wrong]
        if not bounds:
            return None
        value = max(bounds)
        return min(value, self.best[0]) if self.best is not None else value

    def nodes(self) -> int | None:
        """The members' nodes, summed (``None`` if none is known)."""
        counts = [m.nodes for m in self.members if m.nodes is not None]
        return sum(counts) if counts else None

    # -- the members -------------------------------------------------------------------------
    def send(self, member: MemberRun, message) -> None:
        """Send ``message`` to ``member`` unless it has ended."""
        try:
            member.conn.send(message)
        except (OSError, ValueError):
            pass  # it has ended: its reader reports that

    def job(self, member: MemberRun) -> dict:
        """What ``member`` solves: the problem, its backend and options, the time left."""
        o = self.options
        limit = None if o.time_limit is None else max(0.05, o.time_limit - self.elapsed())
        start = o.mip_start
        if self.best is not None:  # a member that starts late gets the best known incumbent
            start = self.best[1]
        settings = dict(time_limit=limit, mip_gap=o.mip_gap, node_limit=o.node_limit, threads=1,
                        seed=member.seed, verbose=False, mip_start=start,
                        integrality_tolerance=o.integrality_tolerance,
                        feasibility_tolerance=o.feasibility_tolerance,
                        solver_options=member.solver_options)
        return {"problem": self.problem, "backend": member.backend, "options": settings,
                "log": o.log_file is not None, "sys_path": list(sys.path)}

    def _accept(self, listener) -> None:
        while True:
            try:
                conn = listener.accept()
            except Exception:  # noqa: BLE001 - closed (the run is over) or a stranger without the key
                if self.closing:
                    return
                continue
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn) -> None:
        label = None
        try:
            hello = conn.recv()
            label = hello[1]
            self.events.put((label, ("connected", conn, hello[2])))
            while True:
                self.events.put((label, conn.recv()))
        except Exception:  # noqa: BLE001 - end of stream: the member ended or was killed
            if label is not None:
                self.events.put((label, ("eof",)))

    def lead(self) -> MemberRun | None:
        """The member that runs in a thread of this process: the first one to run, if it can be interrupted."""
        first = next((m for m in self.members if m.state == "starting"), None)
        if first is None or self.config.lead != "thread":
            return None
        return first if BackendFeature.INTERRUPT in list_backends()[first.backend].features else None

    def launch(self, host: str, port: int, key: str, client) -> None:
        """Start every member: the lead in a thread, the others a local process each (or a Dask task each)."""
        lead = self.lead()
        for member in self.members:
            if member.state != "starting":
                continue
            member.started = self.elapsed()
            if member is lead:
                ours, theirs = Pipe()
                threading.Thread(target=self._read, args=(ours,), daemon=True).start()
                member.thread = threading.Thread(target=serve_in_thread, args=(theirs, member.label),
                                                 name=f"bnnmip-portfolio-{member.label}", daemon=True)
                member.thread.start()
                self.say(f"started {member.label} ({member.backend}, seed {member.seed}) in this process")
                continue
            if client is None:
                member.out = tempfile.TemporaryFile()
                member.proc = subprocess.Popen(
                    member_command(host, port, key, member.label), stdin=subprocess.DEVNULL,
                    stdout=member.out, stderr=subprocess.STDOUT, env=member_env(), start_new_session=True)
                member.pid = member.proc.pid
            else:
                member.future = client.submit(run_member_process, host, port, key, member.label, pure=False,
                                              key=f"bnnmip-portfolio-{member.label}-{key[:8]}")
            self.say(f"started {member.label} ({member.backend}, seed {member.seed})")

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> None:
        """Run every member until one proves, all end, or the limit passes; leave no process behind."""
        self.closing = False
        client = None
        scheduler = self.config.scheduler
        key = os.urandom(16).hex()
        if scheduler is None:
            listener = Listener(("127.0.0.1", 0), authkey=bytes.fromhex(key))
            host = "127.0.0.1"
        else:
            import distributed  # lazy: optional dependency (dask[distributed])

            client = distributed.Client(scheduler, timeout=30)
            listener = Listener(("0.0.0.0", 0), authkey=bytes.fromhex(key))
            host = local_ip_for(scheduler.split("://")[-1].rsplit(":", 1)[0] or "127.0.0.1")
        port = listener.address[1]
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        if self.start is not None:
            self.offer(self.start, "start", call_heuristic=False)
        try:
            self.launch(host, port, key, client)
            self._loop()
        finally:
            self.closing = True
            self._stop_all()
            listener.close()
            if client is not None:
                with contextlib.suppress(Exception):
                    client.cancel([m.future for m in self.members if m.future is not None], force=True)
                client.close()

    def _deadline(self) -> float | None:
        limit = self.options.time_limit
        return None if limit is None else limit + GRACE

    def _loop(self) -> None:
        deadline = self._deadline()
        while any(m.active for m in self.members) and self.proof is None:
            if deadline is not None and self.elapsed() > deadline:
                self.stopped_at_limit = True
                self.say("the time limit has passed: stopping the members still running")
                break
            if self.options.interrupt is not None and self.options.interrupt():  # a guard: never raises
                self.say("interrupted by the caller: stopping the members")
                break
            outside = self.options.incumbent_source  # a SourceGuard: never raises, checks the shape
            y = None if outside is None else outside()
            if y is not None:
                self.offer(y, "outside", call_heuristic=False)
            try:
                label, message = self.events.get(timeout=0.1)
            except queue.Empty:
                self._check_processes()
                continue
            member = self.by_label.get(label)
            if member is not None:
                self._handle(member, message)

    def _check_processes(self) -> None:
        """A member process that ended without connecting, or whose Dask task failed, crashed."""
        for member in self.members:
            if member.state != "starting":
                continue
            if member.proc is not None and member.proc.poll() is not None:
                member.state = "crashed"
                member.note = (f"exited with code {member.proc.returncode} before connecting: "
                               + self._tail(member))
            elif member.future is not None and member.future.done():
                try:
                    code, tail = member.future.result()
                    member.note = f"exited with code {code} before connecting: {tail.strip()[-300:]}"
                except Exception as exc:  # noqa: BLE001 - e.g. a KilledWorker
                    member.note = f"its Dask task failed: {type(exc).__name__}: {exc}"
                member.state = "crashed"
            if member.state == "crashed":
                member.ended = self.elapsed()
                self.say(f"{member.label} crashed: {member.note}")

    def _tail(self, member: MemberRun) -> str:
        if member.out is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            member.out.seek(0)
            text = member.out.read().decode(errors="replace").strip()
            lines = [line for line in text.splitlines() if line.strip()]
            return " | ".join(lines[-3:])[-400:]
        return ""

    def _handle(self, member: MemberRun, message) -> None:
        kind = message[0]
        if kind == "connected":
            member.conn, member.pid = message[1], message[2]
            if member.state == "starting":
                member.state = "running"
                self.send(member, ("job", self.job(member)))
            else:
                self.send(member, ("stop",))
        elif kind == "incumbent":
            member.sent += 1
            self.offer(message[2], member.label)
        elif kind == "progress":
            _, objective, bound, nodes = message
            member.objective, member.nodes = _known(objective), None if nodes is None else int(nodes)
            member.bound = self._trusted_bound(member, _known(bound))
            if self.options.progress is not None:
                self.options.progress(objective=None if self.best is None else self.best[0],
                                      bound=self.bound(), nodes=self.nodes())
        elif kind == "result":
            self._finished(member, message[1], message[2])
        elif kind == "error":
            member.state, member.ended = "crashed", self.elapsed()
            member.note = f"failed: {message[1].strip().splitlines()[0]}"
            self.say(f"{member.label} {member.note}")
        elif kind == "eof" and member.active:
            member.state, member.ended = "crashed", self.elapsed()
            code = member.proc.poll() if member.proc is not None else None
            if member.proc is not None and code is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = member.proc.wait(2)
            member.note = (("its thread" if member.thread is not None else "its process") + " ended without a result"
                           + (f" (exit code {code})" if code is not None else "")
                           + (f": {self._tail(member)}" if self._tail(member) else ""))
            self.say(f"{member.label} crashed: {member.note}")

    def _trusted_bound(self, member: MemberRun, bound: float | None) -> float | None:
        """``bound``, unless a known feasible solution is better than it (then the member is wrong)."""
        if bound is None:
            return None
        if self.best is not None and bound > self.best[0] + 1e-6 * max(1.0, abs(self.best[0])):
            member.wrong = (f"claimed the bound {bound:g}, but {self.best[2]} found a solution of "
                            f"objective {self.best[0]:g}")
            self.say(f"{member.label} is wrong: {member.wrong}; its bounds and proofs are ignored")
            return None
        return bound

    def _finished(self, member: MemberRun, result, extra: dict) -> None:
        member.result, member.extra = result, extra
        member.state, member.ended = "finished", self.elapsed()
        member.sent, member.given = max(member.sent, extra.get("sent", 0)), extra.get("given", 0)
        member.log = extra.get("log", "")
        if result.nodes is not None:
            member.nodes = result.nodes
        self.say(f"{member.label} ended {result.status.value}: objective {result.objective}, "
                 f"bound {result.bound}, {result.message.splitlines()[0] if result.message else ''}")
        if result.status.has_solution and result.x is not None:
            self.offer(result.x, member.label)
        if member.wrong:
            return
        if result.status is SolveStatus.INFEASIBLE:
            if self.best is not None:
                member.wrong = (f"said infeasible, but {self.best[2]} found a solution of objective "
                                f"{self.best[0]:g}")
                self.say(f"{member.label} is wrong: {member.wrong}")
            else:
                self.proof = (member.label, "infeasible", self.elapsed())
            return
        bound = result.bound
        if result.status is SolveStatus.OPTIMAL and result.objective is not None:
            bound = result.objective if bound is None else bound
        member.bound = self._trusted_bound(member, bound) if bound is not None else member.bound
        if (result.status is SolveStatus.OPTIMAL and not member.wrong and self.best is not None
                and member.bound is not None):
            self.proof = (member.label, "optimal", self.elapsed())

    def _join_seconds(self) -> float:
        """How long to wait for the lead to stop: its time left and the grace, at least the grace."""
        limit = self.options.time_limit
        return GRACE if limit is None else max(GRACE, limit + GRACE - self.elapsed())

    def _stop_all(self) -> None:
        """Stop every member still running (its whole process group) and reap the local processes."""
        for member in self.members:
            if member.active:
                member.state = "killed"
                member.ended = self.elapsed()
                member.note = ("stopped at the time limit" if self.stopped_at_limit else
                               f"stopped after {self.proof[0]}'s proof" if self.proof else "stopped")
            if member.conn is not None:
                self.send(member, ("stop",))
            if member.proc is not None:
                if member.proc.poll() is None:
                    with contextlib.suppress(OSError):
                        os.killpg(member.proc.pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.killpg(member.proc.pid, signal.SIGKILL)  # a grandchild left in its group
                member.proc.wait()
                # a member killed here had no time to remove its folder (member._own_temp_folder)
                left = os.path.join(tempfile.gettempdir(), f"bnnmip-portfolio-{member.pid}-*")
                for folder in glob.glob(left):
                    shutil.rmtree(folder, ignore_errors=True)
            if member.thread is not None:  # interrupted at its solver's next check
                wait = self._join_seconds()
                member.thread.join(wait)
                if member.thread.is_alive():
                    self.notes.append(f"{member.label} (in this process) had not stopped {wait:.0f} s "
                                      "after the stop request; it ends at its own time limit")
            if member.out is not None:
                member.out.close()
            if member.conn is not None:
                with contextlib.suppress(OSError):
                    member.conn.close()


def _known(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) and abs(value) < 1e20 else None


def local_ip_for(host: str) -> str:
    """The address of this machine as ``host`` sees it (for Dask workers to connect back)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        try:
            s.connect((host, 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"
