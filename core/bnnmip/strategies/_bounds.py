"""``exact``'s ``error_bound``: solve the relaxations of :mod:`bnnmip.formulation.error_bound`.

Two classes: the two relaxations ``E`` and ``S``; three or more, or robust training: the cell
relaxation. They run before the training MILP (``error_bound=true``), or in a thread beside it
(``error_bound=parallel``, :class:`BoundBeside`).

:func:`error_bound` returns the lower bound on the loss they prove, the networks their
solutions describe (start candidates) and a history record.
"""

from __future__ import annotations

import math
import threading
import time

import attrs
import numpy as np

from ..backends import solve
from ..backends.results import SolveOptions, SolveStatus
from ..formulation import Lowering
from ..formulation import error_bound as eb
from ..heuristics.pattern_fit import realize
from ..ir import TrainingSet
from ..training.task import Budget, TrainingTask
from ._common import mip_start

__all__ = ["BoundBeside", "error_bound"]

SHARE = 0.5
"""At most this share of the time left (of the budget, and of the solve's time limit) goes to the
three small solves."""
TOL = 1e-4
"""With integer point weights a bound ``v`` becomes ``ceil(v - TOL)`` (solver noise kept out)."""


def _bound_of(result, integral: bool) -> float:
    """A valid lower bound on a subproblem's optimum from its result (0 when it has none)."""
    if result.bound is not None and math.isfinite(result.bound):
        value = result.bound  # the solver's dual bound (also within the gap of an optimal result)
    elif result.status is SolveStatus.OPTIMAL and result.objective is not None:
        value = result.objective
    else:
        value = 0.0
    value = max(0.0, float(value))
    return float(math.ceil(value - TOL)) if integral else value


def _merged(data: TrainingSet) -> TrainingSet:
    """``data`` with repeated (input, label) pairs as one point of the summed weight.

    Both relaxations treat such points alike (same rows, same error binary would do), so this
    changes neither optimum and shrinks the problems (the breast-cancer file repeats rows).
    """
    keys, inverse = np.unique(np.c_[data.X, data.y], axis=0, return_inverse=True)
    if len(keys) == data.n_points:
        return data
    weights = np.bincount(inverse.ravel(), weights=data.weights, minlength=len(keys))
    return TrainingSet.from_arrays(keys[:, :-1], keys[:, -1].astype(int), n_classes=data.n_classes,
                                   weights=weights)


def error_bound(lowering: Lowering, task: TrainingTask, budget: Budget, upper: float | None,
                cap_seconds: float | None = None, share: float = SHARE, interrupt=None):
    """``(floor, networks, record)``: the loss floor ``min(2E, S)``, start candidates, history.

    With three or more classes, and under robust training, the floor is the cell relaxation's
    bound (which keeps every ball) and its solution's network is the start candidate.

    ``upper`` (the best start's loss, if any) caps the single half-space problem: only
    whether :math:`S` reaches ``min(2E, upper)`` matters. ``floor`` is ``None`` when the
    bound does not apply to the architecture (the record says why). ``cap_seconds`` bounds
    the three small solves' time in all, with or without a time limit; ``share`` is the share
    of the time left they may take (:data:`SHARE` before the training MILP, 1 beside it).
    ``interrupt`` (a callable, for backends that declare ``INTERRUPT``) stops them early: the
    floor is then what their dual bounds proved so far.
    """
    t0 = time.perf_counter()
    arch, data = lowering.architecture, lowering.data
    if not eb.applies(arch):
        return None, [], {"error_bound": "not applicable: it needs one hidden layer of width 2 "
                                         "and biases"}
    integral = bool(np.allclose(data.weights, np.round(data.weights)))
    data = _merged(data)
    box = lowering.bias_bounds()[0]
    radius = 0.0 if lowering.robust is None else lowering.robust.radius
    limit = task.options.time_limit
    allowed = min(budget.remaining(), math.inf if limit is None else float(limit)) * share
    if cap_seconds is not None:
        allowed = min(allowed, float(cap_seconds))
    base = SolveOptions(threads=task.options.threads, seed=task.options.seed,
                        feasibility_tolerance=float(np.clip(lowering.eps / 10.0, 1e-9, 1e-6)),
                        interrupt=interrupt)

    def run(problem, part):
        left = allowed - (time.perf_counter() - t0)
        opts = base if math.isinf(left) else attrs.evolve(base, time_limit=max(0.05, left * part))
        return solve(task.backend, problem, opts)

    if arch.n_classes > 2 or radius > 0:  # E and S drop the balls of the points they get wrong
        return _cells_bound(arch, data, box, lowering, run, integral, t0)
    networks, e_bounds, statuses = [], [], []
    for k, part in ((0, 0.4), (1, 0.6)):
        problem = eb.intersection_problem(arch, data, k, bias_box=box, eps=lowering.eps,
                                          robust=lowering.robust)
        res = run(problem, part)
        statuses.append(res.status.value)
        e_bounds.append(_bound_of(res, integral))
        if res.status.has_solution:
            networks += _start(eb.intersection_network(problem, res.x, k, arch), lowering)
    e = min(e_bounds)
    target = 2.0 * e if upper is None else min(2.0 * e, float(upper))
    s, s_status = 0.0, "skipped"
    if target > 0:
        cap = math.ceil(target - TOL) - 1.0 if integral else target * (1.0 - 1e-9)
        res = run(eb.single_problem(arch, data, bias_box=box, eps=lowering.eps, robust=lowering.robust,
                                    cap=cap), 1.0)
        s_status = res.status.value
        if res.status is SolveStatus.INFEASIBLE:
            s = cap + 1.0 if integral else cap  # no half-space gets at most cap wrong
        else:
            s = _bound_of(res, integral)
    floor = eb.loss_floor(e, s)
    if integral:
        floor = float(math.ceil(floor - TOL))
    record = {"error_bound": floor, "error_bound_E": e, "error_bound_S": s,
              "error_bound_status": [*statuses, s_status],
              "error_bound_seconds": round(time.perf_counter() - t0, 3)}
    return floor, networks, record


