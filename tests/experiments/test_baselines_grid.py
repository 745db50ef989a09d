"""The comparison's baselines: mlp-tuned, logistic, gradient (and the old single-run mlp).

Tiny instances (iris and wine, at most 60 points), one thread, fixed seeds. The gradient
baseline's start stops long before its 5 s on these sets, so no result depends on the clock.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnnmip
from bnnmip.experiments import Grid, ResultStore, load_results
from bnnmip.experiments.__main__ import main as experiments_main
from bnnmip.experiments.cell import _fit_gradient, _load, run_cell
from bnnmip.experiments.grid import BASELINES, load_config

ROOT = Path(__file__).resolve().parents[2]
NEW = ["mlp-tuned", "logistic", "gradient"]


def _cells(grid, model):
    return [(k, c) for k, c in grid.keyed_cells() if c["model"] == model]


def test_baseline_cells_and_the_old_mlp_keys():
    grid = Grid(datasets=["iris"], seeds=[0, 1], hidden=[[2]], formulations=["paper", "tight"],
                baselines=[*NEW, "mlp"])
    assert set(BASELINES) == {*NEW, "mlp"}
    assert len(_cells(grid, "mlp-tuned")) == len(_cells(grid, "logistic")) == len(_cells(grid, "mlp")) == 2
    gradient = _cells(grid, "gradient")
    assert len(gradient) == 2 * 2  # seeds x formulations
    assert {c["formulation"] for _, c in gradient} == {"paper", "tight"}
    assert all(c["params"] == {"start_seconds": 5.0} and c["weight_domain"] == "continuous"
               for _, c in gradient)
    tuned = _cells(grid, "mlp-tuned")[0][1]
    assert tuned["uses_validation"] and tuned["params"]["solvers"] == ["lbfgs", "adam"]
    # adding baselines leaves the keys of the mlp (and BDNN) cells as they were
    old = Grid(datasets=["iris"], seeds=[0, 1], hidden=[[2]], formulations=["paper", "tight"],
               baselines=["mlp"])
    assert {k for k, _ in old.keyed_cells()} <= {k for k, _ in grid.keyed_cells()}
    # comma-separated names, as one flag value
    assert Grid(datasets=["iris"], baselines=["mlp-tuned,logistic"]).baselines == ["mlp-tuned", "logistic"]
    with pytest.raises(bnnmip.InvalidInputError, match="unknown baseline 'mlp-tunde'"):
        Grid(datasets=["iris"], baselines=["mlp-tunde"])
    with pytest.raises(bnnmip.InvalidInputError, match="unknown setting.*restart; known"):
        Grid(datasets=["iris"], baselines=["mlp-tuned"], baseline_params={"mlp-tuned": {"restart": 5}})
    smaller = Grid(datasets=["iris"], baselines=["mlp-tuned"], baseline_params={"mlp-tuned": {"restarts": 1}})
    assert _cells(smaller, "mlp-tuned")[0][1]["params"]["restarts"] == 1


def test_gradient_seconds_are_those_exact_gives_its_start():
    budget = Grid(datasets=["iris"], baselines=["gradient"], time_budgets=[8])
    assert _cells(budget, "gradient")[0][1]["params"] == {"start_seconds": 2.0}  # a quarter of 8 s
    own = Grid(datasets=["iris"], baselines=["gradient"], strategy_params={"exact": {"start_seconds": 1}})
    assert _cells(own, "gradient")[0][1]["params"] == {"start_seconds": 1.0}


def test_committed_mlp_cells_keep_their_keys():
    """The paper protocol's committed store: its mlp cells are cells of the grid with every baseline."""
    config = load_config(ROOT / "docs" / "experiments" / "paper-protocol.toml")["grid"]
    grid = Grid.from_mapping({**config, "baselines": ["mlp", *NEW]})
    keys = {k for k, _ in grid.keyed_cells()}
    stored = [r for r in ResultStore(ROOT / "docs" / "experiments" / "paper-protocol.jsonl").records()
              if r["config"]["model"] == "mlp"]
    assert stored and all(r["key"] in keys for r in stored)


def _numpy_loss_and_predictions(net, X, y_index):
    """The binarized network's Hamming loss and predicted class indices, by hand."""
    lo, span = X.min(axis=0), X.max(axis=0) - X.min(axis=0)  # min-max on the training part
    a = (X - lo) / np.where(span > 0, span, 1.0)
    pre = None
    for W, b in zip(net.weights, net.biases, strict=True):
        pre = a @ W.T + b
        a = (pre > 0).astype(float)
    loss = np.abs(a - np.eye(a.shape[1])[y_index]).sum()
    scores = pre if net.prediction_rule.value == "preactivation" else a
    return float(loss), np.argmax(scores, axis=1)


@pytest.mark.slow
def test_gradient_baseline_is_the_exact_start_and_its_loss_checks_out():
    grid = Grid(datasets=["iris"], seeds=[0], hidden=[[2]], max_points=24, time_limits=[10],
                baselines=["gradient"])
    (_, exact), = [(k, c) for k, c in grid.keyed_cells() if c["model"] == "bdnn"]
    (key, config), = _cells(grid, "gradient")
    parts = _load(config)
    record = {"versions": {"bnnmip": bnnmip.__version__}}
    model = _fit_gradient(config, parts, record, lambda e: None)
    X, y = parts["train"]
    classes = np.unique(y)
    loss, pred = _numpy_loss_and_predictions(model.fitted, X, np.searchsorted(classes, y))
    assert record["loss"] == pytest.approx(loss, abs=1e-9)
    assert model.score(X, y) == pytest.approx(np.mean(classes[pred] == y))
    assert record["baseline"]["realized"] is True and record["baseline"]["start_seconds"] == 5.0

    full = run_cell(key, config)
    assert full["status"] == "trained" and full["solver"]["name"] == "bnnmip-gradient"
    assert full["loss"] == pytest.approx(loss)
    assert full["accuracy"]["train"] == pytest.approx(model.score(X, y))
    # the exact cell of the same data and seed starts from the same gradient network
    solved = run_cell("exact", exact)
    start = next(h for h in solved["history"] if h.get("start") == "ste")
    assert start["start_loss"] == pytest.approx(full["baseline"]["start_loss"])
    assert solved["loss"] <= full["loss"] + 1e-9  # the MILP never ends worse than its start


