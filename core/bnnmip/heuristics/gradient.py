r"""A fast starting network for the exact MILP: gradient training with a straight-through estimator.

The MILP proves optimality but profits from a good incumbent early; :func:`ste_network` finds
one in about a second with plain numpy (no deep-learning framework).

Method
------
Every layer of a binarized network is a step, ``a = step(W a_prev + b)`` with
``step(t) = 1 if t > 0 else 0``, the output layer included, and the training objective is the
weighted Hamming loss between the binary outputs and the one-hot labels. The step has zero
derivative almost everywhere, so *latent* real weights are trained by full-batch Adam through
two surrogates:

- **hidden layers**: the forward pass uses the hard step, so the next layer sees exactly the
  binary activations the network computes; the backward pass replaces the step's derivative
  by a straight-through surrogate, the derivative of ``sigmoid(t / tau)``. The width ``tau``
  is per neuron, ``T`` times the standard deviation of the neuron's pre-activations on the
  data (so it does not depend on the weights' scale), and ``T`` is annealed geometrically
  from 1 to 0.03 over the epochs: at first many points pull on each hyperplane, at the end
  only the points next to it;
- **output layer**: the Hamming loss is replaced by the squared hinge ``max(0, 1 - s t)^2``
  on the output pre-activations ``t``, with target ``s = +1`` for the label's neuron and
  ``-1`` for the others. Point ``i`` counts with weight ``w_i / W_{y_i}^{1/2}`` (``W_k`` the
  total weight of class ``k``), which keeps small classes from being ignored; the *true*
  loss, used to select the network, keeps the plain point weights ``w_i``.

The step size decays from 0.05 to 0.005 (cosine). After each step every hidden neuron's
``(w, b)`` is rescaled to ``max |w| = 1``: the network is unchanged (the step is scale
invariant) and Adam's step keeps its meaning.

Initialisation: first-layer hyperplanes get random normal directions and pass through
randomly chosen training points; deeper hidden neurons pass through the binary code of a
random training point; the output layer starts small with zero biases.

Weight domains: each neuron is exported by rescaling it to ``max |w| = P`` (for continuous
weights, further down if needed to bring the bias into ``[-bias_bound, bias_bound]``, which
changes nothing). For integer weights the exported weights are ``round(P w / max |w|)``, the
bias is clipped to the box, and the forward pass of training already uses this quantized
network (gradients pass straight through the rounding to the latent weights:
quantization-aware training), so what is trained is what is exported.

Selection: after every epoch in which the training forward pass is better than the best so
far (or as good, while the best has pre-activations exactly 0), the exported network's true
loss (a hard forward pass, as :meth:`~bnnmip.network.BinarizedNetwork.hamming_loss`) is
compared with the best (ties: fewer pre-activations that are exactly 0, since the MILP's
margins need ``|t| >= eps``). The
majority-class network (all hidden neurons off) is the first candidate, so with biases the
result is never worse than predicting the majority. The ``restarts`` initialisations (8 by
default) run one after another, each followed by the local search below; everything stops
as soon as the loss is 0. The first four share the time limit in equal slices (restart
``r < 4`` may run until ``(r + 1) / 4`` of it, and what one leaves is carried on); the later
ones run only while time is left. So on data one restart fits (every random teacher below)
a restart is never cut short by the number of restarts, and on small data that only some
initialisations fit, more of them are tried.

Local search: if a restart's best network does not fit every point, two moves improve it in
turns, one neuron at a time with the others fixed, only strict improvements of the true loss
kept. The *coordinate polish* sets each bias by an exact line search (the threshold goes in
the middle of the best gap between consecutive pre-activation values); with integer weights,
each single weight may also move to any other value in ``{-P, ..., P}`` (with the best bias
for the new row), which repairs most of what rounding costs. The *LP refit*
(:func:`_refit_neurons`) replaces a neuron's whole row: with the others fixed, the points
whose loss does not depend on this neuron are left free, and a feasibility LP looks for a
row that gives the others their best targets, or else the current targets with one point
flipped where that helps.

Robust training (``robust_radius = r > 0``): the robust MILP needs every first-layer
pre-activation to keep its sign on the l-inf ball of radius ``r`` around every training
point, ``|w . x_i + b| >= r ||w||_1 + eps``, whatever the point's label. Gradient training
ignores the balls, so after each restart :func:`_robustify` moves the first layer off them
(each neuron's direction or an axis direction, with the bias in the best gap wide enough,
scored by how well the hidden codes separate the classes), and only networks that keep a
margin of ``1e-3 P`` beyond ``r ||w||_1`` are kept; the local search then works with robust
moves (thresholds in wide-enough gaps, robust LPs over every point). With one hidden layer
and biases, a network *grown* from "no hidden neuron fires" comes first: each hidden neuron
is assigned a non-majority class, and the robust LP refit switches it on for one point of
that class at a time where a hyperplane isolates them robustly.

Measurements behind the defaults (restarts, local search, the training knobs) are in
``docs/benchmarks/gradient-start.md``.
"""

