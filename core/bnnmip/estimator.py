"""``BDNNClassifier``: a binarized deep neural network trained by MILP, as a scikit-learn estimator.

>>> import numpy as np
>>> from bnnmip.estimator import BDNNClassifier
>>> X = np.array([[0., 0.], [0., 1.], [1., 0.], [1., 1.]]); y = np.array(["a", "b", "b", "a"])
>>> clf = BDNNClassifier(hidden_layer_sizes=(2,), time_limit=30).fit(X, y)
>>> clf.predict(X).tolist(), clf.status_
(['a', 'b', 'b', 'a'], 'optimal')

``fit`` validates everything (data, labels, widths, weight domain, solver options, backend
and strategy names) before any solver runs, scales the inputs to [0, 1] (the scaling is part
of the fitted model), encodes the labels, and calls :func:`bnnmip.train`. The fitted network
(``network_``) takes raw inputs: it carries the scaling and the original class labels, and
can be saved with ``network_.save(path)``.

A solve stopped at ``time_limit`` returns its best network with ``status_ == "feasible"``;
a solve that found none raises :class:`bnnmip.SolveFailedError`. When the network's plain
forward pass disagrees with the MILP solution (see :mod:`bnnmip.verify`) ``fit`` emits a
:class:`VerificationWarning` and sets ``verified_ = False``; it is never silent.

``predict_proba`` is a softmax of the scores the prediction rule takes the argmax of (output
pre-activations, or binary outputs for ``prediction_rule="binary"``) with a temperature fitted
by log-loss on the validation part (``validation_fraction > 0``) or else on the training
points; see :meth:`BDNNClassifier.predict_proba` and :mod:`bnnmip.calibration`. So
``scoring="roc_auc_ovr"`` and ``"neg_log_loss"`` work.

Tags: ``non_deterministic`` is True when ``time_limit`` or ``time_budget`` is set, since where
a time-limited search stops depends on machine speed and load; with neither (bound the search
by the solver's own node or solution limits in ``solver_options`` instead) the fit is
deterministic for a fixed ``random_state`` and one thread.

scikit-learn's estimator checks
-------------------------------
``tests/test_estimator.py`` runs ``parametrize_with_checks`` on
``BDNNClassifier(time_limit=2)``, which is tagged non-deterministic, so scikit-learn skips its
invariance checks; ``tests/test_estimator_proba.py`` runs those (and the idempotence checks)
on a node-limited estimator without a time limit. The checks it is expected to fail are
listed, with their reasons, in :data:`SKLEARN_EXPECTED_FAILED_CHECKS` (pass it to
``check_estimator`` or ``parametrize_with_checks`` as ``expected_failed_checks``):

- ``check_fit_idempotent`` and ``check_supervised_y_2d``: compare the predictions of two fits
  on 80 and 30 points. Neither solve finishes within the time limit, and where a
  time-limited search stops depends on machine speed and load, so the two fits may differ.
  They pass on an idle machine (reported as XPASS), and always without a time limit.
- ``check_sample_weight_equivalence_on_dense_data``: weighting a point by 2 and repeating
  it give the same MILP objective, but the MILP has many optimal solutions and the solver
  may return another one for the repeated data, whose predictions differ off the training
  points.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings

import attrs
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._paths import check_output_path
from .backends import DEFAULT_BACKEND
from .backends.results import SolveOptions, SolveStatus
from .calibration import fit_temperature, softmax
from .datasets import split_dataset
from .errors import InvalidInputError, SolveFailedError, SolveWarning
from .formulation import DEFAULT_FORMULATION, lower
from .ir import Architecture, RobustnessSet, TrainingSet
from .network import BinarizedNetwork, InputScaling, PredictionRule
from .plugins.registry import get_strategy
from .training import resolve_backend, train

__all__ = ["SKLEARN_EXPECTED_FAILED_CHECKS", "BDNNClassifier", "VerificationWarning"]

_TIMING = (
    "compares two fits that stop at the time limit; where a time-limited MILP search stops "
    "depends on machine speed and load, so the fits may differ (passes on an idle machine)"
)
SKLEARN_EXPECTED_FAILED_CHECKS = {
    "check_fit_idempotent": _TIMING,
    "check_supervised_y_2d": _TIMING,
    "check_sample_weight_equivalence_on_dense_data": (
        "weights and repetitions give the same MILP objective, but the MILP has many optimal "
        "solutions and the solver may return a different one for the repeated data, whose "
        "predictions differ off the training points"
    ),
}
"""scikit-learn estimator checks ``BDNNClassifier`` does not pass, with the reason."""


@attrs.frozen(eq=False)
class _Prepared:
    """The validated IR and options of one fit."""

    architecture: Architecture
    scaling: InputScaling
    classes: np.ndarray
    rule: PredictionRule
    data: TrainingSet
    options: object
    robust: object
    backend: object
    validation: TrainingSet | None = None


@contextlib.contextmanager
def _as_input_error():
    """Re-raise scikit-learn's input ``ValueError`` as :class:`InvalidInputError`, message kept."""
    try:
        yield
    except InvalidInputError:
        raise
    except ValueError as exc:
        if type(exc).__name__ == "NotFittedError":
            raise
        raise InvalidInputError(str(exc)) from None


