"""Run one cell of a grid: load, split by the paper's protocol, fit, evaluate, one record.

This runs inside a worker process (see :mod:`bnnmip.experiments.run`): one cell per
process, one solver thread. The protocol (as in ``benchmarks/strategies.py``):

1. Load the data set; with ``max_points``, draw that many points first (stratified, seeded
   by the cell's seed).
2. Split off ``test_fraction`` (25 %) for testing, stratified by the seed, then
   ``validation_fraction`` of the whole (25 %) from the rest as validation data: 50/25/25.
3. Strategies that select models (``uses_validation``: ``split`` by default) fit on train +
   validation with ``validation_fraction = 0.25 / 0.75``: the estimator holds out exactly the
   same validation points (the same stratified, seeded draw). Other strategies, and the MLP
   baseline, fit on the 50 % training part only.
4. Min-max scaling is fitted on the points the model trains on (inside the estimator; the
   MLP baseline uses a ``MinMaxScaler`` on its training part).
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

import numpy

from .._version import __version__
from ..datasets import load_dataset, split_dataset
from ..errors import InvalidInputError, SolveFailedError
from ..plugins import get_plugin_manager, hookimpl
from ..robustness import certify
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
        fit = _fit_bdnn if config["model"] == "bdnn" else _fit_mlp
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
