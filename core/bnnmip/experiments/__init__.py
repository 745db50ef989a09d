"""Experiment grids: compare solvers, formulations and strategies over data sets and seeds.

>>> from bnnmip.experiments import Grid, run_grid, report, LocalExecutor  # doctest: +SKIP
>>> grid = Grid(datasets=["iris", "wine"], backends=["highs", "scip"], seeds=[0, 1, 2],
...             time_limits=[10], hidden=[[2]], baselines=["mlp"])
>>> run_grid(grid, "results.jsonl", executor=LocalExecutor(workers=2))  # resumable
>>> report("results.jsonl", "results-report")  # Markdown, CSV, PNG
>>> df = load_results("results.jsonl")  # pandas DataFrame, one row per cell

One cell per worker process and one solver thread each; every finished cell is appended to a
JSON-lines store at once (fsynced), so a killed run resumes where it stopped; a watchdog
records cells that hang; cells run locally (:class:`LocalExecutor`) or on Dask
(:class:`DaskExecutor`, optional dependency ``dask[distributed]``). See
``docs/experiments.md``.
"""

from .grid import Grid, cell_key, load_grid
from .report import report
from .results import load_results, tidy_records, to_parquet
from .run import DaskExecutor, LocalExecutor, Progress, RunSummary, run_grid, watch_cell
from .store import ResultStore

__all__ = [
    "DaskExecutor",
    "Grid",
    "LocalExecutor",
    "Progress",
    "ResultStore",
    "RunSummary",
    "cell_key",
    "load_grid",
    "load_results",
    "report",
    "run_grid",
    "tidy_records",
    "to_parquet",
    "watch_cell",
]
