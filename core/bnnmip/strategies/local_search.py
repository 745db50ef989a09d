r"""The ``local_search`` strategy: alternating block MILPs, one weight layer at a time.

This is the paper's heuristic (Kurtz & Bah 2021, which alternates between the output layer
and the rest) generalized to any depth: the weights of one layer are optimized exactly while
every other layer is held fixed, and the layers are visited cyclically.

Block subproblems
-----------------
Let :math:`P(\theta)` be the full training MILP of ``docs/formulation.md`` over the weights
and biases :math:`\theta = (W^1, b^1, \dots, W^L, b^L)` and the activation columns
:math:`u, s, \xi`, and let :math:`\bar\theta` be the current network. Block :math:`l`
(:math:`l = 1, \dots, L`) is the same MILP with the extra column bounds

.. math::

    W^k = \bar W^k, \quad b^k = \bar b^k \qquad \text{for every } k \ne l,

so it optimizes :math:`(W^l, b^l)` exactly; the activations :math:`u` (and the products
:math:`s`, the robust bounds :math:`\xi`) stay free, since they are determined by the weights.
It is built from the full lowering by changing only ``col_lower`` / ``col_upper`` (the
solver's presolve removes the fixed columns), so every formulation option (depth, classes,
integer weights, activation ties, robust inputs, no biases) carries over unchanged.

Why the loss never rises
------------------------
If :math:`\bar\theta` satisfies every margin (:math:`|t| \ge \varepsilon` on each
pre-activation, patterns consistent within each tie cluster), its encoding
:math:`\bar x` = ``lowering.encode(network)`` is feasible for the full MILP and, since it
agrees with every fixed column, for every block. It is handed to the solver as a MIP start,
so the block's incumbent has objective at most :math:`f(\bar x)`, the current loss; a block
solved to optimality returns a network at least as good, and

.. math::

    f(\theta^{(k+1)}) = \min_{x \in \text{block}(l, \theta^{(k)})} f(x)
    \le f(\bar x^{(k)}) = f(\theta^{(k)}).

Because a solver's tolerances can make the decoded network disagree with the MILP
(see :mod:`bnnmip.verify`), the strategy does not rely on this argument alone: a block's
network replaces the current one only if it verifies (forward pass agrees with the MILP
solution), its encoding is feasible again (after a bias nudge that changes no activation on
the training points, see :func:`repair_margins`), and its **forward-pass** loss is at most the
current loss (plus :math:`10^{-9}`). Otherwise the block is recorded as rejected and the
current network is kept. The history's loss sequence is therefore non-increasing whatever
the solver does.

Start
-----
``task.warm_start`` if given, else a random network drawn with ``task.options.seed``: every
weight uniform on the weight domain (integers for integer domains), every bias a threshold
between the 25th and 75th percentile of the neuron's pre-activations on the training data
(see :func:`random_network`), so that no neuron starts constant. A start whose margins are
violated is repaired by :func:`repair_margins`; if that fails, the next candidate is tried
(warm start, else the best of 20 random draws, else :func:`~bnnmip.strategies.trivial_network`).
The trivial network is a fixed point of the search (all hidden neurons off, so no single
layer can change the output), so it is only a last resort.

Stop rules
----------
The search stops, after at least one block solve, when

- the loss is 0 (a proven global optimum, since the Hamming loss is non-negative);
- a full cycle over all blocks left the network unchanged (a local optimum with respect to
  every block; another cycle would solve the same subproblems);
- ``patience`` consecutive cycles brought no strict loss decrease (the network may still
  move on plateaus of equal loss);
- ``max_rounds`` cycles are done;
- the time budget (``task.time_budget``) is exhausted: one :class:`~bnnmip.training.Budget`
  covers the whole run, lowering included, and every solve's time limit is cut to what is
  left of it;
- with a single weight layer (no hidden layer) the only block is the full MILP, so one
  optimal solve ends the search.

The last history record carries ``stop_reason`` (``zero_loss``, ``converged``, ``patience``,
``max_rounds``, ``time_budget`` or ``exact``). ``task.options`` apply to every block solve
(``time_limit`` is one block's limit); ``task.validation`` is not used.

Parameters (``task.params``)
----------------------------
max_rounds : int, default 20
    Largest number of full cycles over the blocks (>= 1).
patience : int, default 2
    Cycles without strict loss decrease tolerated before stopping (>= 1).

Result
------
``network`` is the best (that is, the last accepted) network, never ``None``. ``status`` is
``OPTIMAL`` when the final loss is 0, or when the network has a single weight layer and its
only block was solved to proven optimality; otherwise ``FEASIBLE`` (a local optimum is not a
proven global one), or ``NO_SOLUTION`` if no network satisfying the margins was ever found
(possible only without biases). ``verification`` is a fresh :func:`~bnnmip.verify` of the
final network against its own encoding on the full lowering, with the MILP objective of
that encoding. ``history`` has one record per block solve with ``round``, ``block`` (the
layer index), ``loss`` (current forward-pass loss after the block), ``status``, ``seconds``
(elapsed since the run started), ``accepted``, ``objective`` (the block's MILP objective),
plus ``changed``, ``candidate_loss``, ``verified`` and ``note``; the first record also has
``start`` and ``start_loss``. ``solves`` holds every block's
:class:`~bnnmip.backends.SolveResult`, so ``result.objective`` is the *last block's* objective;
the final loss is ``result.verification.true_loss``.

Examples
--------
>>> import bnnmip
>>> from bnnmip.strategies.local_search import LocalSearchStrategy
>>> from bnnmip.testing import random_teacher
>>> teacher, data = random_teacher(3, (2,), 2, 12, seed=1)
>>> task = bnnmip.TrainingTask(
...     architecture=bnnmip.Architecture(3, (2,), 2), data=data,
...     backend=bnnmip.get_backend("highs"),
...     options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=10),
...     params={"max_rounds": 5})
>>> result = LocalSearchStrategy().train(task)
>>> losses = [r["loss"] for r in result.history]
>>> all(a >= b for a, b in zip(losses, losses[1:]))
True
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

from ..backends import solve
from ..backends.results import SolveResult, SolveStatus
from ..errors import InvalidInputError
from ..formulation import Lowering, lower
from ..network import BinarizedNetwork
from ..training.task import Budget, TrainingResult, TrainingTask, report_iteration
from ..verify import verify
from ._common import sound_integrality_tolerance, trivial_network

__all__ = [
    "DEFAULT_PARAMS",
    "RANDOM_TRIES",
    "LocalSearchStrategy",
    "block_problem",
    "random_network",
    "repair_margins",
]

DEFAULT_PARAMS = {"max_rounds": 20, "patience": 2}
"""The strategy's parameters and their defaults."""

