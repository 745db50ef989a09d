"""A results store as a tidy table: one row per cell, one value per field.

>>> from bnnmip.experiments import load_results  # doctest: +SKIP
>>> df = load_results("runs.jsonl")
>>> df.groupby(["dataset", "backend"]).test_accuracy.mean()

:func:`load_results` needs pandas (``pip install pandas``, or ``pip install 'bnnmip[experiments]'``);
:func:`tidy_records` gives the same rows as plain dicts without it, and ``bnnmip report`` writes
them as ``cells.csv``. :func:`to_parquet` writes the table as Parquet (needs pyarrow: ``pip
install 'bnnmip[parquet]'``).

Columns
-------
Every row is the *last* record of a cell key (a cell rerun with ``--retry-failed`` counts once).
The fixed columns, in this order:

- ``key``: the cell's key (a hash of its configuration);
- configuration: ``dataset``, ``model`` (``bdnn`` or a baseline: ``mlp-tuned``, ``logistic``,
  ``gradient``, ``mlp``), ``strategy``,
  ``formulation``, ``backend``, ``seed``, ``hidden`` (the hidden widths joined by ``x``, ``0``
  for none), ``n_hidden_layers``, ``weight_domain``, ``robust_radius``, ``time_limit``,
  ``time_budget``, ``mip_gap``, ``max_points``, ``uses_validation``, ``test_fraction``,
  ``validation_fraction``, ``threads``;
- outcome: ``status`` (``optimal``, ``feasible``, ``trained``, ``failed``, ``crashed``, ``hung``),
  ``objective``, ``bound``, ``gap``, ``nodes``, ``loss``, ``solves``, ``iterations`` (strategy
  iterations: split rounds, local-search rounds), ``mismatches``, ``verified``;
- times in seconds: ``build_seconds``, ``solve_seconds``, ``wall_seconds``, ``process_seconds``;
- accuracy: ``train_accuracy``, ``validation_accuracy``, ``test_accuracy`` and the part sizes
  ``train_points``, ``validation_points``, ``test_points``;
- MILP size: ``problem_rows``, ``problem_variables``, ``problem_binaries``, ``problem_integers``,
  ``problem_nonzeros``;
- provenance: ``solver``, ``solver_version``, ``bnnmip_version``, ``numpy_version``,
  ``scipy_version``, ``sklearn_version``, ``node``, ``processor``, ``cpu_count``, ``platform``,
  ``python_version``, ``executor``, ``started``, ``finished`` (UTC timestamps; pandas
  datetimes in :func:`load_results`), ``message`` (its first line, at most 300 characters).

Then, only where some cell has them, one column per value of the nested fields:

- ``param_<name>``: each strategy parameter (``split``'s ``max_splits``...) or baseline
  parameter (the MLP's ``max_iter``...) of the cell's configuration;
- ``solver_option_<name>``: each solver option (``separating/maxrounds`` becomes
  ``solver_option_separating_maxrounds``);
- ``baseline_<name>``: what a baseline cell chose or did (its record's ``baseline`` field):
  ``mlp-tuned``: ``baseline_solver``, ``baseline_alpha``, ``baseline_random_state``,
  ``baseline_restart``, ``baseline_restarts``, ``baseline_iterations``; ``logistic``:
  ``baseline_c``; both: ``baseline_candidates`` (models tried) and
  ``baseline_validation_accuracy`` (the chosen one's); ``gradient``: ``baseline_start_seconds``
  (allowed), ``baseline_seconds_taken``, ``baseline_start_loss`` (before the refit to the
  margins), ``baseline_realized`` (the refit met them);
- ``certified_accuracy_r<radius>``, ``certified_unknown_r<radius>``,
  ``certified_seconds_r<radius>``: the certified test accuracy at each radius, the test points
  whose certificate was not decided, and the seconds it took (radius 0.05 becomes ``r0_05``).

A cell without a value has an empty field (``NaN``, ``<NA>`` or ``None`` in pandas; counts are
nullable ``Int64`` columns, ``uses_validation`` and ``verified`` nullable ``boolean``). Column
names are snake_case: any other character of a parameter or option name becomes ``_``. A
parameter whose value is a list or a mapping is kept as its JSON text.
"""

