"""Loss bookkeeping and threshold placement shared by the local search and robustification."""

from __future__ import annotations

import math

import numpy as np

_ZERO_TOL = 1e-9  # a pre-activation this close to 0 counts as "exactly 0" when breaking ties


_ROBUST_MARGIN = 1e-3  # robust start: first-layer margin kept beyond r ||w||_1, times P (MILP eps <= 1e-4)


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


def _robust_half(row, radius, P):
    """How far a robust first-layer threshold must stay from every point's ``w . x``."""
    return radius * float(np.abs(row).sum()) + _ROBUST_MARGIN * P


def _robust_slack(t, W, radius, P):
    """Per point and first-layer neuron: ``|t| - r ||w||_1 - 1e-3 P`` (>= 0: robust)."""
    return np.abs(t) - radius * np.abs(W).sum(axis=1) - _ROBUST_MARGIN * P
