"""BDNNClassifier: scikit-learn's estimator checks, behaviour on hand-checkable cases, errors."""

import attrs
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import bnnmip
import bnnmip.estimator as estimator_module
from bnnmip.estimator import SKLEARN_EXPECTED_FAILED_CHECKS, BDNNClassifier, VerificationWarning

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def _expected_failed_checks(_estimator):
    return SKLEARN_EXPECTED_FAILED_CHECKS


@pytest.mark.slow
@parametrize_with_checks(
    [BDNNClassifier(time_limit=2, hidden_layer_sizes=(2,))],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def tiny():
    """12 iris flowers of two linearly separable species (6 each), in raw units."""
    X, y = load_iris(return_X_y=True)
    idx = np.r_[0:6, 50:56]
    return X[idx], y[idx]


@pytest.fixture
def no_solver(monkeypatch):
    """Fail the test if the estimator reaches the training call."""

    def fail(*_args, **_kwargs):
        raise AssertionError("a solver was called although the input is invalid")

    monkeypatch.setattr(estimator_module, "train", fail)


# -- behaviour --------------------------------------------------------------------------------


def test_xor_is_fitted_exactly():
    clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=30).fit(XOR_X, XOR_Y)
    assert clf.status_ == "optimal"
    assert clf.objective_ == 0.0
    assert clf.score(XOR_X, XOR_Y) == 1.0
    assert clf.verified_ and clf.mismatches_ == 0
    assert clf.n_features_in_ == 2
    assert clf.classes_.tolist() == [0, 1]
    # the stored network takes raw inputs and knows the labels
    assert clf.network_.predict(XOR_X).tolist() == XOR_Y.tolist()
    assert clf.network_.classes == (0, 1)
    assert clf.network_.scaling is not None


def test_string_labels_round_trip(tmp_path):
    y = np.array(["same", "differ", "differ", "same"])
    clf = BDNNClassifier(time_limit=30).fit(XOR_X, y)
    pred = clf.predict(XOR_X)
    assert pred.tolist() == y.tolist()
    assert pred.dtype.kind == "U"
    assert clf.classes_.tolist() == ["differ", "same"]
    assert clf.network_.classes == ("differ", "same")
    saved = bnnmip.BinarizedNetwork.load(clf.network_.save(tmp_path / "net.json"))
    assert saved.predict(XOR_X).tolist() == y.tolist()


def test_raw_inputs_are_scaled_inside(tiny):
    X, y = tiny
    clf = BDNNClassifier(time_limit=30).fit(X * 1000 + 5, y)
    assert clf.score(X * 1000 + 5, y) == 1.0
    assert np.allclose(clf.network_.scaling.minimum, (X * 1000 + 5).min(axis=0))


def test_decision_function_agrees_with_predict():
    clf = BDNNClassifier(time_limit=30).fit(XOR_X, XOR_Y)
    scores = clf.decision_function(XOR_X)
    assert scores.shape == (4,)
    assert ((scores > 0).astype(int) == clf.predict(XOR_X)).all()
    clf_binary = clone(clf).set_params(prediction_rule="binary").fit(XOR_X, XOR_Y)
    assert set(np.unique(clf_binary.decision_function(XOR_X))) <= {-1.0, 0.0, 1.0}
    assert clf_binary.network_.prediction_rule is bnnmip.PredictionRule.BINARY


def test_pipeline_with_standard_scaler(tiny):
    X, y = tiny
    pipe = Pipeline([("scale", StandardScaler()), ("bdnn", BDNNClassifier(time_limit=30))])
    pipe.fit(X, y)
    assert pipe.score(X, y) == 1.0
    assert pipe.named_steps["bdnn"].status_ == "optimal"


