"""Every built-in strategy runs with every built-in backend, from the estimator and the CLI."""

import json

import numpy as np
import pytest

import bnnmip
from bnnmip.cli import main
from bnnmip.estimator import BDNNClassifier
from bnnmip.testing import BUILTIN_BACKENDS

PARAMS = {"exact": {}, "local_search": {"max_rounds": 2}, "split": {"max_splits": 2}}
BACKENDS = sorted(BUILTIN_BACKENDS)  # a third-party backend is checked by its own tests


def _data():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 10, size=(24, 3))
    y = np.where(X[:, 0] + X[:, 1] > 10, "yes", "no")
    return X, y


@pytest.mark.parametrize("strategy", sorted(PARAMS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_estimator_runs_every_strategy_on_every_backend(strategy, backend):
    ok, reason = bnnmip.get_backend(backend).availability()
    if not ok:
        pytest.skip(reason)
    X, y = _data()
    clf = BDNNClassifier(
        hidden_layer_sizes=(2,), backend=backend, strategy=strategy, time_limit=20,
        time_budget=60, strategy_params=PARAMS[strategy], random_state=0,
        validation_fraction=0.25 if strategy == "split" else 0.0,
    ).fit(X, y)
    assert clf.verified_, clf.training_result_.verification.describe()
    assert clf.training_result_.strategy == strategy
    assert clf.training_result_.backend == backend
    pred = clf.predict(X)
    assert set(pred) <= {"yes", "no"}
    # the reported loss is the returned network's own forward-pass loss
    net, res = clf.network_, clf.training_result_
    scaled = net.scaling.transform(X)
    if strategy != "split":  # split trains on the non-validation part only
        y_idx = np.searchsorted(clf.classes_, y)
        assert res.loss == pytest.approx(net.hamming_loss(scaled, y_idx, scaled=True))


@pytest.mark.parametrize("strategy", sorted(PARAMS))
def test_cli_runs_every_strategy(capsys, strategy, tmp_path):
    X, y = _data()
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([X, (y == "yes").astype(int)]), delimiter=",")
    params = [f"--param={k}={v}" for k, v in PARAMS[strategy].items()]
    code = main(["train", str(csv), "--strategy", strategy, *params, "--time-limit", "20",
                 "--time-budget", "60", "--json",
                 *(["--validation-size", "0.25"] if strategy == "split" else [])])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["strategy"] == strategy and out["verification"]["ok"]
    aux = bnnmip.training.AUXILIARY_RECORD_KEYS
    assert out["iterations"] == sum(1 for r in out["history"]
                                    if "round" in r or "split" in r or not aux.intersection(r))
    if strategy in ("local_search", "split"):  # one record per block solve / per split, each a MILP
        assert out["iterations"] == out["solves"] == sum(out["solve_counts"].values())


def test_unknown_strategy_and_bad_params(capsys):
    X, y = _data()
    with pytest.raises(bnnmip.UnknownNameError, match="available: exact, local_search, (.*, )?split"):
        BDNNClassifier(strategy="annealing").fit(X, y)
    with pytest.raises(bnnmip.InvalidInputError, match="max_splits"):
        BDNNClassifier(strategy="split", strategy_params={"max_split": 3}).fit(X, y)
