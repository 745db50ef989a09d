"""Honest baselines: same-width MLP and logistic regression selected on validation data."""

import numpy as np
import pytest

import bnnmip
from bnnmip.baselines import logistic_baseline, mlp_baseline, validation_split


def xor_blobs(m, seed):
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    k = rng.integers(0, 4, m)
    return centres[k] + rng.normal(0, 0.1, (m, 2)), (k >= 2).astype(int)


def test_mlp_baseline_selects_on_validation_and_reports_test_accuracy():
    X, y = xor_blobs(120, 0)
    Xt, yt = xor_blobs(80, 1)
    res = mlp_baseline(X, y, (4,), X_test=Xt, y_test=yt, alphas=(1e-4, 1e-2), restarts=2)
    assert res.candidates == 2 * 2 * 2
    assert res.settings["solver"] in ("lbfgs", "adam") and res.settings["alpha"] in (1e-4, 1e-2)
    assert res.model.hidden_layer_sizes == (4,)
    # XOR is not linearly separable; a width-4 MLP fits these blobs
    assert res.validation_accuracy >= 0.9 and res.test_accuracy >= 0.9
    assert res.test_accuracy == pytest.approx(np.mean(res.model.predict(Xt) == yt))
    lin = logistic_baseline(X, y, X_test=Xt, y_test=yt)
    assert lin.test_accuracy <= 0.8  # a linear model cannot do XOR
    assert lin.settings["C"] in (0.01, 0.1, 1.0, 10.0, 100.0)


def test_validation_part_is_held_out_and_the_best_candidate_wins():
    X, y = xor_blobs(60, 2)
    X_fit, y_fit, X_val, y_val = validation_split(X, y, 0.25, seed=0)
    assert len(X_val) == 15 and len(X_fit) == 45
    res = mlp_baseline(X_fit, y_fit, (3,), X_val=X_val, y_val=y_val, solvers=("lbfgs",),
                       alphas=(1e-3,), restarts=3)
    accs = []
    for r in range(3):
        from sklearn.neural_network import MLPClassifier

        m = MLPClassifier((3,), solver="lbfgs", alpha=1e-3, random_state=r, max_iter=2000).fit(X_fit, y_fit)
        accs.append(np.mean(m.predict(X_val) == y_val))
    assert res.validation_accuracy == pytest.approx(max(accs))
    assert res.settings["random_state"] == int(np.argmax(accs))


def test_bad_input_is_refused():
    with pytest.raises(bnnmip.InvalidInputError, match="hidden"):
        mlp_baseline(np.zeros((4, 2)), np.array([0, 1, 0, 1]), ())
    with pytest.raises(bnnmip.InvalidInputError, match="one label per row"):
        logistic_baseline(np.zeros((4, 2)), np.array([0, 1]))
