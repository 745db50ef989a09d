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
    arch = Architecture(data.n_features, (2,), 2)
    box = bias_bounds(arch, data.X, 0.0, eps)[0]
    dich = _dichotomies(data.X, eps, box)
    functions = np.array(threshold_functions())  # (14, 4)
    onehot = data.one_hot()
    best = np.inf
    for h1, h2 in itertools.product(dich, repeat=2):
        cell = 2 * h1 + h2  # index into CELLS
        out = functions[:, cell]  # (14, m): every output function's value on every point
        loss = sum(((out != onehot[:, j][None, :]) * data.weights[None, :]).sum(axis=1).min() for j in (0, 1))
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
    arch = Architecture(2, (3,), 2)
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
