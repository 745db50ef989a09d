import functools
import itertools

import numpy as np
import pytest

import bnnmip
from bnnmip import ActivationTies, Architecture, RobustnessSet, TrainingSet
from bnnmip.milp import RowKind
from bnnmip.testing import random_teacher, reference_instances

INSTANCES = reference_instances()
lower_paper = functools.partial(bnnmip.lower, formulation="paper")  # this file tests `paper`


def _solve(inst_or_arch, data=None, **kw):
    if data is None:
        inst = inst_or_arch
        return bnnmip.train(inst.architecture, inst.data, robust=inst.robust, ties=inst.ties,
                            options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=60))
    return bnnmip.train(inst_or_arch, data, options=bnnmip.SolveOptions(threads=1, seed=0), **kw)


@pytest.mark.parametrize("inst", INSTANCES, ids=lambda i: i.name)
def test_reference_optimum_on_highs(inst):
    result = _solve(inst)
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(inst.optimum, abs=1e-6)
    assert result.verification.ok, result.verification.describe()


@pytest.mark.parametrize("inst", [i for i in INSTANCES if i.teacher is not None], ids=lambda i: i.name)
def test_teacher_encodes_to_a_feasible_zero_loss_point(inst):
    low = lower_paper(inst.architecture, inst.data)
    x = low.encode(inst.teacher)
    assert low.problem.violation(x) <= 1e-9
    assert low.problem.objective(x) == pytest.approx(0.0)
    # and the decoded network is the teacher
    net = low.decode(x)
    for a, b in zip(net.weights, inst.teacher.weights, strict=True):
        np.testing.assert_allclose(a, b)


def test_encoded_objective_is_the_networks_hamming_loss():
    rng = np.random.default_rng(5)
    net, data = random_teacher(3, (3,), 3, 30, seed=7)
    y = rng.integers(0, 3, size=30)  # relabel at random: the teacher now makes errors
    y[:3] = [0, 1, 2]
    data = TrainingSet.from_arrays(data.X, y, n_classes=3, weights=rng.uniform(0.5, 2, 30))
    low = lower_paper(Architecture(3, (3,), 3), data)
    x = low.encode(net)
    assert low.problem.violation(x) <= 1e-9
    expected = net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
    assert expected > 0
    assert low.problem.objective(x) == pytest.approx(expected)


def test_margin_violating_network_is_infeasible():
    net, data = random_teacher(2, (2,), 2, 8, seed=3)
    low = lower_paper(Architecture(2, (2,), 2), data)
    # shift the first hidden bias so that one point sits exactly on the step (t = 0)
    t = data.X @ net.weights[0][0] + net.biases[0][0]
    biases = [b.copy() for b in net.biases]
    biases[0][0] -= t[0]
    moved = bnnmip.BinarizedNetwork.from_arrays(net.weights, biases)
    assert low.problem.violation(low.encode(moved)) > 1e-7


def test_problem_size_matches_the_paper():
    m, n, d, K = 7, 3, 4, 3
    net, data = random_teacher(n, (d,), K, m, seed=11)
    p = lower_paper(Architecture(n, (d,), K), data).problem
    assert p.n_binary == m * (d + K)
    kinds = {}
    for block in p.rows:
        kinds[block.kind] = kinds.get(block.kind, 0) + block.size
    assert kinds[RowKind.PRODUCT] == 4 * m * d * K
    assert kinds[RowKind.BIGM_OFF] + kinds[RowKind.BIGM_ON] == 2 * m * (d + K)
    assert p.n_cols == (d * n + d) + (K * d + K) + m * (d + K) + m * K * d
    assert p.offset == m


def test_big_m_values_and_robust_growth():
    X = np.array([[0.2, 0.4, 1.0], [0.0, 0.0, 0.5]])
    data = TrainingSet.from_arrays(X, [0, 1])
    arch = Architecture(3, (2,), 2)
    plain = lower_paper(arch, data)
    B = max(1.6, 2)  # max ||x||_1 vs max width
    np.testing.assert_allclose(plain.big_m[1], [1.6 + B + 1, 0.5 + B + 1])
    np.testing.assert_allclose(plain.big_m[2], 2 + B + 1)
    robust = lower_paper(arch, data, robust=RobustnessSet(0.5))
    np.testing.assert_allclose(robust.big_m[1], plain.big_m[1] + 0.5 * 3)
    assert any(b.kind is RowKind.ABS for b in robust.problem.rows)
    nobias = lower_paper(Architecture(3, (2,), 2, bias=False), data)
    np.testing.assert_allclose(nobias.big_m[1], [2.6, 1.5])
    assert "b1" not in nobias.problem.columns


def test_ties_share_activation_columns():
    inst = next(i for i in INSTANCES if i.name == "xor-tied")
    low = lower_paper(inst.architecture, inst.data, ties=inst.ties)
    assert low.problem.columns["u1"].shape == (3, 2)
    assert low.problem.columns["u2"].shape == (3, 2)
    # layer-1 rows stay per point
    assert low.problem.row_block("act1_off").size == 4 * 2