def _start(network, lowering: Lowering) -> list:
    """``[network]`` with its margins restored for the training MILP (``pattern_fit.realize``), or ``[]``."""
    radius = 0.0 if lowering.robust is None else lowering.robust.radius
    fit = realize(network, lowering.architecture, lowering.data.X, eps=lowering.eps,
                  bias_bounds=lowering.bias_bounds(), robust_radius=radius, time_limit=2.0)
    return [fit.network] if fit.realized else []


def _cells_bound(arch, data, box, lowering, run, integral: bool, t0: float):
    """The optimum (or dual bound) of :func:`~bnnmip.formulation.error_bound.cells_problem`; its network."""
    problem = eb.cells_problem(arch, data, bias_box=box, eps=lowering.eps, robust=lowering.robust)
    res = run(problem, 1.0)
    floor = _bound_of(res, integral)
    networks = []
    if res.status.has_solution:
        networks = _start(eb.cells_network(problem, res.x, arch, data), lowering)
    record = {"error_bound": floor, "error_bound_cells": floor, "error_bound_status": [res.status.value],
              "error_bound_seconds": round(time.perf_counter() - t0, 3)}
    return floor, networks, record


class BoundBeside:
    """``error_bound="parallel"``: :func:`error_bound` in a thread beside the training MILP's solve.

    The solve gets three hooks (its backend must declare ``CALLBACKS`` and ``INTERRUPT``):

    - :meth:`observe`, its heuristic: notes each incumbent's objective, then hands the
      incumbent to ``then`` (another heuristic, e.g. ``improve="coordinate"``'s) if any;
    - :meth:`source`, its incumbent source: the best network the small solves found, encoded
      (once);
    - :meth:`interrupt`: ``True`` once the proven floor reaches the least loss known (the
      solve's incumbent or that network): the solve stops, its incumbent is optimal.

    :meth:`finish` (call it once the solve has returned or raised) stops the small solves
    (they poll the same kind of interrupt) and waits for the thread. Their floor, networks
    and history record are then :attr:`floor`, :attr:`networks`, :attr:`record`; an
    exception in the thread is reported in the record, never raised.
    """

    def __init__(self, lowering: Lowering, task: TrainingTask, budget: Budget, upper: float | None,
                 cap_seconds: float | None = None, then=None) -> None:
        self.lowering = lowering
        self.floor: float | None = None
        self.networks: list = []
        self.record: dict = {}
        self.x = None
        """The best encoded network of the small solves (``None``: none is feasible)."""
        self._then = then
        self._upper = math.inf if upper is None else float(upper)
        self._handed = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(task, budget, upper, cap_seconds),
                                        name="bnnmip-error-bound", daemon=True)
        self._thread.start()

    def _run(self, task, budget, upper, cap_seconds) -> None:
        try:
            floor, networks, record = error_bound(self.lowering, task, budget, upper, cap_seconds=cap_seconds,
                                                  share=1.0, interrupt=self._stop.is_set)
            best = mip_start(self.lowering, *networks)
        except Exception as exc:  # reported in the record; the training MILP goes on without a bound
            floor, networks, best = None, [], None
            record = {"error_bound": f"failed: {type(exc).__name__}: {exc}"}
        best_obj = math.inf if best is None else self.lowering.problem.objective(best)
        if self._stop.is_set():
            record["error_bound_interrupted"] = True  # the training MILP ended first
        with self._lock:
            self.floor, self.networks, self.record, self.x = floor, networks, record, best
            self._upper = min(self._upper, best_obj)

    def observe(self, x):
        """The solve's heuristic: note the incumbent ``x``'s objective, then ``then(x)``."""
        objective = self.lowering.problem.objective(x)
        with self._lock:
            self._upper = min(self._upper, objective)
        better = None if self._then is None else self._then(x)
        if better is not None:
            with self._lock:
                self._upper = min(self._upper, self.lowering.problem.objective(better))
        return better

    def source(self):
        """The solve's incumbent source: the small solves' best network, encoded, once."""
        with self._lock:
            if self.x is None or self._handed:
                return None
            self._handed = True
            return self.x.copy()

    def interrupt(self) -> bool:
        """Whether the proven floor reaches the least loss known (the solve may stop)."""
        with self._lock:
            return self.floor is not None and self.floor >= self._upper - TOL

    def finish(self) -> None:
        """Stop the small solves and wait for them (their floor is what they proved so far)."""
        self._stop.set()
        self._thread.join()
