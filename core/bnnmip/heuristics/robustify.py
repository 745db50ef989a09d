"""Robust start: move a network's first layer off the training points' l-inf balls.

The robust MILP needs every first-layer pre-activation to keep its sign on the ball of radius
``r`` around every training point; :func:`_robustify` moves each neuron (its direction or an
axis direction, the bias in the best gap wide enough) so that it does, scored by how well the
hidden codes separate the classes.
"""

from __future__ import annotations

import math

import numpy as np

from .thresholds import _best_threshold, _off_on_losses, _robust_half


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
