"""Run a grid's cells: one worker process per cell, a watchdog per cell, a store per run.

Every cell runs in a fresh process of its own, with one solver thread and one thread in every
numeric thread pool (``OMP_NUM_THREADS=1`` and the like), so that cells running side by side
do not compete for cores. Processes come from a multiprocessing *forkserver* that has imported
bnnmip, scikit-learn and the solvers once (a cell starts in a fraction of a second), or, where
multiprocessing may not start children (inside Dask's daemonic worker processes) or has no
forkserver, from ``python -m bnnmip.experiments.run.child`` (a plain subprocess; a second or two
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

from .driver import RunSummary, dump_cells, run_grid
from .executors import DaskExecutor, LocalExecutor, make_executor
from .progress import Progress, format_cell
from .watchdog import DEFAULT_GRACE, FAILED, watch_cell
from .workers import kill_all

__all__ = [
    "DEFAULT_GRACE",
    "FAILED",
    "DaskExecutor",
    "LocalExecutor",
    "Progress",
    "RunSummary",
    "dump_cells",
    "format_cell",
    "kill_all",
    "make_executor",
    "run_grid",
    "watch_cell",
]
