"""The ``exact`` strategy: one MILP over all training points."""

from __future__ import annotations

import time

from ..formulation import lower
from ..strategy import TrainingResult, TrainingTask
from ._common import mip_start, solve_lowering, trivial_network

__all__ = ["ExactStrategy"]


class ExactStrategy:
    """One MILP over all training points, warm-started when a start network is given.

    The solver always gets a feasible start: the task's warm start if it is feasible, else
    the majority-class network, whichever has the lower loss.
    """

    name = "exact"
    description = "one exact MILP over all points (optionally warm-started)"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Lower, solve, decode, verify."""
        t0 = time.perf_counter()
        lowering = lower(
            task.architecture, task.data, formulation=task.formulation,
            robust=task.robust, ties=task.ties, eps=task.eps,
        )
        start = mip_start(lowering, task.warm_start, trivial_network(task.architecture, task.data))
        result, network, verification = solve_lowering(lowering, task, start, task.budget())
        return TrainingResult(
            network=network,
            status=result.status,
            solves=(result,),
            verification=verification,
            problem_size=lowering.problem.size_summary(),
            strategy=self.name,
            backend=task.backend.name,
            seconds=time.perf_counter() - t0,
        )
