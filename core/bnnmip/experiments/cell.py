"""Run one cell of a grid: load, split by the paper's protocol, fit, evaluate, one record.

This runs inside a worker process (see :mod:`bnnmip.experiments.run`): one cell per
process, one solver thread. The protocol (as in ``benchmarks/strategies.py``):

1. Load the data set; with ``max_points``, draw that many points first (stratified, seeded
   by the cell's seed).
2. Split off ``test_fraction`` (25 %) for testing, stratified by the seed, then
   ``validation_fraction`` of the whole (25 %) from the rest as validation data: 50/25/25.
3. Strategies that select models (``uses_validation``: ``split`` by default) fit on train +
   validation with ``validation_fraction = 0.25 / 0.75``: the estimator holds out exactly the
   same validation points (the same stratified, seeded draw). Other strategies and every
   baseline fit on the 50 % training part only; ``mlp-tuned`` and ``logistic`` choose their
   settings on the 25 % validation part (:mod:`bnnmip.baselines`), ``gradient`` is the start
   the ``exact`` strategy would compute on the training part.
4. Min-max scaling is fitted on the points the model trains on (inside the estimator; the
   sklearn baselines use a ``MinMaxScaler`` fitted on their training part).
5. Accuracy on the train, validation and test parts; certified test accuracy at the cell's
   ``certify_radii`` (exact, :func:`bnnmip.robustness.certify`).
"""

from __future__ import annotations

import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable

import attrs
import numpy

from .._version import __version__
from ..datasets import load_dataset, split_dataset
from ..errors import InvalidInputError, SolveFailedError
from ..formulation import lower
from ..plugins import get_plugin_manager, hookimpl
from ..robustness import certify
from ..strategies._common import gradient_start
from .grid import data_file_digest

__all__ = ["base_record", "machine_info", "run_cell", "traceback_tail", "versions"]

TRACEBACK_LINES = 25
"""Lines of a crashed cell's traceback kept in its record."""