from __future__ import annotations

import math

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import InvalidInputError
from ..ir import Architecture, TrainingSet
from ..network import BinarizedNetwork
from .clock import Deadline
from .improve import _improve
from .robustify import _robustify
from .thresholds import _ZERO_TOL, _robust_slack

__all__ = ["ste_network"]


# The training knobs below are the variant that measured best (docs/benchmarks/gradient-start.md).
_LR = 0.05  # Adam step size (hidden rows are kept at max |w| = 1)
_LR_END = 0.1  # cosine decay of the step size down to this fraction
_TEMP_START = 1.0  # surrogate width, in units of the pre-activations' spread: first epoch ...
_TEMP_END = 0.03  # ... and last epoch (geometric annealing)
_BALANCE = 0.5  # surrogate point weight w_i / (weight of class y_i) ** _BALANCE
_OUTPUT_INIT = 0.1  # output-layer weights start N(0, 1) * _OUTPUT_INIT / sqrt(fan-in)
_TIME_SLICES = 4  # the first restarts share the time limit in this many equal slices


def ste_network(
    arch: Architecture,
    data: TrainingSet,
    *,
    seed: int = 0,
    time_limit: float = 5.0,
    restarts: int = 8,
    epochs: int = 400,
    bias_bound: float | None = None,
    robust_radius: float = 0.0,
    loss_bound: float = 0.0,
) -> BinarizedNetwork:
    """Train a binarized network by straight-through gradient descent (a MILP warm start).

    Parameters
    ----------
    arch : Architecture
        The network shape, bias flag and weight domain. ``arch.widths`` must start with
        ``data.n_features`` and end with ``data.n_classes``.
    data : TrainingSet
        Scaled inputs, labels ``0..K-1`` and positive point weights.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; a run that is not cut short by the time
        limit is fully determined by it (and the limit counts CPU time, so a loaded machine
        does not cut it shorter).
    time_limit : float, default 5.0
        Seconds for all restarts together, counted in CPU time of the calling thread and
        checked once per epoch (:class:`~bnnmip.heuristics.clock.Deadline`: the result does
        not depend on how busy the machine is, unless a wall-clock cap of three times the
        limit is reached first).
    restarts : int, default 8
        Independent initialisations, run one after the other; restart ``r`` may use the time
        up to ``min(1, (r + 1) / min(restarts, 4))`` of the limit (what an earlier one leaves
        is carried on), so the restarts after the fourth only use time that is left.
    epochs : int, default 400
        Full-batch Adam steps per restart.
    bias_bound : float, optional
        Keep every bias in ``[-bias_bound, bias_bound]`` (e.g. the MILP's bias box). Default:
        no bound.
    robust_radius : float, default 0.0
        With ``r > 0`` only networks that are feasible for robust training with radius ``r``
        are returned: every first-layer pre-activation keeps its sign on the l-inf ball of
        radius ``r`` around every training point, ``|w . x_i + b| >= r ||w||_1 +``
        ``1e-3 P`` (see "Robust training" in the module notes).
    loss_bound : float, default 0.0
        A loss no network can beat on ``data`` (e.g. what points that must share their
        activations but disagree on labels force, the MILP's
        :meth:`~bnnmip.milp.MilpProblem.trivial_bound`). The search stops as soon as a
        network reaches it, as it stops at loss 0 by default. A value above the true least
        loss only makes the search stop early.

    Returns
    -------
    BinarizedNetwork
        The network with the lowest weighted Hamming loss on ``data`` seen over all restarts
        and epochs (each restart's best improved by the local search) and the majority-class
        network (ties: fewest
        pre-activations exactly 0). Weights lie in ``[-P, P]`` (integers for an integer
        domain), biases in ``[-bias_bound, bias_bound]``, all 0 if ``arch.bias`` is False.

    Raises
    ------
    InvalidInputError
        If the architecture does not fit the data or an option is out of range.
    """
    _check(arch, data, time_limit, restarts, epochs, bias_bound)
    radius = _finite_nonnegative("robust_radius", robust_radius)
    floor = _finite_nonnegative("loss_bound", loss_bound) * (1.0 + 1e-12)  # 0 stays exactly 0
    # the matrices are small: one BLAS thread is as fast, and a busy machine cannot starve it
    # of the others (on 2 loaded cores two BLAS threads made the digits start 10x slower)
    with threadpool_limits(limits=1):
        return _search(arch, data, seed, time_limit, restarts, epochs, bias_bound, radius, floor)