from __future__ import annotations

import json
import re

from ..errors import BnnmipError, InvalidInputError
from ..training import AUXILIARY_RECORD_KEYS
from .store import ResultStore

__all__ = ["COLUMNS", "MissingDependencyError", "load_results", "tidy_record", "tidy_records", "to_parquet"]


def hidden_label(config) -> str:
    """The hidden widths of a cell's configuration as ``2x2`` (``0`` without hidden layers)."""
    return "x".join(str(w) for w in config.get("hidden") or []) or "0"


def config_value(config: dict, field: str):
    """One configuration field as a table value (widths joined, parameters as sorted JSON)."""
    if field == "hidden":
        return hidden_label(config)
    if field in ("params", "solver_options"):
        params = config.get(field)
        return json.dumps(params, sort_keys=True) if params else ""
    value = config.get(field)
    return "" if value is None else value


def flatten(record: dict) -> dict:
    """One CSV row of a record."""
    c = record.get("config", {})
    acc = record.get("accuracy") or {}
    pts = record.get("points") or {}
    machine = record.get("machine") or {}
    solver = record.get("solver") or {}
    cert = record.get("certified") or []
    return {
        "key": record.get("key"),
        "dataset": c.get("dataset"),
        "model": c.get("model"),
        "strategy": c.get("strategy"),
        "formulation": c.get("formulation"),
        "backend": c.get("backend"),
        "seed": c.get("seed"),
        "hidden": hidden_label(c),
        "weight_domain": c.get("weight_domain"),
        "robust_radius": c.get("robust_radius"),
        "time_limit": c.get("time_limit"),
        "time_budget": c.get("time_budget"),
        "mip_gap": c.get("mip_gap"),
        "params": config_value(c, "params"),
        "solver_options": config_value(c, "solver_options"),
        "max_points": c.get("max_points"),
        "uses_validation": c.get("uses_validation"),
        "status": record.get("status"),
        "objective": record.get("objective"),
        "bound": record.get("bound"),
        "gap": record.get("gap"),
        "nodes": record.get("nodes"),
        "loss": record.get("loss"),
        "solves": record.get("solves"),
        "build_seconds": record.get("build_seconds"),
        "solve_seconds": record.get("solve_seconds"),
        "wall_seconds": record.get("wall_seconds"),
        "process_seconds": record.get("process_seconds"),
        "train_accuracy": acc.get("train"),
        "validation_accuracy": acc.get("validation"),
        "test_accuracy": acc.get("test"),
        "train_points": pts.get("train"),
        "validation_points": pts.get("validation"),
        "test_points": pts.get("test"),
        "mismatches": record.get("mismatches"),
        "verified": record.get("verified"),
        "certified": ";".join(f"{e['radius']:g}:{e['accuracy']:.4f}" for e in cert),
        # strategy iterations, as TrainingResult.iterations: not the start, formulation, ... records
        "iterations": sum(1 for r in record.get("history") or []
                          if not AUXILIARY_RECORD_KEYS.intersection(r)),
        "solver": solver.get("name"),
        "solver_version": solver.get("version"),
        "bnnmip_version": (record.get("versions") or {}).get("bnnmip"),
        "node": machine.get("node"),
        "processor": machine.get("processor"),
        "cpu_count": machine.get("cpu_count"),
        "executor": record.get("executor"),
        "started": record.get("started"),
        "finished": record.get("finished"),
        "message": (record.get("message") or "").splitlines()[0][:300] if record.get("message") else "",
    }



