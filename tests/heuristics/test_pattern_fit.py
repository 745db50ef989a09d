"""Weights fitted to an activation pattern: margins, repair of wrong solver weights, polishing."""

import numpy as np
import pytest

import bnnmip
from bnnmip import Architecture, RobustnessSet, TrainingSet
from bnnmip.backends.results import SolveResult, SolveStatus
from bnnmip.formulation import lower
from bnnmip.heuristics.pattern_fit import fit_pattern, polish, realize, repair_network
from bnnmip.network import BinarizedNetwork
from bnnmip.strategies import _common
from bnnmip.testing import random_teacher
from bnnmip.verify import robust_violations, verify

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)


def _margin(net, X):
    return min(np.abs(t).min() for t in net.forward(X, scaled=True).pre)


@pytest.mark.parametrize("hidden", [(2,), (3, 2)])
def test_teacher_pattern_is_refitted_with_at_least_the_teachers_margin(hidden):
    teacher, data = random_teacher(5, hidden, 2, 40, seed=2)
    arch = Architecture(5, hidden, 2)
    fw = teacher.forward(data.X, scaled=True)
    boxes = [10.0] * arch.n_layers
    fit = fit_pattern(arch, data.X, fw.act, eps=1e-4, bias_bounds=boxes)
    assert fit.realized
    for a, b in zip(fit.network.forward(data.X, scaled=True).act, fw.act, strict=True):
        np.testing.assert_array_equal(a, b)
    # the teacher itself is a candidate of every neuron's LP (weights in [-1, 1])
    assert fit.min_margin >= _margin(teacher, data.X) - 1e-9
    assert all(np.abs(W).max() <= 1 for W in fit.network.weights)


def test_unrealizable_patterns_are_reported_not_returned():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    arch = Architecture(2, (), 2)
    xor = np.array([[1, 0], [0, 1], [0, 1], [1, 0]])  # not linearly separable
    fit = fit_pattern(arch, X, [xor], eps=1e-5, bias_bounds=[3.0])
    assert not fit.realized and fit.network is None
    assert fit.min_margin <= 0
    # same input, different targets
    fit = fit_pattern(arch, np.vstack([X, X[:1]]), [np.vstack([xor, [[0, 1]]])], eps=1e-5,
                      bias_bounds=[3.0])
    assert not fit.realized


def test_integer_domain_gives_integer_weights():
    teacher, data = random_teacher(4, (2,), 2, 30, seed=1, weight_domain="ternary")
    arch = Architecture(4, (2,), 2, weight_domain="ternary")
    fw = teacher.forward(data.X, scaled=True)
    fit = fit_pattern(arch, data.X, fw.act, eps=1e-4, bias_bounds=[5.0, 5.0], time_limit=20)
    assert fit.realized
    for W in fit.network.weights:
        np.testing.assert_array_equal(W, np.round(W))
        assert np.abs(W).max() <= 1


def test_robust_fit_keeps_first_layer_constant_on_the_balls():
    teacher, data = random_teacher(3, (2,), 2, 25, seed=6, margin=0.2)
    arch = Architecture(3, (2,), 2)
    res = bnnmip.train(arch, data, robust=RobustnessSet(0.02), options=ONE, params={"start": "none"})
    assert res.status is SolveStatus.OPTIMAL
    fit = polish(res.network, arch, data.X, eps=1e-5, bias_bounds=[10.0, 10.0], robust_radius=0.02)
    assert fit.realized
    assert robust_violations(fit.network, data.X, 0.02) == 0
    assert fit.network.hamming_loss(data.X, data.y, scaled=True) == pytest.approx(res.loss)


