"""Experiment grids: keys, the store, local and Dask executors, kill + resume, watchdog, report.

Tiny cells (12 points of iris and wine: 6 train / 3 validation / 3 test, hidden width 2,
5 s limits) keep the grids to seconds. No wall-clock assertions except the watchdog's own.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import bnnmip
from bnnmip.experiments import DaskExecutor, Grid, LocalExecutor, ResultStore, cell_key, report, run_grid
from bnnmip.experiments.__main__ import main as experiments_main
from bnnmip.experiments.grid import load_grid
from bnnmip.experiments.run import Progress
from bnnmip.testing import fake_distribution

GRID = dict(datasets=["iris", "wine"], backends=["highs", "scip", "cbc"], seeds=[0, 1, 2],
            time_limits=[5], hidden=[[2]], max_points=12)
FLAGS = ["--datasets", "iris", "wine", "--backends", "highs", "scip", "cbc", "--seeds", "0", "1", "2",
         "--time-limits", "5", "--hidden", "2", "--max-points", "12"]
SOLVED = {"optimal", "feasible"}
PNG = b"\x89PNG\r\n\x1a\n"
GRACE = 60.0  # generous: the machine may be loaded; only the hang test uses a short one


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in _lines(path)]


# -- grid and store ---------------------------------------------------------------------------------


def test_grid_cells_and_keys(tmp_path):
    grid = Grid(**GRID)
    cells = grid.keyed_cells()
    assert len(cells) == 18 and len({k for k, _ in cells}) == 18
    assert all(c["threads"] == 1 for _, c in cells)
    # the key is a function of the configuration only: equal configs, equal keys
    assert [k for k, _ in Grid(**{**GRID, "time_limits": [5.0]}).keyed_cells()] == [k for k, _ in cells]
    assert cell_key(cells[0][1]) == cells[0][0]
    assert cell_key({**cells[0][1], "seed": 99}) != cells[0][0]

    toml = tmp_path / "grid.toml"
    toml.write_text(textwrap.dedent("""
        [grid]
        datasets = ["iris", "wine"]
        backends = ["highs", "scip", "cbc"]
        seeds = 3
        time_limits = [5]
        hidden = [[2]]
        max_points = 12

        [run]
        workers = 2
    """))
    assert {k for k, _ in load_grid(toml).keyed_cells()} == {k for k, _ in cells}

    with_mlp = Grid(**GRID, baselines=["mlp"], strategies=["exact", "split"],
                    strategy_params={"split": [{"max_splits": 2}, {"max_splits": 4}]})
    models = [c["model"] for c in with_mlp.cells()]
    assert models.count("mlp") == 2 * 3  # data sets x seeds (x widths)
    assert models.count("bdnn") == 2 * 3 * 3 * (1 + 2)
    splits = [c for c in with_mlp.cells() if c["strategy"] == "split"]
    assert all(c["uses_validation"] for c in splits)

    with pytest.raises(bnnmip.InvalidInputError, match="unknown setting"):
        Grid.from_mapping({"datasets": ["iris"], "backend": ["highs"]})
    with pytest.raises(bnnmip.UnknownNameError, match="unknown backend 'nosuch'"):
        Grid(datasets=["iris"], backends=["nosuch"]).validate_names()
    with pytest.raises(bnnmip.InvalidInputError, match="neither a bundled name"):
        Grid(datasets=["no-such-file.csv"]).validate_names()


def test_store_tolerates_a_truncated_last_line(tmp_path):
    path = tmp_path / "store.jsonl"
    store = ResultStore(path)
    with store:
        store.append({"key": "a", "status": "optimal"})
        store.append({"key": "b", "status": "hung"})
    with path.open("ab") as fh:
        fh.write(b'{"key": "c", "stat')  # a write cut short by SIGKILL
    assert [r["key"] for r in store.records()] == ["a", "b"]
    with store:
        store.append({"key": "c", "status": "optimal"})
    assert [r["key"] for r in store.records()] == ["a", "b", "c"]
    assert all(json.loads(line) for line in _lines(path))
    # a second writer is refused while the first holds the store
    with store, pytest.raises(bnnmip.InvalidInputError, match="another run"):
        ResultStore(path).open()


def _console(terminal):
    import io

    from rich.console import Console

    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=150, highlight=False, soft_wrap=True), out


def test_progress_bar_on_a_terminal():
    console, out = _console(True)
    progress = Progress(console=console)
    assert progress.live
    progress.start(2, 1, LocalExecutor(1))
    config = Grid(**GRID).cells()[0]
    progress.update({"status": "optimal", "objective": 0.0, "config": config, "wall_seconds": 1.0,
                     "accuracy": {"test": 1.0}})
    progress.close()
    text = out.getvalue()
    assert "2 cell(s) to run, 1 already in the store" in text
    assert "1/2" in text and "optimal 1" in text and "elapsed" in text and "left ~" in text
    assert "[1/2]" not in text  # cell lines only with --verbose on a terminal


def test_progress_elapsed_clock_moves_while_no_cell_ends():
    import time

    console, out = _console(True)
    progress = Progress(console=console)
    progress.start(3, 0, LocalExecutor(1))
    time.sleep(1.3)  # no cell ends meanwhile
    progress.close()
    assert "0:00:01" in out.getvalue()


def test_progress_lines_without_a_terminal_and_quiet():
    config = Grid(**GRID).cells()[0]
    console, out = _console(False)
    progress = Progress(console=console)  # no --verbose needed: a line per cell as it ends
    assert not progress.live
    progress.start(2, 0, LocalExecutor(1))
    progress.update({"status": "hung", "config": config, "message": "killed", "wall_seconds": 9.0})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("bnnmip compare: 2 cell(s) to run")
    assert lines[1].startswith("[1/2] iris highs exact seed=0") and "hung" in lines[1]
    progress.update({"status": "optimal", "config": config, "wall_seconds": 1.0})
    progress.close()
    assert len(out.getvalue().splitlines()) == 3 and "\x1b" not in out.getvalue()
    console, out = _console(True)
    progress = Progress(console=console, quiet=True)
    progress.start(1, 0, LocalExecutor(1))
    progress.update({"status": "optimal", "config": config})
    progress.close()
    assert out.getvalue() == ""


# -- the grid, locally and on Dask ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    """The 3 backends x 2 data sets x 3 seeds grid, run by the CLI on 2 local workers."""
    path = tmp_path_factory.mktemp("local") / "results.jsonl"
    assert experiments_main(["compare", *FLAGS, "--store", str(path), "--workers", "2",
                             "--grace", str(GRACE)]) == 0
    return path


@pytest.mark.slow
def test_local_grid_completes_and_resumes_as_a_no_op(local_store, capsys):
    records = ResultStore(local_store).records()
    assert sorted(r["key"] for r in records) == sorted(k for k, _ in Grid(**GRID).keyed_cells())
    for r in records:
        assert r["status"] in SOLVED, r
        assert r["executor"] == "local" and r["verified"] is True and r["mismatches"] == 0
        assert r["solver"]["name"] == r["config"]["backend"] and r["solver"]["version"]
        assert r["versions"]["bnnmip"] == bnnmip.__version__
        assert r["machine"]["cpu_count"] and r["machine"]["node"] is not None
        assert r["points"] == {"train": 6, "validation": 3, "test": 3}
        assert all(r["accuracy"][p] is not None for p in ("train", "validation", "test"))
        assert r["solve_seconds"] is not None and r["wall_seconds"] > 0
    before = local_store.read_bytes()
    capsys.readouterr()
    assert experiments_main(["compare", *FLAGS, "--store", str(local_store), "--workers", "2"]) == 0
    assert "18 already in" in capsys.readouterr().out
    assert local_store.read_bytes() == before


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_cells(local_store, tmp_path):
    path = tmp_path / "dask.jsonl"
    summary = run_grid(Grid(**GRID), path, DaskExecutor(n_workers=2), grace=GRACE)
    assert summary.ran == 18
    records = ResultStore(path).records()
    assert {r["key"] for r in records} == {r["key"] for r in ResultStore(local_store).records()}
    assert len(records) == 18
    assert all(r["status"] in SOLVED and r["executor"] == "dask" for r in records)


def test_missing_dask_is_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    with pytest.raises(bnnmip.InvalidInputError, match=r"pip install 'dask\[distributed\]'"):
        DaskExecutor(n_workers=1)
    assert experiments_main(["compare", "--datasets", "iris", "--store", str(tmp_path / "s.jsonl"),
                             "--dask-local", "2"]) == 2
    assert "pip install" in capsys.readouterr().err


# -- SIGKILL and resume -------------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path):
    store = tmp_path / "killed.jsonl"
    flags = ["--datasets", "iris", "wine", "--backends", "highs", "--seeds", "0", "1", "2",
             "--time-limits", "5", "--hidden", "2", "--max-points", "12", "--store", str(store),
             "--grace", str(GRACE)]
    proc = subprocess.Popen([sys.executable, "-m", "bnnmip.experiments", "compare", *flags,
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not (store.exists() and store.read_bytes().count(b"\n") >= 1):
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no cell finished within 180 s"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = _lines(store)
    complete = [line for line in before if line.endswith(b"\n")]
    assert 1 <= len(complete) < 6, "the kill should land halfway through the 6 cells"

    assert experiments_main(["compare", *flags, "--workers", "2"]) == 0
    after = _lines(store)
    assert after[: len(complete)] == complete  # finished cells kept, byte for byte
    keys = _keys(store)
    assert len(keys) == 6 == len(set(keys))  # nothing recomputed, nothing lost
    assert set(keys) == {k for k, _ in Grid(datasets=["iris", "wine"], seeds=[0, 1, 2], time_limits=[5],
                                          hidden=[[2]], max_points=12).keyed_cells()}


# -- crashes and hangs ----------------------------------------------------------------------------------

MISBEHAVING = """
    import os
    import time

    import bnnmip


    class Hang:
        name = "hang"
        description = "never returns (test)"

        def train(self, task):
            time.sleep(3600)


    class Boom:
        name = "boom"
        description = "raises (test)"

        def train(self, task):
            raise RuntimeError("boom from a plugin strategy")


    class Die:
        name = "die"
        description = "the process dies (test)"

        def train(self, task):
            os._exit(3)


    @bnnmip.hookimpl
    def bnnmip_register_strategies(register):
        register(Hang())
        register(Boom())
        register(Die())