class MissingDependencyError(BnnmipError, ImportError):
    """An optional package a function needs is not installed."""


COLUMNS = (
    "key", "dataset", "model", "strategy", "formulation", "backend", "seed", "hidden",
    "n_hidden_layers", "weight_domain", "robust_radius", "time_limit", "time_budget", "mip_gap",
    "max_points", "uses_validation", "test_fraction", "validation_fraction", "threads",
    "status", "objective", "bound", "gap", "nodes", "loss", "solves", "iterations", "mismatches",
    "verified", "build_seconds", "solve_seconds", "wall_seconds", "process_seconds",
    "train_accuracy", "validation_accuracy", "test_accuracy", "train_points", "validation_points",
    "test_points", "problem_rows", "problem_variables", "problem_binaries", "problem_integers",
    "problem_nonzeros", "solver", "solver_version", "bnnmip_version", "numpy_version",
    "scipy_version", "sklearn_version", "node", "processor", "cpu_count", "platform",
    "python_version", "executor", "started", "finished", "message",
)
"""The fixed columns of :func:`tidy_records` and :func:`load_results`, in order."""

_INTEGER_COLUMNS = ("seed", "n_hidden_layers", "max_points", "threads", "nodes", "solves", "iterations",
                    "mismatches", "train_points", "validation_points", "test_points", "problem_rows",
                    "problem_variables", "problem_binaries", "problem_integers", "problem_nonzeros",
                    "cpu_count")

_PREFIXES = ("param_", "solver_option_", "baseline_", "certified_accuracy_r", "certified_unknown_r",
             "certified_seconds_r")
_FIRST_CERTIFICATE = _PREFIXES.index("certified_accuracy_r")


def _snake(name) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()


def _radius(radius) -> str:
    return _snake(f"{float(radius):g}")