def test_wrong_solver_weights_are_repaired_from_the_claimed_pattern(monkeypatch):
    teacher, data = random_teacher(4, (2,), 2, 30, seed=3)
    arch = Architecture(4, (2,), 2)
    low = lower(arch, data)
    x = low.encode(teacher)
    # what a solver does near its tolerances: the activations claimed are right, but the
    # weights it returns put one point on the wrong side of a first-layer step
    t = data.X @ teacher.weights[0].T + teacher.biases[0]
    i, j = np.unravel_index(np.argmin(np.abs(t)), t.shape)
    b = low.problem.columns["b1"]
    bad = x.copy()
    bad[b.start + j] -= 2 * t[i, j]
    wrong = low.decode(bad)
    assert not verify(low, wrong, bad, 0.0).ok
    fake = SolveResult(SolveStatus.OPTIMAL, "highs", "test", objective=0.0, bound=0.0, gap=0.0, x=bad)
    monkeypatch.setattr(_common, "solve", lambda backend, problem, options: fake)
    task = bnnmip.training.TrainingTask(arch, data, bnnmip.get_backend("highs"), ONE)
    result, network, verification = _common.solve_lowering(low, task)
    assert verification.ok and verification.repaired
    assert "repaired" in verification.describe()
    assert network.hamming_loss(data.X, data.y, scaled=True) == 0.0
    fit = repair_network(low, bad)
    assert fit.realized and fit.min_margin >= low.eps


def test_unrepairable_solution_is_reported_not_verified(monkeypatch):
    # the MILP "claims" xor on a network without hidden layer: no weights can do that
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    data = TrainingSet.from_arrays(X, np.array([0, 1, 1, 0]))
    arch = Architecture(2, (), 2)
    low = lower(arch, data)
    x = np.zeros(low.problem.n_cols)
    u = low.problem.columns["u1"]
    x[u.start : u.stop] = np.eye(2)[data.y].ravel()
    fake = SolveResult(SolveStatus.OPTIMAL, "highs", "test", objective=0.0, bound=0.0, gap=0.0, x=x)
    monkeypatch.setattr(_common, "solve", lambda backend, problem, options: fake)
    task = bnnmip.training.TrainingTask(arch, data, bnnmip.get_backend("highs"), ONE)
    _, network, verification = _common.solve_lowering(low, task)
    assert not verification.ok and not verification.repaired
    assert "NOT VERIFIED" in verification.describe()


@pytest.mark.slow
@pytest.mark.parametrize("formulation", ["paper", "tight"])
def test_train_with_max_min_margin_keeps_the_loss_and_widens_margins(formulation):
    rng = np.random.default_rng(0)
    _, data = random_teacher(3, (2,), 2, 20, seed=5)
    y = data.y.copy()
    y[rng.choice(20, 2, replace=False)] ^= 1  # some noise: a nonzero loss to keep
    data = TrainingSet.from_arrays(data.X, y)
    arch = Architecture(3, (2,), 2)
    base = bnnmip.train(arch, data, formulation=formulation, options=ONE, params={"start": "none"})
    wide = bnnmip.train(arch, data, formulation=formulation, options=ONE, params={"start": "none"},
                        margin="max-min")
    assert wide.loss == pytest.approx(base.loss)
    assert wide.network.metadata["margin_polished"] is True
    rec = wide.history[-1]
    assert rec["margin"] == "max-min" and rec["realized"]
    assert rec["min_margin_after"] >= rec["min_margin_before"] - 1e-12
    assert _margin(wide.network, data.X) == pytest.approx(rec["min_margin_after"])


def test_bad_margin_and_pattern_shapes_are_rejected():
    _, data = random_teacher(2, (2,), 2, 8, seed=0)
    arch = Architecture(2, (2,), 2)
    with pytest.raises(bnnmip.errors.InvalidInputError, match="margin must be one of"):
        bnnmip.train(arch, data, margin="widest")
    with pytest.raises(bnnmip.errors.InvalidInputError, match="one pattern per layer"):
        fit_pattern(arch, data.X, [np.zeros((8, 2))], eps=1e-5, bias_bounds=[1, 1])
    with pytest.raises(bnnmip.errors.InvalidInputError, match="pattern of layer 1"):
        fit_pattern(arch, data.X, [np.zeros((8, 3)), np.zeros((8, 2))], eps=1e-5, bias_bounds=[1, 1])