"""


@pytest.fixture
def misbehaving(fresh_plugins, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    fake_distribution(plugins, "misbehaving", {"misbehaving": "misbehaving_plugin"},
                       {"misbehaving_plugin": MISBEHAVING})
    fresh_plugins.syspath_prepend(str(plugins))  # worker processes get sys.path from here
    fresh_plugins.setenv("PYTHONPATH", os.pathsep.join(
        [str(plugins), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return tmp_path


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_hung_and_crashed_cells_are_recorded_and_the_run_goes_on(misbehaving):
    store = misbehaving / "faults.jsonl"
    grid = Grid(datasets=["iris"], strategies=["exact", "hang", "boom", "die"], time_limits=[1],
                hidden=[[2]], max_points=12)
    grace = 3.0
    summary = run_grid(grid, store, LocalExecutor(2), grace=grace)
    assert summary.ran == 4
    by_strategy = {r["config"]["strategy"]: r for r in ResultStore(store).records()}
    assert by_strategy["exact"]["status"] in SOLVED
    hung = by_strategy["hang"]
    assert hung["status"] == "hung" and hung["phase"] == "fit"
    assert "watchdog killed" in hung["message"]
    assert hung["process_seconds"] >= 1 + grace  # the limit plus the grace period, not less
    assert _gone(hung["worker_pid"])
    boom = by_strategy["boom"]
    assert boom["status"] == "crashed" and "boom from a plugin strategy" in boom["message"]
    assert "RuntimeError" in boom["traceback"] and "train" in boom["traceback"]
    die = by_strategy["die"]
    assert die["status"] == "crashed" and "exit code 3" in die["message"]
    # crashed and hung cells count as done; --retry-failed runs them again
    assert run_grid(grid, store, LocalExecutor(2), grace=grace).ran == 0
    retry = Grid(datasets=["iris"], strategies=["boom"], time_limits=[1], hidden=[[2]], max_points=12)
    assert run_grid(retry, store, LocalExecutor(1), retry_failed=True).ran == 1
    assert ResultStore(store).latest()[boom["key"]]["status"] == "crashed"


@pytest.mark.slow
def test_subprocess_launcher_runs_cells_and_sees_plugins(misbehaving):
    store = misbehaving / "subprocess.jsonl"
    grid = Grid(datasets=["iris"], strategies=["exact", "die"], time_limits=[5], hidden=[[2]],
                max_points=12)
    run_grid(grid, store, LocalExecutor(2, launcher="subprocess"), grace=GRACE)
    by_strategy = {r["config"]["strategy"]: r for r in ResultStore(store).records()}
    assert by_strategy["exact"]["status"] in SOLVED
    assert by_strategy["die"]["status"] == "crashed" and "exit code 3" in by_strategy["die"]["message"]


# -- the report ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_report_tables_and_plots(local_store, tmp_path, capsys):
    store = tmp_path / "all.jsonl"
    store.write_bytes(local_store.read_bytes())
    extra = Grid(datasets=["iris"], strategies=["split"], strategy_params={"split": {"max_splits": 2}},
                 time_limits=[5], time_budgets=[30], robust_radii=[0.0, 0.05], hidden=[[2]],
                 max_points=24, baselines=["mlp"], mlp_params={"max_iter": 300})
    run_grid(extra, store, LocalExecutor(2), grace=GRACE)
    out = tmp_path / "report"
    assert experiments_main(["report", str(store), "--output", str(out)]) == 0
    assert "report.md" in capsys.readouterr().out

    md = (out / "report.md").read_text()
    for name in ("highs", "scip", "cbc", "## Backends", "### iris", "### wine",
                 "mlp (ReLU, sklearn, one Adam run)", "performance_profile.png", "accuracy_vs_splits.png",
                 "certified_accuracy.png"):
        assert name in md, name
    import csv

    with (out / "backends.csv").open() as fh:
        backends = list(csv.DictReader(fh))
    assert {"backend", "cells", "optimal", "sgm_solve_seconds", "mean_gap",
            "best_objective_instances"} <= set(backends[0])
    exact = {r["backend"]: r for r in backends if r["strategy"] == "exact"}
    assert set(exact) == {"highs", "scip", "cbc"} and all(r["cells"] == "6" for r in exact.values())
    with (out / "accuracy.csv").open() as fh:
        accuracy = list(csv.DictReader(fh))
    assert {"dataset", "model", "backend", "test_mean", "test_sd", "validation_mean"} <= set(accuracy[0])
    assert any(r["model"] == "mlp" for r in accuracy)
    with (out / "cells.csv").open() as fh:
        cells = list(csv.DictReader(fh))
    assert len(cells) == 18 + 3
    assert {"key", "status", "objective", "bound", "gap", "nodes", "build_seconds", "solve_seconds",
            "test_accuracy", "mismatches", "solver_version", "node"} <= set(cells[0])
    for name in ("performance_profile", "accuracy_vs_splits", "certified_accuracy"):
        data = (out / f"{name}.png").read_bytes()
        assert data.startswith(PNG) and len(data) > 1000, name
    files = report(store, tmp_path / "api")  # the Python API writes the same files
    assert {"markdown", "cells_csv", "backends_csv", "accuracy_csv", "performance_profile",
            "accuracy_vs_splits", "certified_accuracy"} <= set(files)
    assert all(Path(p).is_file() for p in files.values())
    split = [r for r in ResultStore(store).records() if r["config"]["strategy"] == "split"]
    assert split and all(r["history"] and "validation_accuracy" in r["history"][0] for r in split)
    assert any(r["certified"] and r["certified"][0]["radius"] == 0.05 for r in split)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_only_the_reader_thread_closes_a_cells_event_stream(monkeypatch, tmp_path, launcher):
    """Closing the stream under a running read freed its descriptor number for the next
    cell's pipe, whose events (and result) the stale read could then take."""
    from bnnmip.experiments.run import workers as runner

    workers, closes = [], []
    original_init = runner._Worker.__init__
    original_close_stream = getattr(runner._Worker, "_close_stream", None)

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        workers.append(self)
        stream, close = self._stream, self._stream.close

        def recording_close():
            closes.append((stream, threading.current_thread() is self._thread))
            close()

        try:
            stream.close = recording_close
        except AttributeError:  # a C-level file object: check through _close_stream instead
            pass

    def close_stream(self):
        closes.append((self._stream, threading.current_thread() is self._thread))
        original_close_stream(self)

    monkeypatch.setattr(runner._Worker, "__init__", init)
    monkeypatch.setattr(runner._Worker, "_close_stream", close_stream, raising=False)
    grid = Grid(datasets=["iris"], seeds=[0, 1, 2], time_limits=[5], hidden=[[2]], max_points=12)
    store = tmp_path / "cells.jsonl"
    run_grid(grid, store, LocalExecutor(2, launcher=launcher), grace=GRACE)
    assert [r["status"] in SOLVED for r in ResultStore(store).records()] == [True] * 3
    assert len(workers) == 3
    for w in workers:
        assert not w._thread.is_alive()
        mine = [by_reader for stream, by_reader in closes if stream is w._stream]
        assert mine and all(mine), "a cell's event stream was closed outside its reader thread"


def test_report_counts_strategy_iterations_not_auxiliary_records():
    from bnnmip.experiments.results import flatten

    history = [{"formulation": "tight", "symmetry_breaking": True, "symmetry_breaking_source": "default"},
               {"start": "ste", "start_seconds": 0.1}, {"iteration": 0, "loss": 2.0},
               {"iteration": 1, "loss": 0.0}, {"margin": "max-min"}]
    assert flatten({"config": {}, "history": history})["iterations"] == 2