class VerificationWarning(UserWarning):
    """The trained network's forward pass disagrees with the MILP solution it came from."""


class BDNNClassifier(ClassifierMixin, BaseEstimator):
    """Binarized deep neural network classifier trained to optimality by a MILP solver.

    Every neuron, the output neurons included, is a step function ``1 if t > 0 else 0`` of
    ``t = W a + b``; there is one output neuron per class. Training minimises the (weighted)
    Hamming distance between the binary outputs and the one-hot labels, exactly, by
    mixed-integer linear programming (Kurtz & Bah 2021). Inputs are min-max scaled to [0, 1]
    first.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (2,)
        Widths of the hidden layers; ``()`` for none.
    weight_domain : str, default "continuous"
        ``"continuous"`` (weights in [-1, 1]), ``"ternary"`` ({-1, 0, 1}) or ``"integer:P"``
        ({-P, ..., P}).
    bias : bool, default True
        Whether neurons have a bias.
    backend : str, default "highs"
        MILP backend name (see :func:`bnnmip.list_backends`).
    strategy : str, default "exact"
        Training strategy name (see :func:`bnnmip.list_strategies`).
    formulation : str, default :data:`bnnmip.formulation.DEFAULT_FORMULATION`
        MILP formulation name: ``"paper"`` (Kurtz & Bah) or ``"tight"`` (same optimum, tighter
        model; see ``docs/formulation.md``).
    time_limit : float or None, default 60.0
        Seconds per solve; ``None`` for no limit. A solve stopped by the limit keeps its best
        network (``status_ == "feasible"``).
    mip_gap : float, default 1e-4
        Relative optimality gap at which the solver stops.
    threads : int, default 1
        Solver threads.
    random_state : int, RandomState or None, default None
        Solver seed (``None`` means 0).
    eps : float or None, default None
        Activation margin: a neuron is on when ``t >= eps`` and off when ``t <= -eps`` on the
        training points; ``None`` for the formulation's default.
    robust_radius : float, default 0.0
        If positive, the first-layer activations of every training point must be constant on
        the l-inf ball of this radius (in scaled units, i.e. as a fraction of each feature's
        training range).
    margin : {"none", "max-min", "soft"}, default "none"
        ``"max-min"``: after training, refit the weights with the training points' activation
        pattern (so the training loss) unchanged so that every neuron has the largest margin
        (:func:`bnnmip.training.polish_margins`). ``"soft"``: refit every row as an l1
        soft-margin classifier on the trained hidden representation, trading a few training
        errors for margin (:func:`bnnmip.training.soft_margins`; continuous weights, no
        ``robust_radius``); with ``validation_fraction > 0`` the refit is kept only if it is
        more accurate on the held-out points.
    margin_c : float or None, default None
        The soft-margin trade-off ``C`` (``None``: 1.0); only with ``margin="soft"``.
    prediction_rule : {"preactivation", "binary"}, default "preactivation"
        ``"preactivation"``: the class with the largest output pre-activation;
        ``"binary"``: the paper's rule, the first class whose binary output fires.
    warm_start : bool, default False
        Start the next ``fit`` from the current network (as a MIP start) when the
        architecture is unchanged.
    verbose : bool, default False
        Echo the solver log.
    log_file : str or path or None, default None
        Write the solver log to this file.
    time_budget : float or None, default None
        Seconds for the whole training run, shared by all of the strategy's solves (each
        solve's limit is cut to what is left); ``None`` for no budget.
    strategy_params : dict or None, default None
        Strategy-specific settings by name (e.g. ``{"max_splits": 20}`` for ``"split"``);
        each strategy validates its own.
    validation_fraction : float, default 0.0
        Fraction of the training points held out (stratified, seeded by ``random_state``) as
        validation data for strategies that select models (``"split"``); 0 for none.
    solver_options : dict or None, default None
        The solver's own parameters by native name, e.g. ``{"separating/maxrounds": 0}`` on
        SCIP, ``{"mip_heuristic_effort": 0.2}`` on HiGHS, ``{"cuts": "off"}`` on CBC; applied
        after bnnmip's own settings (so they win) and checked before training starts.

    Attributes
    ----------
    network_ : BinarizedNetwork
        The trained network; takes raw inputs (it carries the input scaling) and knows the
        class labels.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names, when ``X`` had them.
    architecture_ : Architecture
        The architecture trained.
    training_result_ : TrainingResult
        Everything the strategy reported (solves, problem size, verification, timings).
    status_ : str
        ``"optimal"`` or ``"feasible"`` (stopped at a limit with a solution).
    objective_ : float
        The MILP objective: the weighted Hamming loss on the training points.
    bound_ : float or None
        The solver's lower bound on the objective.
    gap_ : float or None
        The relative gap between ``objective_`` and ``bound_``.
    mismatches_ : int
        Activations where the forward pass disagrees with the MILP solution.
    verified_ : bool
        Whether the forward pass reproduces the MILP solution and objective.
    temperature_ : float
        The softmax temperature of :meth:`predict_proba`, fitted by log-loss.
    calibration_ : str
        The points ``temperature_`` was fitted on: ``"validation"`` (the held-out part, when
        ``validation_fraction > 0``) or ``"training"``.

    See Also
    --------
    bnnmip.train : the same training without the scikit-learn interface.
    """

    def __init__(
        self,
        hidden_layer_sizes=(2,),
        weight_domain="continuous",
        bias=True,
        backend=DEFAULT_BACKEND,
        strategy="exact",
        formulation=DEFAULT_FORMULATION,
        time_limit=60.0,
        mip_gap=1e-4,
        threads=1,
        random_state=None,
        eps=None,
        robust_radius=0.0,
        margin="none",
        margin_c=None,
        prediction_rule="preactivation",
        warm_start=False,
        verbose=False,
        log_file=None,
        time_budget=None,
        strategy_params=None,
        validation_fraction=0.0,
        solver_options=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.weight_domain = weight_domain
        self.bias = bias
        self.backend = backend
        self.strategy = strategy
        self.formulation = formulation
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.threads = threads
        self.random_state = random_state
        self.eps = eps
        self.robust_radius = robust_radius
        self.margin = margin
        self.margin_c = margin_c
        self.prediction_rule = prediction_rule
        self.warm_start = warm_start
        self.verbose = verbose
        self.log_file = log_file
        self.time_budget = time_budget
        self.strategy_params = strategy_params
        self.validation_fraction = validation_fraction
        self.solver_options = solver_options

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X`` (m x n) and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (raw: they are scaled to [0, 1] here).
        y : array-like of shape (n_samples,)
            Class labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative point weights in the objective; zero-weight points are left out.

        Returns
        -------
        self : BDNNClassifier
            The fitted estimator.

        Raises
        ------
        bnnmip.InvalidInputError
            Malformed data or parameters (before any solver runs).
        bnnmip.UnknownNameError
            Unknown backend or strategy name.
        bnnmip.SolveFailedError
            The solver produced no network (no solution within the time limit, infeasible).
        """
        prep = self._prepare(X, y, sample_weight)
        architecture, scaling, classes, rule = prep.architecture, prep.scaling, prep.classes, prep.rule
        start = self._warm_start_network(architecture, scaling)
        result = train(
            architecture,
            prep.data,
            backend=prep.backend.name,
            strategy=self.strategy,
            options=prep.options,
            formulation=self.formulation,
            robust=prep.robust,
            eps=self.eps,
            warm_start=start,
            time_budget=self.time_budget,
            validation=prep.validation,
            params=self._strategy_params(),
            margin=self.margin,
            margin_c=self.margin_c,
        )
        if result.network is None:
            raise SolveFailedError(self._failure_message(result))

        self.classes_ = classes
        self.architecture_ = architecture
        self.network_ = attrs.evolve(
            result.network,
            scaling=scaling,
            classes=tuple(classes.tolist()),
            prediction_rule=rule,
            feature_names=getattr(self, "feature_names_in_", None),  # saved, checked by predict
        )
        self.training_result_ = result
        fallback = next((r for r in result.history if "fallback" in r), None)
        if fallback is not None:  # never silently: say why the solver's network is missing
            reason = (fallback.get("solver_message") or "").strip().splitlines()
            warnings.warn(
                f"backend {result.backend!r} returned no network (status {fallback['solver_status']!r}"
                f"{': ' + reason[0] if reason else ''}); the returned network is the "
                f"{fallback['fallback']} network", SolveWarning, stacklevel=2)
        self._calibrate(prep)
        self.status_ = result.status.value
        self.objective_ = result.objective
        self.bound_ = result.final.bound
        self.gap_ = result.final.gap
        verification = result.verification
        self.mismatches_ = verification.mismatches if verification is not None else 0
        self.verified_ = verification is not None and verification.ok
        if not self.verified_:
            detail = verification.describe() if verification is not None else "not verified"
            warnings.warn(
                f"the trained network disagrees with the MILP solution it was decoded from in "
                f"{self.mismatches_} activation(s) ({detail}). Predictions use the network's "
                "forward pass, whose training loss is not objective_; raise eps or try "
                "another backend for a verified network",
                VerificationWarning,
                stacklevel=2,
            )
        return self

    def _prepare(self, X, y, sample_weight, *, check_backend: bool = True) -> _Prepared:
        """Validate everything and build the IR, before any solver runs."""
        rule, options, robust = self._check_params()
        with _as_input_error():  # scikit-learn's ValueErrors, as InvalidInputError (a ValueError)
            X, y = validate_data(self, X, y, dtype=np.float64)
            check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        weights = self._check_sample_weight(sample_weight, X.shape[0])
        if weights is not None:
            keep = weights > 0
            if not keep.any():
                raise InvalidInputError(
                    "sample_weight is zero for every sample; give at least two classes "
                    "positive weight"
                )
            X_fit, y_fit, weights = X[keep], y_index[keep], weights[keep]
        else:
            X_fit, y_fit = X, y_index
        present = np.unique(y_fit)
        if present.size < 2:
            which = "" if weights is None else " among the points with positive sample_weight"
            found = classes[present].tolist() if present.size else []
            raise InvalidInputError(
                f"y has only one class{which} ({found}); need at least two classes to train "
                "a classifier"
            )
        architecture = Architecture(
            n_inputs=X.shape[1],
            hidden=self.hidden_layer_sizes,
            n_classes=len(classes),
            bias=self.bias,
            weight_domain=self.weight_domain,
        )
        backend = resolve_backend(self.backend) if check_backend else None
        if check_backend:
            get_strategy(self.strategy)  # unknown or unusable names fail here

        X_fit, y_fit, weights, X_val, y_val = self._hold_out(X_fit, y_fit, weights)
        scaling = InputScaling.fit(X_fit)
        data = TrainingSet.from_arrays(
            scaling.transform(X_fit), y_fit, n_classes=len(classes), weights=weights
        )
        validation = None
        if X_val is not None:
            validation = TrainingSet.from_arrays(
                scaling.transform(X_val), y_val, n_classes=len(classes)
            )
        return _Prepared(
            architecture, scaling, classes, rule, data, options, robust, backend, validation
        )

    def _hold_out(self, X, y, weights):
        """Split off ``validation_fraction`` of the points as validation data."""
        frac = self.validation_fraction
        if not frac:
            return X, y, weights, None, None
        if not isinstance(frac, int | float) or not 0 < frac < 1:
            raise InvalidInputError(
                f"validation_fraction must be in [0, 1), got {frac!r}; e.g. 0.25"
            )

        idx = np.arange(X.shape[0])
        fit_idx, val_idx, _, _ = split_dataset(idx[:, None], y, test_size=frac, seed=self._seed())
        fit_idx, val_idx = fit_idx[:, 0], val_idx[:, 0]
        if np.unique(y[fit_idx]).size < 2 or val_idx.size == 0:
            raise InvalidInputError(
                "too few points to hold out a validation set with two classes left for "
                "training; lower validation_fraction or give more data"
            )
        w = None if weights is None else weights[fit_idx]
        return X[fit_idx], y[fit_idx], w, X[val_idx], y[val_idx]

    def lowering(self, X, y, sample_weight=None):
        """The MILP that :meth:`fit` would solve for ``X``, ``y`` (no solve), as a Lowering.

        Used by ``bnnmip export``; backend and strategy are not needed and not checked.
        """
        prep = self._prepare(X, y, sample_weight, check_backend=False)
        return lower(
            prep.architecture, prep.data, formulation=self.formulation, robust=prep.robust,
            eps=self.eps,
        )

    def _strategy_params(self) -> dict:
        params = self.strategy_params
        if params is None:
            return {}
        if not isinstance(params, dict):
            raise InvalidInputError(
                f"strategy_params must be a dict of settings, got {type(params).__name__}"
            )
        return dict(params)

    def _check_params(self):
        """Validate the parameters that do not depend on the data."""
        try:
            rule = PredictionRule(self.prediction_rule)
        except ValueError:
            raise InvalidInputError(
                f"prediction_rule must be 'preactivation' or 'binary', got "
                f"{self.prediction_rule!r}"
            ) from None
        try:
            options = SolveOptions(
                time_limit=self.time_limit,
                mip_gap=self.mip_gap,
                threads=self.threads,
                seed=self._seed(),
                verbose=bool(self.verbose),
                log_file=self.log_file,
                solver_options=self.solver_options,
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidInputError):
                raise
            raise InvalidInputError(f"invalid solver option: {exc}") from None
        if self.log_file is not None:  # before the solve: the backends cannot report it later

            check_output_path(self.log_file, flag="log_file")
        robust = RobustnessSet(self.robust_radius) if self.robust_radius else None
        if self.eps is not None and not (
            isinstance(self.eps, numbers.Real) and 0 < float(self.eps) < 1
        ):
            raise InvalidInputError(f"eps must be a number in (0, 1) or None, got {self.eps!r}")
        return rule, options, robust

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return 0
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if not 0 <= rs < 2**31:
                raise InvalidInputError(f"random_state must be in [0, 2**31), got {rs}")
            return int(rs)
        return int(check_random_state(rs).randint(2**31 - 1))

    @staticmethod
    def _check_sample_weight(sample_weight, n_samples: int):
        if sample_weight is None:
            return None
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.ndim == 0:
            w = np.full(n_samples, float(w))
        if w.shape != (n_samples,):
            raise InvalidInputError(
                f"sample_weight has shape {w.shape}; expected ({n_samples},), one per sample"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InvalidInputError("sample_weight must be finite and non-negative")
        return w

    def _warm_start_network(self, architecture: Architecture, scaling: InputScaling):
        """The previous network re-expressed in the new scaled space, if it may be reused.

        The first layer absorbs the change of scaling exactly (``W' = W * span_new /
        span_old``, ``b' = b + W (min_new - min_old) / span_old``); for the same training
        inputs nothing changes. Whether the start is feasible for the new data is checked by
        the strategy, which drops infeasible starts.
        """
        previous = getattr(self, "network_", None)
        if not self.warm_start or previous is None:
            return None
        if getattr(self, "architecture_", None) != architecture:
            return None
        old = previous.scaling
        W1, b1 = previous.weights[0], previous.biases[0]
        W1_new = W1 * (scaling.span / old.span)
        b1_new = b1 + W1 @ ((scaling.minimum - old.minimum) / old.span)
        return BinarizedNetwork.from_arrays(
            (W1_new, *previous.weights[1:]),
            (b1_new, *previous.biases[1:]),
            weight_domain=previous.weight_domain,
        )

    def _calibrate(self, prep: _Prepared) -> None:
        """Fit ``temperature_`` on the validation part if there is one, else on the training data."""
        data = prep.validation if prep.validation is not None else prep.data
        self.calibration_ = "validation" if prep.validation is not None else "training"
        scores = self._rule_scores(self.network_.forward(data.X, scaled=True))
        self.temperature_ = fit_temperature(scores, data.y, data.weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # where a time-limited solve stops depends on machine speed and load
        tags.non_deterministic = self.time_limit is not None or self.time_budget is not None
        return tags

    def _failure_message(self, result) -> str:
        status = result.status
        final = result.final
        detail = f" ({final.message.strip().splitlines()[0]})" if final.message.strip() else ""
        if status is SolveStatus.NO_SOLUTION:
            advice = f"raise time_limit (now {self.time_limit}) or train on fewer points"
        elif status is SolveStatus.INFEASIBLE:
            advice = (
                "the model has no solution: lower robust_radius or eps"
                + ("" if self.bias else ", or set bias=True (without a bias the point at the "
                   "scaled origin cannot satisfy any margin)")
            )
        elif status is SolveStatus.UNSUPPORTED:
            advice = "the backend cannot solve this problem: use another backend (bnnmip backends)"
        else:
            advice = "see the solver log (verbose=True or log_file=...) or try another backend"
        return (
            f"backend {result.backend!r} returned no network: status {status.value!r}{detail}; "
            f"{advice}"
        )

    # -- predict -----------------------------------------------------------------------------
    def _validated(self, X) -> np.ndarray:
        check_is_fitted(self)
        with _as_input_error():
            return validate_data(self, X, reset=False, dtype=np.float64)

    def _rule_scores(self, forward) -> np.ndarray:
        if self.network_.prediction_rule is PredictionRule.PREACTIVATION:
            return forward.pre[-1]
        return forward.act[-1]

    def _scores(self, X) -> np.ndarray:
        X = self._validated(X)
        return self._rule_scores(self.network_.forward(X))

    def predict_proba(self, X):
        """Class probabilities: a softmax of the per-class scores with a fitted temperature.

        ``p_k = exp(s_k / T) / sum_j exp(s_j / T)`` where ``s`` are the scores the prediction
        rule takes the argmax of: the output pre-activations for ``"preactivation"``, the
        binary outputs for ``"binary"`` (firing classes share one probability, silent classes
        another; uniform when none fires). ``T`` (``temperature_``) is fitted in ``fit`` by
        minimising the log-loss on the validation part when ``validation_fraction > 0``, else
        on the training points (``calibration_`` says which). A network that fits its
        training points exactly drives ``T`` to its lower bound there: the probabilities are
        then confident rather than calibrated; hold out validation data for calibrated ones.
        The argmax of each row is :meth:`predict`'s class. Details:
        :mod:`bnnmip.calibration`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``; rows sum to one.
        """
        return softmax(self._scores(X), self.temperature_)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        s = self._scores(X) / self.temperature_
        z = s - s.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def decision_function(self, X):
        """Per-class scores whose argmax is the prediction.

        The output pre-activations for ``prediction_rule="preactivation"``, the binary outputs
        for ``"binary"``. With two classes: ``score[class 1] - score[class 0]`` (positive
        means ``classes_[1]``), as scikit-learn expects.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The scores.
        """
        scores = self._scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """Predict class labels for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        X = self._validated(X)
        return self.classes_[self.network_.predict_index(X)]