def test_realize_keeps_a_feasible_network_and_rescales_an_out_of_box_one():
    teacher, data = random_teacher(5, (3,), 2, 40, seed=9)  # margins >= 0.05, weights in [-1, 1]
    arch = Architecture(5, (3,), 2)
    boxes = [10.0, 10.0]
    # shrunk (margins far below eps) or blown up (outside the box): the same step functions
    for factor in (1e-6, 10.0):
        scaled = BinarizedNetwork.from_arrays([W * factor for W in teacher.weights],
                                              [b * factor for b in teacher.biases])
        fit = realize(scaled, arch, data.X, eps=1e-4, bias_bounds=boxes)
        assert fit.realized and fit.min_margin >= 1e-4
        s = [np.abs(W).max(axis=1) for W in teacher.weights]  # realize's per-neuron scale
        for W, b, Wt, bt, sc in zip(fit.network.weights, fit.network.biases, teacher.weights,
                                    teacher.biases, s, strict=True):
            np.testing.assert_allclose(W, Wt / sc[:, None], atol=1e-7)
            np.testing.assert_allclose(b, bt / sc, atol=1e-7)


def test_realize_moves_a_too_close_neuron_only_as_far_as_needed():
    raw, data = random_teacher(4, (2,), 2, 30, seed=4)
    arch = Architecture(4, (2,), 2)
    sc = [np.abs(W).max(axis=1) for W in raw.weights]  # max |w| = 1 per neuron, as realize sees it
    teacher = BinarizedNetwork.from_arrays([W / s[:, None] for W, s in zip(raw.weights, sc, strict=True)],
                                           [b / s for b, s in zip(raw.biases, sc, strict=True)])
    t = data.X @ teacher.weights[0][0] + teacher.biases[0][0]
    i = int(np.argmin(np.abs(t)))
    # move the first hidden threshold to within 1e-6 of point i (same side): margin too small
    biases = [np.array(b) for b in teacher.biases]
    biases[0][0] -= t[i] - np.sign(t[i]) * 1e-6
    close = BinarizedNetwork.from_arrays(teacher.weights, biases)
    pattern = close.forward(data.X, scaled=True).act
    fit = realize(close, arch, data.X, eps=1e-3, bias_bounds=[10.0, 10.0])
    assert fit.realized and fit.min_margin >= 1e-3 - 1e-9
    for a, b in zip(fit.network.forward(data.X, scaled=True).act, pattern, strict=True):
        np.testing.assert_array_equal(a, b)
    moved = sum(np.abs(W - Wc).sum() + np.abs(b - bc).sum() for W, b, Wc, bc in zip(
        fit.network.weights, fit.network.biases, close.weights, close.biases, strict=True))
    maxmin = polish(close, arch, data.X, eps=1e-3, bias_bounds=[10.0, 10.0]).network
    moved_maxmin = sum(np.abs(W - Wc).sum() + np.abs(b - bc).sum() for W, b, Wc, bc in zip(
        maxmin.weights, maxmin.biases, close.weights, close.biases, strict=True))
    assert moved <= 2e-3 < moved_maxmin


def test_realize_skips_the_lp_of_a_neuron_that_already_meets_the_margins(monkeypatch):
    """A feasible neuron is its own nearest point: same weights as the LP, without the LP."""
    import bnnmip.heuristics.pattern_fit as pf

    raw, data = random_teacher(4, (2,), 2, 30, seed=4)
    arch = Architecture(4, (2,), 2)
    t = data.X @ raw.weights[0][0] + raw.biases[0][0]
    i = int(np.argmin(np.abs(t)))
    biases = [np.array(b) for b in raw.biases]
    biases[0][0] -= t[i] - np.sign(t[i]) * 1e-9  # neuron 1 of layer 1: margin far below eps
    close = BinarizedNetwork.from_arrays(raw.weights, biases)
    calls = []
    real_lp = pf._neuron_lp
    monkeypatch.setattr(pf, "_neuron_lp", lambda *a, **k: calls.append(1) or real_lp(*a, **k))
    fast = realize(close, arch, data.X, eps=1e-3, bias_bounds=[10.0, 10.0])
    assert fast.realized and len(calls) == 1  # only the too-close neuron needed its LP
    monkeypatch.setattr(pf, "_feasible_margin", lambda *a, **k: None)  # force every LP
    slow = realize(close, arch, data.X, eps=1e-3, bias_bounds=[10.0, 10.0])
    assert slow.realized and len(calls) == 1 + sum(arch.widths[1:])
    for a, b in zip(fast.network.weights + fast.network.biases, slow.network.weights + slow.network.biases,
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-7)
    np.testing.assert_allclose(np.concatenate(fast.margins), np.concatenate(slow.margins), atol=1e-7)
