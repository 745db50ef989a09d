"""Time limits of the heuristics, counted in CPU seconds of the calling thread.

The gradient start and the local search stop at a time limit. Counted in wall-clock seconds,
that limit made their result depend on how busy the machine was: on a 2-core machine shared
with other jobs (load 4 to 10) the digits start that fits every training point in 0.85 s when
idle was cut off after a fraction of its epochs and returned a network that misclassified
every point (``docs/benchmarks/strategies-scale.md``). A :class:`Deadline` counts the CPU time
of the thread that does the work (:func:`time.thread_time`), so a run that finishes within
its limit on an idle machine does the same work, and returns the same network, on a loaded
one. A wall-clock cap of :data:`WALL_FACTOR` times the limit keeps a starved process from
running on without end; only a machine slower than that factor changes the result.
"""

from __future__ import annotations

import math
import time

__all__ = ["WALL_FACTOR", "Deadline"]

WALL_FACTOR = 3.0
"""A deadline also passes after this many times its limit in wall-clock seconds."""


class Deadline:
    """``seconds`` of this thread's CPU time from now, capped at ``WALL_FACTOR * seconds`` of wall time.

    ``math.inf`` never passes.
    """

    def __init__(self, seconds: float, *, _origin: tuple[float, float] | None = None) -> None:
        self.seconds = float(seconds)
        if _origin is None:
            _origin = (time.thread_time(), time.perf_counter())
        self._cpu0, self._wall0 = _origin

    def fraction(self, share: float) -> Deadline:
        """The deadline at ``share`` of this one's limit, counted from the same start."""
        return Deadline(self.seconds * share, _origin=(self._cpu0, self._wall0))

    def left(self) -> float:
        """CPU seconds left (0 once passed); the wall-clock cap counts in the same units."""
        if math.isinf(self.seconds):
            return math.inf
        cpu = self.seconds - (time.thread_time() - self._cpu0)
        wall = (WALL_FACTOR * self.seconds - (time.perf_counter() - self._wall0)) / WALL_FACTOR
        return max(0.0, min(cpu, wall))

    def passed(self) -> bool:
        """Whether the limit (or the wall-clock cap) is reached."""
        return self.left() <= 0.0

    def __repr__(self) -> str:
        return f"Deadline({self.seconds!r}, left={self.left():.3f})"
