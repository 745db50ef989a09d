"""Finding a run's processes, for tests that kill a run and check nothing is left behind (Linux)."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["processes_mentioning", "wait_for"]


def processes_mentioning(text: str) -> list[int]:
    """Process ids (not this process) whose command line holds ``text`` or whose ``TMPDIR`` is ``text``.

    Reads ``/proc``; an empty list where there is none. A run started with ``TMPDIR`` set to a
    fresh folder is found with its children, which inherit the variable.
    """
    found = []
    if not Path("/proc").is_dir():
        return found
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                environ = Path(f"/proc/{entry}/environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline or f"TMPDIR={text}" in environ:
                found.append(int(entry))
    return found


def wait_for(condition, seconds: float, poll: float = 0.2):
    """``condition()``'s first true value within ``seconds`` (polled), else its last value."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    return condition()
