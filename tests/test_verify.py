import numpy as np
import pytest

import bnnmip
from bnnmip import Architecture, RobustnessSet, TrainingSet
from bnnmip.testing import random_teacher
from bnnmip.verify import robust_violations, verify


def test_verification_counts_mismatches_the_solver_could_hide():
    """A solution whose binaries are within tolerance but whose margins are swamped."""
    net, data = random_teacher(2, (2,), 2, 10, seed=2)
    low = bnnmip.lower(Architecture(2, (2,), 2), data, formulation="paper")
    x = low.encode(net)
    assert verify(low, net, x, low.problem.objective(x)).ok
    # flip the claimed activation of one point's first hidden neuron, as a solver would
    # if an integrality tolerance times big-M swamped eps
    u1 = low.problem.columns["u1"]
    x_bad = x.copy()
    x_bad[u1.start] = 1 - x_bad[u1.start]
    report = verify(low, net, x_bad, low.problem.objective(x))
    assert not report.ok
    assert report.mismatches == 1 and report.per_layer == (1, 0)
    assert "NOT VERIFIED" in report.describe()


def test_objective_mismatch_is_reported():
    net, data = random_teacher(2, (2,), 2, 10, seed=2)
    low = bnnmip.lower(Architecture(2, (2,), 2), data, formulation="paper")
    x = low.encode(net)
    assert not verify(low, net, x, 3.0).ok


def test_robust_violations_exact_on_a_line():
    net = bnnmip.BinarizedNetwork.from_arrays([np.array([[2.0]])], [np.array([-1.0])])
    X = np.array([[0.0], [0.45], [1.0]])  # t = -1, -0.1, 1
    assert robust_violations(net, X, 0.04) == 0
    assert robust_violations(net, X, 0.06) == 1  # 0.45 + 0.06 crosses 0.5
    assert robust_violations(net, X, 0.6) == 3


def test_robust_training_result_is_verified_robust():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(12, 2))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    data = TrainingSet.from_arrays(X, y)
    r = 0.05
    result = bnnmip.train(Architecture(2, (), 2), data, robust=RobustnessSet(r))
    assert result.verification.ok and result.verification.robust_violations == 0
    # brute-force check: random points in each ball keep their first-layer pattern
    net = result.network
    base = net.forward(X, scaled=True).act[0]
    for _ in range(200):
        noise = rng.uniform(-r, r, size=X.shape)
        np.testing.assert_array_equal(net.forward(X + noise, scaled=True).act[0], base)
    plain = bnnmip.train(Architecture(2, (), 2), data)
    assert plain.objective <= result.objective + 1e-9
    assert result.objective == pytest.approx(result.verification.true_loss)
