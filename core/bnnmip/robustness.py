"""How robust a trained network is to input perturbations: random noise and exact certificates.

Two measurements, both in the network's *scaled* input space (the space the robust training
radius lives in, ``RobustnessSet(r)``: for a network with an :class:`~bnnmip.InputScaling`,
a radius of 0.1 is a tenth of each feature's training range):

- :func:`noise_accuracy`, the paper's test: add ``r * s`` with ``s`` uniformly random signs in
  ``{-1, +1}^n`` to every input and measure the accuracy. Random, not worst case.
- :func:`certify`, the worst case: for every point, decide whether *any* ``x'`` with
  ``||x' - x||_inf <= r`` changes the prediction. The ball is not clipped to the training
  range [0, 1] of the scaled features: an adversary may leave it.

The certificate is exact (in real arithmetic; see "Numerics" below). Per point, in order:

1. **misclassified**: a point predicted wrongly at ``x`` itself is not certified.
2. **interval screen**: layer 1 is linear, so over the ball ``t1_j`` ranges exactly over
   ``[t1_j - r ||W1_j||_1, t1_j + r ||W1_j||_1]``. Neuron ``j`` can be on somewhere iff the upper
   end is ``> 0`` and off somewhere iff the lower end is ``<= 0`` (``step(t) = 1`` iff ``t > 0``).
   If no neuron can do both, the first-layer pattern, hence (deeper layers see only binaries)
   the whole output, is constant on the ball: certified without a solve.
3. **table screen**: with ``f`` neurons that can flip (``f <= max_enumerate``), the output is a
   function of the ``2^f`` patterns of those neurons; one numpy forward pass through the
   deeper layers evaluates all of them. If every pattern predicts the label: certified.
4. **enumeration**: otherwise a depth-first search over the flippable neurons finds the
   patterns that are both reachable and predict a wrong class. A (partial) pattern is
   reachable iff the box meets ``{t_j > 0 (on-set), t_j <= 0 (off-set)}``; one small LP
   (``scipy.optimize.linprog``, HiGHS) decides it exactly, strict inequalities included:
   maximise a slack ``s`` subject to ``t_j >= s`` on the on-set, ``t_j <= 0`` on the off-set,
   ``x'`` in the box; reachable iff ``max s > 0``. Subtrees whose patterns all predict the
   label are skipped without an LP. The point is certified iff no reachable pattern predicts
   a wrong class; otherwise an LP point of such a pattern is the counterexample. This is exact
   for both prediction rules (the prediction depends only on the layer-1 pattern).
5. **MILP** (more than ``max_enumerate`` flippable neurons): a feasibility MILP over the ball
   through the named bnnmip backend (built with the same ``ProblemBuilder`` as the training
   MILP): ``x'`` in the box, a binary per neuron that can flip (the others are constants),
   big-M rows with the *closed* sign convention (``a = 1`` => ``t >= 0``, ``a = 0`` =>
   ``t <= 0``: at ``t = 0`` either value is allowed) and rows saying "the prediction differs
   from the label". The closed convention over-approximates the adversary, so an infeasible
   MILP is a sound certificate. A solution is checked with the forward pass; if it does not
   change the prediction (the solver used a ``t`` of exactly 0), its layer-1 pattern is
   decided exactly as in the enumeration (forward pass of the pattern, slack LP) and cut off
   with a no-good row, and the MILP is solved again. The loop is exact like the enumeration;
   it answers ``"unknown"`` only when a solve stops at the time limit, after
   ``MAX_CUTS`` cuts, or for a borderline pattern (below).

A network with no hidden layer under the ``"preactivation"`` rule (its output is linear in
``x``) is decided in closed form: class ``k`` beats the label ``y`` somewhere on the ball iff
``t_k - t_y + r ||W_k - W_y||_1`` is ``>= 0`` (``k < y``: ties go to the lower index) or
``> 0`` (``k > y``).

Every ``"attackable"`` verdict comes with a counterexample that the plain forward pass
(:meth:`BinarizedNetwork.predict_index`) confirms; none is taken on a solver's word.

Numerics: the interval screen uses the float64 interval ends as computed (rounding ~1e-16
relative). An LP pattern is discarded as unreachable only if HiGHS proves the LP infeasible
or its best slack is below ``-1e-8`` (rows normalised to unit scale; LP tolerances 1e-10);
patterns with slack within ``1e-8`` of 0 are kept as reachable (the sound side). If such a
borderline pattern predicts a wrong class and its LP point does not change the forward pass's
prediction, the point is reported ``"unknown"`` rather than certified or attacked. So
``"certified"`` and ``"attackable"`` are never wrong beyond float64 rounding, and
``"unknown"`` marks the rare points that are decided only within 1e-8 of a neuron's
threshold, or hit a time limit.
"""

