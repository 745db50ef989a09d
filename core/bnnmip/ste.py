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
that class at a time where a hyperplane isolates them robustly. On the formulations
benchmark's robust instances (10 inputs, 2 hidden, m = 50): loss 0 at ``r = 0.05`` and 24 at
``r = 0.1`` (the majority 28, the optimum 16), where the plain start was not a feasible start
at all at ``r = 0.1``.

Measured on random labels on ``[0, 1]^10`` with 2 hidden neurons, seeds 230..289, 60
instances per size (a zero-loss network exists for every one with m = 25), fitted exactly:

====================================  ========  ========  ========
start                                  m = 25    m = 35    m = 50
====================================  ========  ========  ========
4 restarts, final polish only          42         26        -
32 restarts, final polish only         60         48        -
4 restarts, local search after each    58         50        18
8 restarts, local search after each    60         58        24
16 restarts, local search after each   60         59        28
32 restarts, local search after each   60         60        32
====================================  ========  ========  ========

With 8 restarts and the local search they took 0.08 s, 0.31 s and 0.87 s on average (4
restarts: 0.12 s, 0.26 s and 0.57 s; 16: 0.09 s, 0.25 s and 1.7 s), with a limit of 5 s.
The default is 8: on data that cannot be fitted every restart is paid for. Since then the
per-epoch overhead was cut (one Adam update over a flat parameter vector): with the bias box
1 and the refit to the MILP's margins included, 0.019 s, 0.072 s and 0.28 s, 1.6x faster
over these and 80 random-teacher instances (``docs/benchmarks/start-speed.md``). An
iterated local search (re-draw one hidden hyperplane and run the local search again, 4 times
per restart) fitted 60 and 36 of the m = 35 and m = 50 sets in 0.11 s and 1.3 s on average;
32 restarts fit 60 and 33 in 0.08 s and 1.2 s, so it was not kept.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .errors import InvalidInputError
from .ir import Architecture, TrainingSet
from .network import BinarizedNetwork
from .pattern_fit import _neuron_lp

__all__ = ["improve_network", "ste_network"]

_ZERO_TOL = 1e-9  # a pre-activation this close to 0 counts as "exactly 0" when breaking ties

# The training knobs below are the variant that measured best. Benchmark (not shipped): 46 runs
# (23 instances x 2 seeds) = random teachers 10-(2|4)-2 with m in {500, 1000}, 10-8-3 (m=1000),
# 10-4-4-2, ternary and integer:3 teachers (m=500), random labels (m=200) and
# breast-cancer-wisconsin 9-2-2, scored by the summed loss. With 1 restart of 200 epochs:
# the sigmoid surrogate beat the hardtanh STE window (1163 vs 1543), squared hinge beat
# logistic (1163 vs 1418), class balancing of the surrogate weights with exponent 0.5 beat
# none (534 vs 935 at lr 0.02) and 1.0 (657), lr 0.05 beat 0.02 / 0.1 / 0.2 (1163 vs 1604 /
# 1331 / 2320), annealing the width to 0.03 beat 0.1 / 0.3 (1063 vs 1163 / 1558), rescaling
# hidden rows after each step beat not doing it (1163 vs 1452); hyperplanes through random
# data points and through the data mean were within noise (1163 vs 1245). The bias polish
# took 1063 to 919. With 4 restarts x 400 epochs and only a final polish (the defaults before
# the local search after each restart): 333 in all, 317 with the integer-weight moves of the
# polish; every random teacher 10-(2|4)-2 with m <= 1000 (seeds 0..2) is fitted exactly, each
# in well under a second.
_LR = 0.05  # Adam step size (hidden rows are kept at max |w| = 1)
_LR_END = 0.1  # cosine decay of the step size down to this fraction
_TEMP_START = 1.0  # surrogate width, in units of the pre-activations' spread: first epoch ...
_TEMP_END = 0.03  # ... and last epoch (geometric annealing)
_BALANCE = 0.5  # surrogate point weight w_i / (weight of class y_i) ** _BALANCE
_OUTPUT_INIT = 0.1  # output-layer weights start N(0, 1) * _OUTPUT_INIT / sqrt(fan-in)
_TIME_SLICES = 4  # the first restarts share the time limit in this many equal slices
_ROBUST_MARGIN = 1e-3  # robust start: first-layer margin kept beyond r ||w||_1, times P (MILP eps <= 1e-4)


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
        limit is fully determined by it.
    time_limit : float, default 5.0
        Wall-clock seconds for all restarts together (checked once per epoch).
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
    start = time.perf_counter()
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
            deadline = start + time_limit / min(restarts, _TIME_SLICES)
            _improve(grown, X, y, pw, arch.weight_domain.bound, B, integer, arch.bias, deadline, radius,
                     floor)
            best.offer(grown.weights, grown.biases, X, y, pw)
    for r in range(restarts):
        if best.loss <= floor:
            break
        deadline = start + time_limit * min(1.0, (r + 1) / min(restarts, _TIME_SLICES))
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
        if best.loss <= floor or time.perf_counter() >= start + time_limit:
            break
    return BinarizedNetwork.from_arrays(
        best.weights, best.biases, weight_domain=arch.weight_domain, metadata={"bias": arch.bias}
    )


