"""Shared output helpers: plain values, numbers, tables, JSON, ``--json``/``--quiet``, logs to stderr."""

from __future__ import annotations

import contextlib
import json
import os
import sys


def num(value, fmt="{:g}") -> str:
    """``value`` formatted with ``fmt``, or ``-`` for None."""
    return "-" if value is None else fmt.format(value)


def table(header: tuple[str, ...], rows: list[tuple]) -> None:
    """Print an aligned table with a rule under the header."""
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for k, row in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def add_output_flags(p, what: str = "the result") -> None:
    """``--json`` and ``--quiet`` on a command's parser."""
    p.add_argument("--json", action="store_true",
                   help=f"print {what} as JSON on standard output (progress and logs go to standard error)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress and no notes: only the result (and errors)")


def print_json(data) -> None:
    """``data`` as indented JSON on standard output."""
    print(json.dumps(data, indent=1))


def note(args, text: str) -> None:
    """An informational line on standard error, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


@contextlib.contextmanager
def stdout_to_stderr():
    """Send whatever is written to standard output meanwhile to standard error.

    Solvers print their logs on file descriptor 1 from native code (HiGHS, SCIP) or from a
    child process (CBC); redirecting the descriptor keeps them off standard output, which is
    then the command's result alone (``--json`` stays valid JSON with ``--verbose``).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def process_seconds() -> float | None:
    """Seconds since this process started (Linux: from ``/proc``), or None where unknown."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None