RANDOM_TRIES = 20
"""Random start networks drawn before falling back to the trivial network."""

_FEASIBLE_TOL = 1e-9
"""Largest MILP violation of an encoded network that still counts as feasible."""


def _tol(loss: float) -> float:
    return 1e-9 * max(1.0, abs(loss))


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
def _check_params(params: Mapping) -> dict:
    """Validated params merged over :data:`DEFAULT_PARAMS`."""
    valid = ", ".join(f"{k} (default {v})" for k, v in DEFAULT_PARAMS.items())
    unknown = sorted(str(k) for k in params if k not in DEFAULT_PARAMS)
    if unknown:
        raise InvalidInputError(
            f"unknown local_search parameter(s) {', '.join(unknown)}; valid keys: {valid}"
        )
    out = dict(DEFAULT_PARAMS)
    for key, value in params.items():
        parsed = None
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            parsed = int(value)
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            parsed = int(value)
        elif isinstance(value, str) and value.strip().lstrip("+").isdigit():
            parsed = int(value)
        if parsed is None or parsed < 1:
            raise InvalidInputError(
                f"local_search parameter {key} must be an integer >= 1, got {value!r}; "
                f"valid keys: {valid}"
            )
        out[key] = parsed
    return out


# ---------------------------------------------------------------------------------------------
# networks: random start, margin repair, feasibility
# ---------------------------------------------------------------------------------------------
def random_network(lowering: Lowering, rng: np.random.Generator) -> BinarizedNetwork:
    """A random network for ``lowering``'s architecture whose neurons are not constant.

    Weights are uniform on the weight domain (integers for integer domains). Each bias puts
    the neuron's threshold halfway between two consecutive distinct pre-activation values on
    the training points, between the 25th and 75th percentile (a random choice weighted
    towards wide gaps, which leave room for the margin eps), so that the neuron fires on part
    of the data. Without biases, biases are 0. Biases are clipped to
    the formulation's bias box.
    """
    arch, X = lowering.architecture, lowering.data.X
    domain, widths = arch.weight_domain, arch.widths
    P = domain.bound
    boxes = lowering.bias_bounds()
    a = X
    weights, biases = [], []
    for l in range(arch.n_layers):
        shape = (widths[l + 1], widths[l])
        if domain.is_integer:
            W = rng.integers(-P, P + 1, size=shape).astype(float)
        else:
            W = rng.uniform(-1.0, 1.0, size=shape)
        t = a @ W.T
        b = np.zeros(shape[0])
        if arch.bias:
            for j in range(shape[0]):
                values = np.unique(t[:, j])
                if values.size < 2:
                    b[j] = -values[0] + (0.5 if rng.random() < 0.5 else -0.5)
                    continue
                # a split between consecutive values in the middle half, preferring wide gaps
                gaps = np.diff(values)
                lo = int(0.25 * (gaps.size - 1))
                hi = max(lo + 1, int(np.ceil(0.75 * (gaps.size - 1))) + 1)
                k = lo + int(np.argmax(gaps[lo:hi] * rng.uniform(0.5, 1.0, hi - lo)))
                b[j] = -0.5 * (values[k] + values[k + 1])
            b = np.clip(b, -boxes[l], boxes[l])
        weights.append(W)
        biases.append(b)
        a = (t + b > 0).astype(float)
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=domain,
                                        metadata={"bias": arch.bias})


