"""What a grid run shows while it goes (with ``rich``): a live bar on a terminal, lines otherwise.

- On a terminal: a header line, then a progress bar with the cells done, the count per
  status, the elapsed time (it moves every second, whether or not a cell ends) and the time
  left estimated from the cells done so far; with ``verbose``, a line per finished cell above it.
- Without a terminal (a pipe, a CI log): the header line and one line per finished cell, the
  moment it finishes.
- ``quiet``: nothing.
"""

from __future__ import annotations

import collections
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from ..grid import cell_label
from .watchdog import FAILED

__all__ = ["Progress", "clock", "format_cell"]


def clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour)."""
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_cell(record: dict) -> str:
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
    """Progress of a grid run over its cells, with the estimated time left.

    Parameters
    ----------
    verbose : bool
        On a terminal, also print a line per finished cell above the bar.
    console : rich.console.Console, optional
        Where to write (default: standard error). Tests pass one writing to a string, with
        ``force_terminal=True`` for the bar.
    live : bool, optional
        Force the bar on (True) or off (False); default: on when the console is a terminal.
    quiet : bool
        Show nothing.
    """

    def __init__(self, *, verbose: bool = False, console: Console | None = None,
                 live: bool | None = None, quiet: bool = False) -> None:
        self.console = console if console is not None else Console(stderr=True, highlight=False,
                                                                   soft_wrap=True)
        self.verbose = verbose
        self.quiet = quiet
        self.live = (self.console.is_terminal if live is None else bool(live)) and not quiet
        self.total = self.done = 0
        self.counts: collections.Counter = collections.Counter()
        self.t0 = time.monotonic()
        self._bar: RichProgress | None = None
        self._task = None

    def start(self, total: int, skipped: int, executor) -> None:
        """Begin: ``total`` cells to run, ``skipped`` already in the store."""
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        if self.quiet:
            return
        self._print(f"bnnmip compare: {total} cell(s) to run, {skipped} already in the store, "
                    f"on {executor.describe()}")
        if self.live:
            self._bar = RichProgress(
                SpinnerColumn(), BarColumn(), MofNCompleteColumn(), TextColumn("cells"),
                TextColumn("{task.fields[counts]}"), TextColumn("elapsed"), TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=self.console, refresh_per_second=2, transient=False,
                redirect_stdout=False, redirect_stderr=False,
            )
            self._task = self._bar.add_task("cells", total=total, counts="", eta=self._eta_text())
            self._bar.start()

    def eta(self) -> float | None:
        """Seconds left, from the mean wall time per finished cell so far."""
        if not self.done:
            return None
        elapsed = time.monotonic() - self.t0
        return elapsed / self.done * (self.total - self.done)

    def _eta_text(self) -> str:
        eta = self.eta()
        return "left --:--" if eta is None else f"left ~{clock(eta)}"

    def counts_text(self) -> str:
        """``optimal 3 feasible 1``: finished cells per status."""
        return " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))

    def update(self, record: dict) -> None:
        """A cell finished."""
        self.done += 1
        self.counts[record.get("status") or "?"] += 1
        if self.quiet:
            return
        if not self.live or self.verbose:
            self._print(f"[{self.done}/{self.total}] {format_cell(record)}  "
                        f"(elapsed {clock(time.monotonic() - self.t0)})")
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, counts=self.counts_text(),
                             eta=self._eta_text())

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False)

    def close(self) -> None:
        """Stop the bar (its last state stays on the terminal)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
