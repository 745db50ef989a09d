"""Class probabilities for a binarized network: a softmax of its output scores with a fitted temperature.

A binarized network's outputs are step functions; they carry no probability. The estimator's
``predict_proba`` turns the per-class *scores* its prediction rule takes the argmax of into
probabilities with one parameter, a temperature ``T > 0``::

    p_k(x) = exp(s_k(x) / T) / sum_j exp(s_j(x) / T)

- rule ``"preactivation"``: ``s`` is the output layer's pre-activation ``t^L = W^L a + b^L``;
- rule ``"binary"``: ``s`` is the binary output ``a^L`` in {0, 1}^K. The softmax then gives
  every firing class the same probability ``e^{1/T} / (k e^{1/T} + K - k)`` (``k`` classes fire)
  and every silent class ``1 / (k e^{1/T} + K - k)``; with no class firing it is uniform.

``T`` is fitted by minimising the (weighted) mean log-loss on calibration points (temperature
scaling, Guo et al. 2017), a one-dimensional bounded search over ``log T``. The softmax is
monotone in the scores, so its argmax is the prediction (ties go to the first class in both,
as in the binary rule) and, with two classes, ``p_1`` ranks points as the decision function
``s_1 - s_0`` does.

Bounds. ``T`` is searched in ``[spread / 30, 100 * spread]`` where ``spread`` is the largest
score range ``max_k s_k - min_k s_k`` over the calibration points (1 for the binary rule).
The lower bound keeps every calibration point's logits within 30 of each other, so no
probability rounds to exactly 0 or 1 there and ROC AUC keeps the ranking. When the
calibration points are all classified correctly (typical on the training data, which the MILP
fits exactly when it can), log-loss keeps falling as ``T`` shrinks and the fit stops at that
lower bound: the probabilities are then confident and not calibrated. Hold out data
(``validation_fraction``) for a temperature fitted on points the network was not trained on.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_temperature", "softmax"]

_MAX_LOGIT_RANGE = 30.0
_MAX_TEMPERATURE_FACTOR = 100.0


def softmax(scores, temperature: float) -> np.ndarray:
    """Row-wise ``softmax(scores / temperature)``, computed stably.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_classes)
        Per-class scores.
    temperature : float
        Positive temperature.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Rows sum to one.
    """
    s = np.asarray(scores, dtype=np.float64)
    z = (s - s.max(axis=1, keepdims=True)) / float(temperature)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _log_loss(scores, y_index, weights, temperature) -> float:
    z = (scores - scores.max(axis=1, keepdims=True)) / temperature
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    picked = log_p[np.arange(len(y_index)), y_index]
    return float(-(weights * picked).sum() / weights.sum())


def fit_temperature(scores, y_index, weights=None) -> float:
    """The temperature minimising the weighted mean log-loss of ``softmax(scores / T)``.

    Parameters
    ----------
    scores : array-like of shape (n_samples, n_classes)
        Per-class scores of the calibration points.
    y_index : array-like of shape (n_samples,)
        Their true class indices ``0..K-1``.
    weights : array-like of shape (n_samples,), optional
        Point weights (default: all 1).

    Returns
    -------
    float
        ``T`` in ``[spread / 30, 100 * spread]`` (see the module docstring); 1.0 when every
        calibration point has equal scores for all classes (nothing to fit).
    """
    from scipy.optimize import minimize_scalar  # lazy: start-up cost (scipy submodule)

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y_index, dtype=np.intp)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    spread = float((s.max(axis=1) - s.min(axis=1)).max()) if s.size else 0.0
    if not np.isfinite(spread) or spread <= 0.0:
        return 1.0
    lo = np.log(spread / _MAX_LOGIT_RANGE)
    hi = np.log(spread * _MAX_TEMPERATURE_FACTOR)
    res = minimize_scalar(
        lambda log_t: _log_loss(s, y, w, np.exp(log_t)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    # the bounded search never evaluates the end points; a monotone loss ends at one of them
    candidates = [float(res.x), lo, hi]
    best = min(candidates, key=lambda log_t: _log_loss(s, y, w, np.exp(log_t)))
    return float(np.exp(best))
