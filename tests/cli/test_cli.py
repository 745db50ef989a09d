import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest

from bnnmip.cli import main
from bnnmip.training import AUXILIARY_RECORD_KEYS

TRAIN = ["train", "breast-cancer-wisconsin", "--hidden", "2", "--train-size", "50", "--seed", "0"]


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_train_prints_the_summary_and_saves(capsys, tmp_path):
    model = tmp_path / "model.json"
    code, out, _ = run(capsys, *TRAIN, "-o", str(model))
    assert code == 0
    for text in ("50 train", "9 -> 2 -> 2", "binary", "OPTIMAL", "bound", "gap", "nodes",
                 "verified", "accuracy", "test"):
        assert text in out, text
    assert model.exists()


def test_train_json_is_consistent(capsys):
    code, out, _ = run(capsys, *TRAIN, "--json")
    assert code == 0
    s = json.loads(out)
    assert s["solve"]["status"] == "optimal" and s["train_points"] == 50
    assert s["verification"]["ok"] and s["verification"]["mismatches"] == 0
    assert s["verification"]["true_loss"] == pytest.approx(s["solve"]["objective"])
    # the default (tight) formulation gives each distinct point one set of binaries
    assert s["formulation"] == "tight"
    assert 0 < s["problem"]["binaries"] <= 50 * (2 + 2)
    # zero training loss means both prediction rules agree on the training points
    assert s["accuracy"]["preactivation"]["train"] == s["accuracy"]["binary"]["train"]
    assert 0.5 < s["accuracy"]["preactivation"]["test"] <= 1


def test_export_is_read_by_an_independent_solver_with_the_same_optimum(capsys, tmp_path):
    pyscipopt = pytest.importorskip("pyscipopt")
    code, out, _ = run(capsys, *TRAIN, "--json")
    objective = json.loads(out)["solve"]["objective"]
    code, out, _ = run(capsys, "export", *TRAIN[1:], "-o", str(tmp_path / "bcw"))
    assert code == 0 and "bcw.mps" in out and "bcw.lp" in out
    model = pyscipopt.Model()
    model.hideOutput()
    model.readProblem(str(tmp_path / "bcw.mps"))
    model.setParam("limits/time", 60)
    model.optimize()
    assert model.getStatus() == "optimal"
    assert model.getObjVal() == pytest.approx(objective, abs=1e-6)


def test_predict_scores_labelled_data(capsys, tmp_path):
    model = tmp_path / "m.json"
    assert run(capsys, *TRAIN, "-o", str(model))[0] == 0
    rng = np.random.default_rng(0)
    X = rng.integers(1, 11, size=(6, 9))
    csv = tmp_path / "points.csv"
    np.savetxt(csv, np.column_stack([X, [0, 1, 0, 1, 0, 1]]), delimiter=",", fmt="%d")
    code, out, err = run(capsys, "predict", str(model), str(csv))
    assert code == 0
    preds = out.split()
    assert len(preds) == 6 and set(preds) <= {"0", "1"}
    assert "accuracy" in err and "6 labelled points" in err
    unlabelled = tmp_path / "x.csv"
    np.savetxt(unlabelled, X, delimiter=",", fmt="%d")
    code, out2, err2 = run(capsys, "predict", str(model), str(unlabelled), "--rule", "binary")
    assert code == 0 and len(out2.split()) == 6 and "accuracy" not in err2