def improve_network(network: BinarizedNetwork, data: TrainingSet, *, bias_bound: float | None = None,
                    time_limit: float = 1.0) -> BinarizedNetwork:
    """``network`` improved by coordinate descent on its true loss (or itself, if no move helps).

    One neuron at a time, with the others fixed: its bias is set by an exact line search over
    the thresholds between consecutive pre-activation values, and with integer weights each
    single weight may move to any other value of the domain. Only strict improvements of the
    weighted Hamming loss are kept. This is the primal heuristic the ``exact`` strategy runs
    on every new incumbent the solver finds (``improve="coordinate"``).
    """
    arch = network.architecture
    P = arch.weight_domain.bound
    B = None if bias_bound is None else float(bias_bound)
    weights, biases = _polish(
        [np.array(W, dtype=float) for W in network.weights],
        [np.array(b, dtype=float) for b in network.biases],
        np.asarray(data.X, dtype=float), np.asarray(data.y), np.asarray(data.weights, dtype=float),
        P, B, arch.weight_domain.is_integer, bool(network.metadata.get("bias", True)),
        time.perf_counter() + time_limit,
    )
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=arch.weight_domain,
                                        metadata=dict(network.metadata))


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
        if epoch == epochs or time.perf_counter() >= deadline:
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


def _improve(run, X, y, pw, P, B, integer, has_bias, deadline, radius: float = 0.0,
             floor: float = 0.0) -> None:
    """Offer ``run``'s network improved by the coordinate polish and the LP refits (in turns).

    Stops when its loss is at most ``floor``, no move helps, or the deadline passes.
    """
    weights, biases = run.weights, run.biases
    while run.loss > floor and time.perf_counter() < deadline:
        before = run.loss
        if has_bias or integer:
            weights, biases = _polish(weights, biases, X, y, pw, P, B, integer, has_bias, deadline,
                                      radius=radius)
            run.offer(weights, biases, X, y, pw)
        weights, biases = _refit_neurons(run.weights, run.biases, X, y, pw, P, B, integer, has_bias, deadline,
                                         radius=radius, floor=floor)
        run.offer(weights, biases, X, y, pw)
        if not run.loss < before - 1e-12:
            return


