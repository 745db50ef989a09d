"""Run a grid's cells: one worker process per cell, a watchdog per cell, a store per run.

Every cell runs in a fresh process of its own, with one solver thread and one thread in every
numeric thread pool (``OMP_NUM_THREADS=1`` and the like), so that cells running side by side
do not compete for cores. Processes come from a multiprocessing *forkserver* that has imported
bnnmip, scikit-learn and the solvers once (a cell starts in a fraction of a second), or, where
multiprocessing may not start children (inside Dask's daemonic worker processes) or has no
forkserver, from ``python -m bnnmip.experiments._worker`` (a plain subprocess; a second or two
of imports per cell). Each worker leads its own process group and exits when its parent
disappears, so a SIGKILLed run leaves no solving orphans behind.

The watchdog in the parent kills the worker's process group (a solver subprocess, such as
CBC's, goes too) when a phase runs past its allowance plus the grace period
(:func:`bnnmip.experiments.grid.watchdog_limits`); the cell is then recorded as ``"hung"``. A
worker that dies without a result (a segfault, ``os._exit``, the OOM killer) is recorded as
``"crashed"`` with its exit code and the tail of its output; an exception inside the cell is
recorded as ``"crashed"`` by the worker itself, with the traceback tail.

Executors:

- :class:`LocalExecutor`: up to ``workers`` cells at once on this machine.
- :class:`DaskExecutor`: one Dask task per cell on a ``distributed`` cluster (a scheduler
  address, or a ``LocalCluster`` it starts). The task runs the same :func:`watch_cell` on the
  Dask worker, so the watchdog and the one-process-per-cell rule hold there too.
  ``dask[distributed]`` is an optional dependency, imported only when used.

Both yield the same records for the same cells; :func:`run_grid` appends each to the store as
it arrives. A script that calls :func:`run_grid` needs the usual multiprocessing guard
(``if __name__ == "__main__":``), since each worker process imports the main module.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

import attrs

from ..errors import InvalidInputError
from .cell import base_record, traceback_tail, versions
from .grid import STARTUP_ALLOWANCE, Grid, cell_label, watchdog_limits
from .store import ResultStore, to_json

__all__ = [
    "DEFAULT_GRACE",
    "DaskExecutor",
    "LocalExecutor",
    "Progress",
    "RunSummary",
    "run_grid",
    "watch_cell",
]

DEFAULT_GRACE = 30.0
"""Seconds a cell may run past its allowance before the watchdog kills it."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
"""Set to 1 in every worker: one thread per cell."""

FAILED = ("crashed", "hung")
"""Statuses ``--retry-failed`` runs again."""

# -- starting a worker process ------------------------------------------------------------------

PRELOAD = ["bnnmip", "bnnmip.experiments._worker", "bnnmip.experiments.cell", "bnnmip.estimator",
           "bnnmip.robustness", "bnnmip.strategies", "sklearn.neural_network", "sklearn.cluster",
           "sklearn.pipeline", "sklearn.preprocessing", "bnnmip_highs", "bnnmip_scip", "bnnmip_cbc"]
"""Modules the forkserver imports once, so that a cell's process starts without imports."""

_FORKSERVER_LOCK = threading.Lock()
_FORKSERVER: dict = {}


def _forkserver_context():
    """The forkserver context, its server started with one-thread settings and PRELOAD."""
    import multiprocessing
    import multiprocessing.forkserver

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
    import multiprocessing

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
            from ._worker import fork_main

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
                [sys.executable, "-m", "bnnmip.experiments._worker"],
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


# -- one cell under a watchdog ---------------------------------------------------------------------