def _search(arch, data, seed, time_limit, restarts, epochs, bias_bound, radius, floor) -> BinarizedNetwork:
    """:func:`ste_network` after its checks."""
    clock = Deadline(time_limit)
    rng = np.random.default_rng(seed)
    P = float(arch.weight_domain.bound)
    B = None if bias_bound is None else float(bias_bound)
    if not arch.bias:
        B = 0.0
    X = np.asarray(data.X, dtype=float)
    y = np.asarray(data.y)
    pw = np.asarray(data.weights, dtype=float)
    target = 2.0 * data.one_hot() - 1.0  # +1 for the label's neuron, -1 for the others
    best = _Best(radius, P)
    if best.offer(*_majority(arch, data, B), X, y, pw) == math.inf:  # never worse than the majority
        best = _Best()  # robust only with biases: then the runs' networks are checked by ``run``
        best.offer(*_majority(arch, data, B), X, y, pw)
    integer = arch.weight_domain.is_integer
    if radius > 0 and arch.n_layers == 2 and arch.bias:
        # a network grown from "no hidden neuron fires" by the robust local search (module notes)
        grown = _Best(radius, P)
        if grown.offer(*_grow_start(arch, data, B), X, y, pw) < math.inf:
            deadline = clock.fraction(1.0 / min(restarts, _TIME_SLICES))
            _improve(grown, X, y, pw, arch.weight_domain.bound, B, integer, arch.bias, deadline, radius,
                     floor)
            best.offer(grown.weights, grown.biases, X, y, pw)
    for r in range(restarts):
        if best.loss <= floor:
            break
        deadline = clock.fraction(min(1.0, (r + 1) / min(restarts, _TIME_SLICES)))
        run = _Best()
        _train_once(arch, X, y, pw, target, P, B, rng, epochs, deadline, run)
        if radius > 0 and run.weights is not None:  # trained without the balls: move layer 1 off them
            robust = _Best(radius, P)
            robust.offer(*_robustify(run.weights, run.biases, X, y, pw, P, B, radius), X, y, pw)
            run = robust
        if floor < run.loss < math.inf:
            _improve(run, X, y, pw, arch.weight_domain.bound, B, integer, arch.bias, deadline, radius,
                     floor)
        if run.weights is not None:
            best.offer(run.weights, run.biases, X, y, pw)
        if best.loss <= floor or clock.passed():
            break
    return BinarizedNetwork.from_arrays(
        best.weights, best.biases, weight_domain=arch.weight_domain, metadata={"bias": arch.bias}
    )