def machine_info() -> dict:
    """Where a cell ran."""
    return {
        "node": platform.node(),
        "processor": platform.processor() or platform.machine(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict:
    """Versions of bnnmip and of the libraries a cell's numbers depend on."""
    import scipy  # lazy: start-up cost (scipy submodule)
    import sklearn  # lazy: start-up cost (scikit-learn)

    return {"bnnmip": __version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__}


def traceback_tail(text: str, lines: int = TRACEBACK_LINES) -> str:
    """The last ``lines`` lines of a traceback (or of a worker's standard error)."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def base_record(key: str, config: dict) -> dict:
    """The fields every record has, whatever happened to the cell."""
    return {
        "key": key,
        "config": config,
        "status": None,
        "message": "",
        "objective": None,
        "bound": None,
        "gap": None,
        "nodes": None,
        "loss": None,
        "solves": 0,
        "build_seconds": None,
        "solve_seconds": None,
        "wall_seconds": None,
        "accuracy": {"train": None, "validation": None, "test": None},
        "points": {"train": None, "validation": None, "test": None},
        "mismatches": None,
        "verified": None,
        "certified": [],
        "history": [],
        "problem_size": None,
        "solver": {"name": config.get("backend"), "version": None},
        "versions": {},
        "machine": machine_info(),
        "worker_pid": os.getpid(),
        "traceback": None,
        **({} if config.get("model") in ("bdnn", "mlp") else {"baseline": {}}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _load(config: dict):
    expected = config.get("data_sha256")
    if expected is not None and data_file_digest(config["dataset"]) != expected:
        raise InvalidInputError(
            f"data file {config['dataset']} changed after the grid was built (its contents no longer "
            "match the cell's key); run 'bnnmip compare' again to key the cells by the new contents"
        )
    ds = load_dataset(config["dataset"], label=config.get("label"))
    X, y = ds.X, ds.y
    seed = config["seed"]
    cap = config.get("max_points")
    if cap is not None and cap < X.shape[0]:
        X, _, y, _ = split_dataset(X, y, test_size=0, train_size=int(cap), seed=seed)
    test = config["test_fraction"]
    X_rest, X_test, y_rest, y_test = split_dataset(X, y, test_size=test, seed=seed)
    share = config["validation_fraction"] / (1 - test)
    X_train, X_val, y_train, y_val = split_dataset(X_rest, y_rest, test_size=share, seed=seed)
    return {"rest": (X_rest, y_rest), "train": (X_train, y_train), "validation": (X_val, y_val),
            "test": (X_test, y_test), "share": share}


def _sum(values):
    values = [v for v in values if v is not None]
    return sum(values) if values else None


class _Heartbeat:
    """Tells the parent about each strategy iteration (the watchdog's rolling deadline)."""

    def __init__(self, emit):
        self.emit = emit

    @hookimpl
    def bnnmip_strategy_iteration(self, strategy, iteration, record):
        """Send an ``iteration`` event."""
        self.emit({"event": "iteration", "iteration": iteration})


def _fit_bdnn(config: dict, parts: dict, record: dict, emit) -> object:
    from ..estimator import BDNNClassifier  # lazy: start-up cost (the estimator imports scikit-learn)

    X_fit, y_fit = parts["rest"] if config["uses_validation"] else parts["train"]
    clf = BDNNClassifier(
        hidden_layer_sizes=tuple(config["hidden"]),
        weight_domain=config["weight_domain"],
        backend=config["backend"],
        strategy=config["strategy"],
        formulation=config["formulation"],
        time_limit=config["time_limit"],
        time_budget=config["time_budget"],
        mip_gap=config["mip_gap"],
        threads=config["threads"],
        random_state=config["seed"],
        robust_radius=config["robust_radius"],
        strategy_params=dict(config["params"]),
        validation_fraction=parts["share"] if config["uses_validation"] else 0.0,
        solver_options=config.get("solver_options") or None,
    )
    pm = get_plugin_manager()
    beat = _Heartbeat(emit)
    pm.register(beat, name="bnnmip-experiments-heartbeat")
    emit({"event": "phase", "phase": "fit"})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X_fit, y_fit)
    except SolveFailedError as exc:
        record.update(status="failed", message=str(exc))
        return None
    finally:
        pm.unregister(name="bnnmip-experiments-heartbeat")
    res = clf.training_result_
    solves = res.solves
    record.update(
        status=clf.status_,
        objective=clf.objective_,
        bound=clf.bound_,
        gap=clf.gap_,
        nodes=_sum(s.nodes for s in solves),
        loss=res.loss,
        solves=len(solves),
        build_seconds=sum(s.build_seconds for s in solves),
        solve_seconds=sum(s.solve_seconds for s in solves),
        mismatches=int(clf.mismatches_),
        verified=bool(clf.verified_),
        history=[dict(h) for h in res.history],
        problem_size=dict(res.problem_size),
        solver={"name": res.backend, "version": solves[-1].solver_version},
        message=solves[-1].message.strip().splitlines()[0] if solves[-1].message.strip() else "",
    )
    return clf


def _fit_mlp(config: dict, parts: dict, record: dict, emit):
    from sklearn.neural_network import MLPClassifier  # lazy: start-up cost (scikit-learn)
    from sklearn.pipeline import make_pipeline  # lazy: start-up cost (scikit-learn)
    from sklearn.preprocessing import MinMaxScaler  # lazy: start-up cost (scikit-learn)

    X_train, y_train = parts["train"]
    if not config["hidden"]:
        raise ValueError("the mlp baseline needs at least one hidden layer")
    model = make_pipeline(
        MinMaxScaler(),
        MLPClassifier(hidden_layer_sizes=tuple(config["hidden"]), random_state=config["seed"],
                      **config["params"]),
    )
    emit({"event": "phase", "phase": "fit"})
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    mlp = model[-1]
    record.update(status="trained", solve_seconds=time.perf_counter() - t0, loss=float(mlp.loss_),
                  message=f"{mlp.n_iter_} iterations",
                  solver={"name": "sklearn-mlp", "version": record["versions"]["scikit-learn"]})
    return model


class _Predictor:
    """A fitted model's ``score`` on raw inputs (the record's accuracies)."""

    def __init__(self, predict, fitted=None):
        self.predict = predict
        self.fitted = fitted  # the model or network behind it (for tests and debugging)

    def score(self, X, y) -> float:
        return float(numpy.mean(self.predict(X) == numpy.asarray(y)))


def _scaled_parts(parts: dict):
    from sklearn.preprocessing import MinMaxScaler  # lazy: start-up cost (scikit-learn)

    X_train, y_train = parts["train"]
    X_val, y_val = parts["validation"]
    scaler = MinMaxScaler().fit(X_train)
    return scaler, scaler.transform(X_train), y_train, scaler.transform(X_val), y_val


def _fit_tuned(config: dict, parts: dict, record: dict, emit):
    """``mlp-tuned`` and ``logistic``: settings chosen on the validation part (bnnmip.baselines)."""
    from ..baselines import logistic_baseline, mlp_baseline  # lazy: start-up cost (scikit-learn)

    params = config["params"]
    scaler, X_train, y_train, X_val, y_val = _scaled_parts(parts)
    emit({"event": "phase", "phase": "fit"})
    if config["model"] == "mlp-tuned":
        if not config["hidden"]:
            raise ValueError("the mlp-tuned baseline needs at least one hidden layer")
        res = mlp_baseline(X_train, y_train, config["hidden"], X_val=X_val, y_val=y_val,
                           solvers=tuple(params["solvers"]), alphas=tuple(params["alphas"]),
                           restarts=int(params["restarts"]), seed=config["seed"],
                           max_iter=int(params["max_iter"]))
        mlp = res.model
        chosen = {"solver": res.settings["solver"], "alpha": res.settings["alpha"],
                  "random_state": res.settings["random_state"],
                  "restart": res.settings["random_state"] - config["seed"],
                  "restarts": int(params["restarts"]), "iterations": int(mlp.n_iter_)}
        loss, message = float(mlp.loss_), (f"{res.settings['solver']}, alpha={res.settings['alpha']:g}, "
                                           f"restart {chosen['restart']}, {mlp.n_iter_} iterations")
        name = "sklearn-mlp"
    else:
        res = logistic_baseline(X_train, y_train, X_val=X_val, y_val=y_val, cs=tuple(params["cs"]))
        chosen = {"C": res.settings["C"]}
        loss, message, name = None, f"C={res.settings['C']:g}", "sklearn-logistic"
    chosen.update(candidates=res.candidates, validation_accuracy=res.validation_accuracy)
    record.update(status="trained", solve_seconds=res.seconds, loss=loss, message=message,
                  baseline=chosen,
                  solver={"name": name, "version": record["versions"]["scikit-learn"]})
    model = res.model
    return _Predictor(lambda X: model.predict(scaler.transform(numpy.asarray(X, dtype=float))), model)


def _fit_gradient(config: dict, parts: dict, record: dict, emit):
    """``gradient``: the start ``exact`` would hand its solver (gradient descent + refit), alone.

    The network is trained on the training part as an ``exact`` cell of the same formulation,
    weight domain and robust radius is (the estimator's scaling, lowering and seed), by
    :func:`bnnmip.strategies._common.gradient_start` with the cell's ``start_seconds``. Its
    ``loss`` is the Hamming loss of its plain forward pass on the scaled training points, as
    an ``exact`` cell's.
    """
    from ..estimator import BDNNClassifier  # lazy: start-up cost (the estimator imports scikit-learn)

    X_train, y_train = parts["train"]
    clf = BDNNClassifier(hidden_layer_sizes=tuple(config["hidden"]),
                         weight_domain=config["weight_domain"], formulation=config["formulation"],
                         random_state=config["seed"], robust_radius=config["robust_radius"],
                         threads=config["threads"])
    prep = clf._prepare(X_train, y_train, None, check_backend=False)
    lowering = lower(prep.architecture, prep.data, formulation=config["formulation"],
                     robust=prep.robust, eps=clf.eps)
    emit({"event": "phase", "phase": "fit"})
    seconds = float(config["params"]["start_seconds"])
    t0 = time.perf_counter()
    net, info = gradient_start(lowering, seconds, seed=prep.options.seed)
    elapsed = time.perf_counter() - t0
    data = prep.data
    loss = net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)
    network = attrs.evolve(net, scaling=prep.scaling, classes=tuple(prep.classes.tolist()),
                           prediction_rule=prep.rule)
    record.update(
        status="trained", solve_seconds=elapsed, loss=loss,
        message=f"gradient start, {'realized' if info['start_realized'] else 'not realized'} "
                f"({info['start_seconds']:g} s of {seconds:g})",
        baseline={"start_seconds": seconds, "seconds_taken": info["start_seconds"],
                  "start_loss": info["start_loss"], "realized": bool(info["start_realized"])},
        solver={"name": "bnnmip-gradient", "version": record["versions"]["bnnmip"]},
    )
    classes = numpy.asarray(prep.classes)
    return _Predictor(lambda X: classes[network.predict_index(numpy.asarray(X, dtype=float))], network)


_FITS = {"bdnn": _fit_bdnn, "mlp": _fit_mlp, "mlp-tuned": _fit_tuned, "logistic": _fit_tuned,
         "gradient": _fit_gradient}


def _certify(clf, config: dict, parts: dict) -> list[dict]:
    X_test, y_test = parts["test"]
    out = []
    for radius in config["certify_radii"]:
        cert = certify(clf.network_, X_test, y_test, radius, backend=config["backend"],
                       time_limit=config["time_limit"])
        out.append({"radius": radius, "accuracy": cert.certified_accuracy,
                    "unknown": cert.n_unknown, "seconds": cert.seconds})
    return out


def run_cell(key: str, config: dict, emit: Callable[[dict], None] | None = None) -> dict:
    """Run one cell here, in this process, and return its record.

    ``emit`` receives progress events (``{"event": "phase", "phase": "fit" | "evaluate"}``,
    ``{"event": "iteration"}``) for the parent's watchdog. An exception inside the cell is
    caught: the record gets status ``"crashed"``, the message and the traceback tail.
    """
    emit = emit or (lambda event: None)
    t0 = time.perf_counter()
    record = base_record(key, config)
    try:
        record["versions"] = versions()
        parts = _load(config)
        record["points"] = {name: int(parts[name][1].shape[0]) for name in ("train", "validation", "test")}
        if config["model"] not in _FITS:
            raise InvalidInputError(f"unknown model {config['model']!r}; known: {', '.join(_FITS)}")
        fit = _FITS[config["model"]]
        model = fit(config, parts, record, emit)
        if model is not None:
            emit({"event": "phase", "phase": "evaluate"})
            record["accuracy"] = {
                name: float(model.score(*parts[name])) for name in ("train", "validation", "test")
            }
            if config["model"] == "bdnn" and config["certify_radii"]:
                record["certified"] = _certify(model, config, parts)
    except Exception as exc:  # the run goes on; the record says what happened
        record.update(
            status="crashed",
            message=f"{type(exc).__name__}: {exc}".strip()[:2000],
            traceback=traceback_tail(traceback.format_exc()),
        )
    record["wall_seconds"] = time.perf_counter() - t0
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return record
