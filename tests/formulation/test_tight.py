"""The ``tight`` formulation: same optima as ``paper``, merged duplicates, symmetry breaking."""

import numpy as np
import pytest

import bnnmip
from bnnmip import ActivationTies, Architecture, TrainingSet
from bnnmip.formulation import lower, merge_duplicate_points, paper, tight
from bnnmip.testing import random_teacher, reference_instances

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)
NO_START = {"start": "none"}


@pytest.mark.parametrize("inst", reference_instances(), ids=lambda i: i.name)
def test_same_optimum_as_paper_on_reference_instances(inst):
    result = bnnmip.train(inst.architecture, inst.data, robust=inst.robust, ties=inst.ties,
                          formulation="tight", options=ONE, params=NO_START)
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(inst.optimum, abs=1e-6)
    assert result.verification.ok, result.verification.describe()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_optimum_as_paper_on_random_labels(seed):
    # nonzero optima: 14 points with random labels, hidden width 1, two inputs
    rng = np.random.default_rng(seed)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (14, 2)), rng.integers(0, 2, 14))
    arch = Architecture(2, (1,), 2)
    optima = [
        bnnmip.train(arch, data, formulation=f, options=ONE, params=NO_START) for f in ("paper", "tight")
    ]
    assert all(r.status is bnnmip.SolveStatus.OPTIMAL for r in optima)
    assert optima[0].objective == pytest.approx(optima[1].objective, abs=1e-6)
    assert all(r.verification.ok for r in optima)


def test_duplicate_points_share_binaries_and_rows_and_conflicts_become_constant():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    # xor, every point three times, and one conflicting copy of the first point
    Xd = np.vstack([X, X, X, X[:1]])
    yd = np.r_[[0, 1, 1, 0] * 3, 1]
    data = TrainingSet.from_arrays(Xd, yd)
    arch = Architecture(2, (2,), 2)
    low_t, low_p = lower(arch, data, formulation="tight"), lower(arch, data, formulation="paper")
    assert low_t.ties.n_clusters == 4
    assert low_t.problem.n_binary < low_p.problem.n_binary
    assert low_t.problem.n_rows < low_p.problem.n_rows
    res = {f: bnnmip.train(arch, data, formulation=f, options=ONE, params=NO_START)
           for f in ("paper", "tight")}
    # the conflicting copy costs 2 whatever the network does; the rest is xor (0 errors)
    assert res["tight"].objective == pytest.approx(2.0)
    assert res["paper"].objective == pytest.approx(2.0)
    assert res["tight"].verification.ok


def test_merge_duplicate_points_merges_clusters_that_share_a_point():
    X = np.array([[0.0], [1.0], [0.0], [2.0], [3.0]])
    ties = ActivationTies.from_labels([0, 0, 1, 1, 2])  # clusters 0 and 1 share x = 0
    merged = merge_duplicate_points(ties, X)
    np.testing.assert_array_equal(merged.cluster, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(merge_duplicate_points(ActivationTies.none(5), X).cluster,
                                  [0, 1, 0, 2, 3])


def test_boxes_and_big_m_are_no_larger_than_the_papers():
    _, data = random_teacher(10, (4, 3), 2, 40, seed=1)
    arch = Architecture(10, (4, 3), 2)
    lp, lt = lower(arch, data, formulation="paper"), lower(arch, data, formulation="tight")
    # at most eps larger (the paper's box can leave a constant neuron no room for its margin)
    assert all(t <= p + lt.eps for t, p in zip(lt.bias_bounds(), lp.bias_bounds(), strict=True))
    assert lt.bias_bounds()[1] < lp.bias_bounds()[1]
    for l in lp.big_m:
        assert np.max(lt.big_m[l]) < np.max(lp.big_m[l])
    assert tight.bias_bounds(arch, data.X, 0.0, 1e-4) == lt.bias_bounds()
    assert paper.bias_bounds(arch, data.X, 0.0, 1e-5) == lp.bias_bounds()


@pytest.mark.parametrize("seed", range(6))
def test_canonical_start_is_feasible_and_computes_the_same_outputs(seed):
    hidden = (3, 2) if seed % 2 else (3,)
    teacher, data = random_teacher(4, hidden, 2, 30, seed=seed)
    low = lower(Architecture(4, hidden, 2), data, formulation="tight")
    fires_at_first_point = any(a[0].any() for a in teacher.forward(data.X[:1], scaled=True).act[:-1])
    canon = tight.canonicalize(low, teacher)
    x = low.encode(teacher)  # canonicalizes
    assert low.problem.violation(x) <= 1e-9
    assert low.problem.objective(x) == pytest.approx(0.0)
    np.testing.assert_array_equal(canon.forward(data.X, scaled=True).act[-1],
                                  teacher.forward(data.X, scaled=True).act[-1])
    # ordered biases, first point off in every hidden layer
    for l, b in enumerate(canon.biases[:-1]):
        assert np.all(np.diff(b) <= 0)
        assert not canon.forward(data.X[:1], scaled=True).act[l].any()
    if fires_at_first_point:
        # the raw teacher would violate the symmetry-breaking fixings
        assert not all(np.allclose(a, b) for a, b in zip(canon.weights, teacher.weights, strict=True))


def test_tight_optimum_needs_no_symmetric_copies():
    # every permutation/negation of a zero-loss network but one is cut off: the solver's
    # network is canonical already
    teacher, data = random_teacher(3, (3,), 2, 20, seed=4)
    arch = Architecture(3, (3,), 2)
    res = bnnmip.train(arch, data, formulation="tight", options=ONE, params=NO_START)
    assert res.objective == pytest.approx(0.0)
    low = lower(arch, data, formulation="tight")
    net = res.network
    for a, b in zip(tight.canonicalize(low, net).biases, net.biases, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_formulation_lists_tight():
    _, data = random_teacher(2, (2,), 2, 8, seed=0)
    with pytest.raises(bnnmip.errors.UnknownNameError, match="tight"):
        lower(Architecture(2, (2,), 2), data, formulation="nope")


@pytest.mark.parametrize("backend", ["scip", "scip-indicator", "cbc"])
def test_same_optima_on_every_backend(backend):
    # the symmetry rows and fixings, merged duplicates and per-row big-M on each backend
    # (scip-indicator turns the big-M rows into indicator constraints)
    be = bnnmip.get_backend(backend)
    if not be.availability()[0]:
        pytest.skip(f"{backend} not available")
    names = {"xor-tied", "teacher-3-2-3", "teacher-2-2-2-2", "line-robust-0.6"}
    for inst in (i for i in reference_instances() if i.name in names):
        res = bnnmip.train(inst.architecture, inst.data, robust=inst.robust, ties=inst.ties,
                           backend=backend, formulation="tight", options=ONE)
        assert res.status is bnnmip.SolveStatus.OPTIMAL, (inst.name, res.final.message)
        assert res.objective == pytest.approx(inst.optimum, abs=1e-6), inst.name
        assert res.verification.ok, (inst.name, res.verification.describe())


def test_without_symmetry_breaking_starts_are_taken_as_they_are():
    teacher, data = random_teacher(4, (3,), 2, 30, seed=1)
    arch = Architecture(4, (3,), 2)
    low = lower(arch, data, formulation="tight", symmetry_breaking=False)
    full = lower(arch, data, formulation="tight")
    assert not low.problem.rows[-1].name.startswith("order")
    assert low.problem.n_rows < full.problem.n_rows
    x = low.encode(teacher)
    assert low.problem.violation(x) <= 1e-9
    for a, b in zip(low.decode(x).weights, teacher.weights, strict=True):
        np.testing.assert_allclose(a, b)
