"""The exact certifier: screens, enumeration of reachable first-layer patterns, MILP fallback.

:func:`certify` decides every point for a fixed network, rule and radius; the method and its
exactness argument are in :mod:`bnnmip.robustness`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..backends import DEFAULT_BACKEND
from ..errors import InvalidInputError
from ..network import BinarizedNetwork, PredictionRule
from ..plugins.registry import get_backend
from ..training import resolve_backend
from .certificate import (
    ATTACKABLE,
    CERTIFIED,
    LP_TOLERANCE,
    MISCLASSIFIED,
    SLACK_TOLERANCE,
    UNKNOWN,
    Certification,
)
from .certify_milp import MilpFallback
from .inputs import _check_radius, _prepare

__all__ = ["certify"]


# ---------------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# random-sign noise
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# exact certification
# ---------------------------------------------------------------------------------------------


class _TimeUp(Exception):
    pass


class _Certifier(MilpFallback):
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
        from scipy.optimize import linprog  # lazy: start-up cost (scipy submodule)

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


def certify(network: BinarizedNetwork, X, y, radius, *, backend: str = DEFAULT_BACKEND, rule=None,
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
