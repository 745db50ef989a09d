"""Where cells run: :class:`LocalExecutor` (processes on this machine) or :class:`DaskExecutor`."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from ...errors import InvalidInputError
from .watchdog import _failure, watch_cell
from .workers import kill_all

__all__ = ["DaskExecutor", "LocalExecutor", "make_executor"]


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
        import distributed  # lazy: optional dependency (dask[distributed], the experiments extra)
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
            import dask  # lazy: optional dependency (dask[distributed], the experiments extra)

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
