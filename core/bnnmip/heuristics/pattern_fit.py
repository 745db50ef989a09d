r"""Weights for a given activation pattern, with the largest margins (one LP per neuron).

Once every neuron's activation on every training point is fixed, the training problem falls
apart: layer :math:`l` sees fixed inputs :math:`h_i` (the scaled point for :math:`l = 1`, the
previous layer's binary pattern after that), and each neuron :math:`j` only has to put the
points it should fire on (:math:`\sigma_i = +1`) and the others (:math:`\sigma_i = -1`) on
the right side of one hyperplane. The largest margin it can do so with, inside the weight box,
is a linear program:

.. math::

    \max_{w, b, \delta} \ \delta \quad \text{s.t.} \quad
    \sigma_i (w \cdot h_i + b) - r \|w\|_1 \ge \delta \ \ \forall i, \qquad
    |w_k| \le P, \ |b| \le B_l

(:math:`r > 0` only for the first layer of a robust model, with :math:`\|w\|_1` linearized).
The pattern is realizable with margin :math:`\varepsilon` iff :math:`\delta^* \ge \varepsilon`.
With an integer weight domain the same model is solved with integer :math:`w` (a small MILP
per neuron, scipy's HiGHS).

Three uses (see :func:`fit_pattern`, :func:`polish`, :func:`repair_network`):

- **margin polishing**: keep a trained network's activation pattern on the training data
  (hence its loss, exactly) and replace its weights by the largest-margin ones;
- **repair**: when a solver's "optimal" solution does not survive the plain forward pass,
  fit weights to the pattern the MILP claims; if that works the claim becomes true;
- **MIP starts**: turn a heuristic network (gradient-trained, say) into one that meets the
  formulation's margins and boxes, changing it as little as possible (:func:`realize`: the
  weights nearest in l1 distance whose margins reach eps, one LP per neuron).

The LPs are solved with :func:`scipy.optimize.milp` (HiGHS inside scipy): they are small
(one per neuron, one row per distinct input/target pair) and must not depend on which MILP
backend a run uses.
"""

from __future__ import annotations

import time

import attrs
import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import InvalidInputError
from ..ir import Architecture
from ..network import BinarizedNetwork

__all__ = ["PatternFit", "fit_pattern", "polish", "realize", "repair_network"]


@attrs.frozen(eq=False)
class PatternFit:
    """The outcome of :func:`fit_pattern`.

    ``margins[l][j]`` is the largest margin neuron ``j`` of layer ``l + 1`` realizes its
    targets with (``<= 0``: not realizable at all); ``network`` is ``None`` unless every
    neuron reaches ``eps``.
    """

    network: BinarizedNetwork | None
    margins: tuple[np.ndarray, ...]
    eps: float
    seconds: float

    @property
    def realized(self) -> bool:
        """Every neuron reaches the margin ``eps``."""
        return self.network is not None

    @property
    def min_margin(self) -> float:
        """The smallest margin over all neurons."""
        return float(min(m.min() for m in self.margins))


def _neuron_lp(H, sigma, P, B, r, integer, time_limit, closest_to=None, eps=0.0):
    """Largest margin for one neuron: returns ``(delta, w, b)``.

    With ``closest_to = (w0, b0)``: instead the weights nearest to ``(w0, b0)`` in l1 distance
    whose margin is at least ``eps`` (``delta`` is then the margin they achieve).
    """
    m, d = H.shape
    nb = 1 if B > 0 else 0
    nxi = d if r > 0 else 0
    npd = 0 if closest_to is None else d + nb
    nvar = d + nb + 1 + nxi + npd  # [w, b?, delta, xi?, |w - w0|, |b - b0|?]
    A = np.zeros((m + 2 * nxi + 2 * npd, nvar))
    A[:m, :d] = -sigma[:, None] * H
    if nb:
        A[:m, d] = -sigma
    A[:m, d + nb] = 1.0
    if nxi:
        A[:m, d + nb + 1 : d + nb + 1 + d] = r
        eye = np.eye(d)
        A[m : m + d, :d], A[m : m + d, d + nb + 1 : d + nb + 1 + d] = eye, -eye
        A[m + d : m + 2 * d, :d], A[m + d : m + 2 * d, d + nb + 1 : d + nb + 1 + d] = -eye, -eye
    ub = np.zeros(A.shape[0])
    reach = P * np.abs(H).sum(axis=1).max(initial=0.0) + B + 1.0
    lo = np.r_[np.full(d, -P), np.full(nb, -B), -reach, np.zeros(nxi), np.zeros(npd)]
    hi = np.r_[np.full(d, P), np.full(nb, B), reach, np.full(nxi, P), np.full(npd, np.inf)]
    c = np.zeros(nvar)
    if closest_to is None:
        c[d + nb] = -1.0
    else:
        w0, b0 = closest_to
        ref = np.r_[w0, [b0] * nb]
        k, q = m + 2 * nxi, d + nb + 1 + nxi  # first distance row, first distance column
        eye = np.eye(d + nb)
        A[k : k + npd, : d + nb], A[k : k + npd, q:] = eye, -eye  # w - p <= w0
        A[k + npd :, : d + nb], A[k + npd :, q:] = -eye, -eye  # -w - p <= -w0
        ub[k : k + npd], ub[k + npd :] = ref, -ref
        lo[d + nb] = eps * (1 + 1e-6) + 1e-12  # a hair above eps: survives rounding
        c[q:] = 1.0
    # scipy's milp also for the continuous case: the same HiGHS LP, with less wrapper overhead
    # than linprog (these LPs are tiny and solved by the thousand in the gradient start)
    integrality = np.r_[np.ones(d), np.zeros(nb + 1 + nxi + npd)] if integer else None
    options = {"disp": False}
    if integer and time_limit is not None:
        options["time_limit"] = max(time_limit, 0.01)
    res = milp(c, constraints=LinearConstraint(A, -np.inf, ub), integrality=integrality,
               bounds=Bounds(lo, hi), options=options)
    if res.x is None:
        return -np.inf, None, None
    x = res.x
    w = np.round(x[:d]) if integer else x[:d]
    b = float(x[d]) if nb else 0.0
    # the margin actually achieved in plain arithmetic (not the solver's claim)
    return _margin(H, sigma, w, b, r), np.clip(w, -P, P), float(np.clip(b, -B, B))