def test_listing_commands(capsys):
    code, out, _ = run(capsys, "backends")
    assert code == 0 and "highs" in out and "yes" in out
    code, out, _ = run(capsys, "plugins")
    assert code == 0 and "bnnmip_highs" in out and "loaded" in out
    code, out, _ = run(capsys, "datasets")
    assert code == 0 and "breast-cancer-wisconsin" in out and "iris" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "nosuchsolver"], "unknown backend 'nosuchsolver'; available:"),
        (["--hidden", "0"], "positive integers"),
        (["--weights", "integer:0"], "weight"),
    ],
)
def test_bad_options_give_clear_errors(capsys, args, message):
    code, out, err = run(capsys, *TRAIN, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_file_and_bad_time_limit(capsys, tmp_path):
    code, _, err = run(capsys, "train", str(tmp_path / "nope.csv"))
    assert code == 2 and "not found" in err
    with pytest.raises(SystemExit) as exc:
        main([*TRAIN, "--time-limit", "-1"])
    assert exc.value.code == 2
    assert "positive" in capsys.readouterr().err


def test_module_entry_point_runs_end_to_end(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bnnmip", *TRAIN, "--train-size", "30"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "OPTIMAL" in proc.stdout and "Running HiGHS" not in proc.stdout


@pytest.mark.parametrize("backend", ["highs", "scip", "cbc"])
def test_reference_breast_cancer_instance_same_optimum_on_every_backend(capsys, backend):
    """Issue 3: the same proven optimum (here 0, and 0 is the known optimum since every
    backend verifies a zero-loss network) from every built-in backend."""
    import bnnmip

    ok, reason = bnnmip.get_backend(backend).availability()
    if not ok:
        pytest.skip(reason)
    code, out, _ = run(capsys, *TRAIN, "--backend", backend, "--json")
    s = json.loads(out)
    assert code == 0 and s["solve"]["backend"] == backend
    assert s["solve"]["status"] == "optimal" and s["solve"]["objective"] == pytest.approx(0.0, abs=1e-6)
    assert s["verification"]["ok"]


def test_tight_formulation_gradient_start_and_margins_from_the_cli(capsys):
    code, out, _ = run(capsys, *TRAIN, "--formulation", "paper", "--json")
    assert code == 0 and json.loads(out)["problem"]["binaries"] == 50 * (2 + 2)
    code, out, _ = run(capsys, *TRAIN, "--formulation", "tight", "--margin", "max-min", "--json")
    assert code == 0
    s = json.loads(out)
    assert s["formulation"] == "tight" and s["solve"]["status"] == "optimal"
    assert s["verification"]["ok"] and s["loss"] == pytest.approx(s["solve"]["objective"])
    start = next(r for r in s["history"] if r.get("start") == "ste")
    assert start["start_loss"] >= s["loss"]
    margin = next(r for r in s["history"] if r.get("margin") == "max-min")
    assert margin["realized"] and margin["min_margin_after"] >= margin["min_margin_before"]
    assert s["verification"]["min_margin"] == pytest.approx(margin["min_margin_after"])
    # duplicates merged: fewer binaries than points x neurons
    assert s["problem"]["binaries"] < 50 * (2 + 2)

    code, out, _ = run(capsys, *TRAIN, "--formulation", "tight", "--margin", "max-min")
    assert code == 0
    assert "start        gradient-trained network" in out and "margins      refitted" in out


def test_a_zero_loss_start_is_reported_as_proven_without_a_search(capsys):
    code, out, _ = run(capsys, *TRAIN, "--json")
    s = json.loads(out)
    start = next(r for r in s["history"] if r.get("start") == "ste")
    assert start["start_loss"] == 0, "this test needs a training set the gradient start fits"
    assert s["status"] == "optimal" and s["solve"]["nodes"] == 0 and s["verification"]["ok"]
    code, out, _ = run(capsys, *TRAIN)
    assert "optimal, solver not called" in out
    code, out, _ = run(capsys, *TRAIN, "--param", "always_solve=true")
    assert code == 0 and "OPTIMAL" in out and "solver not called" not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--param", "always_solve=maybe"], "always_solve must be true or false"),
        (["--param", "start=magic"], "start must be one of ste, none"),
        (["--param", "start_seconds=0"], "start_seconds must be a positive number"),
        (["--param", "restarts=3"], "unknown exact parameter(s) restarts"),
        (["--margin", "widest"], "invalid choice: 'widest'"),
    ],
)
def test_bad_exact_params_and_margin_give_clear_errors(capsys, args, message):
    with pytest.raises(SystemExit) if args[0] == "--margin" else contextlib.nullcontext():
        code, _, err = run(capsys, *TRAIN, *args)
    if args[0] == "--margin":
        err = capsys.readouterr().err
    else:
        assert code == 2
    assert message in err and "Traceback" not in err


def test_version(capsys):
    import bnnmip

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"bnnmip {bnnmip.__version__}\n"


def test_train_json_verbose_is_json_on_stdout_with_the_solver_log_on_stderr(capfd):
    code = main([*TRAIN, "--json", "--verbose", "--param", "always_solve=true"])
    out, err = capfd.readouterr()
    assert code == 0
    s = json.loads(out)  # nothing but the summary on standard output
    assert s["solve"]["status"] == "optimal"
    assert "Presolving model" in err  # HiGHS' own log, moved to standard error
    assert "solver call 1 (highs): optimal" in err  # and the progress lines