def test_grid_search_over_widths(tiny):
    X, y = tiny
    search = GridSearchCV(
        BDNNClassifier(time_limit=30),
        {"hidden_layer_sizes": [(1,), (2,)]},
        cv=2,
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_params_["hidden_layer_sizes"] in [(1,), (2,)]
    assert search.best_estimator_.architecture_.hidden == search.best_params_["hidden_layer_sizes"]
    assert search.score(X, y) == 1.0


def test_get_params_set_params_round_trip():
    params = {
        "hidden_layer_sizes": (3, 2),
        "weight_domain": "integer:3",
        "bias": False,
        "backend": "scip",
        "strategy": "exact",
        "formulation": "tight",
        "time_limit": 7.5,
        "mip_gap": 0.01,
        "threads": 2,
        "random_state": 4,
        "eps": 0.05,
        "robust_radius": 0.1,
        "margin": "max-min",
        "margin_c": None,
        "prediction_rule": "binary",
        "warm_start": True,
        "verbose": True,
        "log_file": "solver.log",
        "time_budget": 30.0,
        "strategy_params": {"max_rounds": 3},
        "validation_fraction": 0.25,
        "solver_options": {"limits/nodes": 10},
    }
    clf = BDNNClassifier(**params)
    assert clf.get_params() == params  # stored verbatim, nothing validated or converted
    assert clone(clf).get_params() == params
    assert BDNNClassifier().set_params(**params).get_params() == params
    clf.set_params(hidden_layer_sizes=(5,))
    assert clf.get_params()["hidden_layer_sizes"] == (5,)


# X = [[0], [0], [1]], y = [0, 1, 1], no hidden layer. The two points at x = 0 carry opposite
# labels and any network gives them one output a = (a0, a1): the weighted Hamming loss there
# is w0 * (|a0 - 1| + a1) + w1 * (a0 + |a1 - 1|), minimal at a = (1, 0) with value 2 * w1 when
# w0 > w1 (and a = (0, 1), value 2 * w0, when w1 > w0). The point x = 1 is always fitted.
SW_X = np.array([[0.0], [0.0], [1.0]])
SW_Y = np.array([0, 1, 1])


@pytest.mark.parametrize(
    ("weights", "objective", "label_at_zero"),
    [
        ([3.0, 1.0, 1.0], 2.0, 0),
        ([1.0, 3.0, 1.0], 2.0, 1),
        ([7.5, 2.5, 2.5], 5.0, 0),
        ([1.0, 0.0, 1.0], 0.0, 0),  # zero weight: the conflicting point is left out
    ],
)
def test_sample_weight_objective_by_hand(weights, objective, label_at_zero):
    clf = BDNNClassifier(hidden_layer_sizes=(), time_limit=30)
    clf.fit(SW_X, SW_Y, sample_weight=weights)
    assert clf.status_ == "optimal"
    assert clf.objective_ == pytest.approx(objective, abs=1e-6)
    assert clf.predict([[0.0], [1.0]]).tolist() == [label_at_zero, 1]


def test_unweighted_objective_by_hand():
    clf = BDNNClassifier(hidden_layer_sizes=(), time_limit=30).fit(SW_X, SW_Y)
    assert clf.objective_ == pytest.approx(2.0, abs=1e-6)


def test_warm_start_reuses_the_previous_network(monkeypatch, tiny):
    X, y = tiny
    starts = []
    real_train = estimator_module.train

    def spy(*args, **kwargs):
        starts.append(kwargs.get("warm_start"))
        return real_train(*args, **kwargs)

    monkeypatch.setattr(estimator_module, "train", spy)
    clf = BDNNClassifier(time_limit=30, warm_start=True).fit(X[::2], y[::2])
    first = clf.network_
    clf.fit(X, y)  # more points, other scaling: the start is the same function of raw inputs
    assert starts[0] is None
    start = starts[1]
    assert isinstance(start, bnnmip.BinarizedNetwork)
    new_scaled = clf.network_.scaling.transform(X)
    assert np.allclose(start.forward(new_scaled, scaled=True).pre[-1], first.forward(X).pre[-1])
    assert clf.status_ == "optimal"

    clf.set_params(hidden_layer_sizes=(3,)).fit(X, y)  # architecture changed: no start
    assert starts[2] is None
    clf.set_params(warm_start=False).fit(X, y)
    assert starts[3] is None


def test_verification_mismatch_warns(monkeypatch):
    real_train = estimator_module.train

    def with_mismatches(*args, **kwargs):
        result = real_train(*args, **kwargs)
        bad = attrs.evolve(result.verification, mismatches=3, per_layer=(3, 0))
        return attrs.evolve(result, verification=bad)

    monkeypatch.setattr(estimator_module, "train", with_mismatches)
    with pytest.warns(VerificationWarning, match="3 activation"):
        clf = BDNNClassifier(time_limit=30).fit(XOR_X, XOR_Y)
    assert not clf.verified_
    assert clf.mismatches_ == 3


def test_no_solution_raises_solve_failed(monkeypatch):
    real_train = estimator_module.train

    def nothing(*args, **kwargs):
        result = real_train(*args, **kwargs)
        final = attrs.evolve(result.final, status=bnnmip.SolveStatus.NO_SOLUTION, x=None)
        return attrs.evolve(
            result, network=None, status=bnnmip.SolveStatus.NO_SOLUTION, solves=(final,)
        )

    monkeypatch.setattr(estimator_module, "train", nothing)
    with pytest.raises(bnnmip.SolveFailedError, match="no_solution.*raise time_limit"):
        BDNNClassifier(time_limit=30).fit(XOR_X, XOR_Y)


# -- errors -----------------------------------------------------------------------------------


def test_nan_in_X_is_rejected(no_solver):
    X = XOR_X.copy()
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        BDNNClassifier().fit(X, XOR_Y)


def test_one_class_is_rejected(no_solver):
    with pytest.raises(bnnmip.InvalidInputError, match="only one class.*at least two"):
        BDNNClassifier().fit(XOR_X, [1, 1, 1, 1])


def test_all_zero_sample_weight_is_rejected(no_solver):
    with pytest.raises(bnnmip.InvalidInputError, match="sample_weight is zero"):
        BDNNClassifier().fit(XOR_X, XOR_Y, sample_weight=np.zeros(4))


def test_negative_sample_weight_is_rejected(no_solver):
    with pytest.raises(bnnmip.InvalidInputError, match="non-negative"):
        BDNNClassifier().fit(XOR_X, XOR_Y, sample_weight=[1, -1, 1, 1])


def test_wrong_number_of_features_at_predict():
    clf = BDNNClassifier(time_limit=30).fit(XOR_X, XOR_Y)
    with pytest.raises(ValueError, match="3 features.*expecting 2"):
        clf.predict(np.zeros((2, 3)))


def test_unknown_backend_lists_available(no_solver):
    with pytest.raises(bnnmip.UnknownNameError) as info:
        BDNNClassifier(backend="gurobbi").fit(XOR_X, XOR_Y)
    message = str(info.value)
    assert "'gurobbi'" in message
    assert "highs" in message.split("available:")[1]


def test_unknown_formulation():
    with pytest.raises(bnnmip.UnknownNameError, match="unknown formulation 'tigth'.*paper, tight"):
        BDNNClassifier(formulation="tigth").fit(XOR_X, XOR_Y)


def test_unknown_strategy(no_solver):
    with pytest.raises(bnnmip.UnknownNameError, match="unknown strategy 'nope'"):
        BDNNClassifier(strategy="nope").fit(XOR_X, XOR_Y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"time_limit": -1}, "time_limit"),
        ({"time_limit": 0}, "time_limit"),
        ({"hidden_layer_sizes": (2, 0)}, "positive integers"),
        ({"weight_domain": "binary"}, "weight domain"),
        ({"mip_gap": -0.1}, "mip_gap"),
        ({"threads": 0}, "threads"),
        ({"robust_radius": -0.5}, "radius"),
        ({"eps": 2.0}, "eps"),
        ({"prediction_rule": "vote"}, "prediction_rule"),
        ({"random_state": -3}, "random_state"),
    ],
)
def test_invalid_parameters_fail_before_solving(no_solver, params, match):
    with pytest.raises(bnnmip.InvalidInputError, match=match):
        BDNNClassifier(**params).fit(XOR_X, XOR_Y)


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BDNNClassifier().predict(XOR_X)


def test_validation_fraction_holds_out_points_for_the_strategy(monkeypatch):
    import bnnmip.estimator as est

    seen = {}
    real_train = est.train

    def spy(*args, **kwargs):
        seen.update(kwargs)
        seen["data"] = args[1]
        return real_train(*args, **kwargs)

    monkeypatch.setattr(est, "train", spy)
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(40, 2))
    y = (X[:, 0] > 0.5).astype(int)
    BDNNClassifier(validation_fraction=0.25, time_budget=20, strategy_params={}).fit(X, y)
    assert seen["validation"].n_points == 10 and seen["data"].n_points == 30
    assert seen["time_budget"] == 20
    with pytest.raises(bnnmip.InvalidInputError, match="validation_fraction"):
        BDNNClassifier(validation_fraction=1.5).fit(X, y)
    with pytest.raises(bnnmip.InvalidInputError, match="strategy_params"):
        BDNNClassifier(strategy_params=[1]).fit(X, y)
