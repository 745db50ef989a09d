"""``error_bound``: the facts it rests on, and that it never cuts off an optimal network.

The optima are checked against a brute-force enumeration of width-2, two-class networks on a
handful of points: every pair of hidden dichotomies that a half-space realizes with the
model's margin and boxes (one LP each), and for each pair the best threshold function of the
two hidden bits for each output neuron (the Hamming loss separates by output neuron).
"""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

import bnnmip
from bnnmip import Architecture, RobustnessSet, TrainingSet
from bnnmip.formulation import error_bound as eb
from bnnmip.formulation import lower
from bnnmip.formulation.tight import bias_bounds

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)
CELLS = list(itertools.product((0, 1), repeat=2))


def threshold_functions():
    """The 14 threshold functions of two bits, as value tuples over ``CELLS``."""
    out = set()
    for a, b, c in itertools.product(range(-2, 3), range(-2, 3), np.arange(-2.5, 3, 1.0)):
        out.add(tuple(int(a * h1 + b * h2 + c > 0) for h1, h2 in CELLS))
    return sorted(out)


def cell_types(g0, g1):
    return ["1" if (g0[i], g1[i]) == (0, 1) else "0" if (g0[i], g1[i]) == (1, 0) else "A" for i in range(4)]


def test_there_are_14_threshold_functions_of_two_bits():
    functions = threshold_functions()
    assert len(functions) == 14
    assert (0, 1, 1, 0) not in functions and (1, 0, 0, 1) not in functions  # XOR, XNOR


def test_fact_1_without_abstaining_cells_one_class_is_an_intersection_up_to_negation():
    for g0, g1 in itertools.product(threshold_functions(), repeat=2):
        types = cell_types(g0, g1)
        if "A" in types:
            continue
        # class k is the intersection of two half-spaces, each a hidden neuron, its negation, or
        # (w = 0) the whole space or nothing
        sides = (lambda h: h, lambda h: 1 - h, lambda h: 1, lambda h: 0)
        assert any(
            all((types[i] == str(k)) == bool(a(h1) and b(h2)) for i, (h1, h2) in enumerate(CELLS))
            for k in (0, 1) for a in sides for b in sides
        ), types


def test_fact_2_with_an_abstaining_cell_one_hidden_bit_splits_the_classes():
    for g0, g1 in itertools.product(threshold_functions(), repeat=2):
        types = cell_types(g0, g1)
        if "A" not in types:
            continue
        ones = [CELLS[i] for i in range(4) if types[i] == "1"]
        zeros = [CELLS[i] for i in range(4) if types[i] == "0"]
        assert not ones or not zeros or any(
            len({c[j] for c in ones}) == 1 and len({c[j] for c in zeros}) == 1
            and {c[j] for c in ones} != {c[j] for c in zeros} for j in (0, 1)
        ), types


def _dichotomies(X, eps, box):
    """Every 0/1 labelling of the rows of X that a half-space in the model's boxes realizes."""
    m, n = X.shape
    found = []
    for bits in itertools.product((0, 1), repeat=m):
        s = np.where(np.array(bits) == 1, 1.0, -1.0)
        # s_i (w x_i + b) >= eps  ->  -s_i x_i w - s_i b <= -eps
        A = -s[:, None] * np.c_[X, np.ones(m)]
        res = linprog(np.zeros(n + 1), A_ub=A, b_ub=-eps * np.ones(m),
                      bounds=[(-1, 1)] * n + [(-box, box)], method="highs")
        if res.status == 0:
            found.append(np.array(bits))
    return found


def brute_force_optimum(data: TrainingSet, eps: float) -> float:
    arch = Architecture(data.n_features, (2,), data.n_classes)
    box = bias_bounds(arch, data.X, 0.0, eps)[0]
    dich = _dichotomies(data.X, eps, box)
    functions = np.array(threshold_functions())  # (14, 4)
    onehot = data.one_hot()
    best = np.inf
    for h1, h2 in itertools.product(dich, repeat=2):
        cell = 2 * h1 + h2  # index into CELLS
        out = functions[:, cell]  # (14, m): every output function's value on every point
        loss = sum(((out != onehot[:, j][None, :]) * data.weights[None, :]).sum(axis=1).min()
                   for j in range(data.n_classes))
        best = min(best, loss)
    return float(best)


def tiny(seed, m=10):
    rng = np.random.default_rng(seed)
    return TrainingSet.from_arrays(rng.uniform(0, 1, (m, 2)), rng.integers(0, 2, m))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2, 4, 5, 6])  # brute-force optima 0, 2, 2, 2, 2
