"""One cell under a watchdog: the worker is killed (its process group too) past its allowance.

A cell that runs past a phase's allowance plus the grace period is recorded as ``"hung"``; a
worker that dies without a result as ``"crashed"`` with its exit code and output tail.
"""

from __future__ import annotations

import json
import queue
import time

import attrs

from ...errors import InvalidInputError
from ..cell import base_record, traceback_tail, versions
from ..grid import STARTUP_ALLOWANCE, watchdog_limits
from .workers import _LIVE, _LIVE_LOCK, _Worker, default_launcher

__all__ = ["DEFAULT_GRACE", "FAILED", "watch_cell"]


FAILED = ("crashed", "hung")
"""Statuses of cells the watchdog or the worker recorded as failed (``--retry-failed`` reruns them)."""

DEFAULT_GRACE = 30.0
"""Seconds a cell may run past its allowance before the watchdog kills it."""


def _failure(key: str, config: dict, status: str, message: str, t0: float, *, output: str = "",
             pid: int | None = None, phase: str | None = None, launcher: str | None = None) -> dict:
    record = base_record(key, config)
    try:
        record["versions"] = versions()
    except Exception:  # noqa: BLE001 - a failure record must always be produced
        pass
    record.update(status=status, message=message, wall_seconds=time.monotonic() - t0,
                  process_seconds=time.monotonic() - t0, worker_pid=pid, phase=phase,
                  traceback=traceback_tail(output) if output.strip() else None, launcher=launcher,
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return record


class _Overrun(Exception):
    """The cell's current phase ran past its allowance plus the grace period."""


@attrs.define
class _PhaseClock:
    """The phase a cell is in, its allowance, and when the watchdog gives up on it."""

    limits: dict
    grace: float
    deadline: float
    phase: str = "startup"
    allowance: float = STARTUP_ALLOWANCE

    def see(self, event: dict, now: float) -> None:
        """Move the deadline for a ``phase`` or ``iteration`` event."""
        kind = event.get("event")
        if kind == "phase":
            self.phase = event.get("phase", self.phase)
            self.allowance = self.limits.get(self.phase) or 0.0
            self.deadline = now + self.allowance + self.grace
        elif kind == "iteration" and self.limits["rolling"] is not None:
            self.allowance = self.limits["rolling"]
            self.deadline = max(self.deadline, now + self.allowance + self.grace)

    def overrun_message(self, pid) -> str:
        """Why the watchdog killed the worker."""
        return (f"no result {self.allowance + self.grace:.0f} s into phase {self.phase!r} (allowance "
                f"{self.allowance:g} s + grace {self.grace:g} s); the watchdog killed worker {pid}")


def _next_event(worker: _Worker, clock: _PhaseClock) -> dict | None:
    """The worker's next event, None at the end of its stream; :class:`_Overrun` past the deadline."""
    while True:
        left = clock.deadline - time.monotonic()
        if left <= 0:
            raise _Overrun
        try:
            line = worker.events.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:  # end of the event stream: the worker is gone
            return None
        try:
            return json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue


def _await_record(worker: _Worker, clock: _PhaseClock) -> dict | None:
    """The worker's result record, or None if its events ended without one."""
    while (event := _next_event(worker, clock)) is not None:
        if event.get("event") == "result":
            return event["record"]
        clock.see(event, time.monotonic())
    return None


def _crashed(key: str, config: dict, worker: _Worker, phase: str, t0: float) -> dict:
    """The record of a worker that ended without a result (its exit code, its output's tail)."""
    code = worker.wait(10)
    if code is None:
        worker.kill()
        code = worker.wait(1)
    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return _failure(key, config, "crashed",
                    f"worker {worker.pid} ended without a result ({how}) in phase {phase!r}",
                    t0, output=worker.output_tail(), pid=worker.pid, phase=phase,
                    launcher=worker.launcher)


def watch_cell(key: str, config: dict, grace: float = DEFAULT_GRACE, *,
               launcher: str | None = None) -> dict:
    """Run one cell in a fresh worker process under a watchdog; return its record.

    Never raises for a failing cell: the record's status says ``"crashed"`` or ``"hung"``.

    Parameters
    ----------
    key : str
        The cell's key.
    config : dict
        The cell's configuration (:meth:`Grid.cells`).
    grace : float
        Seconds a phase may overrun its allowance before the worker is killed.
    launcher : {"fork", "subprocess"}, optional
        How to start the worker (default: :func:`default_launcher`).
    """
    t0 = time.monotonic()
    limits = watchdog_limits(config)
    try:
        worker = _Worker(key, config, launcher or default_launcher())
    except InvalidInputError:
        raise
    except Exception as exc:  # noqa: BLE001
        return _failure(key, config, "crashed", f"could not start a worker process: {exc}", t0)
    with _LIVE_LOCK:
        _LIVE.add(worker)
    clock = _PhaseClock(limits, grace, deadline=t0 + STARTUP_ALLOWANCE + grace)
    try:
        try:
            record = _await_record(worker, clock)
        except _Overrun:
            worker.kill()
            return _failure(key, config, "hung", clock.overrun_message(worker.pid), t0,
                            pid=worker.pid, phase=clock.phase, launcher=worker.launcher)
        if record is None:
            return _crashed(key, config, worker, clock.phase, t0)
        if worker.wait(10) is None:
            worker.kill()
        record["process_seconds"] = time.monotonic() - t0
        record["launcher"] = worker.launcher
        return record
    except Exception as exc:  # noqa: BLE001 - the run goes on
        worker.kill()
        return _failure(key, config, "crashed", f"watchdog error: {type(exc).__name__}: {exc}", t0,
                        pid=worker.pid, phase=clock.phase)
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(worker)
        if worker.alive():
            worker.kill()
        worker.close()