def _margin(H, sigma, w, b, r) -> float:
    """The smallest (robust) margin ``sigma_i (w . h_i + b) - r ||w||_1`` of a neuron's row."""
    return float((sigma * (H @ w + b) - r * np.abs(w).sum()).min(initial=np.inf))


def _feasible_margin(H, sigma, P, B, r, integer, ref, eps):
    """The margin of ``ref = (w, b)`` if it meets the nearest-weights LP's constraints, else None.

    Then the LP's optimum is ``ref`` itself (l1 distance 0), so the LP can be skipped. The
    test is the LP's own: weights in the box (integers for an integer domain), bias in the
    box (0 without biases), margin a hair above ``eps``.
    """
    w, b = np.asarray(ref[0], dtype=float), float(ref[1])
    if np.abs(w).max(initial=0.0) > P or abs(b) > B or (integer and np.any(w != np.round(w))):
        return None
    delta = _margin(H, sigma, w, b, r)
    return delta if delta >= eps * (1 + 1e-6) + 1e-12 else None


def fit_pattern(
    arch: Architecture,
    X: np.ndarray,
    patterns,
    *,
    eps: float,
    bias_bounds,
    robust_radius: float = 0.0,
    time_limit: float | None = None,
    closest_to: BinarizedNetwork | None = None,
) -> PatternFit:
    """Largest-margin weights for which every layer produces ``patterns`` on ``X``.

    With ``closest_to``, each neuron instead gets the weights nearest (l1) to that network's
    whose margin is at least ``eps`` (falling back to the largest margin, to report it, when
    there are none).

    Parameters
    ----------
    arch : Architecture
        The network's shape and weight domain.
    X : ndarray of shape (m, n)
        Scaled training points.
    patterns : sequence of ndarray
        ``patterns[l]`` of shape ``(m, d_{l+1})`` with entries 0/1: the activations layer
        ``l + 1`` must produce (the last one is the output layer).
    eps : float
        The margin every pre-activation must keep from 0.
    bias_bounds : sequence of float
        The bias box of each layer (ignored without biases).
    robust_radius : float
        Keep the first layer's pattern constant on the l-inf ball of this radius.
    time_limit : float, optional
        Seconds for all neurons together (matters for integer weights only).
    closest_to : BinarizedNetwork, optional
        Reference weights: stay as close to them as the margins allow.
    """
    t0 = time.perf_counter()
    X = np.asarray(X, dtype=float)
    widths = arch.widths
    patterns = [np.asarray(p, dtype=float) for p in patterns]
    if len(patterns) != arch.n_layers:
        raise InvalidInputError(f"need one pattern per layer ({arch.n_layers}), got {len(patterns)}")
    for l, p in enumerate(patterns):
        if p.shape != (X.shape[0], widths[l + 1]):
            raise InvalidInputError(
                f"pattern of layer {l + 1} has shape {p.shape}, expected {(X.shape[0], widths[l + 1])}"
            )
    P = arch.weight_domain.bound
    integer = arch.weight_domain.is_integer
    weights, biases, margins = [], [], []
    h = X
    for l in range(arch.n_layers):
        B = float(bias_bounds[l]) if arch.bias else 0.0
        r = robust_radius if l == 0 else 0.0
        target = patterns[l]
        W = np.zeros((widths[l + 1], widths[l]))
        b = np.zeros(widths[l + 1])
        mar = np.zeros(widths[l + 1])
        # one row per distinct (input, target) pair
        rows = np.unique(np.c_[h, target], axis=0)
        H, T = rows[:, : widths[l]], rows[:, widths[l] :]
        for j in range(widths[l + 1]):
            left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
            sigma = 2.0 * T[:, j] - 1.0
            delta, w = -np.inf, None
            if closest_to is not None:
                ref = (closest_to.weights[l][j], float(closest_to.biases[l][j]))
                delta = _feasible_margin(H, sigma, P, B, r, integer, ref, eps)
                if delta is not None:  # the reference is feasible: it is its own nearest point
                    w, bj = np.array(ref[0], dtype=float), ref[1]
                else:
                    delta, w, bj = _neuron_lp(H, sigma, P, B, r, integer, left, closest_to=ref, eps=eps)
            if w is None or delta < eps:
                delta, w, bj = _neuron_lp(H, sigma, P, B, r, integer, left)
            mar[j] = delta
            if w is not None:
                W[j], b[j] = w, bj
        weights.append(W)
        biases.append(b)
        margins.append(mar)
        h = target
    ok = all(m.min() >= eps for m in margins)
    net = (
        BinarizedNetwork.from_arrays(weights, biases, weight_domain=arch.weight_domain,
                                     metadata={"bias": arch.bias})
        if ok else None
    )
    return PatternFit(net, tuple(margins), eps, time.perf_counter() - t0)


