"""What a training strategy is: the task it gets and the result it returns.

A strategy orchestrates lowerings and solves (one exact MILP, local search, data
splitting...). It is registered by name through ``bnnmip_register_strategies``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from ..backends.results import SolveOptions, SolveResult, SolveStatus
from ..errors import InvalidInputError
from ..formulation import DEFAULT_FORMULATION
from ..ir import ActivationTies, Architecture, RobustnessSet, TrainingSet
from ..network import BinarizedNetwork
from ..plugins.manager import notify
from ..verify import Verification

__all__ = [
    "AUXILIARY_RECORD_KEYS", "Budget", "Splitter", "Strategy", "TrainingResult", "TrainingTask",
    "report_iteration",
]

AUXILIARY_RECORD_KEYS = frozenset({"formulation", "start", "improve", "margin", "fallback"})
"""History records with one of these keys describe the formulation's settings, a start, a
heuristic, margin polishing or a fallback, not a strategy iteration (see
:attr:`TrainingResult.iterations`)."""


@attrs.frozen(eq=False)
class TrainingTask:
    """Everything a strategy needs: what to train, on what, how to solve.

    ``data.X`` is already scaled. ``backend`` is a backend object (see
    :class:`bnnmip.backends.Backend`); ``options`` apply to each solve (``options.time_limit``
    is the limit of one solve); ``warm_start`` is a network to start from (``None`` for none).
    ``time_budget`` bounds the whole strategy run in seconds: no run overshoots it by more
    than one solve's own limit. ``validation`` is held-out data (scaled like ``data``) for
    strategies that select models; ``params`` holds strategy-specific settings by name (each
    strategy documents and validates its own).
    """

    architecture: Architecture
    data: TrainingSet
    backend: object
    options: SolveOptions = attrs.field(factory=SolveOptions)
    formulation: str = DEFAULT_FORMULATION
    robust: RobustnessSet | None = None
    ties: ActivationTies | None = None
    eps: float | None = None
    warm_start: BinarizedNetwork | None = None
    time_budget: float | None = attrs.field(default=None)
    validation: TrainingSet | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    @time_budget.validator
    def _check_budget(self, _attr, value):
        if value is not None and (not math.isfinite(value) or value <= 0):
            raise InvalidInputError(f"time_budget must be a positive number of seconds, got {value}")

    def budget(self) -> Budget:
        """A fresh :class:`Budget` for this task's run, starting now."""
        return Budget(self.time_budget)


class Budget:
    """The time left of one training run, shared by all of a strategy's solves."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def remaining(self) -> float:
        """Seconds left (``inf`` without a budget, never negative)."""
        if self.seconds is None:
            return math.inf
        return max(0.0, self.seconds - self.elapsed())

    def exhausted(self) -> bool:
        """Whether no time is left for another solve."""
        return self.remaining() <= 0.05

    def limit(self, options: SolveOptions) -> SolveOptions:
        """``options`` with the time limit cut to what is left of the budget."""
        left = self.remaining()
        if math.isinf(left):
            return options
        limit = left if options.time_limit is None else min(options.time_limit, left)
        return attrs.evolve(options, time_limit=max(limit, 0.05))


def report_iteration(strategy: str, iteration: int, record: Mapping[str, Any]) -> None:
    """Fire the ``bnnmip_strategy_iteration`` event hook (progress bars, loggers...).

    An observer that raises is recorded and skipped (:func:`bnnmip.plugins.manager.notify`).
    """
    notify("bnnmip_strategy_iteration", strategy=strategy, iteration=iteration, record=dict(record))


@attrs.frozen(eq=False)
class TrainingResult:
    """A trained network and how it was obtained.

    ``network`` is ``None`` only when no solve produced a solution (see ``status``).
    ``verification`` compares the network's forward pass with the final MILP solution.
    ``history`` holds one record (a plain dict) per strategy iteration.
    ``solver_network`` is set only when a refit after training (``margin="soft"``) replaced
    the network the solver returned: it is that network, the one ``verification`` describes.
    """

    network: BinarizedNetwork | None
    status: SolveStatus
    solves: tuple[SolveResult, ...]
    verification: Verification | None
    problem_size: dict
    strategy: str
    backend: str
    seconds: float
    history: tuple[dict, ...] = ()
    solver_network: BinarizedNetwork | None = None

    @property
    def iterations(self) -> int:
        """Strategy iterations in ``history`` (records other than starts, heuristics, margins).

        A record of a ``local_search`` round or a ``split`` counts even when it also notes the
        start (``local_search``'s first block does).
        """
        return sum(1 for r in self.history
                   if "round" in r or "split" in r or not AUXILIARY_RECORD_KEYS.intersection(r))

    @property
    def final(self) -> SolveResult:
        """The last solve."""
        return self.solves[-1]

    @property
    def objective(self) -> float | None:
        """The MILP objective of the final solve."""
        return self.final.objective

    @property
    def loss(self) -> float | None:
        """The training loss of the returned network, from its plain forward pass."""
        if self.network is None or self.verification is None:
            return None
        if self.solver_network is not None:  # refitted after training: the refit's own loss
            return next(r["train_loss_after"] for r in reversed(self.history) if r.get("kept"))
        return self.verification.true_loss


@runtime_checkable
class Strategy(Protocol):
    """The interface of a training strategy plugin (``docs/plugins.md``, "A strategy").

    ``train`` gets a :class:`TrainingTask` and returns a :class:`TrainingResult`; anything
    else, or an exception other than a :class:`bnnmip.errors.BnnmipError`, is reported by
    ``bnnmip.train`` as a :class:`bnnmip.errors.PluginError` naming the strategy and its
    plugin.
    """

    name: str
    description: str

    def train(self, task: TrainingTask) -> TrainingResult:
        """Train a network for ``task``."""


@runtime_checkable
class Splitter(Protocol):
    """The interface of a cluster splitter for the ``split`` strategy (``--param splitter=NAME``)."""

    name: str
    description: str

    def split(self, X: Any, y: Any, *, seed: int) -> Any:
        """A 0/1 label per row of ``X`` (one cluster's scaled inputs, integer class labels ``y``).

        Both sides must be non-empty; anything else, or an exception, is a
        :class:`bnnmip.errors.PluginError` naming the splitter and its plugin.
        """
