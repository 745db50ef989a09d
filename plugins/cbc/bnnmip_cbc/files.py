"""CBC's files: the start file it reads, the log and solution file it writes.

CBC's solution file says ``Stopped on time - objective value ...`` when it stops at the time
limit with an incumbent (``FEASIBLE`` here: PuLP reports it as optimal). The objective
constant rides on the MPS file's fixed ``OBJCONST`` column, so every value CBC prints already
includes it. CBC prints solution values with 8 significant digits.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from bnnmip.milp import MilpProblem
from bnnmip.milp.io import OBJCONST, column_index, column_names

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
RE_OBJECTIVE = re.compile(r"^Objective value:\s+" + _NUM, re.M)
_RE_BEST_POSSIBLE = re.compile(r"best possible " + _NUM)
_RE_PARTIAL = re.compile(r"Partial search - best objective \S+ \(best possible " + _NUM)
_RE_INTEGER_GAP = re.compile(r"Exiting as integer gap of " + _NUM)
_RE_LOWER_BOUND = re.compile(r"^Lower bound:\s+" + _NUM, re.M)
RE_NODES = re.compile(r"^Enumerated nodes:\s+(\d+)", re.M)
RE_STATUS_OBJ = re.compile(r"objective value\s+" + _NUM)
_RE_WALLCLOCK = re.compile(r"\(Wallclock seconds\):\s+" + _NUM)

_LOG_TAIL_LINES = 25


def cut_short(log: str, time_limit: float | None) -> bool:
    """Whether CBC's "infeasible" came from preprocessing stopped by the time limit.

    CBC 2.10 reports ``Integer infeasible`` when its time limit interrupts the cut
    generators of its preprocessing (``Pre-processing says infeasible``), feasible model or
    not; the run's wall-clock time then reaches the limit.
    """
    if time_limit is None or "Pre-processing says infeasible" not in log:
        return False
    found = _RE_WALLCLOCK.findall(log)
    return bool(found) and float(found[-1]) >= 0.9 * time_limit


def write_start(problem: MilpProblem, start, workdir: str) -> str:
    """A CBC solution file holding the known values of ``start`` (every integer column known)."""
    known = np.flatnonzero(np.isfinite(start))
    names = column_names(problem.n_cols)
    lines = ["Feasible - objective value 0\n"]
    lines += [
        f"{j} {names[j]} {v!r}\n" for j, v in zip(known.tolist(), start[known].tolist(), strict=True)
    ]
    lines.append(f"{problem.n_cols} {OBJCONST} 1.0\n")
    path = os.path.join(workdir, "start.sol")
    with open(path, "w", encoding="ascii") as fh:
        fh.writelines(lines)
    return path


def read_text(path: str) -> str:
    """The file's text, ``""`` if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def log_tail(log: str) -> str:
    """The log's last lines, for an error message."""
    lines = log.rstrip().splitlines()
    return "\n".join(lines[-_LOG_TAIL_LINES:]) if lines else "(no CBC output)"


def start_accepted(log: str) -> bool:
    """Whether the log says CBC took the MIP start."""
    return "MIPStart provided solution" in log or "mipstart provided" in log.lower()


def log_bound(log: str, optimal: bool, objective: float | None) -> float | None:
    """The best possible bound CBC proved.

    When optimal: the objective, less the integer gap CBC accepted if it stopped on the gap;
    otherwise the last ``best possible`` value of the log.
    """
    if optimal and objective is not None:
        gap = _RE_INTEGER_GAP.search(log)
        return objective - abs(float(gap.group(1))) if gap else objective
    found = _RE_PARTIAL.findall(log) or _RE_BEST_POSSIBLE.findall(log)
    value = None
    if found:
        value = float(found[-1])
    else:
        lower = _RE_LOWER_BOUND.search(log)
        if lower:
            value = float(lower.group(1))
    if value is None or not math.isfinite(value) or abs(value) >= 1e49:
        return None
    return value


def parse_values(body: str, n_cols: int) -> np.ndarray | None:
    """Column values from a ``printingOptions all`` solution file, in column order."""
    x = np.full(n_cols, np.nan)
    for line in body.splitlines():
        parts = line.split()
        if parts and parts[0] == "**":
            parts = parts[1:]
        if len(parts) < 3:
            continue
        j = column_index(parts[1])
        if j is not None and j < n_cols:
            x[j] = float(parts[2])
    if np.isnan(x).any():
        return None
    return x