def _refit_neurons(weights, biases, X, y, pw, P, B, integer, has_bias, deadline, max_flips: int = 8,
                   radius: float = 0.0, floor: float = 0.0):
    """Local search by linear programs: refit one neuron to better targets, the others fixed.

    With the other neurons fixed, every point's loss is ``l0_i`` with the neuron off and
    ``l1_i`` with it on; where the two are equal the point does not care, and the others are
    the only constraints on the neuron's hyperplane. The move tries, in turn, the targets
    that are best for every point (the least loss any row can give, if a row realizes it),
    then the current targets with one point flipped where flipping helps (the ``max_flips``
    most helpful ones): each is a feasibility LP of :func:`bnnmip.pattern_fit._neuron_lp`
    (largest margin inside the weight and bias boxes; integer rows for an integer domain),
    and a row is taken if its margin is positive and the network's loss, recomputed with a
    plain forward pass, strictly drops. Repeats until no neuron improves or time is up.

    With ``radius > 0`` the first layer's LPs are robust (margin ``r ||w||_1`` beyond
    ``1e-3 P``) and keep every point, the free ones on their current side: a ball may not
    straddle the hyperplane whether or not its point cares.
    """
    weights = [W.copy() for W in weights]
    biases = [b.copy() for b in biases]
    onehot = np.eye(weights[-1].shape[0])[y]
    current = float(_suffix_loss(weights, biases, X, 0, onehot, pw).sum())
    improved = True
    while improved and current > floor:
        improved = False
        acts = [X]
        for W, b in zip(weights, biases, strict=True):
            acts.append((acts[-1] @ W.T + b > 0).astype(float))
        for l in range(len(weights)):
            H = acts[l]
            if not has_bias:
                Bl = 0.0
            elif B is None:  # any dichotomy's threshold lies within this reach
                Bl = P * float(np.abs(H).sum(axis=1).max(initial=0.0)) + 1.0
            else:
                Bl = B
            for j in range(weights[l].shape[0]):
                l0, l1 = _off_on_losses(weights, biases, acts[l + 1], l, j, onehot, pw)
                on = acts[l + 1][:, j] > 0
                matters = l0 != l1
                gain = np.where(on, l0 - l1, l1 - l0)  # loss change if the point flipped
                robust = radius > 0 and l == 0
                rows = np.ones_like(matters) if robust else matters
                r_l, need = (radius, _ROBUST_MARGIN * P) if robust else (0.0, 0.0)
                sides = np.where(on, 1.0, -1.0)
                targets = []
                if np.minimum(l0, l1).sum() < current - 1e-12:  # free points keep their side
                    targets.append(np.where(l1 < l0, 1.0, np.where(l1 > l0, -1.0, sides)))
                cand = np.flatnonzero(matters & (gain < -1e-12))
                # robust: a ball may block most single flips, so every helpful one is tried
                for i in cand[np.argsort(gain[cand], kind="stable")][:None if robust else max_flips]:
                    sigma = sides.copy()
                    sigma[i] = -sigma[i]
                    targets.append(sigma)
                for sigma in targets:
                    left = deadline - time.perf_counter()
                    if left <= 0:
                        return weights, biases
                    delta, w, b = _neuron_lp(H[rows], sigma[rows], P, Bl, r_l, integer, left)
                    if not delta > need:
                        continue
                    old = weights[l][j].copy(), biases[l][j]
                    weights[l][j], biases[l][j] = w, b
                    # layers before l are unchanged: recompute from their output H
                    loss = float(_suffix_loss(weights, biases, H, l, onehot, pw).sum())
                    if loss < current - 1e-12:
                        current, improved = loss, True
                        break
                    weights[l][j], biases[l][j] = old
                if improved:
                    break
            if improved:
                break
    return weights, biases


def _off_on_losses(weights, biases, act, l, j, onehot, pw):
    """Per-point losses with neuron ``j`` of layer ``l`` off and on, given layer ``l``'s activations."""
    act = act.copy()
    act[:, j] = 0.0
    l0 = _suffix_loss(weights, biases, act, l + 1, onehot, pw)
    act[:, j] = 1.0
    return l0, _suffix_loss(weights, biases, act, l + 1, onehot, pw)


def _suffix_loss(weights, biases, a, l, onehot, pw):
    """Per-point weighted Hamming loss of layers ``l, l+1, ...`` fed with activations ``a``."""
    for W, b in zip(weights[l:], biases[l:], strict=True):
        a = (a @ W.T + b > 0).astype(float)
    return np.abs(a - onehot).sum(axis=1) * pw