from __future__ import annotations

import math
import time

import attrs
import numpy as np

from .errors import InvalidInputError
from .network import BinarizedNetwork, PredictionRule

__all__ = [
    "ATTACKABLE",
    "CERTIFIED",
    "MISCLASSIFIED",
    "STATUSES",
    "UNKNOWN",
    "Certification",
    "certify",
    "noise_accuracy",
    "robustness_report",
]

CERTIFIED = "certified"
"""No input in the ball changes the (correct) prediction."""
ATTACKABLE = "attackable"
"""Correct at ``x``, but a confirmed counterexample in the ball changes the prediction."""
MISCLASSIFIED = "misclassified"
"""Wrong at ``x`` itself (its own counterexample)."""
UNKNOWN = "unknown"
"""Undecided: a solve hit its time limit, or the decision sits within 1e-8 of a threshold."""
STATUSES = (CERTIFIED, ATTACKABLE, MISCLASSIFIED, UNKNOWN)

SLACK_TOLERANCE = 1e-8
"""LP slacks (relative to each neuron's scale) within this of 0 count as reachable."""
LP_TOLERANCE = 1e-10
"""Primal and dual feasibility tolerances of the pattern LPs."""
MAX_CUTS = 10_000
"""Most no-good cuts the MILP fallback adds for one point before it answers ``"unknown"``."""


