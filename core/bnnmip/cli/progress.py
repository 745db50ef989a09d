"""Progress on the terminal, as a plugin of the event hooks.

The CLI registers a :class:`ProgressReporter` for the duration of a command: on an interactive
terminal it redraws one status line per strategy iteration; with ``verbose`` it prints one
line per iteration instead; when standard error is not a terminal and not verbose, it is
silent. Any other plugin (a logger, an experiment store) can implement the same hooks.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ..plugins import hookimpl

__all__ = ["ProgressReporter", "format_iteration"]

_KEYS = ("round", "block", "split", "clusters", "status", "objective", "loss", "train_loss",
         "train_accuracy", "validation_accuracy", "accepted")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_iteration(strategy: str, iteration: int, record: dict) -> str:
    """One line for a strategy iteration."""
    parts = [f"{k}={_fmt(record[k])}" for k in _KEYS if record.get(k) is not None]
    seconds = record.get("seconds")
    tail = f"  {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    return f"[{strategy} {iteration}] " + " ".join(parts) + tail


class ProgressReporter:
    """Shows strategy iterations on a stream (standard error by default)."""

    def __init__(self, *, verbose: bool = False, stream: TextIO | None = None,
                 interactive: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.verbose = verbose
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self._drawn = False

    @hookimpl
    def bnnmip_strategy_iteration(self, strategy: str, iteration: int, record: dict) -> None:
        """Print or redraw the iteration's line."""
        line = format_iteration(strategy, iteration, record)
        if self.verbose:
            self.stream.write(line + "\n")
        elif self.interactive:
            self.stream.write("\r\x1b[2K" + line[:120])
            self._drawn = True
        else:
            return
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, if any."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
