"""Progress of a training run on standard error, as a plugin of the event hooks (with ``rich``).

The CLI registers a :class:`ProgressReporter` for the duration of a command. Two modes:

- **live** (standard error is a terminal, no ``--verbose``): a status block redrawn four times a
  second (and from the solver's callbacks, so it moves even while a solver holds the
  interpreter): the run's elapsed time and time left, the running solve's incumbent, bound,
  gap, node count, elapsed time and time left, the last strategy iteration. It disappears when
  the run ends; the summary follows on standard output.
- **lines** (no terminal: a pipe, a CI log; or ``--verbose``): one line per event, as it
  happens: a solve starts, its incumbent improves (or, at most every 5 s, its bound or node
  count moves), it ends, a strategy iteration ends.

``--quiet`` registers no reporter at all. Any other plugin (a logger, an experiment store) can
implement the same hooks (``docs/plugins.md``).
"""

from __future__ import annotations

import threading
import time

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from ..plugins import hookimpl

__all__ = ["ProgressReporter", "clock", "format_iteration", "format_solve", "stderr_console"]

BOUND_LINE_SECONDS = 5.0
"""Lines mode: a search that moved (bound, nodes) without a new incumbent is printed at most this often."""
REDRAW_SECONDS = 0.25
"""Live mode: the display is redrawn from the hooks when it is older than this."""


def stderr_console(**kwargs) -> Console:
    """The console progress goes to: standard error, no markup guessing, lines never wrapped."""
    return Console(stderr=True, highlight=False, soft_wrap=True, **kwargs)


