"""Shared output helpers: plain Python values from numpy scalars, numbers, aligned tables."""

from __future__ import annotations

import numpy as np


def plain(value):
    """A numpy scalar as the plain Python value (anything else unchanged)."""
    return value.item() if isinstance(value, np.generic) else value


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