# ---------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class Certification:
    """Per-point verdicts of :func:`certify` at one radius.

    Attributes
    ----------
    radius : float
        The l-inf radius, in scaled input units.
    rule : PredictionRule
        The prediction rule certified.
    status : ndarray of str, shape (m,)
        One of :data:`STATUSES` per point.
    method : ndarray of str, shape (m,)
        How each verdict was reached: ``"prediction"`` (misclassified at ``x``),
        ``"interval"``, ``"table"``, ``"enumeration"``, ``"milp"`` or ``"closed-form"``.
    counterexamples : ndarray of float, shape (m, n)
        In scaled input units (check with ``network.predict_index(ce, scaled=True)``): an input
        within the ball whose prediction is not the label for ``"attackable"`` points, ``x``
        itself for ``"misclassified"`` points, NaN otherwise.
    inputs : ndarray of float, shape (m, n)
        The points, in scaled input units.
    predicted : ndarray of int, shape (m,)
        The predicted class index at each point.
    y_index : ndarray of int, shape (m,)
        The label's class index (-1 for a label the network does not know).
    lp_solves, milp_solves : int
        Solves used in total.
    seconds : float
        Wall time.
    """

    radius: float
    rule: PredictionRule
    status: np.ndarray = attrs.field(converter=_readonly)
    method: np.ndarray = attrs.field(converter=_readonly)
    counterexamples: np.ndarray = attrs.field(converter=_readonly)
    inputs: np.ndarray = attrs.field(converter=_readonly)
    predicted: np.ndarray = attrs.field(converter=_readonly)
    y_index: np.ndarray = attrs.field(converter=_readonly)
    lp_solves: int = 0
    milp_solves: int = 0
    seconds: float = 0.0

    @property
    def n_points(self) -> int:
        """Number of points."""
        return int(self.status.shape[0])

    @property
    def certified(self) -> np.ndarray:
        """Boolean per point: certified robust at this radius (and correctly classified)."""
        return self.status == CERTIFIED

    @property
    def certified_accuracy(self) -> float:
        """Fraction of points that are certified (a lower bound on accuracy under any attack)."""
        return float(np.mean(self.certified)) if self.n_points else math.nan

    @property
    def clean_accuracy(self) -> float:
        """Fraction of points predicted correctly without perturbation."""
        return float(np.mean(self.predicted == self.y_index)) if self.n_points else math.nan

    @property
    def n_certified(self) -> int:
        """Number of certified points."""
        return int(np.count_nonzero(self.status == CERTIFIED))

    @property
    def n_attackable(self) -> int:
        """Number of correctly classified points with a confirmed counterexample."""
        return int(np.count_nonzero(self.status == ATTACKABLE))

    @property
    def n_unknown(self) -> int:
        """Number of undecided points (time limit or a decision at a threshold)."""
        return int(np.count_nonzero(self.status == UNKNOWN))

    def counts(self) -> dict[str, int]:
        """Points per status."""
        return {s: int(np.count_nonzero(self.status == s)) for s in STATUSES}

    def summary(self) -> dict:
        """Scalars as a plain dict."""
        return {
            "radius": self.radius,
            "rule": self.rule.value,
            "points": self.n_points,
            "clean_accuracy": self.clean_accuracy,
            "certified_accuracy": self.certified_accuracy,
            **self.counts(),
            "lp_solves": self.lp_solves,
            "milp_solves": self.milp_solves,
            "seconds": round(self.seconds, 4),
        }


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _label_key(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
        if math.isfinite(v) and v.is_integer():
            return str(int(v))
        return repr(v)
    return str(value)


def _label_indices(network: BinarizedNetwork, y, m: int) -> np.ndarray:
    """Class indices of labels ``y``: original labels if the network knows them, else indices."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != m:
        raise InvalidInputError(f"y must be one label per point ({m}), got shape {y.shape}")
    if network.classes:
        lookup = {_label_key(c): k for k, c in enumerate(network.classes)}
        idx = np.array([lookup.get(_label_key(v), -1) for v in y.tolist()], dtype=np.int64)
        if m and np.all(idx < 0):
            raise InvalidInputError(
                f"none of the labels is one of the network's classes {list(network.classes)}; "
                "give the original labels (as network.predict returns them)"
            )
        return idx
    try:
        values = y.astype(float)
    except (TypeError, ValueError):
        raise InvalidInputError(
            "the network has no class labels, so y must be class indices 0..K-1"
        ) from None
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)) or (
        m and (values.min() < 0 or values.max() >= network.n_classes)
    ):
        raise InvalidInputError(
            f"the network has no class labels, so y must be class indices 0..{network.n_classes - 1}"
        )
    return values.astype(np.int64)


def _check_radius(radius) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise InvalidInputError(f"a radius must be a number, got {radius!r}") from None
    if not math.isfinite(r) or r < 0:
        raise InvalidInputError(f"a radius must be finite and >= 0, got {radius!r}")
    return r


def _check_radii(radii) -> list[float]:
    if np.ndim(radii) == 0:
        radii = [radii]
    out = [_check_radius(r) for r in radii]
    if not out:
        raise InvalidInputError("give at least one radius")
    return out


def _prepare(network: BinarizedNetwork, X, y, scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    Xs = network._scaled(X, scaled)
    if Xs.shape[0] == 0:
        raise InvalidInputError("no points to evaluate")
    return Xs, _label_indices(network, y, Xs.shape[0])


# ---------------------------------------------------------------------------------------------
# random-sign noise
# ---------------------------------------------------------------------------------------------


def noise_accuracy(network: BinarizedNetwork, X, y, radii, *, n_draws: int = 1, seed: int = 0,
                   rule=None, scaled: bool = False) -> dict[float, float]:
    """Accuracy under the paper's random-sign noise, per radius.

    Each input ``x`` (scaled first by the network's input scaling unless ``scaled=True``)
    becomes ``x + r * s`` with ``s`` uniformly random in ``{-1, +1}^n``; the accuracy is
    averaged over ``n_draws`` independent draws. The same draws are used for every radius
    (common random numbers), so radius 0 gives the clean accuracy.

    Parameters
    ----------
    network : BinarizedNetwork
        The network.
    X : array-like of shape (m, n)
        Inputs, raw (``scaled=False``) or already in the network's scaled units.
    y : array-like of shape (m,)
        Labels as :meth:`BinarizedNetwork.predict` returns them: the original labels when the
        network carries ``classes``, class indices otherwise. Labels the network does not know
        count as errors.
    radii : float or sequence of float
        Noise sizes, in scaled units (the units of the robust training radius).
    n_draws : int, default 1
        Number of random sign draws averaged.
    seed : int, default 0
        Seed of the draws.
    rule : {"preactivation", "binary"} or None
        Prediction rule (default: the network's own).
    scaled : bool, default False
        Whether ``X`` is already scaled.

    Returns
    -------
    dict
        ``{radius: accuracy}``.
    """
    Xs, yi = _prepare(network, X, y, scaled)
    radii = _check_radii(radii)
    if int(n_draws) != n_draws or n_draws < 1:
        raise InvalidInputError(f"n_draws must be a positive integer, got {n_draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInputError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(radii, 0)
    for _ in range(int(n_draws)):  # one draw at a time: memory does not grow with n_draws
        s = rng.integers(0, 2, size=Xs.shape) * 2.0 - 1.0
        for r in hits:
            hits[r] += int(np.count_nonzero(network.predict_index(Xs + r * s, rule=rule, scaled=True) == yi))
    return {r: hits[r] / (Xs.shape[0] * int(n_draws)) for r in radii}


# ---------------------------------------------------------------------------------------------
# exact certification
# ---------------------------------------------------------------------------------------------


class _TimeUp(Exception):
    pass


class _Certifier:
    """Decides one point at a time for a fixed network, rule and radius."""

    def __init__(self, network, rule, radius, backend, time_limit, max_enumerate):
        self.net = network
        self.rule = rule
        self.r = radius
        self.backend_name = backend
        self._backend = None
        self.time_limit = time_limit
        self.max_enumerate = max_enumerate
        self.W1, self.b1 = network.weights[0], network.biases[0]
        self.reach = radius * np.abs(self.W1).sum(axis=1)
        self.lp_solves = 0
        self.milp_solves = 0
        self.deadline = math.inf

    # -- helpers ---------------------------------------------------------------------------
    @property
    def backend(self):
        if self._backend is None:
            from .training import resolve_backend

            self._backend = resolve_backend(self.backend_name)
        return self._backend

    def _check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise _TimeUp

    def _remaining(self) -> float | None:
        if math.isinf(self.deadline):
            return None
        return max(self.deadline - time.perf_counter(), 1e-3)

    def _predict_from_layer1(self, A1: np.ndarray) -> np.ndarray:
        """Predictions for first-layer activation patterns (rows of ``A1``), as the forward pass."""
        a, t = A1, None
        for W, b in zip(self.net.weights[1:], self.net.biases[1:], strict=True):
            t = a @ W.T + b
            a = (t > 0).astype(float)
        if self.rule is PredictionRule.PREACTIVATION:
            if t is None:
                raise AssertionError("a one-layer network under the preactivation rule is closed-form")
            return np.argmax(t, axis=1)
        return np.argmax(a, axis=1)

    def _confirm(self, x, u, y) -> np.ndarray | None:
        """``x + r u`` (clipped to the ball) if the forward pass predicts a class other than y."""
        if u is None:
            return None
        xc = np.clip(x + self.r * np.clip(u, -1.0, 1.0), x - self.r, x + self.r)
        if self.net.predict_index(xc[None, :], rule=self.rule, scaled=True)[0] != y:
            return xc
        return None

    # -- one point -------------------------------------------------------------------------
    def decide(self, x: np.ndarray, y: int, pred: int) -> tuple[str, str, np.ndarray | None]:
        """(status, method, counterexample) for the point ``x`` with label index ``y``."""
        if pred != y:
            return MISCLASSIFIED, "prediction", x.copy()
        if self.time_limit is not None:
            self.deadline = time.perf_counter() + self.time_limit
        try:
            if len(self.net.weights) == 1 and self.rule is PredictionRule.PREACTIVATION:
                return self._closed_form(x, y)
            t0 = (x[None, :] @ self.W1.T + self.b1)[0]
            flip = (t0 + self.reach > 0) & (t0 - self.reach <= 0)
            F = np.flatnonzero(flip)
            if F.size == 0:
                return CERTIFIED, "interval", None
            if F.size <= self.max_enumerate:
                return self._enumerate(x, y, t0, F)
            return self._milp(x, y, t0, F)
        except _TimeUp:
            return UNKNOWN, "time limit", None
        finally:
            self.deadline = math.inf

    def _closed_form(self, x, y):
        W, b = self.W1, self.b1
        t0 = (x[None, :] @ W.T + b)[0]
        candidates = []
        for k in range(W.shape[0]):
            if k == y:
                continue
            worst = t0[k] - t0[y] + self.r * np.abs(W[k] - W[y]).sum()
            if worst > 0 or (k < y and worst >= 0):
                candidates.append((worst, k))
        if not candidates:
            return CERTIFIED, "closed-form", None
        for _, k in sorted(candidates, reverse=True):
            ce = self._confirm(x, np.sign(W[k] - W[y]), y)
            if ce is not None:
                return ATTACKABLE, "closed-form", ce
        return UNKNOWN, "closed-form", None

    # -- enumeration -----------------------------------------------------------------------
    def _enumerate(self, x, y, t0, F):
        f = F.size
        codes = np.arange(2**f)
        bits = ((codes[:, None] >> np.arange(f - 1, -1, -1)) & 1).astype(float)
        patterns = np.repeat((t0 > 0).astype(float)[None, :], 2**f, axis=0)
        patterns[:, F] = bits
        wrong = (self._predict_from_layer1(patterns) != y).reshape((2,) * f)
        if not wrong.any():
            return CERTIFIED, "table", None
        # LP rows for the flippable neurons, normalised: t_j(u) / c_j = g_j + h_j . u, u in [-1, 1]^n
        scale = np.abs(t0[F]) + self.reach[F]
        g = t0[F] / scale
        h = self.r * self.W1[F] / scale[:, None]
        state = {"ambiguous": False}

        def explore(prefix: tuple[int, ...]):
            sub = wrong[prefix]
            if not np.any(sub):
                return None
            depth = len(prefix)
            if depth:
                s, u = self._pattern_lp(g[:depth], h[:depth], prefix, symmetric=False)
                if s < -SLACK_TOLERANCE:
                    return None
                if depth == f:  # a wrong pattern that is (or may be) reachable
                    s2, u2 = self._pattern_lp(g, h, prefix, symmetric=True)
                    for cand in ((u2, u) if s2 > 0 else (u, u2)):
                        ce = self._confirm(x, cand, y)
                        if ce is not None:
                            return ce
                    state["ambiguous"] = True
                    return None
            # visit first the child with more wrong completions
            order = (0, 1) if np.count_nonzero(sub[0]) >= np.count_nonzero(sub[1]) else (1, 0)
            for bit in order:
                ce = explore((*prefix, bit))
                if ce is not None:
                    return ce
            return None

        ce = explore(())
        if ce is not None:
            return ATTACKABLE, "enumeration", ce
        return (UNKNOWN if state["ambiguous"] else CERTIFIED), "enumeration", None

    def _pattern_lp(self, g, h, pattern, *, symmetric):
        """Max slack ``s`` with ``t_j >= s`` (on), ``t_j <= 0`` (off; ``<= -s`` if symmetric)."""
        from scipy.optimize import linprog

        self._check_time()
        n = h.shape[1]
        on = np.asarray(pattern, dtype=bool)
        # on:  -h u + s <= g          off: h u (+ s) <= -g
        A = np.empty((len(pattern), n + 1))
        A[on, :n], A[on, n] = -h[on], 1.0
        A[~on, :n], A[~on, n] = h[~on], 1.0 if symmetric else 0.0
        rhs = np.where(on, g, -g)
        c = np.zeros(n + 1)
        c[n] = -1.0
        bounds = [(-1.0, 1.0)] * n + [(None, 1.0)]
        self.lp_solves += 1
        res = linprog(c, A_ub=A, b_ub=rhs, bounds=bounds, method="highs",
                      options={"primal_feasibility_tolerance": LP_TOLERANCE,
                               "dual_feasibility_tolerance": LP_TOLERANCE})
        if res.status == 0:
            return float(-res.fun), np.asarray(res.x[:n])
        if res.status == 2:
            return -math.inf, None
        return 0.0, None  # numerical trouble: keep the pattern (the sound side)

    # -- MILP ------------------------------------------------------------------------------
    def _milp(self, x, y, t0, F):
        """Feasibility MILP over the ball with lazy no-good cuts on layer-1 patterns."""
        from .backend import solve
        from .milp import RowKind
        from .result import SolveOptions, SolveStatus

        built = self._milp_build(x, y, t0)
        if built is None:
            return CERTIFIED, "milp", None
        pb, a1_cols = built
        base = (t0 > 0).astype(float)
        scale = np.abs(t0[F]) + self.reach[F]
        g, h = t0[F] / scale, self.r * self.W1[F] / scale[:, None]
        ambiguous = False
        for n_cut in range(MAX_CUTS + 1):
            self._check_time()
            problem = pb.build(np.zeros(pb.n_cols), 0.0, "bnnmip-certify")
            self.milp_solves += 1
            res = solve(self.backend, problem, SolveOptions(time_limit=self._remaining(), threads=1))
            if res.status is SolveStatus.INFEASIBLE:
                return (UNKNOWN if ambiguous else CERTIFIED), "milp", None
            if not (res.status.has_solution and res.x is not None):
                return UNKNOWN, "milp", None  # time limit or solver error
            u = problem.columns["u"].take(res.x)
            ce = self._confirm(x, u, y)
            if ce is not None:
                return ATTACKABLE, "milp", ce
            # The closed sign convention let the MILP through at some t = 0 exactly. Decide its
            # layer-1 pattern exactly (forward pass + LP), then cut it off and solve again.
            bits = np.round(res.x[a1_cols]).astype(int)
            pattern = base.copy()
            pattern[F] = bits
            if self._predict_from_layer1(pattern[None, :])[0] != y:
                s, u1 = self._pattern_lp(g, h, tuple(bits), symmetric=False)
                if s >= -SLACK_TOLERANCE:
                    s2, u2 = self._pattern_lp(g, h, tuple(bits), symmetric=True)
                    for cand in ((u2, u1) if s2 > 0 else (u1, u2)):
                        ce = self._confirm(x, cand, y)
                        if ce is not None:
                            return ATTACKABLE, "milp", ce
                    ambiguous = True
            if n_cut == MAX_CUTS:
                break
            # no-good cut: sum_{off} a_j - sum_{on} a_j >= 1 - |on|
            on = bits == 1
            pb.add_rows(f"cut{n_cut}", RowKind.ORDER, 1,
                        [(np.zeros(F.size, dtype=np.int64), a1_cols, np.where(on, -1.0, 1.0))],
                        1.0 - np.count_nonzero(on), np.inf)
        return UNKNOWN, "milp", None

    def _milp_build(self, x, y, t0):
        """The MILP "some x' in the ball changes the prediction" (closed sign convention).

        Returns ``(builder, layer-1 binary columns)`` or None when the prediction cannot
        change on its face (bounds alone fix it).
        """
        from .formulation._builder import ProblemBuilder
        from .milp import RowKind

        n = x.shape[0]
        pb = ProblemBuilder()
        u_cols = pb.index(pb.add_columns("u", (n,), -1.0, 1.0, False).name)
        binary_layers = len(self.net.weights) - (self.rule is PredictionRule.PREACTIVATION)

        # pre-activation of the current layer: const + coef @ (columns cols), range [lo, hi]
        const, coef, cols = t0.copy(), self.r * self.W1, u_cols
        lo, hi = t0 - self.reach, t0 + self.reach
        values = prev_cols = a1_cols = None  # previous layer: 0/1 constant or NaN (binary column)
        for l in range(binary_layers):
            if l > 0:
                W, b = self.net.weights[l], self.net.biases[l]
                fixed = ~np.isnan(values)
                const = b + W[:, fixed] @ values[fixed]
                coef, cols = W[:, ~fixed], prev_cols
                lo = const + np.minimum(coef, 0).sum(axis=1)
                hi = const + np.maximum(coef, 0).sum(axis=1)
            free = (hi > 0) & (lo <= 0)
            values = np.where(free, np.nan, (lo > 0).astype(float))
            idx = np.flatnonzero(free)
            a_cols = pb.index(pb.add_columns(f"a{l + 1}", (idx.size,), 0.0, 1.0, True).name)
            if idx.size:
                scale = np.maximum(np.abs(lo[idx]), np.abs(hi[idx]))
                cf, cn = coef[idx] / scale[:, None], const[idx] / scale
                lo_n, hi_n = lo[idx] / scale, hi[idx] / scale
                rows = np.arange(idx.size)[:, None]
                # a = 0  =>  t <= 0:   coef.v - hi a <= -const
                pb.add_rows(f"off{l + 1}", RowKind.BIGM_OFF, idx.size,
                            [(rows, cols[None, :], cf), (rows[:, 0], a_cols, -hi_n)],
                            -np.inf, -cn, binary=a_cols, big_m=hi_n)
                # a = 1  =>  t >= 0:   coef.v + lo a >= lo - const
                pb.add_rows(f"on{l + 1}", RowKind.BIGM_ON, idx.size,
                            [(rows, cols[None, :], cf), (rows[:, 0], a_cols, lo_n)],
                            lo_n - cn, np.inf, binary=a_cols, big_m=-lo_n)
            prev_cols = a_cols
            if l == 0:
                a1_cols = a_cols
        if not self._wrong_rows(pb, y, values, prev_cols):
            return None
        return pb, a1_cols

    def _wrong_rows(self, pb, y, values, cols) -> bool:
        """Rows saying "the prediction is not y"; False if that is impossible on its face."""
        from .milp import RowKind

        K = self.net.n_classes
        if self.rule is PredictionRule.BINARY:
            # values/cols describe the output layer a^L
            free = np.isnan(values)
            col_of = np.full(K, -1)
            col_of[free] = cols

            def linear(weights: dict[int, float]):
                """The form ``sum_k w_k a_k`` as (constant, columns, coefficients)."""
                c0, cs, vs = 0.0, [], []
                for k, w in weights.items():
                    if free[k]:
                        cs.append(col_of[k])
                        vs.append(w)
                    else:
                        c0 += w * values[k]
                return c0, np.array(cs, dtype=np.int64), np.array(vs, dtype=float)

            if y == 0:  # a_0 = 0 and some a_k = 1 (k > 0)
                conds = [({0: 1.0}, -np.inf, 0.0), ({k: 1.0 for k in range(1, K)}, 1.0, np.inf)]
            else:  # some a_k = 1 (k < y) or a_y = 0:  sum_{k<y} a_k - a_y >= 0
                conds = [({**{k: 1.0 for k in range(y)}, y: -1.0}, 0.0, np.inf)]
            for n_cond, (weights, low, up) in enumerate(conds):
                c0, cs, vs = linear(weights)
                if cs.size == 0:
                    if not (low - 1e-12 <= c0 <= up + 1e-12):
                        return False
                    continue
                pb.add_rows(f"wrong{n_cond}", RowKind.ORDER, 1,
                            [(np.zeros(cs.size, dtype=np.int64), cs, vs)], low - c0, up - c0)
            return True

        # preactivation: values/cols describe the last hidden layer; D_k = t_k - t_y
        W, b = self.net.weights[-1], self.net.biases[-1]
        fixed = ~np.isnan(values)
        cands, rows = [], []
        for k in range(K):
            if k == y:
                continue
            dW = W[k] - W[y]
            c0 = b[k] - b[y] + dW[fixed] @ values[fixed]
            cf = dW[~fixed]
            lo = c0 + np.minimum(cf, 0).sum()
            hi = c0 + np.maximum(cf, 0).sum()
            if hi > 0 or (k < y and hi >= 0):
                cands.append(k)
                rows.append((c0, cf, lo, hi))
        if not cands:
            return False
        z = pb.index(pb.add_columns("z", (len(cands),), 0.0, 1.0, True).name)
        pb.add_rows("choose", RowKind.ORDER, 1, [(np.zeros(z.size, dtype=np.int64), z, 1.0)], 1.0, 1.0)
        for i, (c0, cf, lo, hi) in enumerate(rows):
            scale = max(abs(lo), abs(hi), 1e-12)
            # z = 1  =>  D_k >= 0 (closed):   cf.a + lo z >= lo - c0
            entries = [(np.zeros(cf.size, dtype=np.int64), cols, cf / scale),
                       (np.zeros(1, dtype=np.int64), z[i:i + 1], lo / scale)]
            pb.add_rows(f"beat{i}", RowKind.BIGM_ON, 1, entries, (lo - c0) / scale, np.inf,
                        binary=z[i:i + 1], big_m=-lo / scale)
        return True


def certify(network: BinarizedNetwork, X, y, radius, *, backend: str = "highs", rule=None,
            time_limit: float | None = None, scaled: bool = False,
            max_enumerate: int = 16) -> Certification:
    """Exact robustness certificate per point for the l-inf ball of ``radius``.

    See the module docstring for the method and its exactness argument.

    Parameters
    ----------
    network : BinarizedNetwork
        The network.
    X : array-like of shape (m, n)
        Points, raw (``scaled=False``: the network's input scaling is applied) or scaled.
    y : array-like of shape (m,)
        Labels as :meth:`BinarizedNetwork.predict` returns them (original labels when the
        network carries ``classes``, else class indices).
    radius : float
        l-inf radius in scaled units (the units of ``RobustnessSet``); the ball is not clipped
        to [0, 1].
    backend : str, default "highs"
        bnnmip backend for the MILP fallback (more than ``max_enumerate`` flippable neurons).
    rule : {"preactivation", "binary"} or None
        Prediction rule certified (default: the network's own).
    time_limit : float or None
        Seconds per point (LPs and MILPs together); a point that runs out is ``"unknown"``.
    scaled : bool, default False
        Whether ``X`` is already scaled.
    max_enumerate : int, default 16
        Largest number of flippable first-layer neurons decided by enumerating their patterns;
        beyond it a MILP decides.

    Returns
    -------
    Certification
        Per-point status, method and counterexamples, with summary properties.

    Examples
    --------
    >>> import numpy as np, bnnmip
    >>> from bnnmip.robustness import certify
    >>> net = bnnmip.BinarizedNetwork.from_arrays(  # t = 2x - 1; class 1 iff t > 0
    ...     [np.array([[2.0]]), np.array([[-1.0], [1.0]])], [np.array([-1.0]), np.array([0.5, -0.5])])
    >>> cert = certify(net, np.array([[0.3]]), [0], 0.2)
    >>> cert.status.tolist(), certify(net, np.array([[0.3]]), [0], 0.21).status.tolist()
    (['certified'], ['attackable'])
    """
    rule = network.prediction_rule if rule is None else PredictionRule(rule)
    Xs, yi = _prepare(network, X, y, scaled)
    r = _check_radius(radius)
    if time_limit is not None and (not math.isfinite(time_limit) or time_limit <= 0):
        raise InvalidInputError(f"time_limit must be a positive number or None, got {time_limit!r}")
    if int(max_enumerate) != max_enumerate or max_enumerate < 0:
        raise InvalidInputError(f"max_enumerate must be an integer >= 0, got {max_enumerate!r}")
    from .registry import get_backend

    get_backend(backend)  # an unknown name fails now, not at the first MILP
    t_start = time.perf_counter()
    cert = _Certifier(network, rule, r, backend, time_limit, int(max_enumerate))
    pred = network.predict_index(Xs, rule=rule, scaled=True)
    m, n = Xs.shape
    status = np.empty(m, dtype=object)
    method = np.empty(m, dtype=object)
    ces = np.full((m, n), np.nan)
    for i in range(m):
        s, how, ce = cert.decide(Xs[i], int(yi[i]), int(pred[i]))
        status[i], method[i] = s, how
        if ce is not None:
            ces[i] = ce
    return Certification(
        radius=r, rule=rule, status=status.astype(str), method=method.astype(str),
        counterexamples=ces, inputs=Xs, predicted=pred, y_index=yi,
        lp_solves=cert.lp_solves, milp_solves=cert.milp_solves,
        seconds=time.perf_counter() - t_start,
    )


def robustness_report(network: BinarizedNetwork, X, y, radii, *, backend: str = "highs",
                      seed: int = 0, n_draws: int = 10, certify: bool = True, rule=None,
                      time_limit: float | None = None, scaled: bool = False,
                      max_enumerate: int = 16) -> list[dict]:
    """One row per radius: clean, random-noise and certified accuracy.

    Parameters are those of :func:`noise_accuracy` and :func:`certify`; ``certify=False``
    skips the certificates (their columns are then ``None``).

    Returns
    -------
    list of dict
        Keys ``radius``, ``clean_accuracy``, ``noise_accuracy``, ``certified_accuracy``,
        ``attackable`` and ``unknown`` (counts of points), ``seconds`` (certification time).
    """
    radii = _check_radii(radii)
    noise = noise_accuracy(network, X, y, radii, n_draws=n_draws, seed=seed, rule=rule, scaled=scaled)
    Xs, yi = _prepare(network, X, y, scaled)
    clean = float(np.mean(network.predict_index(Xs, rule=rule, scaled=True) == yi))
    rows = []
    for r in radii:
        row = {"radius": r, "clean_accuracy": clean, "noise_accuracy": noise[r],
               "certified_accuracy": None, "attackable": None, "unknown": None, "seconds": None}
        if certify:
            c = _certify(network, Xs, y, r, backend=backend, rule=rule, time_limit=time_limit,
                         scaled=True, max_enumerate=max_enumerate)
            row.update(certified_accuracy=c.certified_accuracy, attackable=c.n_attackable,
                       unknown=c.n_unknown, seconds=round(c.seconds, 4))
        rows.append(row)
    return rows


_certify = certify
