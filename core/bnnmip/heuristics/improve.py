"""Local search with one neuron free at a time: the coordinate polish and the LP refit of a row.

Both moves keep only strict improvements of the true (Hamming) loss; see :mod:`.gradient` for
where they run (after each restart of the gradient start) and ``docs/strategies.md``.
"""

from __future__ import annotations

import numpy as np

from ..ir import TrainingSet
from ..network import BinarizedNetwork
from .clock import Deadline
from .pattern_fit import _neuron_lp
from .thresholds import _ROBUST_MARGIN, _best_threshold, _off_on_losses, _robust_half, _suffix_loss

__all__ = ["improve_network"]


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
        Deadline(time_limit),
    )
    return BinarizedNetwork.from_arrays(weights, biases, weight_domain=arch.weight_domain,
                                        metadata=dict(network.metadata))


def _improve(run, X, y, pw, P, B, integer, has_bias, deadline, radius: float = 0.0,
             floor: float = 0.0) -> None:
    """Offer ``run``'s network improved by the coordinate polish and the LP refits (in turns).

    Stops when its loss is at most ``floor``, no move helps, or the deadline passes.
    """
    weights, biases = run.weights, run.biases
    while run.loss > floor and not deadline.passed():
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
    most helpful ones): each is a feasibility LP of :func:`bnnmip.heuristics.pattern_fit._neuron_lp`
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
                    left = deadline.left()
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
                if deadline.passed():
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