def _check(arch, data, time_limit, restarts, epochs, bias_bound) -> None:
    if not isinstance(arch, Architecture):
        raise InvalidInputError(f"arch must be a bnnmip.Architecture, got {type(arch).__name__}")
    if not isinstance(data, TrainingSet):
        raise InvalidInputError(
            f"data must be a bnnmip.TrainingSet, got {type(data).__name__}; "
            "build one with TrainingSet.from_arrays"
        )
    if arch.n_inputs != data.n_features:
        raise InvalidInputError(
            f"the architecture has {arch.n_inputs} inputs but the data has {data.n_features} "
            "features; build the Architecture with n_inputs=data.n_features"
        )
    if arch.n_classes != data.n_classes:
        raise InvalidInputError(
            f"the architecture has {arch.n_classes} outputs but the data has {data.n_classes} "
            "classes; build the Architecture with n_classes=data.n_classes"
        )
    if not isinstance(time_limit, int | float) or not time_limit > 0 or math.isnan(time_limit):
        raise InvalidInputError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    for name, value in (("restarts", restarts), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InvalidInputError(f"{name} must be an integer >= 1, got {value!r}")
    if bias_bound is not None and (
        isinstance(bias_bound, bool)
        or not isinstance(bias_bound, int | float | np.integer | np.floating)
        or not bias_bound >= 0
    ):
        raise InvalidInputError(
            f"bias_bound must be a number >= 0 (or None for no bound), got {bias_bound!r}"
        )


def _finite_nonnegative(name: str, value) -> float:
    """``value`` as a float if it is a finite real number >= 0 (not a bool), else an error."""
    numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not numeric or not value >= 0 or math.isinf(value):
        raise InvalidInputError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class _Best:
    """The best exported network seen so far, by (true loss, number of zero pre-activations).

    With ``radius > 0`` a network whose first layer is not robust (:func:`_robust_slack`) is
    never kept (its loss counts as infinite).
    """

    def __init__(self, radius: float = 0.0, P: float = 1.0):
        self.loss = math.inf
        self.zeros = math.inf
        self.weights = None
        self.biases = None
        self.radius, self.P = radius, P

    def offer(self, weights, biases, X, y, pw) -> float:
        """Evaluate an exported network; keep it if it beats the best. Returns its loss."""
        a, zeros = X, 0
        for l, (W, b) in enumerate(zip(weights, biases, strict=True)):
            t = a @ W.T + b
            if l == 0 and self.radius > 0 and _robust_slack(t, W, self.radius, self.P).min() < 0:
                return math.inf
            zeros += int(np.count_nonzero(np.abs(t) <= _ZERO_TOL))
            a = (t > 0).astype(float)
        out = a
        wrong = np.abs(out - np.eye(out.shape[1])[y]).sum(axis=1)
        loss = float(wrong @ pw)
        if loss < self.loss - 1e-12 or (loss <= self.loss + 1e-12 and zeros < self.zeros):
            self.loss, self.zeros = loss, zeros
            self.weights = [W.copy() for W in weights]
            self.biases = [b.copy() for b in biases]
        return loss


def _majority(arch, data, B):
    """All hidden neurons off, only the (weighted) majority class's output on (if biases allow)."""
    widths = arch.widths
    weights = [np.zeros((widths[l + 1], widths[l])) for l in range(arch.n_layers)]
    level = 1.0 if B is None else min(1.0, B)
    biases = [np.full(widths[l + 1], -level) for l in range(arch.n_layers)]
    biases[-1][int(np.argmax(np.bincount(data.y, weights=data.weights, minlength=arch.n_classes)))] = level
    return weights, biases


def _grow_start(arch, data, B):
    """One hidden layer, every hidden neuron off (a zero row) and each assigned to a class.

    The classes other than the (weighted) majority take the hidden neurons in turn, heaviest
    first; an output neuron fires iff one of its hidden neurons does, the majority's iff none
    does. So the network predicts the majority, and a hidden neuron switched on for a point
    moves that point to its class: the local search grows the neurons point by point.
    """
    d0, d1, K = arch.widths
    level = 1.0 if B is None else min(1.0, B)
    counts = np.bincount(data.y, weights=data.weights, minlength=K)
    majority = int(np.argmax(counts))
    others = [int(k) for k in np.argsort(-counts, kind="stable") if k != majority] or [majority]
    owner = [others[j % len(others)] for j in range(d1)]
    W1, b1 = np.zeros((d1, d0)), np.full(d1, -level)
    W2, b2 = np.zeros((K, d1)), np.full(K, -0.5 * level)
    for j, k in enumerate(owner):
        W2[k, j] = level
        W2[majority, j] = -level
    b2[majority] = 0.5 * level
    return [W1, W2], [b1, b2]


def _init(arch, X, rng):
    widths = arch.widths
    weights, biases = [], []
    a = X
    for l in range(arch.n_layers):
        d_out, d_in = widths[l + 1], widths[l]
        W = rng.normal(size=(d_out, d_in))
        if l == arch.n_layers - 1:
            W *= _OUTPUT_INIT / math.sqrt(d_in)
            b = np.zeros(d_out)
        else:
            W /= np.abs(W).max(axis=1, keepdims=True)
            anchor = a[rng.integers(0, a.shape[0], size=d_out)]  # one point per neuron
            b = -np.einsum("ij,ij->i", W, anchor)
        if not arch.bias:
            b = np.zeros(d_out)
        weights.append(W)
        biases.append(b)
        a = (a @ W.T + b > 0).astype(float)
    return weights, biases


def _quantize(weights, biases, P, B, integer):
    """The network training sees: integer-rounded per neuron (in latent scale), bias in the box."""
    if not integer:
        return weights, biases
    qw, qb = [], []
    for W, b in zip(weights, biases, strict=True):
        s = np.abs(W).max(axis=1) / P
        s = np.where(s > 0, s, 1.0)[:, None]
        qw.append(np.clip(np.round(W / s), -P, P) * s)
        qb.append(b if B is None else np.clip(b, -B * s[:, 0], B * s[:, 0]))
    return qw, qb


def _export(weights, biases, P, B, integer):
    """Per-neuron rescaling into the weight and bias boxes (the step function is unchanged)."""
    ew, eb = [], []
    for W, b in zip(weights, biases, strict=True):
        amax = np.abs(W).max(axis=1)
        if integer:
            s = np.where(amax > 0, amax / P, 1.0)
            We = np.clip(np.round(W / s[:, None]), -P, P)
            be = b / s
        else:
            s = amax / P
            if B is not None and B > 0:
                s = np.maximum(s, np.abs(b) / B)
            s = np.where(s > 0, s, 1.0)
            We = W / s[:, None]
            be = b / s
        if B is not None:
            be = np.clip(be, -B, B)
        ew.append(np.clip(We, -P, P))
        eb.append(be)
    return ew, eb


def _flat_views(arrays):
    """One flat vector holding ``arrays``, and views of it shaped like them."""
    flat = np.concatenate([a.ravel() for a in arrays])
    views, at = [], 0
    for a in arrays:
        views.append(flat[at:at + a.size].reshape(a.shape))
        at += a.size
    return flat, views


def _train_once(arch, X, y, pw, target, P, B, rng, epochs, deadline, best) -> None:
    integer = arch.weight_domain.is_integer
    L = arch.n_layers
    init_w, init_b = _init(arch, X, rng)
    # weights and biases are views of one flat vector, and so are their gradients: one Adam
    # update per epoch (the epochs of small data sets are dominated by per-call overhead)
    flat, params = _flat_views([*init_w, *init_b])
    grad, grads = _flat_views([np.zeros_like(p) for p in params])
    weights, biases = params[:L], params[L:]
    gw, gb = grads[:L], grads[L:]
    m1 = np.zeros_like(flat)
    m2 = np.zeros_like(flat)
    beta1, beta2 = 0.9, 0.999
    cw = pw / np.bincount(y, weights=pw, minlength=target.shape[1])[y] ** _BALANCE
    cw = cw / cw.sum()  # point weights for the surrogate loss
    on = (target > 0).astype(float)
    for epoch in range(epochs + 1):
        qw, qb = _quantize(weights, biases, P, B, integer)
        # forward with hard steps
        acts, pres = [X], []
        for W, b in zip(qw, qb, strict=True):
            t = acts[-1] @ W.T + b
            pres.append(t)
            acts.append((t > 0).astype(float))
        hard = float(np.abs(acts[-1] - on).sum(axis=1) @ pw)
        # a tie can only win on fewer zero pre-activations, so it is not offered once the best has none
        if hard < best.loss - 1e-12 or (hard <= best.loss + 1e-12 and best.zeros > 0):
            loss = best.offer(*_export(weights, biases, P, B, integer), X, y, pw)
            if loss == 0.0:
                return
        if epoch == epochs or deadline.passed():
            return
        frac = epoch / max(1, epochs - 1)
        temp = _TEMP_START * (_TEMP_END / _TEMP_START) ** frac
        lr = _LR * (_LR_END + (1 - _LR_END) * 0.5 * (1 + math.cos(math.pi * frac)))
        # output surrogate: d/dt of w_i * max(0, 1 - s t)^2
        g = -2.0 * np.maximum(0.0, 1.0 - target * pres[-1]) * target * cw[:, None]
        for l in range(L - 1, -1, -1):
            np.matmul(g.T, acts[l], out=gw[l])
            if arch.bias:
                g.sum(axis=0, out=gb[l])
            if l == 0:
                break
            ga = g @ qw[l]
            t = pres[l - 1]
            c = t - t.mean(axis=0)
            tau = temp * (np.sqrt(np.einsum("ij,ij->j", c, c) / len(c)) + 1e-12)  # per neuron, scale free
            # straight through: d sigma(t / tau) / dt = e / (1 + e)^2 / tau with e = exp(-|t| / tau)
            e = np.exp(-np.abs(t) / tau)
            g = ga * (e / ((1.0 + e) ** 2 * tau))
        step = epoch + 1
        m1 *= beta1
        m1 += (1 - beta1) * grad
        m2 *= beta2
        m2 += (1 - beta2) * grad * grad
        flat -= (lr / (1 - beta1**step)) * m1 / (np.sqrt(m2 / (1 - beta2**step)) + 1e-8)
        for l in range(L - 1):  # max |w| = 1 per hidden neuron: same network, stable step size
            s = np.abs(weights[l]).max(axis=1)
            s = np.where(s > 0, s, 1.0)
            weights[l] /= s[:, None]
            biases[l] /= s
