r"""A lower bound on the loss of width-2, two-class networks from two small relaxations.

For a network with one hidden layer of two neurons and two classes (``Architecture(n, (2,),
2)`` with biases), the hidden layer cuts the input space into four cells (the patterns of the
two bits), and each output neuron is a threshold function of the two bits (any Boolean function
of two bits but XOR and XNOR). A cell's *type* is class 0 (outputs ``(1, 0)``), class 1
(``(0, 1)``) or *abstain* (both outputs equal). A point costs 0 in a cell of its own class, 2
in a cell of the other class and 1 in an abstaining cell (Hamming loss, times its weight).

Two facts, checked by enumerating all pairs of threshold functions
(``tests/formulation/test_error_bound.py``):

1. If no cell abstains, the class map on the four cells is not XOR, so up to negating the
   hidden neurons (which the model allows) one class is exactly the cell where both neurons
   fire, the intersection of two half-spaces (a single half-space and a constant map are
   special cases).
2. If some cell abstains, the cells of class 0 and those of class 1 are split by a single
   hidden neuron (or one of the two sets is empty): the points the network gets right are
   classified by one half-space (or a constant).

Let :math:`E` be the least weighted number of points that an "intersection of two half-spaces
is class k" classifier (either k) gets wrong, and :math:`S` the least weighted number a single
half-space gets wrong, both with the model's margins and boxes (and under robust training
with each half-space keeping the balls of the points it classifies on one side). A network
with no abstaining cell that holds points costs :math:`2 \times` the weight of its wrong
points, at least :math:`2E` (fact 1); one with such a cell gets every wrong or abstaining point
at least 1 each, and its right points are classified by one half-space, so it costs at least
:math:`S` (fact 2). Hence

.. math::

    \text{loss} \ \ge\ \min(2E,\ S) \ \ge\ E.

:math:`E` and :math:`S` are small MILPs (about 2m binaries and no second layer), built here;
:mod:`bnnmip.strategies.exact` solves them (``error_bound=true``, ``auto`` or ``parallel``; off
by default), turns the best intersection classifier into a start network (loss at most
:math:`2E`), and adds the bound to the training MILP as a row (or, ``parallel``, stops the
training MILP once the bound meets its incumbent). Both problems drop constraints of the
training MILP (the margins of points a classifier gets wrong; under robust training the
constancy of every ball on every neuron), so any network's loss is at least the bound: it
never cuts off an optimal network.

For three or more classes, and under robust training (where :math:`E` and :math:`S` are weak),
:func:`cells_problem` is the bound instead: the training MILP's first layer for every point,
with the output layer replaced by a class (or abstention) per cell.
"""

from __future__ import annotations

import attrs
import numpy as np
import scipy.sparse as sp

from ..ir import Architecture, RobustnessSet, TrainingSet
from ..milp import MilpProblem, RowBlock, RowKind
from ..milp.builder import ProblemBuilder
from ..network import BinarizedNetwork

__all__ = ["CELLS", "applies", "cells_network", "cells_problem", "intersection_network", "intersection_problem",
           "loss_floor", "single_problem", "with_loss_floor"]


def applies(arch: Architecture) -> bool:
    """Whether a bound is defined for ``arch``: one hidden layer of width 2 and biases.

    Two classes: :math:`\\min(2E, S)`; three or more: the cell bound of :func:`cells_problem`.
    """
    return arch.n_layers == 2 and arch.widths[1] == 2 and arch.bias


def _common(pb: ProblemBuilder, data: TrainingSet, n_planes: int, P: float, bias_box: float,
            radius: float):
    """Weights, biases, |W| bounds (robust) and one error binary per point."""
    n = data.n_features
    pb.add_columns("W", (n_planes, n), -P, P, False)
    pb.add_columns("b", (n_planes,), -bias_box, bias_box, False)
    if radius > 0:
        pb.add_columns("xi", (n_planes, n), 0, P, False)
        W, xi = pb.index("W").ravel(), pb.index("xi").ravel()
        k = W.size
        idx = np.arange(2 * k)
        pb.add_rows("abs", RowKind.ABS, 2 * k,
                    [(idx, np.r_[W, W], np.r_[np.ones(k), -np.ones(k)]), (idx, np.r_[xi, xi], -1.0)],
                    -np.inf, 0.0)
    pb.add_columns("e", (data.n_points,), 0, 1, True)


def _side_rows(pb, name, points, plane, side, X, M, eps, radius, extra, shift=0.0, relaxed=True):
    """``side * (W_p x_i + b_p) - r ||W_p||_1 + M_i e_i + extra >= eps - shift`` (no ``e`` term unless ``relaxed``)."""
    rows = np.arange(len(points))
    entries = [(rows[:, None], pb.index("W")[plane][None, :], side * X[points]),
               (rows, pb.index("b")[plane], side)]
    if relaxed:
        entries.append((rows, pb.index("e")[points], M[points]))
    if radius > 0:
        entries.append((rows[:, None], pb.index("xi")[plane][None, :], -radius))
    entries.extend(extra)
    return pb.add_rows(name, RowKind.ORDER, len(points), entries, eps - shift, np.inf)


