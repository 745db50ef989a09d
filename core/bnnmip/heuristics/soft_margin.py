r"""Soft-margin refitting: trade a few training errors for larger margins (one LP per neuron).

A network trained to the fewest errors (the MILP's objective) fits its training points as
tightly as the weight box allows, and which of the many such networks comes out is chance;
on noisy data that costs test accuracy. :func:`soft_refit` keeps what the trained network
has learned, its hidden representation, and refits every neuron's row as an l1-norm
soft-margin linear classifier (the LP form of a linear SVM), layer by layer:

.. math::

    \min_{w, b, \xi \ge 0} \ \|w\|_1 + C \sum_i \omega_i \xi_i \quad \text{s.t.} \quad
    \sigma_i (w \cdot h_i + b) \ge 1 - \xi_i \ \ \forall i

where :math:`h_i` is the point's input to the layer (the scaled point for the first layer,
the *refitted* previous layer's binary activations after that), :math:`\omega_i` the point
weights normalised to mean 1, and the targets :math:`\sigma_i = \pm 1` are the trained
network's own activations for a hidden neuron and the one-hot label for an output neuron.
So the hidden hyperplanes move to the largest l1 margin their points allow, points deep on
the wrong side are given up rather than bought with a thin margin, and the output layer is
fitted to the labels on the new hidden codes. Each hidden row is then rescaled to
``max |w| = P`` (the step function does not change), the output layer by one common factor
(its pre-activations are compared with each other by the default prediction rule). ``C``
sets the trade: small ``C`` buys margin with errors, large ``C`` approaches the hard-margin
fit; ``C = 1`` is the usual default of linear SVMs on inputs scaled to ``[0, 1]``.

Only continuous weights are refitted (rounding an LP solution to an integer domain is a
different problem), and not robust networks (slack would void the activation-constancy
guarantee). The LPs are solved with :func:`scipy.optimize.linprog` (HiGHS inside scipy), so
the result does not depend on which MILP backend trained the network.
"""

from __future__ import annotations

import time

import attrs
import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from ..errors import InvalidInputError
from ..network import BinarizedNetwork

__all__ = ["DEFAULT_C", "check_c", "refit_if_better", "soft_refit"]

DEFAULT_C = 1.0
"""The soft-margin trade-off ``C`` used unless one is given."""


def check_c(C, name: str = "C") -> None:
    """Raise :class:`InvalidInputError` naming ``name`` unless ``C`` is a positive finite number."""
    if isinstance(C, bool) or not isinstance(C, int | float | np.integer | np.floating) or not (
            C > 0 and np.isfinite(C)):
        raise InvalidInputError(f"{name} must be a positive number, got {C!r}; e.g. 1.0")


def soft_refit(network: BinarizedNetwork, X, y_index, *, weights=None, C: float = DEFAULT_C,
               bias: bool = True) -> BinarizedNetwork:
    """``network`` with every row refitted by an l1 soft-margin LP (see the module docstring).

    Parameters
    ----------
    network : BinarizedNetwork
        A trained network with a continuous weight domain.
    X : array of shape (m, n)
        The *scaled* training inputs the network was trained on.
    y_index : array of shape (m,)
        Class indices ``0..K-1``.
    weights : array of shape (m,), optional
        Positive point weights (default: all 1).
    C : float, default 1.0
        Weight of the hinge losses against the rows' l1 norm; must be positive.
    bias : bool, default True
        Fit biases (False: every bias stays 0, as in a network trained without them).

    Returns
    -------
    BinarizedNetwork
        Same shape, weight domain, input scaling, classes, prediction rule and metadata.
    """
    domain = network.architecture.weight_domain
    if domain.is_integer:
        raise InvalidInputError(
            "the soft-margin refit needs continuous weights, but the network's weight domain is "
            f"{domain}; use margin='max-min' (which keeps integer weights) or margin='none'"
        )
    check_c(C, "the soft-margin C")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y_index)
    m = X.shape[0]
    if X.ndim != 2 or X.shape[1] != network.widths[0] or y.shape != (m,):
        raise InvalidInputError(
            f"X must have shape (m, {network.widths[0]}) and y_index shape (m,), got {X.shape} and {y.shape}"
        )
    pw = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    pw = pw / pw.mean()
    P = float(domain.bound)
    targets = network.forward(X, scaled=True).act
    onehot = np.eye(network.n_classes)[y]
    H = X
    new_w, new_b = [], []
    n_layers = len(network.weights)
    for l in range(n_layers):
        last = l == n_layers - 1
        T = onehot if last else np.asarray(targets[l], dtype=float)
        rows, biases = [], []
        for j in range(T.shape[1]):
            w, b = _soft_lp(H, 2.0 * T[:, j] - 1.0, pw, float(C), bias)
            rows.append(w)
            biases.append(b)
        W, b = np.array(rows), np.array(biases)
        # into the box: per row for a hidden layer (a step does not see the scale); one factor
        # for the output layer, whose pre-activations are compared with each other
        scale = np.abs(W).max(axis=1, initial=0.0) / P
        if last:
            scale = np.full_like(scale, scale.max(initial=0.0))
        scale = np.where(scale > 0, scale, 1.0)
        new_w.append(W / scale[:, None])
        new_b.append(b / scale)
        H = (H @ new_w[-1].T + new_b[-1] > 0).astype(float)
    fitted = BinarizedNetwork.from_arrays(new_w, new_b, weight_domain=domain)
    return attrs.evolve(fitted, scaling=network.scaling, classes=network.classes,
                        prediction_rule=network.prediction_rule, metadata=dict(network.metadata))


