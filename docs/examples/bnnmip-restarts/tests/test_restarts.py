"""The restart strategy plugin through the entry point, the CLI and the estimator."""

import subprocess
import sys

import bnnmip
import pytest
from bnnmip.testing import random_teacher, xor

pytest.importorskip("bnnmip_restarts", reason="pip install docs/examples/bnnmip-restarts (CI does)")


def test_found_through_the_entry_point():
    from bnnmip_restarts import RestartsStrategy

    assert isinstance(bnnmip.get_strategy("restarts"), RestartsStrategy)
    assert isinstance(bnnmip.get_strategy("restarts"), bnnmip.training.Strategy)


def test_restarts_until_proven_and_reports_each():
    inst = xor()
    res = bnnmip.train(inst.architecture, inst.data, strategy="restarts",
                       params={"restarts": 3, "always_solve": True})
    assert res.strategy == "restarts" and res.status is bnnmip.SolveStatus.OPTIMAL
    assert res.objective == 0 and res.verification.ok
    assert [r["restart"] for r in res.history if "restart" in r] == [1]  # proven: no restart
    assert res.iterations == 1


def test_keeps_the_lowest_loss_within_a_budget():
    _, data = random_teacher(4, (3,), 2, 40, seed=7)
    arch = bnnmip.Architecture(4, (3,), 2)
    res = bnnmip.train(arch, data, strategy="restarts", time_budget=30,
                       options=bnnmip.SolveOptions(threads=1, node_limit=1),
                       params={"restarts": 2, "start": "none", "always_solve": True})
    records = [r for r in res.history if "restart" in r]
    assert 1 <= len(records) <= 2
    assert res.loss == min(r["loss"] for r in records if r["loss"] is not None)
    assert len(res.solves) == len(records)


def test_bad_parameter_is_a_clear_error():
    inst = xor()
    with pytest.raises(bnnmip.InvalidInputError, match="restarts must be a positive integer"):
        bnnmip.train(inst.architecture, inst.data, strategy="restarts", params={"restarts": 0})


def test_listed_and_usable_from_the_command_line():
    out = subprocess.run([sys.executable, "-m", "bnnmip", "strategies"], capture_output=True,
                         text=True, check=True).stdout
    rows = [line.split()[:3] for line in out.splitlines()]
    assert ["restarts", "strategy", "restarts"] in rows, out
    run = subprocess.run([sys.executable, "-m", "bnnmip", "train", "breast-cancer-wisconsin",
                          "--hidden", "1", "--train-size", "30", "--strategy", "restarts",
                          "--param", "restarts=2"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "strategy restarts: OPTIMAL" in run.stdout