def _best_threshold(u, l0, l1, B, half: float = 0.0):
    """Exact line search of one neuron's bias: the loss is ``l1_i`` where ``u_i + b > 0``, else ``l0_i``.

    Returns ``(loss, b)`` for the best threshold, put in the middle of the gap between the
    two consecutive distinct values of ``u`` it falls in (``(inf, None)`` if no threshold
    fits the bias box ``[-B, B]``). With ``half > 0`` only thresholds farther than ``half``
    from every ``u_i`` count (a gap wider than ``2 half``; a robust first layer).
    """
    order = np.argsort(u, kind="stable")
    us, d = u[order], (l1 - l0)[order]
    # theta = -b just below us[k] (k = 0..m): points k, k+1, ... fire
    loss = l0.sum() + np.concatenate([np.cumsum(d[::-1])[::-1], [0.0]])
    lo, hi = np.r_[-np.inf, us], np.r_[us, np.inf]
    pad = max(0.5 * max(float(us[-1] - us[0]), 1e-6), 2.0 * half)
    theta = np.where(np.isinf(hi), lo + pad, 0.5 * (lo + hi))
    theta = np.where(np.isinf(lo), hi - pad, theta)
    ok = np.r_[True, us[1:] > us[:-1] + 2.0 * half, True]  # only cuts between different values
    if B is not None:
        ok &= np.abs(theta) <= B
    if not ok.any():
        return math.inf, None
    k = int(np.argmin(np.where(ok, loss, np.inf)))
    return float(loss[k]), -float(theta[k])


def _polish(weights, biases, X, y, pw, P, B, integer, has_bias, deadline, sweeps: int = 4,
            radius: float = 0.0):
    """Coordinate descent on the true loss, one neuron at a time (a move must strictly improve).

    With biases, each neuron's bias is set by an exact line search (:func:`_best_threshold`);
    with integer weights, each single weight may also move to any other value in
    ``{-P, ..., P}``, together with the best bias for the new row. The other neurons are held
    fixed, so the loss of every point with the neuron off (``l0``) or on (``l1``) is computed
    once per neuron. With ``radius > 0`` a first-layer row only takes thresholds that keep
    ``r ||w||_1 + 1e-3 P`` from every point (:func:`_robust_half`).
    """
    weights = [W.copy() for W in weights]
    biases = [b.copy() for b in biases]
    onehot = np.eye(weights[-1].shape[0])[y]
    values = np.arange(-P, P + 1)
    for _ in range(sweeps):
        changed = False
        for l, W in enumerate(weights):
            a = X
            for k in range(l):
                a = (a @ weights[k].T + biases[k] > 0).astype(float)
            for j in range(W.shape[0]):
                if time.perf_counter() >= deadline:
                    return weights, biases
                l0, l1 = _off_on_losses(weights, biases, (a @ W.T + biases[l] > 0).astype(float), l, j,
                                        onehot, pw)
                u = a @ W[j]
                current = float(np.where(u + biases[l][j] > 0, l1, l0).sum())
                best, row, bias = current, None, None
                candidates = [W[j]] if has_bias else []
                if integer:
                    for k in range(W.shape[1]):
                        for v in values[values != W[j, k]]:
                            r = W[j].copy()
                            r[k] = v
                            candidates.append(r)
                for r in candidates:
                    ur = a @ r
                    half = _robust_half(r, radius, P) if radius > 0 and l == 0 else 0.0
                    if has_bias:
                        loss, b = _best_threshold(ur, l0, l1, B, half)
                    elif half > 0 and np.abs(ur).min() < half:
                        continue
                    else:
                        loss, b = float(np.where(ur > 0, l1, l0).sum()), 0.0
                    if loss < best - 1e-12:
                        best, row, bias = loss, r, b
                if row is not None:
                    W[j], biases[l][j] = row, bias
                    changed = True
        if not changed:
            break
    return weights, biases


def _robust_half(row, radius, P):
    """How far a robust first-layer threshold must stay from every point's ``w . x``."""
    return radius * float(np.abs(row).sum()) + _ROBUST_MARGIN * P


def _robust_slack(t, W, radius, P):
    """Per point and first-layer neuron: ``|t| - r ||w||_1 - 1e-3 P`` (>= 0: robust)."""
    return np.abs(t) - radius * np.abs(W).sum(axis=1) - _ROBUST_MARGIN * P