def refit_if_better(network: BinarizedNetwork, data, *, validation=None, C: float | None = None,
                    bias: bool = True) -> tuple[BinarizedNetwork, dict]:
    """The soft-margin refit of ``network``, or ``network`` if validation data prefers it.

    ``data`` and ``validation`` are scaled :class:`~bnnmip.ir.TrainingSet` objects; the refit
    is kept only if it is strictly more accurate on ``validation`` (if given).

    Returns ``(network to use, record)``; the record holds ``margin="soft"``, ``C``, the
    training loss before and after, the validation accuracy before and after (with
    validation data), ``kept`` and ``seconds``. Without validation data the refit is kept.
    """
    t0 = time.perf_counter()
    C = DEFAULT_C if C is None else float(C)
    refit = soft_refit(network, data.X, data.y, weights=data.weights, C=C, bias=bias)
    pair = (("before", network), ("after", refit))
    record = {"margin": "soft", "C": C}
    for k, n in pair:
        record[f"train_loss_{k}"] = n.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
    keep = True
    if validation is not None:
        for k, n in pair:
            record[f"validation_accuracy_{k}"] = n.accuracy(validation.X, validation.y,
                                                            weights=validation.weights, scaled=True)
        keep = record["validation_accuracy_after"] > record["validation_accuracy_before"]
    record.update(kept=keep, seconds=round(time.perf_counter() - t0, 3))
    return (refit if keep else network), record


def _soft_lp(H, sigma, pw, C, bias):
    """One row: ``min |w|_1 + C sum pw_i xi_i`` s.t. ``sigma_i (w h_i + b) >= 1 - xi_i``."""
    m, d = H.shape
    if bias and np.all(sigma == sigma[0]):  # one-sided targets: a constant neuron
        return np.zeros(d), float(sigma[0])
    nb = 1 if bias else 0
    # variables: w+ (d), w- (d), b (nb), xi (m)
    c = np.r_[np.ones(2 * d), np.zeros(nb), C * pw]
    SH = sigma[:, None] * H  # sparse: the slack block is an m x m identity
    blocks = [-SH, SH, -sigma[:, None] * np.ones((m, nb))]
    A = sparse.hstack([*(sparse.csr_matrix(b) for b in blocks), -sparse.identity(m, format="csr")],
                      format="csr")
    bounds = [(0, None)] * (2 * d) + [(None, None)] * nb + [(0, None)] * m
    res = linprog(c, A_ub=A, b_ub=-np.ones(m), bounds=bounds, method="highs")
    if res.x is None:  # cannot happen (xi = 1 - sigma (w h + b) is always feasible); be loud
        raise RuntimeError(f"soft-margin LP failed: {res.message}")
    x = res.x
    return x[:d] - x[d : 2 * d], float(x[2 * d]) if nb else 0.0
