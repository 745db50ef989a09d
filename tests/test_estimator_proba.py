"""BDNNClassifier: predict_proba and its calibration, scoring by probability, tags, top-level import."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.metrics import get_scorer
from sklearn.model_selection import cross_val_score
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_fit_idempotent,
    check_methods_sample_order_invariance,
    check_methods_subset_invariance,
    check_pipeline_consistency,
    check_supervised_y_2d,
)

from bnnmip.calibration import fit_temperature, softmax
from bnnmip.datasets import split_dataset
from bnnmip.estimator import BDNNClassifier

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X[::3], y[::3]  # 50 flowers, 3 classes


# -- calibration maths ----------------------------------------------------------------------


def test_softmax_rows_sum_to_one_and_keep_the_argmax():
    s = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 0.0], [5.0, -5.0, 5.0]])
    p = softmax(s, 0.5)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert p.argmax(axis=1).tolist() == [1, 0, 0]  # ties go to the first class, like np.argmax
    assert np.allclose(p[1], 1 / 3)
    assert p[2, 0] == p[2, 2]


def test_fitted_temperature_is_the_log_loss_minimiser():
    # two classes, score difference d: p(correct) = sigmoid(d / T). Points with d = +1 (x3,
    # correct) and d = -1 (x1, wrong): the log-loss 3 log(1 + e^{-1/T}) + log(1 + e^{1/T})
    # is minimal where sigmoid(1/T) = 3/4, i.e. T = 1 / ln 3.
    s = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    y = np.array([1, 1, 1, 0])
    assert fit_temperature(s, y) == pytest.approx(1 / np.log(3), rel=1e-3)
    # the same with weights instead of repetitions
    assert fit_temperature(s[2:], y[2:], weights=[3.0, 1.0]) == pytest.approx(1 / np.log(3), rel=1e-3)


def test_separated_points_stop_at_the_lower_bound_without_saturating():
    s = np.array([[0.0, 1.5], [2.0, 0.5]])
    y = np.array([1, 0])
    t = fit_temperature(s, y)
    assert t == pytest.approx(1.5 / 30, rel=1e-6)  # largest score range / 30
    p = softmax(s, t)
    assert (p > 0).all() and (p < 1).all()  # no probability rounds to 0 or 1


def test_no_spread_gives_temperature_one():
    assert fit_temperature(np.zeros((3, 2)), np.array([0, 1, 0])) == 1.0


# -- predict_proba ----------------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["preactivation", "binary"])
def test_predict_proba_agrees_with_predict(iris, rule):
    X, y = iris
    clf = BDNNClassifier(time_limit=30, prediction_rule=rule).fit(X, y)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 3)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert (clf.classes_[p.argmax(axis=1)] == clf.predict(X)).all()
    assert np.allclose(np.exp(clf.predict_log_proba(X)), p)
    assert clf.calibration_ == "training"
    scores = clf.network_.forward(X)
    s = scores.pre[-1] if rule == "preactivation" else scores.act[-1]
    assert np.allclose(p, softmax(s, clf.temperature_))


def test_binary_rule_probabilities_by_hand():
    # binary outputs (1, 1, 0): the two firing classes share exp(1/T) / (2 exp(1/T) + 1)
    clf = BDNNClassifier(time_limit=30, prediction_rule="binary").fit(XOR_X, XOR_Y)
    t = clf.temperature_
    p = clf.predict_proba(XOR_X)
    acts = clf.network_.forward(XOR_X).act[-1]
    for row, a in zip(p, acts, strict=True):
        k = a.sum()
        on = np.exp(1 / t) / (k * np.exp(1 / t) + (2 - k))
        assert np.allclose(row[a == 1], on)


def test_validation_part_calibrates(iris):
    X, y = iris
    clf = BDNNClassifier(time_limit=30, validation_fraction=0.3, random_state=0).fit(X, y)
    assert clf.calibration_ == "validation"
    # refit the temperature by hand on the same held-out points
    fit_idx, val_idx, _, _ = split_dataset(
        np.arange(len(y))[:, None], y, test_size=0.3, seed=0
    )
    Xv, yv = X[val_idx[:, 0]], y[val_idx[:, 0]]
    expected = fit_temperature(clf.network_.forward(Xv).pre[-1], yv)
    assert clf.temperature_ == pytest.approx(expected)


def test_roc_auc_ovr_and_log_loss_scoring(iris):
    X, y = iris
    auc = cross_val_score(BDNNClassifier(time_limit=30), X, y, cv=3, scoring="roc_auc_ovr")
    assert np.isfinite(auc).all() and (auc > 0.5).all()
    clf = BDNNClassifier(time_limit=30).fit(X, y)
    assert np.isfinite(get_scorer("neg_log_loss")(clf, X, y))
    two = y < 2
    binary = BDNNClassifier(time_limit=30).fit(X[two], y[two])
    assert get_scorer("roc_auc")(binary, X[two], y[two]) == 1.0


# -- tags -------------------------------------------------------------------------------------


def test_non_deterministic_tag_follows_time_limits():
    assert get_tags(BDNNClassifier()).non_deterministic  # default time_limit=60
    assert get_tags(BDNNClassifier(time_limit=None, time_budget=5)).non_deterministic
    assert not get_tags(BDNNClassifier(time_limit=None)).non_deterministic
    tags = get_tags(BDNNClassifier())
    assert tags.estimator_type == "classifier"
    assert tags.classifier_tags.multi_class


# The checks scikit-learn skips for a non-deterministic estimator, plus those the time-limited
# estimator of test_estimator.py may fail under load: run without a time limit, the search
# bounded by HiGHS's node limit, so the fit is deterministic.
@pytest.mark.slow
@pytest.mark.parametrize(
    "check",
    [
        check_methods_sample_order_invariance,
        check_methods_subset_invariance,
        check_pipeline_consistency,
        check_fit_idempotent,
        check_supervised_y_2d,
    ],
)
def test_deterministic_checks_without_a_time_limit(check):
    est = BDNNClassifier(time_limit=None, solver_options={"mip_max_nodes": 50})
    assert not get_tags(est).non_deterministic
    check("BDNNClassifier", clone(est))


# -- top-level import -------------------------------------------------------------------------


def test_top_level_import_is_lazy():
    code = (
        "import sys, bnnmip\n"
        "assert 'sklearn' not in sys.modules, 'import bnnmip imported scikit-learn'\n"
        "from bnnmip import BDNNClassifier\n"
        "import bnnmip.estimator\n"
        "assert BDNNClassifier is bnnmip.estimator.BDNNClassifier\n"
        "assert 'sklearn' in sys.modules\n"
        "try:\n"
        "    bnnmip.NoSuchThing\n"
        "except AttributeError as e:\n"
        "    assert 'NoSuchThing' in str(e)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