def test_bound_never_exceeds_the_brute_force_optimum_and_keeps_the_optimum(seed):
    data = tiny(seed)
    arch = Architecture(2, (2,), 2)
    optimum = brute_force_optimum(data, lower(arch, data).eps)
    with_bound = bnnmip.train(arch, data, options=ONE, params={"error_bound": True})
    without = bnnmip.train(arch, data, options=ONE, params={"start": "none"})
    assert without.objective == pytest.approx(optimum, abs=1e-6)
    assert with_bound.status is bnnmip.SolveStatus.OPTIMAL
    assert with_bound.objective == pytest.approx(optimum, abs=1e-6)
    assert with_bound.verification.ok
    record = next(r for r in with_bound.history if "error_bound" in r)
    assert record["error_bound"] <= optimum + 1e-9


@pytest.mark.slow
def test_bound_rises_above_zero_where_the_optimum_is_positive():
    # 10 random points in the plane: the optimum is positive, the MILP's trivial bound 0
    data = tiny(2)
    arch = Architecture(2, (2,), 2)
    optimum = brute_force_optimum(data, lower(arch, data).eps)
    assert optimum > 0
    assert bnnmip.lower(arch, data).problem.trivial_bound() == 0
    result = bnnmip.train(arch, data, options=ONE, params={"error_bound": True, "start": "none"})
    record = next(r for r in result.history if "error_bound" in r)
    assert 0 < record["error_bound"] <= optimum
    assert result.objective == pytest.approx(optimum, abs=1e-6)


@pytest.mark.slow
def test_random_labels_are_proven_by_the_bound_without_branching():
    # 30 random points in [0, 1]^4: the plain MILP did not prove its optimum within 60 s when
    # this test was written (HiGHS, one thread); the bound meets the intersection classifier's
    # loss, so no search
    rng = np.random.default_rng(7)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (30, 4)), rng.integers(0, 2, 30))
    arch = Architecture(4, (2,), 2)
    result = bnnmip.train(arch, data, options=ONE, params={"error_bound": True})
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.final.nodes == 0 and "error_bound" in result.final.message
    assert result.final.bound == pytest.approx(result.objective)
    assert result.verification.ok
    record = next(r for r in result.history if "error_bound" in r)
    assert record["error_bound"] == pytest.approx(result.objective) and result.objective > 0


def test_robust_bound_keeps_the_optimum():
    data = tiny(2)
    arch, robust = Architecture(2, (2,), 2), RobustnessSet(0.05)
    with_bound = bnnmip.train(arch, data, robust=robust, options=ONE,
                              params={"error_bound": True, "start": "none"})
    without = bnnmip.train(arch, data, robust=robust, options=ONE)
    assert without.status is with_bound.status is bnnmip.SolveStatus.OPTIMAL
    assert with_bound.objective == pytest.approx(without.objective, abs=1e-6)
    record = next(r for r in with_bound.history if "error_bound" in r)
    assert 0 < record["error_bound"] <= without.objective + 1e-9


def test_skipped_when_the_start_is_already_optimal():
    data, arch = tiny(0), Architecture(2, (2,), 2)  # brute-force optimum 0
    fit = bnnmip.train(arch, data, options=ONE, params={"start": "none"})
    assert fit.objective == 0
    result = bnnmip.train(arch, data, options=ONE, warm_start=fit.network,
                          params={"error_bound": True, "start": "none"})
    assert result.objective == 0
    assert next(r for r in result.history if "error_bound" in r)["error_bound"].startswith("skipped")


def test_other_architectures_get_a_record_and_the_same_optimum():
    data = tiny(5, m=7)
    arch = Architecture(2, (3,), 2)  # width 3
    assert not eb.applies(arch)
    result = bnnmip.train(arch, data, options=ONE, params={"error_bound": True, "start": "none"})
    reference = bnnmip.train(arch, data, options=ONE)
    assert "not applicable" in next(r for r in result.history if "error_bound" in r)["error_bound"]
    assert result.objective == pytest.approx(reference.objective, abs=1e-6)


def test_intersection_network_has_twice_the_errors_as_loss():
    data = tiny(1, m=10)
    arch = Architecture(2, (2,), 2)
    low = lower(arch, data)
    box = low.bias_bounds()[0]
    for k in (0, 1):
        problem = eb.intersection_problem(arch, data, k, bias_box=box, eps=low.eps)
        res = bnnmip.solve(bnnmip.get_backend("highs"), problem, ONE)
        assert res.status is bnnmip.SolveStatus.OPTIMAL
        net = eb.intersection_network(problem, res.x, k, arch)
        loss = net.hamming_loss(data.X, data.y, scaled=True)
        # points wrong in the solution cost 2; points right keep their margin and cost 0
        assert loss <= 2 * res.objective + 1e-9


def test_loss_floor_row_is_the_objective():
    data = tiny(2)
    low = lower(Architecture(2, (2,), 2), data)
    p = eb.with_loss_floor(low.problem, 3.0)
    assert p.n_rows == low.problem.n_rows + 1
    assert p.row_block("loss_floor").size == 1
    np.testing.assert_allclose(p.A[-1].toarray().ravel(), low.problem.c)
    assert p.row_lower[-1] == pytest.approx(3.0 - low.problem.offset)