def repair_margins(lowering: Lowering, network: BinarizedNetwork) -> BinarizedNetwork:
    """``network`` with biases shifted so every pre-activation clears the margin eps.

    Per neuron, with ``t`` its pre-activations on the training points (for the first layer of
    a robust model, ``t -+ r ||W_j||_1``), a bias shift ``delta`` keeps every activation and
    satisfies the margins iff ``min(t_on) + delta >= eps`` and ``max(t_off) + delta <= -eps``.
    The smallest such shift (kept a little inside the interval) is applied; neurons that
    already satisfy the margins, or that cannot be repaired, or a network without biases, are
    left alone. No activation on the training points changes, so neither does the loss.
    Whether the result is feasible is for ``problem.violation(lowering.encode(...))`` to say.
    """
    arch = lowering.architecture
    if not arch.bias:
        return network
    eps = lowering.eps
    boxes = lowering.bias_bounds()
    radius = 0.0 if lowering.robust is None else float(lowering.robust.radius)
    fw = network.forward(lowering.data.X, scaled=True)
    biases = [np.array(b, dtype=float) for b in network.biases]
    changed = False
    for l, (t, act) in enumerate(zip(fw.pre, fw.act, strict=True)):
        reach = radius * np.abs(network.weights[0]).sum(axis=1) if l == 0 else 0.0
        on = act > 0
        lo_t = np.where(on, t - reach, np.inf).min(axis=0)  # smallest "on" value per neuron
        hi_t = np.where(on, -np.inf, t + reach).max(axis=0)  # largest "off" value per neuron
        low, high = eps - lo_t, -eps - hi_t  # admissible shifts [low, high]
        need = (low > 0) | (high < 0)
        for j in np.flatnonzero(need & (low <= high)):
            gamma = 0.5 * min(eps, 0.5 * (high[j] - low[j]))
            delta = float(np.clip(0.0, low[j] + gamma, high[j] - gamma))
            new = biases[l][j] + delta
            if -boxes[l] <= new <= boxes[l]:
                biases[l][j] = new
                changed = True
    if not changed:
        return network
    return attrs.evolve(network, biases=tuple(_frozen(b) for b in biases))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, dtype=float)
    arr.flags.writeable = False
    return arr


def _encode_feasible(lowering: Lowering, network: BinarizedNetwork):
    """``(x, violation)`` of the network's encoding on the full problem."""
    x = lowering.encode(network)
    return x, lowering.problem.violation(x)