def _failure(key: str, config: dict, status: str, message: str, t0: float, *, output: str = "",
             pid: int | None = None, phase: str | None = None, launcher: str | None = None) -> dict:
    record = base_record(key, config)
    try:
        record["versions"] = versions()
    except Exception:  # noqa: BLE001 - a failure record must always be produced
        pass
    record.update(status=status, message=message, wall_seconds=time.monotonic() - t0,
                  process_seconds=time.monotonic() - t0, worker_pid=pid, phase=phase,
                  traceback=traceback_tail(output) if output.strip() else None, launcher=launcher,
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return record


def watch_cell(key: str, config: dict, grace: float = DEFAULT_GRACE, *,
               launcher: str | None = None) -> dict:
    """Run one cell in a fresh worker process under a watchdog; return its record.

    Never raises for a failing cell: the record's status says ``"crashed"`` or ``"hung"``.

    Parameters
    ----------
    key : str
        The cell's key.
    config : dict
        The cell's configuration (:meth:`Grid.cells`).
    grace : float
        Seconds a phase may overrun its allowance before the worker is killed.
    launcher : {"fork", "subprocess"}, optional
        How to start the worker (default: :func:`default_launcher`).
    """
    t0 = time.monotonic()
    limits = watchdog_limits(config)
    try:
        worker = _Worker(key, config, launcher or default_launcher())
    except InvalidInputError:
        raise
    except Exception as exc:  # noqa: BLE001
        return _failure(key, config, "crashed", f"could not start a worker process: {exc}", t0)
    with _LIVE_LOCK:
        _LIVE.add(worker)
    phase, deadline, allowance = "startup", t0 + STARTUP_ALLOWANCE + grace, STARTUP_ALLOWANCE
    record = None
    try:
        while record is None:
            left = deadline - time.monotonic()
            if left <= 0:
                worker.kill()
                return _failure(
                    key, config, "hung",
                    f"no result {allowance + grace:.0f} s into phase {phase!r} (allowance "
                    f"{allowance:g} s + grace {grace:g} s); the watchdog killed worker {worker.pid}",
                    t0, pid=worker.pid, phase=phase, launcher=worker.launcher,
                )
            try:
                line = worker.events.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:  # end of the event stream: the worker is gone
                break
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            kind, now = event.get("event"), time.monotonic()
            if kind == "phase":
                phase = event.get("phase", phase)
                allowance = limits.get(phase) or 0.0
                deadline = now + allowance + grace
            elif kind == "iteration" and limits["rolling"] is not None:
                allowance = limits["rolling"]
                deadline = max(deadline, now + allowance + grace)
            elif kind == "result":
                record = event["record"]
        if record is None:
            code = worker.wait(10)
            if code is None:
                worker.kill()
                code = worker.wait(1)
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            return _failure(key, config, "crashed",
                            f"worker {worker.pid} ended without a result ({how}) in phase {phase!r}",
                            t0, output=worker.output_tail(), pid=worker.pid, phase=phase,
                            launcher=worker.launcher)
        if worker.wait(10) is None:
            worker.kill()
        record["process_seconds"] = time.monotonic() - t0
        record["launcher"] = worker.launcher
        return record
    except Exception as exc:  # noqa: BLE001 - the run goes on
        worker.kill()
        return _failure(key, config, "crashed", f"watchdog error: {type(exc).__name__}: {exc}", t0,
                        pid=worker.pid, phase=phase)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(worker)
        if worker.alive():
            worker.kill()
        worker.close()


# -- executors ------------------------------------------------------------------------------------


class LocalExecutor:
    """Up to ``workers`` cells at once, each in its own process on this machine."""

    name = "local"

    def __init__(self, workers: int = 1, *, launcher: str | None = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
        if launcher not in (None, "fork", "subprocess"):
            raise InvalidInputError(f"unknown launcher {launcher!r}; use 'fork' or 'subprocess'")
        self.workers = workers
        self.launcher = launcher

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"

    def describe(self) -> str:
        """One line for the progress header."""
        return f"{self.workers} local worker process(es)"

    def run(self, cells: Iterable[tuple[str, dict]], grace: float) -> Iterator[dict]:
        """Yield each cell's record as it finishes."""
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="bnnmip-cell")
        futures = [pool.submit(watch_cell, key, config, grace, launcher=self.launcher)
                   for key, config in cells]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()
            kill_all()
            pool.shutdown(wait=True, cancel_futures=True)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InvalidInputError(
            "the Dask executor needs dask's distributed scheduler, which is not installed; "
            "pip install 'dask[distributed]' (or: pip install 'bnnmip[dask]')"
        ) from None
    return distributed


def _dask_task(key: str, config: dict, grace: float) -> dict:
    """The Dask task of one cell: the same watchdog-guarded worker process as locally."""
    return watch_cell(key, config, grace)


class DaskExecutor:
    """One Dask task per cell on a ``distributed`` cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``); its workers need bnnmip (and the
        plugins the grid uses) installed. Give each worker one thread
        (``dask worker ADDR --nthreads 1``) for one solve per worker process.
    n_workers : int, optional
        Without ``scheduler``: start a ``LocalCluster`` of this many single-threaded worker
        processes for the run, and close it afterwards.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, n_workers: int | None = None) -> None:
        if (scheduler is None) == (n_workers is None):
            raise InvalidInputError("DaskExecutor needs either a scheduler address or n_workers")
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                      or n_workers < 1):
            raise InvalidInputError(f"n_workers must be a positive integer, got {n_workers!r}")
        self.scheduler, self.n_workers = scheduler, n_workers
        _import_distributed()  # fail early, with the pip command, when dask is missing

    def __repr__(self) -> str:
        return f"DaskExecutor(scheduler={self.scheduler!r}, n_workers={self.n_workers!r})"

    def describe(self) -> str:
        """One line for the progress header."""
        if self.scheduler:
            return f"dask scheduler {self.scheduler}"
        return f"dask LocalCluster of {self.n_workers} worker process(es)"

    def run(self, cells: Iterable[tuple[str, dict]], grace: float) -> Iterator[dict]:
        """Yield each cell's record as its task finishes."""
        distributed = _import_distributed()
        cells = list(cells)
        cluster = None
        if self.scheduler:
            client = distributed.Client(self.scheduler)
        else:
            import dask

            # non-daemonic worker processes may start the cells' processes from a forkserver
            with dask.config.set({"distributed.worker.daemon": False}):
                cluster = distributed.LocalCluster(
                    n_workers=self.n_workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR,
                )
            client = distributed.Client(cluster)
        futures = {}
        try:
            token = uuid.uuid4().hex[:8]
            for key, config in cells:
                fut = client.submit(_dask_task, key, config, grace, key=f"bnnmip-cell-{key}-{token}",
                                    pure=False)
                futures[fut] = (key, config)
            for fut in distributed.as_completed(list(futures)):
                key, config = futures[fut]
                try:
                    yield fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the run goes on
                    yield _failure(key, config, "crashed",
                                   f"dask task failed: {type(exc).__name__}: {exc}", time.monotonic())
        finally:
            try:
                client.cancel(list(futures))
            except Exception:  # noqa: BLE001
                pass
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(executor=None, *, workers: int | None = None, dask_local: int | None = None,
                  scheduler: str | None = None):
    """An executor from an object, a name (``"local"``, ``"dask"``) or the CLI's flags."""
    if executor is not None and not isinstance(executor, str):
        return executor
    if scheduler and dask_local:
        raise InvalidInputError("give either --scheduler or --dask-local, not both")
    if executor == "dask" or scheduler or dask_local:
        return DaskExecutor(scheduler=scheduler or None, n_workers=None if scheduler else (dask_local or 1))
    if executor not in (None, "local"):
        raise InvalidInputError(f"unknown executor {executor!r}; use 'local' or 'dask'")
    return LocalExecutor(workers or 1)


# -- progress -------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_record(record: dict) -> str:
    """One line for a finished cell."""
    parts = [record.get("status") or "?"]
    if record.get("objective") is not None:
        parts.append(f"objective {record['objective']:g}")
    if record.get("gap") is not None and record.get("status") == "feasible":
        parts.append(f"gap {record['gap']:.1%}")
    test = (record.get("accuracy") or {}).get("test")
    if test is not None:
        parts.append(f"test {test:.3f}")
    if record.get("status") in FAILED and record.get("message"):
        parts.append(record["message"].splitlines()[0][:100])
    seconds = record.get("process_seconds") or record.get("wall_seconds") or 0.0
    return f"{cell_label(record['config'])}: {', '.join(parts)}  ({seconds:.1f} s)"


class Progress:
    """A progress bar over the cells with the estimated time left.

    Redrawn on an interactive stream (standard error by default); with ``verbose`` one line per
    finished cell instead; silent otherwise.
    """

    def __init__(self, *, verbose: bool = False, stream=None, interactive: bool | None = None,
                 width: int = 24) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = verbose
        if interactive is None:
            isatty = getattr(self.stream, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.width = width
        self.total = self.done = 0
        self.counts: collections.Counter = collections.Counter()
        self.t0 = time.monotonic()
        self._drawn = False

    def start(self, total: int, skipped: int, executor) -> None:
        """Begin: ``total`` cells to run, ``skipped`` already in the store."""
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        if self.verbose:
            self._write(f"bnnmip compare: {total} cell(s) to run, {skipped} already in the store, "
                        f"on {executor.describe()}\n")
        self._draw()

    def eta(self) -> float | None:
        """Seconds left, from the mean wall time per finished cell so far."""
        if not self.done:
            return None
        elapsed = time.monotonic() - self.t0
        return elapsed / self.done * (self.total - self.done)

    def update(self, record: dict) -> None:
        """A cell finished."""
        self.done += 1
        self.counts[record.get("status") or "?"] += 1
        if self.verbose:
            self._write(f"[{self.done}/{self.total}] {format_record(record)}\n")
        self._draw()

    def line(self) -> str:
        """The progress bar's text."""
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        eta = self.eta()
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        left = "ETA --:--" if eta is None else f"ETA {_clock(eta)}"
        return (f"[{bar}] {self.done}/{self.total} cells  {counts}  "
                f"elapsed {_clock(time.monotonic() - self.t0)}  {left}")

    def _draw(self) -> None:
        if self.interactive and not self.verbose:
            self._write("\r\x1b[2K" + self.line()[:150])
            self._drawn = True

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line."""
        if self._drawn:
            self._write("\n")
            self._drawn = False


# -- the run -------------------------------------------------------------------------------------


@attrs.frozen
class RunSummary:
    """What a :func:`run_grid` call did."""

    store: str
    cells: int
    skipped: int
    ran: int
    statuses: dict

    def describe(self) -> str:
        """One line."""
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.statuses.items())) or "nothing to run"
        return (f"{self.cells} cell(s): {self.skipped} already in {self.store}, {self.ran} run "
                f"({counts})")


def run_grid(grid: Grid, store, executor=None, *, grace: float = DEFAULT_GRACE,
             retry_failed: bool = False, progress: Progress | None = None,
             check_names: bool = True) -> RunSummary:
    """Run every cell of ``grid`` that ``store`` does not hold yet; append each record at once.

    Parameters
    ----------
    grid : Grid
        The cells.
    store : ResultStore or path
        The JSON-lines results store (created if missing).
    executor : LocalExecutor, DaskExecutor, "local", "dask" or None
        Where cells run (default: one local worker).
    grace : float
        Seconds a cell may overrun its time limit (or budget) before the watchdog kills it.
    retry_failed : bool
        Run again the cells whose last record is ``"crashed"`` or ``"hung"``.
    progress : Progress, optional
        Progress display (default: none).
    check_names : bool
        Check backend, strategy, formulation and data set names before running anything.
    """
    if not (isinstance(grace, int | float) and grace >= 0):
        raise InvalidInputError(f"grace must be a number of seconds >= 0, got {grace!r}")
    if check_names:
        grid.validate_names()
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    executor = make_executor(executor)
    cells = grid.keyed_cells()
    statuses: collections.Counter = collections.Counter()
    with store:
        latest = store.latest()
        done = {k for k, rec in latest.items() if not (retry_failed and rec.get("status") in FAILED)}
        todo = [(k, c) for k, c in cells if k not in done]
        if progress is not None:
            progress.start(len(todo), len(cells) - len(todo), executor)
        try:
            if todo:
                # closing: a store error stops the executor (and its cells) at once
                with contextlib.closing(executor.run(todo, float(grace))) as records:
                    for record in records:
                        record["executor"] = executor.name
                        store.append(record)
                        statuses[record.get("status") or "?"] += 1
                        if progress is not None:
                            progress.update(record)
        finally:
            if progress is not None:
                progress.close()
    return RunSummary(str(store.path), len(cells), len(cells) - len(todo), sum(statuses.values()),
                      dict(statuses))


def dump_cells(grid: Grid) -> str:
    """The grid's cells as JSON lines (``bnnmip compare --dry-run``)."""
    return "\n".join(to_json({"key": k, "config": c}) for k, c in grid.keyed_cells())