# -- three or more classes: the cell relaxation ---------------------------------------------------

def _cell_classes(outputs):
    """Each cell's class (the index of its one-hot output vector) or ``"A"`` (abstaining)."""
    out = np.array(outputs)  # (k, 4)
    return [int(np.argmax(out[:, q])) if out[:, q].sum() == 1 else "A" for q in range(4)]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_every_tuple_of_output_functions_meets_the_diagonal_rows(k):
    """A class holding both cells of a diagonal leaves a cell of the other diagonal to itself or abstention."""
    diagonals = (((0, 3), (1, 2)), ((1, 2), (0, 3)))  # indices into CELLS: (0,0),(0,1),(1,0),(1,1)
    assert [tuple(c) for c in eb.CELLS] == CELLS
    seen = set()
    for outputs in itertools.product(threshold_functions(), repeat=k):
        types = tuple(_cell_classes(outputs))
        if types in seen:
            continue
        seen.add(types)
        for (d1, d2), (o1, o2) in diagonals:
            y = types[d1]
            if y != "A" and types[d2] == y:
                assert types[o1] in (y, "A") or types[o2] in (y, "A"), (outputs, types)
    # the rows bite: the XOR map is never a network's, but a class may hold a whole diagonal
    assert (0, 1, 1, 0) not in seen
    assert any(t[0] == t[3] != "A" for t in seen) and any(t[1] == t[2] != "A" for t in seen)


def tiny_k(seed, k=3, m=8):
    rng = np.random.default_rng(seed)
    return TrainingSet.from_arrays(rng.uniform(0, 1, (m, 2)), rng.integers(0, k, m), n_classes=k)


def _cells_optimum(data, k):
    arch = Architecture(2, (2,), k)
    low = lower(arch, data)
    problem = eb.cells_problem(arch, data, bias_box=low.bias_bounds()[0], eps=low.eps)
    res = bnnmip.solve(bnnmip.get_backend("highs"), problem, ONE)
    assert res.status is bnnmip.SolveStatus.OPTIMAL, res.message
    return res.objective, low.eps


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "k", "optimum"),
                         [(0, 3, 2), (1, 3, 4), (2, 3, 2), (3, 3, 2), (7, 3, 0), (4, 4, 2), (2, 2, 0)])
def test_cell_bound_meets_the_brute_force_optimum_on_eight_points(seed, k, optimum):
    """Never above the optimum (it is a bound); on these instances equal to it (measured)."""
    data = tiny_k(seed, k)
    bound, eps = _cells_optimum(data, k)
    assert brute_force_optimum(data, eps) == optimum
    assert bound == pytest.approx(optimum, abs=1e-6)


def test_cell_bound_is_the_optimum_on_points_that_need_three_cells():
    """Three classes on a line, a fourth point of class 0 between the others: no width-2 network is
    right on all four, and one wrong point costs at least 1."""
    X = np.array([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [0.25, 0.0], [0.75, 0.0]])
    data = TrainingSet.from_arrays(X, [0, 1, 2, 1, 0], n_classes=3)
    bound, eps = _cells_optimum(data, 3)
    optimum = brute_force_optimum(data, eps)
    assert 0 < bound <= optimum


@pytest.mark.slow
def test_three_classes_get_the_cell_bound_in_exact():
    data = tiny_k(1, 3, m=10)
    arch = Architecture(2, (2,), 3)
    result = bnnmip.train(arch, data, options=ONE, params={"error_bound": True, "start": "none"})
    reference = bnnmip.train(arch, data, options=ONE, params={"error_bound": False})
    record = next(r for r in result.history if "error_bound" in r)
    assert "error_bound_cells" in record and record["error_bound"] <= reference.objective + 1e-9
    assert result.objective == pytest.approx(reference.objective, abs=1e-6)


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 3), (4, 4)])
def test_the_cell_solution_is_a_network_whose_loss_is_its_objective(seed, k):
    """Each output a threshold function: 1 on its class's cells, 0 on the others' (measured: loss = objective)."""
    from bnnmip.heuristics.pattern_fit import realize

    data = tiny_k(seed, k)
    arch = Architecture(2, (2,), k)
    low = lower(arch, data)
    problem = eb.cells_problem(arch, data, bias_box=low.bias_bounds()[0], eps=low.eps)
    res = bnnmip.solve(bnnmip.get_backend("highs"), problem, ONE)
    net = eb.cells_network(problem, res.x, arch, data)
    fit = realize(net, arch, data.X, eps=low.eps, bias_bounds=low.bias_bounds())
    assert fit.realized
    loss = fit.network.hamming_loss(data.X, data.y, scaled=True)
    assert loss >= res.objective - 1e-9
    assert loss == pytest.approx(res.objective)
