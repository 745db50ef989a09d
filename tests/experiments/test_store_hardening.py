"""Stores, keys and reports (issue 18): nothing lost, nothing reused, no traceback."""

import json
import os

import pytest

from bnnmip.cli import main
from bnnmip.errors import BnnmipError, InvalidInputError, StoreError
from bnnmip.experiments import Grid, ResultStore, report, run_grid


class FakeExecutor:
    """Yields a made-up record per cell; ``between`` runs after the first record is yielded."""

    name = "fake"

    def __init__(self, between=None):
        self.between, self.closed = between, False

    def describe(self):
        return "fake"

    def run(self, cells, grace):
        try:
            for i, (key, config) in enumerate(cells):
                if i == 1 and self.between is not None:
                    self.between()
                yield {"key": key, "config": config, "status": "optimal", "objective": 0.0}
        finally:
            self.closed = True


GRID = dict(datasets=["iris"], backends=["highs"], seeds=[0, 1, 2], time_limits=[5], hidden=[[2]])


@pytest.mark.parametrize("how", ["delete", "replace"])
def test_store_deleted_or_replaced_during_a_run_stops_with_an_error(tmp_path, how):
    path = tmp_path / "runs.jsonl"

    def tamper():
        path.unlink()
        if how == "replace":
            path.write_text("")

    executor = FakeExecutor(tamper)
    with pytest.raises(StoreError, match="deleted or moved" if how == "delete" else "replaced"):
        run_grid(Grid(**GRID), path, executor, check_names=False)
    assert executor.closed  # the executor (and so its cells) was stopped at once


def test_store_errors_are_clear(tmp_path):
    with pytest.raises(InvalidInputError, match="is a directory"):
        ResultStore(tmp_path).records()
    with pytest.raises(InvalidInputError, match="is a directory"):
        ResultStore(tmp_path).open()
    if os.path.exists("/dev/zero"):
        with pytest.raises(InvalidInputError, match="not a regular file"):
            ResultStore("/dev/zero").records()  # never an unbounded read
    if os.path.exists("/dev/full"):
        with pytest.raises(InvalidInputError, match="not a regular file"):
            ResultStore("/dev/full").open()


def test_read_only_store(tmp_path, monkeypatch):
    path = tmp_path / "ro.jsonl"
    path.write_text("")
    real_open = os.open

    def read_only(file, flags, *args):  # what a read-only file gives a non-root user
        if flags & (os.O_RDWR | os.O_WRONLY):
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreError, match="cannot write results store .*Permission denied"):
        ResultStore(path).open()


def test_write_failure_is_a_store_error(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "full.jsonl").open()

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreError, match="No space left on device.*cell k1 is lost"):
        store.append({"key": "k1"})
    monkeypatch.undo()
    store.close()


def test_compare_on_a_directory_store_exits_with_an_error(tmp_path, capsys):
    code = main(["compare", "--datasets", "iris", "--backends", "highs", "--store", str(tmp_path),
                 "--max-points", "12", "--hidden", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "is a directory" in err and "Traceback" not in err


def test_cell_keys_follow_file_contents_and_normalised_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.csv").write_text("a,b,y\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n")
    keys = lambda name: [k for k, _ in Grid(**{**GRID, "datasets": [name]}).keyed_cells()]  # noqa: E731
    assert keys("./g.csv") == keys("g.csv") == keys(str(tmp_path / "g.csv").replace(str(tmp_path), "."))
    before = keys("g.csv")
    (tmp_path / "g.csv").write_text("a,b,y\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n")
    assert set(keys("g.csv")).isdisjoint(before)  # edited data: new cells, never old results
    # bundled data sets are keyed by name, as before (no digest in their configuration): the key
    # below is the one this cell had before content keys existed, so old stores stay valid
    config = Grid(**GRID).cells()[0]
    assert config["dataset"] == "iris" and "data_sha256" not in config
    old = Grid(datasets=["iris", "breast-cancer-wisconsin"], backends=["highs"], seeds=[0, 1],
               baselines=["mlp"], formulations=["paper"])  # the default before it became "tight"
    assert [k for k, _ in old.keyed_cells()][:2] == ["c3a14f15b15bab6f", "6534693265502615"]


def test_a_cell_whose_file_changed_after_keying_fails_instead_of_running(tmp_path):
    from bnnmip.experiments.cell import _load

    csv = tmp_path / "g.csv"
    csv.write_text("a,b,y\n0,1,0\n1,0,1\n1,1,0\n0,0,1\n")
    config = Grid(**{**GRID, "datasets": [str(csv)]}).cells()[0]
    csv.write_text("a,b,y\n0,1,1\n1,0,1\n1,1,0\n0,0,0\n")
    with pytest.raises(InvalidInputError, match="changed after the grid was built"):
        _load(config)


def test_compare_refuses_unknown_strategy_params_up_front(tmp_path, capsys):
    store = tmp_path / "s.jsonl"
    code = main(["compare", "--datasets", "iris", "--backends", "highs", "--store", str(store),
                 "--param", "exact.nope=1", "--max-points", "12", "--hidden", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown exact parameter(s) nope" in err
    assert not store.exists()  # nothing ran


def test_report_on_records_without_config_and_onto_a_file(tmp_path, capsys):
    store = tmp_path / "r.jsonl"
    store.write_text(json.dumps({"key": "abc", "status": "optimal"}) + "\n")
    with pytest.raises(InvalidInputError, match="abc.*no 'config'"):
        report(store, tmp_path / "out")
    good = tmp_path / "good.jsonl"
    run_grid(Grid(**GRID), good, FakeExecutor(), check_names=False)
    target = tmp_path / "taken.txt"
    target.write_text("keep me")
    code = main(["report", str(good), "--output", str(target)])
    err = capsys.readouterr().err
    assert code == 2 and "is a file" in err and target.read_text() == "keep me"


def test_every_store_error_is_a_bnnmip_error():
    assert issubclass(StoreError, BnnmipError)