def test_train_progress_without_a_terminal_and_quiet(capfd):
    assert main([*TRAIN, "--param", "always_solve=true"]) == 0
    out, err = capfd.readouterr()
    lines = err.splitlines()
    assert lines[0].startswith("bnnmip train: breast-cancer-wisconsin (699 points x 9 features), 50 train")
    assert lines[1].startswith("  network 9 -> 2 -> 2") and lines[2].startswith("  limits  time limit 60 s")
    assert any(line.startswith("solver call 1 (highs): MILP") for line in lines)
    assert lines[-1].startswith("solver call 1 (highs): optimal, objective 0")
    assert "\x1b" not in err and out.startswith("bnnmip train:")
    assert main([*TRAIN, "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert err == "" and "OPTIMAL" in out


def test_train_times_add_up_to_the_whole_run(capsys):
    code, out, _ = run(capsys, *TRAIN, "--json")
    t = json.loads(out)["times"]
    parts = ("startup", "data", "start", "bound", "build", "solver", "strategy", "fit_other", "report")
    assert all(t[k] >= 0 for k in parts) and t["solves"] == 1
    assert sum(t[k] for k in parts) == pytest.approx(t["total"], abs=0.01)
    code, out, _ = run(capsys, *TRAIN)
    line = next(x for x in out.splitlines() if x.startswith("  time"))
    assert line.startswith("  time         total ") and " s = start-up " in line and "+ solver " in line


def test_split_tells_one_status_story(capsys):
    args = [*TRAIN, "--strategy", "split", "--param", "max_splits=3", "--param", "start=none"]  # splits run
    code, out, _ = run(capsys, *args, "--json")
    s = json.loads(out)
    iterations = [r for r in s["history"] if not AUXILIARY_RECORD_KEYS.intersection(r)]  # not start records
    assert code == 0 and s["solves"] == len(iterations) == sum(s["solve_counts"].values())
    assert s["status"] == "optimal" and s["loss"] == 0
    assert s["status_meaning"] == "training loss 0: no network does better"
    code, text, _ = run(capsys, *args)
    lines = text.splitlines()
    status = next(x for x in lines if x.startswith("  solve "))
    assert "strategy split: OPTIMAL (training loss 0: no network does better)" in status
    assert "last solve:" not in status and "solver not called" not in text  # no single-solve proof line
    milps = next(x for x in lines if x.startswith("  MILPs"))
    counts = s["solve_counts"]
    assert milps.startswith(f"  MILPs        {s['solves']} (one per split): {counts['optimal']} solved")
    assert f"{counts.get('skipped', 0)} not sent to the solver" in milps or "skipped" not in counts
    assert any(x.startswith("  last solve ") for x in lines)


def test_json_on_every_reporting_command(capsys, tmp_path):
    for command in ("backends", "plugins", "datasets"):
        code, out, _ = run(capsys, command, "--json")
        records = json.loads(out)
        assert code == 0 and records and all("name" in r for r in records)
    names = {r["name"]: r for r in json.loads(run(capsys, "backends", "--json")[1])}
    assert names["highs"]["available"] and "callbacks" in names["highs"]["features"]
    model = tmp_path / "m.json"
    assert run(capsys, *TRAIN, "-o", str(model), "--quiet")[0] == 0
    code, out, err = run(capsys, "predict", str(model), "breast-cancer-wisconsin", "--json")
    p = json.loads(out)
    assert code == 0 and p["points"] == 699 and len(p["predictions"]) == 699 and 0.5 < p["accuracy"] <= 1
    assert err == ""
    code, out, _ = run(capsys, "export", *TRAIN[1:], "-o", str(tmp_path / "bcw"), "--json")
    e = json.loads(out)
    assert sorted(f.rsplit(".", 1)[1] for f in e["files"]) == ["lp", "mps"]
    assert e["variables"] > 0 and e["binaries"] > 0
    code, out, _ = run(capsys, "evaluate", str(model), "breast-cancer-wisconsin", "--radii", "0", "--json")
    assert json.loads(out)["clean_accuracy"] == pytest.approx(p["accuracy"])


def test_train_on_a_fake_terminal_draws_a_live_display_and_clears_it(capsys, monkeypatch):
    import io

    from rich.console import Console

    import bnnmip.cli.progress as progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "stderr_console",
                        lambda: Console(file=screen, force_terminal=True, width=120, highlight=False))
    code, out, err = run(capsys, *TRAIN, "--param", "always_solve=true")
    assert code == 0 and err == "" and out.startswith("bnnmip train:")
    shown = screen.getvalue()
    assert shown.startswith("bnnmip train: breast-cancer-wisconsin")
    assert "solver call 1 (highs): MILP" in shown  # the first solve's size, above the display
    assert "\x1b[" in shown and "training" in shown  # the live block, redrawn in place
    assert shown.rstrip("\n").endswith("\x1b[2K")  # and erased at the end


def test_a_problem_too_large_to_build_is_reported_as_such(capsys, monkeypatch):
    # local_search on a problem counted as large never builds the full MILP: the summary says
    # its MILP line is the largest sub-MILP and its verification a forward pass, not a MILP check
    from bnnmip.strategies import _lns

    monkeypatch.setattr(_lns, "FULL_MILP_MAX_NONZEROS", 0)
    code, out, _ = run(capsys, *TRAIN, "--strategy", "local_search", "--param", "max_rounds=1",
                       "--param", "batch_size=16", "--time-limit", "30")
    assert code == 0
    assert "the largest sub-MILP solved; the full MILP was too large to build" in out
    assert "checked by a forward pass on every training point" in out
    assert "agrees with the MILP" not in out
