"""Training: the task a strategy receives, what it returns, and :func:`train`, the entry point.

- :mod:`.task`: :class:`TrainingTask` (architecture, data, robustness, options, budget) in,
  :class:`TrainingResult` out; the :class:`Strategy` protocol; :class:`Budget`;
  :func:`report_iteration` (the progress hook).
- :mod:`.trainer`: :func:`train` (checks, backend and strategy by name, margin refits).
"""

from .task import (
    AUXILIARY_RECORD_KEYS,
    Budget,
    Splitter,
    Strategy,
    TrainingResult,
    TrainingTask,
    report_iteration,
)
from .trainer import MARGINS, polish_margins, resolve_backend, soft_margins, train

__all__ = [
    "AUXILIARY_RECORD_KEYS",
    "MARGINS",
    "Budget",
    "Splitter",
    "Strategy",
    "TrainingResult",
    "TrainingTask",
    "polish_margins",
    "report_iteration",
    "resolve_backend",
    "soft_margins",
    "train",
]