def clock(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour); ``-`` for None."""
    if seconds is None:
        return "-"
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _g(value) -> str:
    return "-" if value is None else f"{value:g}"


def _gap(value) -> str:
    if value is None:
        return "-"
    return "inf" if value == float("inf") else f"{value:.2%}"


def format_solve(record: dict) -> str:
    """``incumbent 4  bound 2  gap 50.00%  nodes 120`` from a progress or result record."""
    return (f"incumbent {_g(record.get('objective'))}  bound {_g(record.get('bound'))}  "
            f"gap {_gap(record.get('gap'))}  nodes {_g(record.get('nodes'))}")


def _time_left(limit: float | None, elapsed: float) -> str:
    return "no limit" if limit is None else f"{clock(max(0.0, limit - elapsed))} left"


def format_iteration(strategy: str, iteration: int, record: dict, solver_called: bool = True) -> str:
    """One readable line for a strategy iteration (the known keys of ``split`` and ``local_search``).

    ``solver_called=False``: no solver ran since the previous iteration (the MILP's start
    already met its lower bound), which the line says instead of the solve's status.
    """
    r = record
    parts = []
    if strategy == "split" and "split" in r:
        clusters = r.get("clusters", "?")
        head = f"split {r['split']}: {clusters} cluster{'' if clusters == 1 else 's'}"
    elif "round" in r:
        block = r.get("block")
        where = "" if block is None else ", all layers" if block == "all" else f", layer {block}"
        head = f"round {r['round']}{where}"
    else:
        head = f"{strategy} iteration {iteration}"
    if r.get("status") is not None and not solver_called:
        parts.append("its start met the MILP's lower bound (solver not called)")
    elif r.get("status") is not None:
        solved = f"solve {r['status']}"
        if r.get("objective") is not None:
            solved += f" (objective {r['objective']:g})"
        parts.append(solved)
    loss = r.get("train_loss", r.get("loss"))
    if loss is not None:
        parts.append(f"training loss {loss:g}")
    if r.get("train_accuracy") is not None:
        parts.append(f"train accuracy {r['train_accuracy']:.3f}")
    if r.get("validation_accuracy") is not None:
        parts.append(f"validation accuracy {r['validation_accuracy']:.3f}")
    if r.get("accepted") is not None:
        parts.append("accepted" if r["accepted"] else "rejected")
    if r.get("stop"):
        parts.append(f"stop: {r['stop']}")
    seconds = r.get("seconds")
    tail = f"  [{clock(seconds)}]" if isinstance(seconds, int | float) else ""
    return head + (", " + ", ".join(parts) if parts else "") + tail


class ProgressReporter:
    """Shows a training run's solves and strategy iterations on a console (standard error).

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to write (default: :func:`stderr_console`). Tests pass one writing to a string,
        with ``force_terminal=True`` for the live mode.
    verbose : bool
        Lines mode even on a terminal (the solver's log is printed too, and a live display
        would tangle with it).
    live : bool, optional
        Force the mode (default: live when the console is a terminal and not ``verbose``).
    time_budget : float, optional
        The run's budget in seconds, for its time left.
    """

    def __init__(self, *, console: Console | None = None, verbose: bool = False,
                 live: bool | None = None, time_budget: float | None = None) -> None:
        self.console = console if console is not None else stderr_console()
        self.live = (self.console.is_terminal and not verbose) if live is None else bool(live)
        self.time_budget = time_budget
        self.t0 = time.perf_counter()
        self.solves = 0  # solver calls so far
        self.calls_seen = 0  # solver calls before the last strategy iteration
        self._lock = threading.Lock()
        # thread -> its running solve: call number, backend, limit, start, progress
        self.running: dict[int, dict] = {}
        self.last_iteration = ""
        self.last_line = 0.0
        self._live: Live | None = None
        self._drawn = 0.0

    @property
    def solve(self) -> dict | None:
        """The solve running in this thread (else the one started last), or ``None``.

        Solves may run side by side in several threads (``exact``'s ``error_bound=parallel``
        runs its small solves beside the training MILP): each thread's events go to its own.
        """
        mine = self.running.get(threading.get_ident())
        if mine is not None or not self.running:
            return mine
        return max(self.running.values(), key=lambda s: s["call"])

    @solve.setter
    def solve(self, value: dict | None) -> None:
        if value is None:
            self.running.pop(threading.get_ident(), None)
        else:
            self.running[threading.get_ident()] = {"call": self.solves, **value}

    def _tag(self, solve: dict) -> str:
        """``call N: `` while more than one solve runs (whose line it is), else nothing."""
        return f"call {solve['call']}: " if len(self.running) > 1 else ""

    # -- life cycle ------------------------------------------------------------------------
    def start(self, header: list[str] | tuple[str, ...] = ()) -> None:
        """Print ``header`` (lines) and, in live mode, start the display."""
        self.t0 = time.perf_counter()
        for line in header:
            self.console.print(line, markup=False)
        if self.live:
            self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4,
                              transient=True, redirect_stdout=False, redirect_stderr=False)
            self._live.start()

    def close(self) -> None:
        """Stop the live display (it disappears), if any."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- what the live display shows -------------------------------------------------------
    def render(self):
        """The live display: the run's clock, the running solve, the last iteration."""
        elapsed = time.perf_counter() - self.t0
        run = f"training  {clock(elapsed)} elapsed"
        if self.time_budget is not None:
            run += f", {_time_left(self.time_budget, elapsed)} of the {self.time_budget:g} s budget"
        lines = [Spinner("dots", text=Text(run))]
        for s in sorted(self.running.values(), key=lambda s: s["call"]):
            seconds = time.perf_counter() - s["t0"]
            lines.append(Text(f"  solver call {s['call']} ({s['backend']}): {clock(seconds)} elapsed, "
                              f"{_time_left(s['time_limit'], seconds)}"))
            lines.append(Text(f"  {format_solve(s['progress'])}" if s["progress"] else
                              "  no incumbent or bound reported yet (CBC reports none while it runs)"))
        if not self.running:
            lines.append(Text("  " + ("preparing the first solve (start, lowering)" if not self.solves
                                      else f"{self.solves} solver call(s) done; strategy working")))
        if self.last_iteration:
            lines.append(Text("  last " + self.last_iteration))
        return Group(*lines)

    def _redraw(self) -> None:
        """Redraw now if the display is stale (a solver holding the interpreter blocks the timer)."""
        if self._live is not None and time.perf_counter() - self._drawn >= REDRAW_SECONDS:
            self._drawn = time.perf_counter()
            self._live.refresh()

    def _line(self, text: str) -> None:
        self.last_line = time.perf_counter()
        self.console.print(text, markup=False)

    # -- hooks -----------------------------------------------------------------------------
    @hookimpl
    def bnnmip_solve_started(self, problem, backend, options) -> None:
        """A solve begins: its size and time limit."""
        with self._lock:  # solves may start side by side in several threads
            self.solves += 1
            call = self.solves
            self.running[threading.get_ident()] = {"call": call, "backend": backend, "progress": {},
                                                   "t0": time.perf_counter(),
                                                   "time_limit": options.time_limit}
        size = problem.size_summary()
        if not self.live or call == 1:
            limit = "no time limit" if options.time_limit is None else f"time limit {options.time_limit:g} s"
            self._line(f"solver call {call} ({backend}): MILP {size['variables']:,} variables "
                       f"({size['binaries']:,} binary), {size['rows']:,} rows; {limit}")
        self._redraw()

    @hookimpl
    def bnnmip_solve_progress(self, backend, record) -> None:
        """The running solve's incumbent, bound, gap and nodes."""
        solve = self.solve
        if solve is None:
            return
        solve["progress"] = dict(record)
        if not self.live:
            shown = solve.setdefault("shown", {})
            better = record.get("objective") != shown.get("objective")
            moved = any(record.get(k) != shown.get(k) for k in ("bound", "nodes"))
            if better or (moved and time.perf_counter() - self.last_line >= BOUND_LINE_SECONDS):
                solve["shown"] = dict(record)
                self._line(f"  {self._tag(solve)}{format_solve(record)}  "
                           f"{clock(record.get('seconds'))} elapsed, "
                           f"{_time_left(record.get('time_limit'), record.get('seconds') or 0.0)}")
        self._redraw()

    @hookimpl
    def bnnmip_solve_finished(self, problem, backend, result) -> None:
        """A solve ended: status, objective, bound, gap, nodes, seconds."""
        solve = self.solve
        call = self.solves if solve is None else solve["call"]
        self.solve = None
        if not self.live:
            self._line(f"solver call {call} ({backend}): {result.status.value}, "
                       f"{format_solve(result.summary()).replace('incumbent', 'objective', 1)}, "
                       f"{result.build_seconds + result.solve_seconds:.2f} s")
        self._redraw()

    @hookimpl
    def bnnmip_strategy_iteration(self, strategy: str, iteration: int, record: dict) -> None:
        """A strategy iteration ended."""
        called, self.calls_seen = self.solves > self.calls_seen, self.solves
        self.last_iteration = format_iteration(strategy, iteration, record, solver_called=called)
        if not self.live:
            self._line(self.last_iteration)
        self._redraw()