def polish(network: BinarizedNetwork, arch: Architecture, X: np.ndarray, *, eps: float,
           bias_bounds, robust_radius: float = 0.0, time_limit: float | None = None) -> PatternFit:
    """The largest-margin network with ``network``'s activation pattern on ``X``.

    The pattern (and so every training prediction and the training loss) is unchanged;
    scaling, classes and prediction rule are carried over. Points exactly on a step
    (pre-activation 0) count as off, as in the forward pass.
    """
    fw = network.forward(X, scaled=True)
    fit = fit_pattern(arch, X, fw.act, eps=eps, bias_bounds=bias_bounds,
                      robust_radius=robust_radius, time_limit=time_limit)
    return _carry_over(fit, network, {**network.metadata, "margin_polished": True})


def realize(network: BinarizedNetwork, arch: Architecture, X: np.ndarray, *, eps: float,
            bias_bounds, robust_radius: float = 0.0, time_limit: float | None = None) -> PatternFit:
    """The network nearest to ``network`` with its activation pattern on ``X`` and margins >= eps.

    Turns a heuristic network (whose pre-activations may sit closer to 0 than the MILP's
    margin, or whose weights lie outside the boxes) into a feasible MIP start while changing
    it as little as possible; unlike :func:`polish`, it keeps what the heuristic learned about
    points off the training set. Training predictions and loss are unchanged.
    """
    P = arch.weight_domain.bound
    scaled = []  # the step is scale invariant: bring each neuron into the box first
    for W, b, B in zip(network.weights, network.biases, bias_bounds, strict=True):
        s = np.maximum(np.abs(W).max(axis=1) / P, np.abs(b) / B if arch.bias and B > 0 else 0.0)
        s = np.where(s > 0, s, 1.0)
        scaled.append((W / s[:, None], b / s))
    reference = BinarizedNetwork.from_arrays([w for w, _ in scaled], [b for _, b in scaled],
                                             weight_domain=arch.weight_domain)
    fw = network.forward(X, scaled=True)
    fit = fit_pattern(arch, X, fw.act, eps=eps, bias_bounds=bias_bounds, robust_radius=robust_radius,
                      time_limit=time_limit, closest_to=reference)
    return _carry_over(fit, network, dict(network.metadata))


def _carry_over(fit: PatternFit, network: BinarizedNetwork, metadata: dict) -> PatternFit:
    """``fit`` whose network keeps ``network``'s scaling, classes and rule, with ``metadata``."""
    if fit.network is None:
        return fit
    net = attrs.evolve(fit.network, scaling=network.scaling, classes=network.classes,
                       prediction_rule=network.prediction_rule, metadata=metadata)
    return attrs.evolve(fit, network=net)


def repair_network(lowering, x: np.ndarray, time_limit: float | None = None) -> PatternFit:
    """Weights realizing the activations a MILP solution ``x`` claims (see module docs)."""
    claimed = lowering.activations_from(x)
    cluster = lowering.ties.cluster
    patterns = [u[cluster] for u in claimed]
    radius = 0.0 if lowering.robust is None else lowering.robust.radius
    return fit_pattern(lowering.architecture, lowering.data.X, patterns, eps=lowering.eps,
                       bias_bounds=lowering.bias_bounds(), robust_radius=radius,
                       time_limit=time_limit)
