"""What a training strategy is: the task it gets and the result it returns.

A strategy orchestrates lowerings and solves (one exact MILP, local search, data
splitting...). It is registered by name through ``bnnmip_register_strategies``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from .ir import ActivationTies, Architecture, RobustnessSet, TrainingSet
from .network import BinarizedNetwork
from .result import SolveOptions, SolveResult, SolveStatus
from .verify import Verification

__all__ = ["Strategy", "TrainingResult", "TrainingTask"]


@attrs.frozen(eq=False)
class TrainingTask:
    """Everything a strategy needs: what to train, on what, how to solve.

    ``data.X`` is already scaled. ``backend`` is a backend object (see
    :class:`bnnmip.backend.Backend`); ``options`` apply to each solve; ``warm_start`` is a
    network to start from (``None`` for none).
    """

    architecture: Architecture
    data: TrainingSet
    backend: object
    options: SolveOptions = attrs.field(factory=SolveOptions)
    formulation: str = "paper"
    robust: RobustnessSet | None = None
    ties: ActivationTies | None = None
    eps: float | None = None
    warm_start: BinarizedNetwork | None = None


@attrs.frozen(eq=False)
class TrainingResult:
    """A trained network and how it was obtained.

    ``network`` is ``None`` only when no solve produced a solution (see ``status``).
    ``verification`` compares the network's forward pass with the final MILP solution.
    """

    network: BinarizedNetwork | None
    status: SolveStatus
    solves: tuple[SolveResult, ...]
    verification: Verification | None
    problem_size: dict
    strategy: str
    backend: str
    seconds: float

    @property
    def final(self) -> SolveResult:
        """The last solve."""
        return self.solves[-1]

    @property
    def objective(self) -> float | None:
        """The MILP objective of the final solve."""
        return self.final.objective


@runtime_checkable
class Strategy(Protocol):
    """The interface of a training strategy plugin."""

    name: str
    description: str

    def train(self, task: TrainingTask) -> TrainingResult:
        """Train a network for ``task``."""
