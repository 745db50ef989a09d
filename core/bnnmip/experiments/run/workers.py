"""Worker processes: one per cell, started from a preloaded forkserver or as a plain subprocess.

Each worker leads its own process group and exits when its parent disappears; :func:`kill_all`
ends every worker this process started.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading

from ...errors import InvalidInputError
from .child import fork_main

__all__ = ["PRELOAD", "THREAD_VARIABLES", "default_launcher", "kill_all"]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
"""Set to 1 in every worker: one thread per cell."""


PRELOAD = ["bnnmip", "bnnmip.experiments.run.child", "bnnmip.experiments.cell", "bnnmip.estimator",
           "bnnmip.robustness", "bnnmip.strategies", "sklearn.neural_network", "sklearn.cluster",
           "sklearn.pipeline", "sklearn.preprocessing", "bnnmip_highs", "bnnmip_scip", "bnnmip_cbc"]
"""Modules the forkserver imports once, so that a cell's process starts without imports."""


_FORKSERVER_LOCK = threading.Lock()


_FORKSERVER: dict = {}


def _forkserver_context():
    """The forkserver context, its server started with one-thread settings and PRELOAD."""
    import multiprocessing  # lazy: start-up cost (only the forkserver launcher needs it)
    import multiprocessing.forkserver  # lazy: start-up cost (only the forkserver launcher needs it)

    with _FORKSERVER_LOCK:
        if "ctx" not in _FORKSERVER:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
            os.environ.update({name: "1" for name in THREAD_VARIABLES})
            try:
                multiprocessing.forkserver.ensure_running()
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            _FORKSERVER["ctx"] = ctx
        return _FORKSERVER["ctx"]


def default_launcher() -> str:
    """``"fork"`` (a preloaded forkserver) where multiprocessing may start one, else ``"subprocess"``."""
    import multiprocessing  # lazy: start-up cost (only the forkserver launcher needs it)

    if os.name != "posix" or "forkserver" not in multiprocessing.get_all_start_methods():
        return "subprocess"
    if multiprocessing.current_process().daemon:
        return "subprocess"  # e.g. inside a Dask worker: daemonic processes may not have children
    return "fork"


READER_JOIN_SECONDS = 10.0
"""How long :meth:`_Worker.close` waits for the reader thread to reach the stream's end."""


class _Worker:
    """A running cell: its events (a queue; None at the end), and how to stop it."""

    def __init__(self, key: str, config: dict, launcher: str) -> None:
        self.events: queue.Queue = queue.Queue()
        fd, self.errpath = tempfile.mkstemp(prefix="bnnmip-cell-", suffix=".log")
        os.close(fd)
        self.launcher = launcher
        if launcher == "fork":
            ctx = _forkserver_context()
            reader, writer = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=fork_main, args=(key, config, writer, self.errpath),
                                    name=f"bnnmip-cell-{key}", daemon=False)
            self.proc.start()
            writer.close()
            self.pid = self.proc.pid
            target = self._read_conn
            self._stream = reader
        elif launcher == "subprocess":
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bnnmip.experiments.run.child"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=_worker_env(),
            )
            self.pid = self.proc.pid
            message = {"key": key, "config": config, "sys_path": sys.path, "errpath": self.errpath}
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()  # stdin stays open: its end-of-file tells the worker we are gone
            target = self._read_lines
            self._stream = self.proc.stdout
        else:
            raise InvalidInputError(f"unknown launcher {launcher!r}; use 'fork' or 'subprocess'")
        self._thread = threading.Thread(target=target, daemon=True)
        self._thread.start()

    # The reader thread owns the event stream and is the only one to close it, at its end.
    # Closing it from another thread while a read is under way would free the descriptor's
    # number for the next cell's pipe, and a read already past its closed-check would then
    # take that cell's events: its result would be lost ("ended without a result").

    def _read_conn(self) -> None:
        try:
            while True:
                self.events.put(self._stream.recv_bytes())
        except Exception:  # noqa: BLE001 - end of stream (EOFError) or a broken pipe alike
            pass
        finally:
            self._close_stream()
            self.events.put(None)

    def _read_lines(self) -> None:
        try:
            for line in self._stream:
                self.events.put(line)
        except Exception:  # noqa: BLE001 - end of stream or a broken pipe alike
            pass
        finally:
            self._close_stream()
            self.events.put(None)

    def _close_stream(self) -> None:
        try:
            self._stream.close()
        except Exception:  # noqa: BLE001 - already closed or broken: nothing left to release
            pass

    def alive(self) -> bool:
        if self.launcher == "fork":
            return self.proc.is_alive()
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""
        if self.launcher == "fork":
            self.proc.join(timeout)
            return self.proc.exitcode
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal(self, sig) -> None:
        if os.name == "posix":
            try:
                os.killpg(self.pid, sig)  # the worker's whole group: a solver child goes too
                return
            except OSError:
                pass  # no such group (yet): signal the worker itself
        try:
            os.kill(self.pid, sig)
        except OSError:
            pass

    def kill(self, wait: float = 3.0) -> None:
        """Terminate the worker and its process group; kill what is left."""
        self._signal(signal.SIGTERM)
        self.wait(wait)
        self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))
        self.wait(wait)

    def output_tail(self) -> str:
        """The end of what the worker printed."""
        try:
            with open(self.errpath, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 20000))
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Release pipes and the output file (the worker must have ended).

        The event stream is closed by the reader thread when it reaches the stream's end
        (the worker's exit); this waits for that, up to :data:`READER_JOIN_SECONDS`. If the
        stream is still open then (a stray grandchild holds its write end), it stays open
        until the reader thread ends: a descriptor is never closed under a running read.
        """
        self._thread.join(READER_JOIN_SECONDS)
        stdin = getattr(self.proc, "stdin", None)
        try:
            if stdin is not None:
                stdin.close()
        except OSError:
            pass
        if self.launcher == "fork":
            try:
                self.proc.close()
            except ValueError:
                pass
        try:
            os.unlink(self.errpath)
        except OSError:
            pass


_LIVE: set[_Worker] = set()


_LIVE_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill every worker process this process started and that is still running."""
    with _LIVE_LOCK:
        workers = list(_LIVE)
    for worker in workers:
        worker.kill(wait=1.0)


def _worker_env() -> dict:
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = "1"
    return env
