"""Tidy results: load_results (pandas), tidy_records, cells.csv with one value per field, Parquet."""

import csv
import json
import math
import sys
from pathlib import Path

import pytest

from bnnmip.experiments import Grid, LocalExecutor, ResultStore, load_results, report, run_grid, tidy_records
from bnnmip.experiments.results import COLUMNS, MissingDependencyError, to_parquet

ROOT = Path(__file__).resolve().parents[2]
PAPER_STORE = ROOT / "docs" / "experiments" / "paper-protocol.jsonl"


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    """A tiny grid run for real: exact cells on two backends with a solver option and
    certificates at two radii, split cells with a strategy parameter, and the MLP baseline."""
    store = tmp_path_factory.mktemp("results") / "runs.jsonl"
    grid = Grid(datasets=["iris"], backends=["highs", "scip"], strategies=["exact", "split"],
                strategy_params={"split": {"max_splits": 2}},
                solver_options={"scip": {"separating/maxrounds": 0}},
                seeds=[0, 1], time_limits=[5], time_budgets=[30], hidden=[[2]], max_points=24,
                certify_radii=[0.0, 0.05], baselines=["mlp"], mlp_params={"max_iter": 300})
    run_grid(grid, store, LocalExecutor(2), grace=60.0)
    return store


def _is_scalar(v):
    return v is None or isinstance(v, str | int | float | bool)


def test_tidy_rows_of_a_real_grid(tiny_store):
    records = list(ResultStore(tiny_store).latest().values())
    columns, rows = tidy_records(tiny_store)
    assert len(rows) == len(records) == 2 * 2 * 2 + 2  # backends x strategies x seeds + 2 MLP cells
    assert columns[: len(COLUMNS)] == list(COLUMNS)
    assert len(set(columns)) == len(columns)
    extra = columns[len(COLUMNS):]
    assert extra == ["param_max_iter", "param_max_splits", "solver_option_separating_maxrounds",
                     "certified_accuracy_r0", "certified_accuracy_r0_05", "certified_unknown_r0",
                     "certified_unknown_r0_05", "certified_seconds_r0", "certified_seconds_r0_05"]
    for row, rec in zip(rows, records, strict=True):
        assert list(row) == columns
        assert all(_is_scalar(v) for v in row.values()), row
        config = rec["config"]
        assert row["key"] == rec["key"] and row["seed"] == config["seed"]
        assert row["test_accuracy"] == rec["accuracy"]["test"]
        assert row["test_points"] == rec["points"]["test"]
        by_radius = {e["radius"]: e["accuracy"] for e in rec.get("certified") or []}
        assert row["certified_accuracy_r0"] == by_radius.get(0.0)
        assert row["certified_accuracy_r0_05"] == by_radius.get(0.05)
        if config["model"] == "mlp":
            assert row["param_max_iter"] == 300 and row["param_max_splits"] is None
            assert row["certified_accuracy_r0"] is None
        else:
            assert row["n_hidden_layers"] == 1 and row["hidden"] == "2"
            assert row["problem_rows"] == rec["problem_size"]["rows"]
            assert row["solver_option_separating_maxrounds"] == (0 if config["backend"] == "scip" else None)
            assert row["param_max_splits"] == (2 if config["strategy"] == "split" else None)
            if row["strategy"] == "exact":
                # radius 0: certified accuracy is plain test accuracy
                assert row["certified_accuracy_r0"] == pytest.approx(row["test_accuracy"])


def test_load_results_dataframe(tiny_store):
    df = load_results(tiny_store)
    columns, rows = tidy_records(tiny_store)
    assert list(df.columns) == columns and len(df) == len(rows)
    assert str(df["seed"].dtype) == "Int64" and str(df["verified"].dtype) == "boolean"
    assert str(df["started"].dtype).startswith("datetime64") and df["started"].notna().all()
    assert df["test_accuracy"].tolist() == [r["test_accuracy"] for r in rows]
    mlp = df[df["model"] == "mlp"]
    assert len(mlp) == 2 and mlp["backend"].isna().all() and mlp["nodes"].isna().all()
    means = df.groupby("model")["test_accuracy"].mean()
    assert set(means.index) == {"bdnn", "mlp"}


def test_cells_csv_has_one_value_per_field(tiny_store, tmp_path):
    files = report(tiny_store, tmp_path / "report")
    with Path(files["cells_csv"]).open() as fh:
        reader = csv.DictReader(fh)
        header, cells = reader.fieldnames, list(reader)
    columns, rows = tidy_records(tiny_store)
    assert header == columns and len(cells) == len(rows)
    for cell, row in zip(cells, rows, strict=True):
        assert ";" not in cell["certified_accuracy_r0_05"]
        for name, value in cell.items():
            assert not value.startswith(("{", "[")), (name, value)
            expected = row[name]
            if expected is None:
                assert value == "", name
            elif isinstance(expected, float):
                assert math.isclose(float(value), expected, rel_tol=1e-12), name
            elif isinstance(expected, bool):
                assert value == str(expected), name
            else:
                assert value == str(expected), name


def test_the_committed_paper_protocol_store_loads():
    df = load_results(PAPER_STORE)
    records = [json.loads(line) for line in PAPER_STORE.read_text().splitlines() if line.strip()]
    assert len(df) == len({r["key"] for r in records})
    assert df["test_accuracy"].notna().all()
    assert {"param_max_splits", "param_splitter", "param_max_iter"} <= set(df.columns)
    split = df[df["strategy"] == "split"]
    assert (split["param_max_splits"] == 20).all() and (split["param_splitter"] == "kmeans").all()
    for name in df.columns:  # nothing nested left
        assert not df[name].map(lambda v: isinstance(v, dict | list)).any(), name


def test_missing_pandas_is_a_clear_error(tiny_store, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(MissingDependencyError, match="pip install pandas.*tidy_records"):
        load_results(tiny_store)
    with pytest.raises(ImportError):  # also an ImportError, for code that catches that
        load_results(tiny_store)


def test_parquet_export(tiny_store, tmp_path, monkeypatch):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pip install pyarrow"):
            to_parquet(tiny_store, tmp_path / "runs.parquet")
        pytest.skip("pyarrow is not installed: checked the error message, not the file")
    import pandas as pd

    to_parquet(tiny_store, tmp_path / "runs.parquet")
    back = pd.read_parquet(tmp_path / "runs.parquet")
    pd.testing.assert_frame_equal(back, load_results(tiny_store), check_dtype=False)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match="pip install pyarrow"):
        to_parquet(tiny_store, tmp_path / "again.parquet")


def test_missing_store_is_a_clear_error(tmp_path):
    from bnnmip import InvalidInputError

    with pytest.raises(InvalidInputError, match="not found.*bnnmip compare"):
        load_results(tmp_path / "nope.jsonl")
