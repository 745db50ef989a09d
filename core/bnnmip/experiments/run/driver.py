"""Run a grid: every cell not yet in the store, records appended as they arrive."""

from __future__ import annotations

import collections
import contextlib

import attrs

from ...errors import InvalidInputError
from ..grid import Grid
from ..store import ResultStore, to_json
from .executors import make_executor
from .progress import Progress
from .watchdog import DEFAULT_GRACE, FAILED

__all__ = ["RunSummary", "dump_cells", "run_grid"]




# -- one cell under a watchdog ---------------------------------------------------------------------


# -- executors ------------------------------------------------------------------------------------


# -- progress -------------------------------------------------------------------------------------


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
