"""The ``restarts`` strategy: ``exact`` from several seeded gradient starts, the best kept.

Parameters (``task.params``; ``--param KEY=VALUE`` on the command line)
----------------------------------------------------------------------
restarts : int, default 3
    How many runs of the ``exact`` strategy, with seeds ``seed``, ``seed + 1``, ...
    Every other parameter is passed on to ``exact`` (``start``, ``start_seconds``...).

The task's time budget (``--time-budget``) is shared: each run gets an equal share of what
is left, so the whole run never overshoots it by more than one solve's own limit. A run
that proves its network optimal ends the restarts (no other can do better). The result is
the run with the lowest training loss: its network, verification and solves, after the
other runs' solves (``TrainingResult.final`` is always the returned network's solve), and
its history followed by one record per restart.
"""

from __future__ import annotations

import math
import time

import attrs
import bnnmip
from bnnmip.errors import InvalidInputError
from bnnmip.training import TrainingResult, TrainingTask, report_iteration

__all__ = ["RestartsStrategy"]


class RestartsStrategy:
    """The ``exact`` strategy from several seeds; the lowest-loss network wins."""

    name = "restarts"
    description = "the exact strategy from several seeded gradient starts; the best network kept"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Run ``exact`` up to ``restarts`` times within the budget; return the best run."""
        t0 = time.perf_counter()
        params = dict(task.params)
        restarts = params.pop("restarts", 3)
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
            raise InvalidInputError(f"restarts parameter restarts must be a positive integer, "
                                    f"got {restarts!r}")
        exact = bnnmip.get_strategy("exact")  # reuse a registered strategy by name
        budget = task.budget()
        runs: list[TrainingResult] = []
        records = []
        for i in range(restarts):
            if budget.exhausted():
                break
            left = budget.remaining()
            share = None if math.isinf(left) else left / (restarts - i)
            seed = task.options.seed + i
            run = exact.train(attrs.evolve(
                task, options=attrs.evolve(task.options, seed=seed), time_budget=share,
                params=params))
            runs.append(run)
            record = {"restart": i + 1, "seed": seed, "loss": run.loss, "status": run.status.value,
                      "seconds": round(budget.elapsed(), 3)}
            records.append(record)
            report_iteration(self.name, i + 1, record)
            if run.status is bnnmip.SolveStatus.OPTIMAL:
                break
        with_network = [r for r in runs if r.network is not None]
        best = min(with_network, key=lambda r: r.loss) if with_network else runs[-1]
        others = tuple(s for r in runs if r is not best for s in r.solves)
        return attrs.evolve(
            best, solves=others + best.solves, strategy=self.name,
            seconds=time.perf_counter() - t0, history=(*best.history, *records))
