"""Honest baselines: a same-width MLP and logistic regression, tuned as a careful user would.

:func:`mlp_baseline` fits scikit-learn's ``MLPClassifier`` with the hidden widths of the
binarized network, for each solver (``lbfgs`` and ``adam``), each L2 penalty ``alpha`` of a
grid and several random restarts, on the training part; the model with the best accuracy on
a held-out validation part (ties: the earlier in the grid) is returned, refitted on nothing
more (the validation part stays held out, as for the MILP strategies that select on it).
:func:`logistic_baseline` does the same for ``LogisticRegression`` over ``C``.

Both return a :class:`Baseline`: the fitted model, its validation accuracy, its test
accuracy (when test data is given), the chosen settings and the seconds taken. Inputs are
used as given (scale them as you scale the network's inputs).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import attrs
import numpy as np

from .datasets import split_dataset
from .errors import InvalidInputError

__all__ = ["ALPHAS", "Baseline", "logistic_baseline", "mlp_baseline", "validation_split"]

ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""The L2 penalties tried for the MLP."""

CS = (0.01, 0.1, 1.0, 10.0, 100.0)
"""The inverse penalties tried for logistic regression."""


@attrs.frozen(eq=False)
class Baseline:
    """A fitted baseline model and how well it did."""

    model: object
    name: str
    validation_accuracy: float
    test_accuracy: float | None
    settings: dict
    seconds: float
    candidates: int


def validation_split(X, y, fraction: float = 0.25, seed: int = 0):
    """``(X_fit, y_fit, X_val, y_val)``: a stratified held-out part when every class allows it."""
    if not 0 < fraction < 1:
        raise InvalidInputError(f"validation fraction must be in (0, 1), got {fraction}")
    X_fit, X_val, y_fit, y_val = split_dataset(np.asarray(X, dtype=float), np.asarray(y),
                                               test_size=fraction, seed=seed)
    return X_fit, y_fit, X_val, y_val


def _check(X, y, X_val, y_val):
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] < 2:
        raise InvalidInputError(f"a baseline needs X (m x n) and one label per row; got {X.shape}, {y.shape}")
    if X_val is None:
        return validation_split(X, y)
    return X, y, np.asarray(X_val, dtype=float), np.asarray(y_val)


def _select(make, grid, X, y, X_val, y_val, X_test, y_test, name):
    t0 = time.perf_counter()
    best, best_acc, best_settings = None, -1.0, None
    for settings in grid:
        model = make(**settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings: the validation score decides
            model.fit(X, y)
        acc = float(np.mean(model.predict(X_val) == y_val))
        if acc > best_acc:
            best, best_acc, best_settings = model, acc, settings
    test = None if X_test is None else float(np.mean(best.predict(np.asarray(X_test, dtype=float))
                                                     == np.asarray(y_test)))
    return Baseline(best, name, best_acc, test, dict(best_settings), time.perf_counter() - t0, len(grid))


def mlp_baseline(X, y, hidden: Sequence[int], *, X_val=None, y_val=None, X_test=None, y_test=None,
                 solvers=("lbfgs", "adam"), alphas=ALPHAS, restarts: int = 3, seed: int = 0,
                 max_iter: int = 2000) -> Baseline:
    """The best same-width ReLU MLP on the validation part over solvers, ``alpha`` and restarts.

    Parameters
    ----------
    X, y : array-like
        Training inputs and labels (without ``X_val``, a stratified quarter is held out).
    hidden : sequence of int
        The hidden widths (those of the binarized network).
    X_val, y_val, X_test, y_test : array-like, optional
        Validation data for the selection, test data for the reported accuracy.
    solvers, alphas, restarts, seed, max_iter
        The grid: every solver x alpha x restart (``random_state = seed + restart``).

    Returns
    -------
    Baseline
    """
    from sklearn.neural_network import MLPClassifier  # lazy: start-up cost (scikit-learn)

    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) < 1 or restarts < 1:
        raise InvalidInputError(
            f"mlp_baseline needs hidden widths >= 1 and restarts >= 1; got {hidden}, {restarts}")
    X, y, X_val, y_val = _check(X, y, X_val, y_val)
    grid = [{"solver": s, "alpha": a, "random_state": seed + r}
            for s in solvers for a in alphas for r in range(restarts)]

    def make(**kw):
        return MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, **kw)

    return _select(make, grid, X, y, X_val, y_val, X_test, y_test, f"mlp{list(hidden)}")


def logistic_baseline(X, y, *, X_val=None, y_val=None, X_test=None, y_test=None, cs=CS) -> Baseline:
    """The best ``LogisticRegression`` on the validation part over the inverse penalty ``C``."""
    from sklearn.linear_model import LogisticRegression  # lazy: start-up cost (scikit-learn)

    X, y, X_val, y_val = _check(X, y, X_val, y_val)

    def make(C):
        return LogisticRegression(C=C, max_iter=5000)

    return _select(make, [{"C": c} for c in cs], X, y, X_val, y_val, X_test, y_test, "logistic")
