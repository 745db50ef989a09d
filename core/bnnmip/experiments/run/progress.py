"""What a grid run shows while it goes: one line per finished cell, a status line on a terminal."""

from __future__ import annotations

import collections
import sys
import time

from ..grid import cell_label
from .watchdog import FAILED

__all__ = ["Progress", "format_cell"]


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
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
            self._write(f"[{self.done}/{self.total}] {format_cell(record)}\n")
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
