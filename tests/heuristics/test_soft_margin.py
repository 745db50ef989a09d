"""Soft-margin refitting after training (bnnmip.heuristics.soft_margin, margin="soft")."""

import json

import numpy as np
import pytest

import bnnmip
from bnnmip import Architecture, RobustnessSet, TrainingSet
from bnnmip.cli import main
from bnnmip.errors import InvalidInputError
from bnnmip.estimator import BDNNClassifier
from bnnmip.heuristics.soft_margin import soft_refit
from bnnmip.network import BinarizedNetwork
from bnnmip.testing import random_teacher

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)


def loss(net, data):
    return net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)


def noisy_line(m=20, flips=(3, 11), seed=0):
    """Points in [0, 1]^2 labelled by x0 + x1 > 1, with a few labels flipped."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (m, 2))
    y = (X.sum(axis=1) > 1).astype(int)
    y[list(flips)] = 1 - y[list(flips)]
    return TrainingSet.from_arrays(X, y)


def test_separable_targets_with_a_large_c_keep_every_training_prediction():
    teacher, data = random_teacher(6, (3,), 2, 80, seed=2)
    refit = soft_refit(teacher, data.X, data.y, C=1e4)
    assert loss(refit, data) == 0.0
    hidden = [n.forward(data.X, scaled=True).act[0] for n in (refit, teacher)]
    assert np.array_equal(*hidden)
    assert all(np.abs(W).max() <= 1.0 + 1e-12 for W in refit.weights)
    assert refit.widths == teacher.widths and refit.weight_domain == teacher.weight_domain


def test_the_trade_between_margin_and_errors_on_a_line_with_an_outlier():
    # 1-D: off at 0 ... 0.4 and at the outlier 0.55, on at 0.6 ... 1; the hard fit puts its
    # threshold in the middle of the thin gap 0.55 | 0.6
    X = np.array([0, 0.1, 0.2, 0.3, 0.4, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0])[:, None]
    y = (X[:, 0] > 0.575).astype(int)
    hard = BinarizedNetwork.from_arrays([[[1.0]], [[-1.0], [1.0]]], [[-0.575], [0.5, -0.5]])
    assert hard.hamming_loss(X, y, scaled=True) == 0

    def threshold(net):
        return -net.biases[0][0] / net.weights[0][0, 0]

    # a large C keeps every point: the largest margin within the gap
    tight = soft_refit(hard, X, y, C=1000.0)
    assert threshold(tight) == pytest.approx(0.575) and tight.hamming_loss(X, y, scaled=True) == 0
    # C = 1: the outlier's hinge is cheaper than the thin margin, the threshold moves onto it
    loose = soft_refit(hard, X, y, C=1.0)
    assert threshold(loose) <= 0.55 + 1e-9
    # a tiny C gives up everything: the hidden neuron becomes a constant
    flat = soft_refit(hard, X, y, C=0.01)
    assert np.all(flat.weights[0] == 0)


@pytest.mark.slow
def test_train_keeps_the_refit_without_validation_and_reports_both_networks():
    data = noisy_line()
    arch = Architecture(2, (2,), 2)
    res = bnnmip.train(arch, data, options=ONE, margin="soft")
    rec = next(r for r in res.history if r.get("margin") == "soft")
    assert rec["kept"] and rec["C"] == 1.0 and "validation_accuracy_after" not in rec
    assert res.solver_network is not None and res.network is not res.solver_network
    assert res.loss == pytest.approx(loss(res.network, data)) == pytest.approx(rec["train_loss_after"])
    # the verification still describes the solver's network against the MILP
    assert res.verification.ok and res.verification.true_loss == pytest.approx(loss(res.solver_network, data))
    assert rec["train_loss_before"] == pytest.approx(res.verification.true_loss)


@pytest.mark.slow
def test_validation_decides_whether_the_refit_is_kept():
    data = noisy_line()
    arch = Architecture(2, (2,), 2)
    # validated on its own training points the solver's network (fewest errors) cannot lose
    res = bnnmip.train(arch, data, options=ONE, margin="soft", margin_c=0.5, validation=data)
    rec = next(r for r in res.history if r.get("margin") == "soft")
    assert not rec["kept"] and rec["C"] == 0.5
    assert rec["validation_accuracy_after"] <= rec["validation_accuracy_before"]
    assert res.solver_network is None and res.loss == pytest.approx(res.verification.true_loss)
    # validated on points labelled by the refit itself the refit wins (where the two differ)
    refit = soft_refit(res.network, data.X, data.y)
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 41)), axis=-1).reshape(-1, 2)
    by_refit = refit.predict_index(grid, scaled=True)
    assert np.any(res.network.predict_index(grid, scaled=True) != by_refit), "the two networks must differ"
    validation = TrainingSet.from_arrays(grid, by_refit)
    res = bnnmip.train(arch, data, options=ONE, margin="soft", validation=validation)
    rec = next(r for r in res.history if r.get("margin") == "soft")
    assert rec["kept"] and rec["validation_accuracy_after"] == 1.0 > rec["validation_accuracy_before"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin": "soft", "margin_c": 0.0}, "margin_c must be a positive number"),
        ({"margin": "soft", "margin_c": float("nan")}, "margin_c must be a positive number"),
        ({"margin": "max-min", "margin_c": 1.0}, "margin_c is the trade-off of margin='soft'"),
        ({"margin": "soft", "robust": RobustnessSet(0.05)}, "robustness guarantee"),
        ({"margin": "wide"}, "margin must be one of none, max-min, soft"),
    ],
)
def test_bad_soft_margin_settings_are_refused_before_any_solve(kwargs, message):
    _, data = random_teacher(4, (2,), 2, 30, seed=1)
    with pytest.raises(InvalidInputError, match=message):
        bnnmip.train(Architecture(4, (2,), 2), data, options=ONE, **kwargs)


def test_integer_weights_are_refused():
    _, data = random_teacher(4, (2,), 2, 30, seed=1, weight_domain="integer:2")
    with pytest.raises(InvalidInputError, match="refits continuous weights"):
        bnnmip.train(Architecture(4, (2,), 2, weight_domain="integer:2"), data, options=ONE, margin="soft")
    net = BinarizedNetwork.from_arrays([np.ones((2, 4)), np.ones((2, 2))], [np.zeros(2), np.zeros(2)],
                                       weight_domain="integer:2")
    with pytest.raises(InvalidInputError, match="needs continuous weights"):
        soft_refit(net, data.X, data.y)


@pytest.mark.slow
def test_estimator_and_cli():
    data = noisy_line(m=24, flips=(5, 13))
    clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=30, random_state=0, margin="soft",
                         margin_c=2.0, validation_fraction=0.25).fit(data.X, data.y)
    rec = next(r for r in clf.training_result_.history if r.get("margin") == "soft")
    assert rec["C"] == 2.0 and "validation_accuracy_after" in rec
    assert clf.network_.classes == (0, 1) and clf.score(data.X, data.y) > 0.8


def test_cli_soft_margin(capsys):
    argv = ["train", "breast-cancer-wisconsin", "--hidden", "2", "--train-size", "120", "--seed", "0",
            "--margin", "soft", "--margin-c", "1"]
    assert main([*argv, "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    rec = next(r for r in s["history"] if r.get("margin") == "soft")
    assert rec["kept"] and s["loss"] == pytest.approx(rec["train_loss_after"])
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "soft-margin refit (C 1)" in out and "the solver's network, before the refit" in out
    with pytest.raises(SystemExit):
        main([*argv[:-1], "0"])
    assert "--margin-c" in capsys.readouterr().err