def _robustify(weights, biases, X, y, pw, P, B, radius, sweeps: int = 2, max_cuts: int = 64):
    """A first layer no ball straddles, chosen for the codes it gives the next layer.

    The robust margin ``r ||w||_1`` favours sparse rows, which gradient training does not
    find, and the trained output layer expects the trained hidden codes; so each first-layer
    neuron in turn (the others fixed, ``sweeps`` passes) gets the row and bias whose codes
    separate the classes best, scored by the loss the best class per code would give
    (:func:`_code_loss`), among: its own direction and the axis directions ``+-P e_k``, each
    with a bias farther than ``r ||w||_1 + 1e-3 P`` from every point (up to ``max_cuts``
    evenly spread gaps per direction), or a constant neuron. The later layers are left to the
    local search. Without a hidden layer the first layer is the output, scored by its loss.
    """
    weights = [W.copy() for W in weights]
    biases = [b.copy() for b in biases]
    W0, b0 = weights[0], biases[0]
    n = W0.shape[1]
    K = weights[-1].shape[0]
    level = 1.0 if B is None else min(1.0, B)
    axes = P * np.concatenate([np.eye(n), -np.eye(n)])
    act = X @ W0.T + b0 > 0
    if len(weights) == 1:
        onehot = np.eye(K)[y]
    for _ in range(sweeps):
        for j in range(W0.shape[0]):
            if len(weights) == 1:
                l0, l1 = _off_on_losses(weights, biases, act.astype(float), 0, j, onehot, pw)
            else:
                _, base = np.unique(np.delete(act, j, axis=1), axis=0, return_inverse=True)
                base = base.ravel() * 2
            best = (math.inf, None, None)
            for r, b_const in ((np.zeros(n), -level), (np.zeros(n), level)):  # constant neurons
                bit = np.full(len(y), b_const > 0)
                if len(weights) == 1:
                    loss = float(np.where(bit, l1, l0).sum())
                else:
                    loss = _code_loss(base + bit, y, pw, K)
                if loss < best[0] - 1e-12:
                    best = (loss, r, b_const)
            for r in (W0[j].copy(), *axes):
                u = X @ r
                half = _robust_half(r, radius, P)
                if len(weights) == 1:
                    loss, b = _best_threshold(u, l0, l1, B, half)
                    if b is not None and loss < best[0] - 1e-12:
                        best = (loss, r, b)
                    continue
                us = np.sort(u)
                gaps = np.flatnonzero(us[1:] - us[:-1] > 2.0 * half)
                thetas = 0.5 * (us[gaps] + us[gaps + 1])
                if B is not None:
                    thetas = thetas[np.abs(thetas) <= B]
                if len(thetas) > max_cuts:
                    thetas = thetas[np.linspace(0, len(thetas) - 1, max_cuts).round().astype(int)]
                if len(thetas) == 0:
                    continue
                losses = _code_loss(base[:, None] + (u[:, None] > thetas[None, :]), y, pw, K)
                k = int(np.argmax(losses <= losses.min() + 1e-12))  # the first cut at the least loss
                if losses[k] < best[0] - 1e-12:
                    best = (float(losses[k]), r, -float(thetas[k]))
            _, W0[j], b0[j] = best
            act[:, j] = X @ W0[j] + b0[j] > 0
    return weights, biases


def _code_loss(keys, y, pw, K):
    """Hamming loss if every code (``keys``, ints) predicted its heaviest class: 2 per error.

    ``keys`` of shape ``(m, T)`` scores ``T`` codings of the points at once (one loss each).
    """
    keys = np.asarray(keys)
    if keys.ndim == 1:
        return float(_code_loss(keys[:, None], y, pw, K)[0])
    n_codes, T = int(keys.max()) + 1, keys.shape[1]
    index = (np.arange(T)[None, :] * n_codes + keys) * K + np.asarray(y)[:, None]
    counts = np.bincount(index.ravel(), weights=np.repeat(pw, T), minlength=T * n_codes * K)
    counts = counts.reshape(T, n_codes, K)
    return 2.0 * (counts.sum(axis=2) - counts.max(axis=2)).sum(axis=1)