def _big_m(data: TrainingSet, P: float, bias_box: float, radius: float, eps: float) -> np.ndarray:
    return P * np.abs(data.X).sum(axis=1) + bias_box + radius * data.n_features * P + eps


def intersection_problem(arch: Architecture, data: TrainingSet, k: int, *, bias_box: float,
                         eps: float, robust: RobustnessSet | None = None) -> MilpProblem:
    """The MILP of :math:`E_k`: fewest (weighted) points wrong when class ``k`` is ``H1 ∩ H2``.

    Columns ``W`` (2 x n), ``b`` (2), ``xi`` (robust), ``e`` (one per point: the point is
    wrong) and ``z`` (one per point of the other class: ``0`` if ``H1`` keeps it out, ``1`` if
    ``H2`` does). A right point of class ``k`` is on both half-spaces' positive side with
    margin ``eps``; a right point of the other class on the negative side of the one ``z``
    names. Swapping the half-spaces is a symmetry, broken by fixing the first such ``z``.
    """
    P, r = arch.weight_domain.bound, 0.0 if robust is None else robust.radius
    pb = ProblemBuilder()
    _common(pb, data, 2, P, bias_box, r)
    inside = np.flatnonzero(data.y == k)
    outside = np.flatnonzero(data.y != k)
    pb.add_columns("z", (len(outside),), 0, 1, True)
    M = _big_m(data, P, bias_box, r, eps)
    z, rows = pb.index("z"), np.arange(len(outside))
    for p in range(2):
        _side_rows(pb, f"in{p}", inside, p, 1.0, data.X, M, eps, r, [])
        # plane 0 keeps the point out unless z = 1 (+ M z), plane 1 unless z = 0 (+ M (1 - z))
        sign, shift = (1.0, 0.0) if p == 0 else (-1.0, M[outside])
        _side_rows(pb, f"out{p}", outside, p, -1.0, data.X, M, eps, r, [(rows, z, sign * M[outside])], shift)
    if len(outside):
        pb.fix(z[0], 0.0)
    c = np.zeros(pb.n_cols)
    c[pb.index("e")] = data.weights
    return pb.build(c, 0.0, f"error_bound_intersection{k}")


def single_problem(arch: Architecture, data: TrainingSet, *, bias_box: float, eps: float,
                   robust: RobustnessSet | None = None, cap: float | None = None) -> MilpProblem:
    """The MILP of :math:`S`: fewest (weighted) points one half-space gets wrong.

    Class 1 on the positive side (negating the half-space gives the other orientation).
    ``cap`` adds the row ``sum_i w_i e_i <= cap``: infeasible means :math:`S > cap`.
    """
    P, r = arch.weight_domain.bound, 0.0 if robust is None else robust.radius
    pb = ProblemBuilder()
    _common(pb, data, 1, P, bias_box, r)
    M = _big_m(data, P, bias_box, r, eps)
    for cls, side in ((1, 1.0), (0, -1.0)):
        _side_rows(pb, f"class{cls}", np.flatnonzero(data.y == cls), 0, side, data.X, M, eps, r, [])
    if cap is not None:
        e = pb.index("e")
        pb.add_rows("cap", RowKind.ORDER, 1, [(np.zeros(len(e), dtype=np.int64), e, data.weights)],
                    -np.inf, float(cap))
    c = np.zeros(pb.n_cols)
    c[pb.index("e")] = data.weights
    return pb.build(c, 0.0, "error_bound_single")


def intersection_network(problem: MilpProblem, x: np.ndarray, k: int, arch: Architecture) -> BinarizedNetwork:
    """The width-2 network of a solution of :func:`intersection_problem`: class ``k`` iff both fire.

    Its loss is twice the weight of the points the solution gets wrong (wrong points get the
    other class's one-hot output), before the margins of those points are restored.
    """
    W = problem.columns["W"].take(x).astype(float)
    b = problem.columns["b"].take(x).astype(float)
    both = np.array([1.0, 1.0])
    out_w = np.zeros((2, 2))
    out_b = np.zeros(2)
    out_w[k], out_b[k] = both, -1.5        # class k: h1 and h2
    out_w[1 - k], out_b[1 - k] = -both, 1.5  # the other: not (h1 and h2)
    return BinarizedNetwork.from_arrays([W, out_w], [b, out_b], weight_domain=arch.weight_domain)


def loss_floor(e_bound: float, s_bound: float) -> float:
    """The lower bound on the Hamming loss from bounds on :math:`E` and :math:`S`."""
    return float(min(2.0 * e_bound, s_bound))