def test_tied_solution_keeps_patterns_shared():
    net, data = random_teacher(2, (2,), 2, 12, seed=4)
    ties = ActivationTies.from_labels(np.arange(12) // 3)
    result = bnnmip.train(Architecture(2, (2,), 2), data, ties=ties)
    assert result.verification.ok
    fw = result.network.forward(data.X, scaled=True)
    for layer in fw.act:
        for c in range(4):
            assert np.all(layer[ties.cluster == c] == layer[ties.cluster == c][0])


def _thresholds(p):
    """All labellings step(p + b) over b, for projections p."""
    cuts = np.concatenate([[-np.inf], np.sort(np.unique(p)), [np.inf]])
    return {tuple((p > c).astype(int)) for c in cuts[:-1]} | {tuple((p > cuts[-2]).astype(int))}


def _brute_force_ternary_one_hidden(X, Y):
    """Exact optimum for n -> 1 -> K with ternary weights and free biases, by enumeration."""
    best = np.inf
    for w in itertools.product((-1, 0, 1), repeat=X.shape[1]):
        for h in _thresholds(X @ np.array(w, float)):
            h = np.array(h)
            loss = 0
            for j in range(Y.shape[1]):
                loss += min(np.abs(f - Y[:, j]).sum() for f in (0 * h, 0 * h + 1, h, 1 - h))
            best = min(best, loss)
    return best


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force_on_random_labels(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(9, 2)).round(3)
    y = rng.integers(0, 3, size=9)
    y[:3] = [0, 1, 2]
    data = TrainingSet.from_arrays(X, y, n_classes=3)
    expected = _brute_force_ternary_one_hidden(X, data.one_hot())
    result = _solve(Architecture(2, (1,), 3, weight_domain="ternary"), data)
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(expected)
    assert result.verification.ok
    for W in result.network.weights:
        assert np.all(W == np.round(W)) and np.abs(W).max() <= 1


def test_integer_domain_bound():
    net, data = random_teacher(3, (2,), 2, 10, seed=9, weight_domain="integer:3")
    arch = Architecture(3, (2,), 2, weight_domain="integer:3")
    low = lower_paper(arch, data)
    assert low.problem.col_upper[low.problem.columns["W1"].start] == 3
    assert low.problem.violation(low.encode(net)) <= 1e-9
    result = _solve(arch, data)
    assert result.objective == pytest.approx(0.0)
    assert np.abs(result.network.weights[0]).max() <= 3


def test_lower_rejects_mismatches():
    data = TrainingSet.from_arrays(np.zeros((2, 3)), [0, 1])
    with pytest.raises(bnnmip.InvalidInputError, match="expects 2 inputs"):
        lower_paper(Architecture(2, (2,), 2), data)
    with pytest.raises(bnnmip.InvalidInputError, match="3 outputs"):
        lower_paper(Architecture(3, (2,), 3), data)
    with pytest.raises(bnnmip.InvalidInputError, match="eps"):
        lower_paper(Architecture(3, (2,), 2), data, eps=0)
    with pytest.raises(bnnmip.UnknownNameError, match="paper"):
        lower_paper(Architecture(3, (2,), 2), data, formulation="nope")
    with pytest.raises(bnnmip.InvalidInputError, match="cover 3 points"):
        lower_paper(Architecture(3, (2,), 2), data, ties=ActivationTies.none(3))


def test_problem_arrays_are_read_only():
    p = lower_paper(Architecture(2, (2,), 2), TrainingSet.from_arrays(np.eye(2), [0, 1])).problem
    with pytest.raises(ValueError):
        p.c[0] = 1.0


def test_trivial_bound_takes_each_cost_at_its_better_column_bound():
    import scipy.sparse as sp

    from bnnmip.milp import MilpProblem

    def problem(col_lower, col_upper):
        return MilpProblem(
            c=np.array([1.0, -2.0, 0.0, 0.5]), A=sp.csr_matrix(np.ones((1, 4))),
            row_lower=np.array([-np.inf]), row_upper=np.array([10.0]),
            col_lower=np.array(col_lower), col_upper=np.array(col_upper),
            integrality=np.array([True, False, False, False]), offset=3.0,
        )

    bounded = problem([-1.0, 0.0, -np.inf, 2.0], [4.0, 3.0, np.inf, 5.0])
    assert bounded.trivial_bound() == 3.0 - 1.0 - 6.0 + 1.0  # the free column costs nothing
    corners = itertools.product([-1.0, 4.0], [0.0, 3.0], [0.0], [2.0, 5.0])
    assert bounded.trivial_bound() == min(bounded.objective(np.array(x)) for x in corners)
    assert problem([-1.0, 0.0, 0.0, 2.0], [4.0, np.inf, 1.0, 5.0]).trivial_bound() == -np.inf


@pytest.mark.parametrize("formulation", ["paper", "tight"])
@pytest.mark.parametrize("radius", [None, 0.05])
def test_the_losss_trivial_bound_is_zero(formulation, radius):
    _, data = random_teacher(3, (2,), 3, 12, seed=1)
    robust = None if radius is None else RobustnessSet(radius)
    low = bnnmip.lower(Architecture(3, (2,), 3), data, formulation=formulation, robust=robust)
    assert low.problem.trivial_bound() == 0.0