def _same_network(a: BinarizedNetwork, b: BinarizedNetwork) -> bool:
    return all(
        np.array_equal(wa, wb) and np.array_equal(ba, bb)
        for wa, wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# block problems
# ---------------------------------------------------------------------------------------------
def _layer_columns(lowering: Lowering, l: int) -> np.ndarray:
    cols = lowering.problem.columns
    parts = [np.arange(cols[f"W{l}"].start, cols[f"W{l}"].stop)]
    if f"b{l}" in cols:
        parts.append(np.arange(cols[f"b{l}"].start, cols[f"b{l}"].stop))
    return np.concatenate(parts)


def block_problem(lowering: Lowering, l: int, x: np.ndarray):
    """The MILP of block ``l``: weights and biases of every other layer fixed to ``x``.

    Returns ``(problem, fixed)`` where ``fixed`` are the indices of the fixed columns. The
    fixed values are clipped to the original bounds; everything else (rows, objective,
    integrality, named blocks) is the full problem's.
    """
    problem = lowering.problem
    fixed = np.concatenate(
        [_layer_columns(lowering, k) for k in range(1, lowering.architecture.n_layers + 1) if k != l]
        or [np.zeros(0, dtype=np.int64)]
    ).astype(np.int64)
    lo = np.array(problem.col_lower, dtype=float)
    hi = np.array(problem.col_upper, dtype=float)
    values = np.clip(np.asarray(x, dtype=float)[fixed], lo[fixed], hi[fixed])
    lo[fixed] = values
    hi[fixed] = values
    return attrs.evolve(problem, col_lower=lo, col_upper=hi, name=f"{problem.name}-block{l}"), fixed


# ---------------------------------------------------------------------------------------------
# the strategy
# ---------------------------------------------------------------------------------------------
class LocalSearchStrategy:
    """Alternating block MILPs: optimize one weight layer at a time, the others fixed.

    See the module docstring for the block subproblems, the monotonicity argument, the
    start, the stop rules and the parameters (``max_rounds``, ``patience``).
    """

    name = "local_search"
    description = "alternating block MILPs, one weight layer at a time (the paper's heuristic)"

    def train(self, task: TrainingTask) -> TrainingResult:
        """Search from the start network until a stop rule fires; see the module docstring."""
        budget = task.budget()
        params = _check_params(task.params)
        # no symmetry-breaking rows: with the other layers fixed they would forbid moves
        lowering = lower(
            task.architecture, task.data, formulation=task.formulation,
            robust=task.robust, ties=task.ties, eps=task.eps, symmetry_breaking=False,
        )
        arch, data = task.architecture, task.data
        L = arch.n_layers

        current, start_kind, x_cur = self._start(task, lowering)
        feasible = x_cur is not None
        loss = current.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
        start_loss = loss

        options = task.options
        if options.integrality_tolerance is None:
            options = attrs.evolve(options, integrality_tolerance=sound_integrality_tolerance(lowering))

        solves: list[SolveResult] = []
        history: list[dict] = []
        stop_reason = "max_rounds"
        proven = False  # single weight layer solved to proven optimality
        stale = 0  # consecutive rounds without strict improvement
        k = 0
        for rnd in range(1, params["max_rounds"] + 1):
            round_start_loss = loss
            changed_any = False
            for l in range(1, L + 1):
                if k > 0 and loss <= _tol(0.0):
                    stop_reason = "zero_loss"
                    break
                if k > 0 and budget.exhausted():
                    stop_reason = "time_budget"
                    break
                k += 1
                record, current, loss, x_cur, feasible, changed = self._block(
                    task, lowering, options, budget, l, current, loss, x_cur, feasible, solves
                )
                record["round"] = rnd
                changed_any |= changed
                if L == 1 and record["accepted"] and solves[-1].status is SolveStatus.OPTIMAL:
                    proven = True
                if k == 1:
                    record["start"] = start_kind
                    record["start_loss"] = start_loss
                ordered = {key: record[key] for key in
                           ("round", "block", "loss", "status", "seconds", "accepted", "objective")}
                ordered.update(record)
                history.append(ordered)
                report_iteration(self.name, k, ordered)
            else:
                if loss < round_start_loss - _tol(round_start_loss):
                    stale = 0
                else:
                    stale += 1
                if loss <= _tol(0.0):
                    stop_reason = "zero_loss"
                elif proven:
                    stop_reason = "exact"
                elif not changed_any:
                    stop_reason = "converged"
                elif stale >= params["patience"]:
                    stop_reason = "patience"
                else:
                    continue
                break
            break  # inner loop broke: zero loss or time budget
        if history:
            history[-1]["stop_reason"] = stop_reason

        x_final = lowering.encode(current)
        violation = lowering.problem.violation(x_final)
        verification = verify(lowering, current, x_final, lowering.problem.objective(x_final))
        if violation > _FEASIBLE_TOL:
            status = SolveStatus.NO_SOLUTION
        elif loss <= _tol(0.0) or proven:
            status = SolveStatus.OPTIMAL
        else:
            status = SolveStatus.FEASIBLE
        return TrainingResult(
            network=current,
            status=status,
            solves=tuple(solves),
            verification=verification,
            problem_size=lowering.problem.size_summary(),
            strategy=self.name,
            backend=task.backend.name,
            seconds=budget.elapsed(),
            history=tuple(history),
        )

    # -- pieces ----------------------------------------------------------------------------
    @staticmethod
    def _start(task: TrainingTask, lowering: Lowering):
        """``(network, kind, x)``: the start network and its feasible encoding.

        The warm start, if any and feasible after :func:`repair_margins`, is used as is.
        Otherwise :data:`RANDOM_TRIES` random networks are drawn and the feasible one with the
        lowest loss is kept (a random draw can break the margins beyond repair, or split a
        tie cluster; the loss of random networks varies a lot, and the forward passes are
        cheap next to a block solve); the trivial network comes last. ``x`` is ``None`` when
        no candidate is feasible (then the warm start, or the first random network, is
        returned as is).
        """
        rng = np.random.default_rng(task.options.seed)
        first = None

        def feasible(kind, net):
            nonlocal first
            first = first or (kind, net)
            net = repair_margins(lowering, net)
            x, violation = _encode_feasible(lowering, net)
            return (net, kind, x) if violation <= _FEASIBLE_TOL else None

        if task.warm_start is not None and (found := feasible("warm_start", task.warm_start)):
            return found
        draws = [feasible("random", random_network(lowering, rng)) for _ in range(RANDOM_TRIES)]
        draws = [d for d in draws if d is not None]
        if draws:
            return min(draws, key=lambda d: lowering.problem.objective(d[2]))
        trivial = trivial_network(task.architecture, task.data)
        if trivial is not None and (found := feasible("trivial", trivial)):
            return found
        kind, net = first
        return net, f"{kind} (infeasible)", None

    def _block(self, task, lowering, options, budget: Budget, l, current, loss, x_cur,
               feasible, solves):
        """Solve block ``l`` from ``current``; returns the record and the new state."""
        x_fix = x_cur if x_cur is not None else lowering.encode(current, partial=True)
        problem, fixed = block_problem(lowering, l, x_fix)
        opts = options
        if feasible:
            opts = attrs.evolve(opts, mip_start=x_cur)
        opts = budget.limit(opts)
        result = solve(task.backend, problem, opts)
        solves.append(result)

        accepted = changed = verified = False
        candidate_loss = None
        note = ""
        if not result.status.has_solution or result.x is None:
            note = f"no solution ({result.status.value})"
        else:
            x = np.array(result.x, dtype=float)
            x[fixed] = problem.col_lower[fixed]  # exact values of the fixed layers
            candidate = lowering.decode(x, metadata=dict(current.metadata))
            candidate = repair_margins(lowering, candidate)
            check = verify(lowering, candidate, x, result.objective)
            verified = check.ok
            candidate_loss = check.true_loss
            x_new, violation = _encode_feasible(lowering, candidate)
            if not check.ok:
                note = f"rejected: {check.describe()}"
            elif violation > _FEASIBLE_TOL and feasible:
                note = f"rejected: the block's network violates the MILP by {violation:.3g}"
            elif candidate_loss > loss + _tol(loss):
                note = f"rejected: loss {candidate_loss:g} > current {loss:g}"
            else:
                accepted = True
                changed = not _same_network(candidate, current)
                current, loss = candidate, candidate_loss
                if violation <= _FEASIBLE_TOL:
                    x_cur, feasible = x_new, True
        record = {
            "block": l,
            "loss": loss,
            "status": result.status.value,
            "seconds": budget.elapsed(),
            "accepted": accepted,
            "objective": result.objective,
            "changed": changed,
            "candidate_loss": candidate_loss,
            "verified": verified,
            "note": note,
        }
        return record, current, loss, x_cur, feasible, changed