def with_loss_floor(problem: MilpProblem, floor: float) -> MilpProblem:
    """``problem`` with the row ``c @ x + offset >= floor`` (block ``loss_floor``, kind ``ORDER``)."""
    A = sp.vstack([problem.A, sp.csr_matrix(problem.c[None, :])], format="csr")
    A.sort_indices()
    block = RowBlock("loss_floor", RowKind.ORDER, problem.n_rows, problem.n_rows + 1)
    return attrs.evolve(problem, A=A, row_lower=np.r_[problem.row_lower, floor - problem.offset],
                        row_upper=np.r_[problem.row_upper, np.inf], rows=(*problem.rows, block))


CELLS = ((0, 0), (0, 1), (1, 0), (1, 1))
"""The four cells of a width-2 hidden layer, as (first neuron, second neuron) activations."""


def _in_cell(cell, h0, h1):
    """Entries of ``L(h) = [h == cell]`` on cell ``cell``'s side, linear in the bits: ``(columns, coefficients), constant``.

    ``L`` is 1 on the cell and at most 0 elsewhere: ``h0 + h1 - 1`` for (1, 1), ``h0 - h1`` for
    (1, 0), ``h1 - h0`` for (0, 1), ``1 - h0 - h1`` for (0, 0).
    """
    s0, s1 = (1.0 if cell[0] else -1.0), (1.0 if cell[1] else -1.0)
    return [(h0, s0), (h1, s1)], float(cell[0] + cell[1] == 0) - float(cell[0] + cell[1] == 2)


def cells_problem(arch: Architecture, data: TrainingSet, *, bias_box: float, eps: float,
                  robust: RobustnessSet | None = None) -> MilpProblem:
    r"""A MILP whose optimum is a lower bound on the loss of any width-2 network, any number of classes.

    The hidden layer puts each point in one of four cells; in every network each cell is a
    *class cell* (the outputs there are one class's one-hot vector) or *abstains* (they are
    not one-hot). A point in a class cell of another class costs 2, one in an abstaining cell
    at least 1, a point right nothing. Columns: ``W``, ``b`` (two half-spaces), ``xi``
    (robust), ``h`` (m x 2: each point's cell), ``e`` (the point is not right), ``f`` (it is
    not right and sits in an abstaining cell), ``c`` (4 x k: cell q is a class-y cell). Rows:

    - the margins of ``h`` for every point, as in the training MILP's first layer (each point
      is in the cell its activations say, wrong or right: unlike :func:`intersection_problem`,
      which drops the wrong points, so that a wrong point cannot be put in an abstaining cell
      the geometry does not allow);
    - a right point's cell is a cell of its class: ``c[q, y_i] >= L_q(h_i) - e_i``;
    - a cell has at most one class; ``f_i <= e_i`` and ``f_i <= 1 - sum_y c[q, y]`` on the
      point's cell;
    - the output neurons are threshold functions of the two bits: when class ``y`` holds
      both cells of a diagonal, output ``y`` is 1 on one cell of the other diagonal too
      (the two diagonals have the same midpoint), so that cell is no other class's:
      ``c[d1, y] + c[d2, y] - 1 <= free_y(o1) + free_y(o2)`` with
      ``free_y(q) = 1 - sum_{y' != y} c[q, y']``.

    Objective: ``sum_i w_i (2 e_i - f_i)``. Every network gives a feasible point of this MILP
    of objective at most its loss (checked over every tuple of threshold functions and against
    brute force in ``tests/formulation/test_error_bound.py``), so its optimum, and any dual
    bound of it, bounds the loss from below. The first point's cell is fixed to (0, 0)
    (negating hidden neurons keeps the loss).
    """
    P, r = arch.weight_domain.bound, 0.0 if robust is None else robust.radius
    m, k = data.n_points, arch.n_classes
    pb = ProblemBuilder()
    _common(pb, data, 2, P, bias_box, r)
    pb.add_columns("h", (m, 2), 0, 1, True)
    pb.add_columns("f", (m,), 0, 1, False)
    pb.add_columns("c", (4, k), 0, 1, True)
    e, f, h, c = pb.index("e"), pb.index("f"), pb.index("h"), pb.index("c")
    M = _big_m(data, P, bias_box, r, eps)
    rows, pts = np.arange(m), np.arange(m)
    for p in range(2):
        # h = 1: W_p x + b_p - r|W_p| >= eps, relaxed by M (1 - h); h = 0: the mirror image
        _side_rows(pb, f"on{p}", pts, p, 1.0, data.X, M, eps, r, [(rows, h[:, p], -M)], shift=M, relaxed=False)
        _side_rows(pb, f"off{p}", pts, p, -1.0, data.X, M, eps, r, [(rows, h[:, p], M)], relaxed=False)
    for q, cell in enumerate(CELLS):
        terms, const = _in_cell(cell, h[:, 0], h[:, 1])
        # c[q, y_i] - L_q(h_i) + e_i >= 0
        pb.add_rows(f"class{q}", RowKind.ORDER, m,
                    [(rows, c[q, data.y], 1.0), (rows, e, 1.0),
                     *[(rows, col, -coef) for col, coef in terms]], const, np.inf)
        # f_i + sum_y c[q, y] + L_q(h_i) <= 2
        pb.add_rows(f"abstain{q}", RowKind.ORDER, m,
                    [(rows, f, 1.0), *[(rows, c[q, y], 1.0) for y in range(k)],
                     *[(rows, col, coef) for col, coef in terms]], -np.inf, 2.0 - const)
    pb.add_rows("one_class", RowKind.ORDER, 4, [(np.arange(4)[:, None], c, 1.0)], -np.inf, 1.0)
    pb.add_rows("f_wrong", RowKind.ORDER, m, [(rows, f, 1.0), (rows, e, -1.0)], -np.inf, 0.0)
    diagonals = (((0, 3), (1, 2)), ((1, 2), (0, 3)))  # (cells of one diagonal, cells of the other)
    for (d1, d2), (o1, o2) in diagonals:
        for y in range(k):
            others = [v for v in range(k) if v != y]
            # c[d1,y] + c[d2,y] + sum_{y'!=y} (c[o1,y'] + c[o2,y']) <= 3
            entries = [(0, c[d1, y], 1.0), (0, c[d2, y], 1.0)]
            entries += [(0, c[o, v], 1.0) for o in (o1, o2) for v in others]
            pb.add_rows(f"diagonal{d1}{d2}_{y}", RowKind.ORDER, 1, entries, -np.inf, 3.0)
    pb.fix(h[0], 0.0)
    cost = np.zeros(pb.n_cols)
    cost[e] = 2.0 * data.weights
    cost[f] = -data.weights
    return pb.build(cost, 0.0, "error_bound_cells")


