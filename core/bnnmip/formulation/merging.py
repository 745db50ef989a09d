r"""Points that must share every activation, found before the MILP is built.

A cluster of the MILP is a set of points that share one set of activation binaries (and so
one output). :func:`lower` merges clusters whenever every network the model admits gives
their points the same activations, which loses no network and shrinks the MILP; conflicting
labels inside a merged cluster become a constant part of the loss, which the LP bound (and
:meth:`~bnnmip.milp.MilpProblem.trivial_bound`) then sees from the start.

Three facts, each exact for the model's first-layer rows (section 2 of
``docs/formulation.md``):

1. **Identical inputs** have identical activations in every layer.
2. **Overlapping balls** (robust training, radius :math:`r`). A first-layer neuron is on over
   a point's whole l-inf ball (pre-activation :math:`\ge 0`) or off over all of it
   (:math:`\le -\varepsilon`). If :math:`\|x_i - x_k\|_\infty \le 2r` the two closed balls
   share a point, which cannot be both, so :math:`x_i` and :math:`x_k` share every
   activation.
3. **Balls that reach a cluster's hull.** If the points of a cluster :math:`U` share their
   activations, each neuron is on (or off, with margin) over every ball of :math:`U`, so over
   their convex hull :math:`\mathrm{conv}(U) + B_r` too, the half-spaces being convex. A
   point whose ball meets that set, :math:`\mathrm{dist}_\infty(x_k, \mathrm{conv}(U)) \le
   2r`, has the same activations as :math:`U`. Fact 2 is the case :math:`|U| = 1`.

Facts 2 and 3 are applied until nothing changes, fact 3 within a budget of
:data:`HULL_LP_BUDGET` LPs (merging less is always sound; the budget only bounds the time on
large data with large clusters). Fact 3 solves one small LP per candidate (a point that two
cheap exclusion tests cannot rule out) and merges only on a certificate
checked in floating point: the LP's convex combination, clipped and renormalized, must lie
within :math:`2r (1 - 10^{-9})` of the point. Distances within that relative margin of
:math:`2r` are never merged, to stay clear of rounding.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix

from ..ir import ActivationTies

__all__ = ["merge_duplicate_points", "merge_overlapping_balls"]

_SAFETY = 1.0 - 1e-9
HULL_LP_BUDGET = 2000
"""At most this many LPs for fact 3 per call (about 1 to 5 ms each on a few hundred points)."""


def merge_duplicate_points(ties: ActivationTies, X: np.ndarray) -> ActivationTies:
    """``ties`` with every two clusters that hold the same input point merged into one (fact 1).

    Cluster ids are renumbered in order of first appearance.
    """
    return merge_overlapping_balls(ties, X, 0.0)


def merge_overlapping_balls(ties: ActivationTies, X: np.ndarray, radius: float, *,
                            hulls: bool = True) -> ActivationTies:
    """``ties`` with clusters merged by facts 1 to 3 for l-inf balls of ``radius``.

    With radius 0 only identical inputs are merged; ``hulls=False`` leaves out fact 3.
    Cluster ids are renumbered in order of first appearance.
    """
    from scipy.sparse.csgraph import connected_components  # lazy: start-up cost (scipy submodule)

    X = np.asarray(X, dtype=float)
    C = ties.n_clusters
    _, point_key = np.unique(X, axis=0, return_inverse=True)
    point_key = point_key.ravel()
    n_keys = int(point_key.max()) + 1
    rows, cols = [ties.cluster], [C + point_key]  # cluster c -- distinct input k
    if radius > 0:
        from scipy.spatial import cKDTree  # lazy: start-up cost (scipy submodule)

        _, first = np.unique(point_key, return_index=True)  # a point with input k: first[k]
        pairs = cKDTree(X[first]).query_pairs(2.0 * radius * _SAFETY, p=np.inf, output_type="ndarray")
        rows.append(C + pairs[:, 0])
        cols.append(C + pairs[:, 1])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(C + n_keys,) * 2)
    _, comp = connected_components(graph, directed=False)
    labels = comp[ties.cluster]
    if radius > 0 and hulls:
        labels = _close_under_hulls(X, labels, 2.0 * radius * _SAFETY)
    return ActivationTies.from_labels(labels)


def _close_under_hulls(X: np.ndarray, labels: np.ndarray, reach: float) -> np.ndarray:
    """Merge labels until no point lies within ``reach`` (l-inf) of another label's hull."""
    labels = np.array(labels)
    budget = HULL_LP_BUDGET
    grown = True
    while grown and budget > 0:  # a pass over every cluster; again while any cluster grew
        grown = False
        for c in np.unique(labels):
            while True:  # grow cluster c until no point outside it reaches its hull
                inside = labels == c
                U = X[inside]
                if len(U) < 2 or not np.ptp(U, axis=0).any():
                    break  # one input (or none): fact 2 already covered it
                hit = None
                for k in _candidates(U, X, ~inside, reach)[:budget]:
                    budget -= 1
                    if _within(U, X[k], reach):
                        hit = k
                        break
                if hit is None:
                    break
                labels[labels == labels[hit]] = c
                grown = True
    return labels


def _candidates(U: np.ndarray, X: np.ndarray, outside: np.ndarray, reach: float) -> np.ndarray:
    """Points outside the cluster that two cheap tests cannot rule out of reaching its hull.

    A point is ruled out when it lies beyond ``reach`` of the cluster's bounding box, or when
    the direction ``w`` from the centroid to it (scaled to ``||w||_1 = 1``) separates it:
    ``w x - max_u w u > reach`` bounds its l-inf distance to the hull from below.
    """
    lo, hi = U.min(axis=0) - reach, U.max(axis=0) + reach
    near = np.flatnonzero(outside & np.all((X >= lo) & (X <= hi), axis=1))
    if len(near) == 0:
        return near
    w = X[near] - U.mean(axis=0)
    w /= np.maximum(np.abs(w).sum(axis=1, keepdims=True), 1e-300)
    gap = np.einsum("ij,ij->i", w, X[near]) - (U @ w.T).max(axis=0)
    return near[gap <= reach * (1.0 + 1e-9)]


def _within(U: np.ndarray, x: np.ndarray, reach: float) -> bool:
    """Whether some convex combination of the rows of ``U`` is within ``reach`` of ``x``.

    An LP finds the nearest combination (l-inf); the answer is ``True`` only when that
    combination, clipped to be nonnegative and renormalized, is within ``reach`` of ``x`` in
    plain floating point.
    """
    from scipy.optimize import linprog  # lazy: start-up cost (scipy submodule)

    k, n = U.shape
    # variables: lambda (k), t; minimize t s.t. |U^T lambda - x| <= t, sum lambda = 1
    c = np.r_[np.zeros(k), 1.0]
    A = np.block([[U.T, -np.ones((n, 1))], [-U.T, -np.ones((n, 1))]])
    b = np.r_[x, -x]
    res = linprog(c, A_ub=A, b_ub=b, A_eq=np.r_[np.ones(k), 0.0][None, :], b_eq=[1.0],
                  bounds=[(0, None)] * k + [(0, None)], method="highs")
    if res.status != 0 or res.x[-1] > reach * 1.01:
        return False
    lam = np.clip(res.x[:k], 0.0, None)
    if lam.sum() <= 0:
        return False
    point = (lam / lam.sum()) @ U
    return bool(np.abs(point - x).max() <= reach)