def _scalar(value):
    """A field value: scalars as they are, anything else as JSON (one value still)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True)


def tidy_record(record: dict) -> dict:
    """One cell's record as a flat row (see the module docstring for the columns).

    Parameters
    ----------
    record : dict
        A record as the results store holds it.

    Returns
    -------
    dict
        Column name to value (``None`` where the cell has no value).
    """
    flat = flatten(record)
    config = record.get("config") or {}
    versions = record.get("versions") or {}
    machine = record.get("machine") or {}
    size = record.get("problem_size") or {}
    row = {name: flat.get(name) for name in COLUMNS}
    row.update({
        "n_hidden_layers": len(config.get("hidden") or []),
        "test_fraction": config.get("test_fraction"),
        "validation_fraction": config.get("validation_fraction"),
        "threads": config.get("threads"),
        "numpy_version": versions.get("numpy"),
        "scipy_version": versions.get("scipy"),
        "sklearn_version": versions.get("scikit-learn"),
        "platform": machine.get("platform"),
        "python_version": machine.get("python"),
        **{f"problem_{k}": size.get(k) for k in ("rows", "variables", "binaries", "integers", "nonzeros")},
    })
    if row["message"] == "":
        row["message"] = None
    for name, value in sorted((config.get("params") or {}).items()):
        row[f"param_{_snake(name)}"] = _scalar(value)
    for name, value in sorted((config.get("solver_options") or {}).items()):
        row[f"solver_option_{_snake(name)}"] = _scalar(value)
    for name, value in sorted((record.get("baseline") or {}).items()):
        row[f"baseline_{_snake(name)}"] = _scalar(value)
    for entry in record.get("certified") or []:
        r = _radius(entry["radius"])
        row[f"certified_accuracy_r{r}"] = entry.get("accuracy")
        row[f"certified_unknown_r{r}"] = entry.get("unknown")
        row[f"certified_seconds_r{r}"] = entry.get("seconds")
    return row


def _records(store) -> list[dict]:
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    if not store.path.is_file():
        raise InvalidInputError(f"results store {store.path} was not found; run 'bnnmip compare' first")
    return list(store.latest().values())


def _column_order(rows: list[dict]) -> list[str]:
    extra = {k for row in rows for k in row if k not in COLUMNS}

    def order(name):
        prefix = next(i for i, p in enumerate(_PREFIXES) if name.startswith(p))
        tail = name[len(_PREFIXES[prefix]):]
        if prefix >= _FIRST_CERTIFICATE:  # certificates: by radius
            try:
                return (prefix, float(tail.replace("e_", "e-").replace("_", ".")), tail)
            except ValueError:
                return (prefix, float("inf"), tail)
        return (prefix, 0.0, tail)

    return [*COLUMNS, *sorted(extra, key=order)]


def tidy_records(records_or_store) -> tuple[list[str], list[dict]]:
    """The rows of a store (or of a list of records) and their columns, without pandas.

    Parameters
    ----------
    records_or_store : ResultStore, path or list of dict
        A results store (its last record per key), or records.

    Returns
    -------
    columns : list of str
        :data:`COLUMNS`, then the ``param_``, ``solver_option_``, ``baseline_`` and ``certified_`` columns
        some row has (certificates ordered by radius).
    rows : list of dict
        One per cell; every row has every column (``None`` where it has no value).
    """
    if isinstance(records_or_store, list):
        records = records_or_store
    else:
        records = _records(records_or_store)
    rows = [tidy_record(r) for r in records]
    columns = _column_order(rows)
    return columns, [{c: row.get(c) for c in columns} for row in rows]


def _pandas():
    try:
        import pandas  # lazy: optional dependency (the experiments extra)
    except ImportError:
        raise MissingDependencyError(
            "load_results needs pandas, which is not installed: pip install pandas "
            "(or pip install 'bnnmip[experiments]'); without pandas, tidy_records() gives the "
            "same rows as dicts and 'bnnmip report' writes them as cells.csv"
        ) from None
    return pandas


def load_results(store):
    """A results store as a pandas DataFrame: one row per cell, flat snake_case columns.

    Parameters
    ----------
    store : ResultStore or path
        The JSON-lines results store ``bnnmip compare`` wrote.

    Returns
    -------
    pandas.DataFrame
        The columns listed in :mod:`bnnmip.experiments.results`; ``started`` and
        ``finished`` as UTC datetimes.

    Raises
    ------
    MissingDependencyError
        pandas is not installed.
    bnnmip.InvalidInputError
        The store does not exist.
    """
    pd = _pandas()
    columns, rows = tidy_records(store)
    df = pd.DataFrame.from_records(rows, columns=columns)
    for name in ("started", "finished"):
        df[name] = pd.to_datetime(df[name], utc=True, errors="coerce", format="%Y-%m-%dT%H:%M:%S%z")
    for name in _INTEGER_COLUMNS:  # nullable integers: a missing count stays an integer column
        df[name] = df[name].astype("Int64")
    for name in ("uses_validation", "verified"):
        df[name] = df[name].astype("boolean")
    return df


def to_parquet(store, path) -> None:
    """Write :func:`load_results` of ``store`` (or a DataFrame) to a Parquet file.

    Parameters
    ----------
    store : ResultStore, path or pandas.DataFrame
        The results store, or a DataFrame from :func:`load_results`.
    path : str or path
        The Parquet file to write.

    Raises
    ------
    MissingDependencyError
        pandas or pyarrow is not installed.
    """
    pd = _pandas()
    try:
        import pyarrow  # noqa: F401  # lazy: optional dependency (the parquet extra)
    except ImportError:
        raise MissingDependencyError(
            "Parquet export needs pyarrow, which is not installed: pip install pyarrow (or pip "
            "install 'bnnmip[parquet]'); load_results() and cells.csv need no pyarrow"
        ) from None
    df = store if isinstance(store, pd.DataFrame) else load_results(store)
    df.to_parquet(path, engine="pyarrow", index=False)