def _threshold_table() -> list[tuple[tuple[int, ...], tuple[float, float, float]]]:
    """The 14 threshold functions of 2 bits: (values on :data:`CELLS`, (a, b, c)): ``[a h0 + b h1 + c > 0]``.

    Weights in {-1, 0, 1} (any weight domain holds them) and ``c`` a half-integer, so every
    pre-activation is at least 1/2 away from 0.
    """
    table = {}
    for a in (-1.0, 0.0, 1.0):
        for b in (-1.0, 0.0, 1.0):
            for c in (-1.5, -0.5, 0.5, 1.5):
                values = tuple(int(a * h0 + b * h1 + c > 0) for h0, h1 in CELLS)
                table.setdefault(values, (a, b, c))
    return sorted(table.items())


def cells_network(problem: MilpProblem, x: np.ndarray, arch: Architecture,
                  data: TrainingSet) -> BinarizedNetwork:
    """A network from a solution of :func:`cells_problem`: its half-spaces, per class a threshold function.

    Output ``y`` is 1 on the cells of class ``y`` and 0 on the other classes' cells (the
    diagonal rows make that a threshold function); on abstaining cells it takes the values
    that cost the points there least. Its loss is the solution's objective where the
    abstaining cells' points cost 1 each, else more; its margins are restored by
    ``pattern_fit.realize`` before it is used.
    """
    W = problem.columns["W"].take(x).astype(float)
    b = problem.columns["b"].take(x).astype(float)
    c = np.round(problem.columns["c"].take(x)).astype(int)  # (4, k)
    cell = (np.asarray(data.X) @ W.T + b > 0).astype(int) @ np.array([2, 1])  # index into CELLS
    k = arch.n_classes
    table = _threshold_table()
    values = np.array([v for v, _ in table])  # (14, 4)
    classed = c.sum(axis=1) == 1  # class cells; the others abstain
    free = ~classed[cell]  # points in abstaining cells: the only ones the choice changes
    out_w, out_b = np.zeros((k, 2)), np.zeros(k)
    for y in range(k):
        fits = (values[:, classed] == c[classed, y]).all(axis=1)  # 1 on y's cells, 0 on the others'
        cost = (np.abs(values[:, cell[free]] - (data.y[free] == y)) * data.weights[free]).sum(axis=1)
        if fits.any():
            a, bb, cc = table[int(np.flatnonzero(fits)[np.argmin(cost[fits])])][1]
        else:  # cannot happen with the diagonal rows; a constant keeps the network valid
            a, bb, cc = 0.0, 0.0, -0.5
        out_w[y], out_b[y] = (a, bb), cc
    return BinarizedNetwork.from_arrays([W, out_w], [b, out_b], weight_domain=arch.weight_domain)