@pytest.mark.slow
def test_tuned_mlp_is_at_least_the_single_adam_run_on_validation():
    """The tuned grid contains the single run's settings (adam, alpha 1e-4, random_state = seed),
    on the same scaled training part: selection on validation can only match or beat it."""
    grid = Grid(datasets=["wine"], seeds=[0, 1], hidden=[[2]], max_points=60, baselines=["mlp", "mlp-tuned"],
                bdnn=False, mlp_params={"max_iter": 300},
                baseline_params={"mlp-tuned": {"alphas": [1e-4, 1e-1], "restarts": 2, "max_iter": 300}})
    records = {(c["model"], c["seed"]): run_cell(k, c) for k, c in grid.keyed_cells()}
    for seed in (0, 1):
        single, tuned = records[("mlp", seed)], records[("mlp-tuned", seed)]
        assert single["status"] == tuned["status"] == "trained"
        assert tuned["accuracy"]["validation"] >= single["accuracy"]["validation"]
        chosen = tuned["baseline"]
        assert chosen["validation_accuracy"] == pytest.approx(tuned["accuracy"]["validation"])
        assert chosen["solver"] in ("lbfgs", "adam")
        assert chosen["alpha"] in tuned["config"]["params"]["alphas"]
        assert chosen["restarts"] == 2 and chosen["candidates"] == 2 * 2 * 2
        assert chosen["random_state"] == seed + chosen["restart"]
    logistic = run_cell("l", _cells(Grid(datasets=["wine"], max_points=60, baselines=["logistic"],
                                         bdnn=False), "logistic")[0][1])
    assert logistic["baseline"]["C"] in (0.01, 0.1, 1.0, 10.0, 100.0)
    assert logistic["baseline"]["candidates"] == 5 and logistic["loss"] is None


@pytest.mark.slow
def test_compare_report_and_load_results_show_the_baselines(tmp_path, capsys):
    store, out = tmp_path / "runs.jsonl", tmp_path / "report"
    config = tmp_path / "grid.toml"  # the tuned MLP's search made smaller, to keep the test short
    config.write_text('[grid]\ndatasets = ["iris"]\nmlp_params = {max_iter = 300}\n'
                      '[grid.baseline_params.mlp-tuned]\n'
                      'alphas = [1e-4, 1e-2]\nrestarts = 2\nmax_iter = 300\n')
    flags = ["compare", "--config", str(config), "--seeds", "0", "1", "--hidden", "2", "--max-points", "40",
             "--time-limits", "10", "--baselines", *NEW, "mlp", "--store", str(store), "--workers", "1"]
    assert experiments_main(flags) == 0
    records = list(ResultStore(store).latest().values())
    by_model = {}
    for r in records:
        by_model.setdefault(r["config"]["model"], []).append(r)
    assert {m: len(rs) for m, rs in by_model.items()} == {"bdnn": 2, "mlp-tuned": 2, "logistic": 2,
                                                           "gradient": 2, "mlp": 2}
    assert all(r["status"] in ("trained", "optimal") for r in records), [r["message"] for r in records]
    assert "baseline" not in by_model["mlp"][0]  # the old baseline's records as before

    assert experiments_main(["report", str(store), "--output", str(out)]) == 0
    md = (out / "report.md").read_text()
    for text in ("MLP tuned (ReLU, lbfgs/adam x alpha x restarts, chosen on validation)",
                 "logistic regression (C chosen on validation)",
                 "gradient start alone (STE + refit, no MILP)",
                 "mlp (ReLU, sklearn, one Adam run)", "chosen (over seeds)", "refit met the margins 2/2"):
        assert text in md, text
    with (out / "accuracy.csv").open() as fh:
        accuracy = {r["model"]: r for r in csv.DictReader(fh)}
    tuned = by_model["mlp-tuned"]
    chosen = accuracy["mlp-tuned"]["chosen"]
    assert all(f"{r['baseline']['solver']} alpha={r['baseline']['alpha']:g}" in chosen for r in tuned)
    assert float(accuracy["logistic"]["test_mean"]) == pytest.approx(
        np.mean([r["accuracy"]["test"] for r in by_model["logistic"]]))

    df = load_results(store)
    for name in ("baseline_solver", "baseline_alpha", "baseline_restarts", "baseline_c",
                 "baseline_start_seconds", "baseline_realized", "baseline_validation_accuracy"):
        assert name in df.columns, name
    rows = df.set_index("key")
    for r in records:
        row, chosen = rows.loc[r["key"]], r.get("baseline") or {}
        model = r["config"]["model"]
        assert (row["baseline_solver"] == chosen["solver"]) if model == "mlp-tuned" \
            else pd.isna(row["baseline_solver"])
        assert (row["baseline_c"] == chosen["C"]) if model == "logistic" else pd.isna(row["baseline_c"])
        if model == "gradient":
            assert row["baseline_start_seconds"] == 5.0 and bool(row["baseline_realized"])
    assert json.loads(rows.loc[tuned[0]["key"], "param_solvers"]) == ["lbfgs", "adam"]
