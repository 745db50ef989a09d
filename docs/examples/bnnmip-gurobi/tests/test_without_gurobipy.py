"""The plugin installed without gurobipy (``pip install --no-deps``): found, and unavailable
with a clear reason, so the main test suite runs without the commercial solver's package."""

import importlib.util
import subprocess
import sys

import bnnmip
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("bnnmip_gurobi") is None,
        reason="the example plugin is not installed: "
        "pip install --no-deps ./docs/examples/bnnmip-gurobi",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("gurobipy") is not None,
        reason="gurobipy is installed: test_gurobi_conformance.py tests the plugin with it",
    ),
]


def test_registered_through_the_entry_point_but_unavailable():
    backend = bnnmip.get_backend("gurobi")
    ok, reason = backend.availability()
    assert not ok
    assert "gurobipy is not installed" in reason and "pip install gurobipy" in reason


def test_cli_lists_gurobi_as_unavailable():
    out = subprocess.run(
        [sys.executable, "-m", "bnnmip", "backends"], capture_output=True, text=True, check=True
    ).stdout
    row = next((line.split() for line in out.splitlines() if line.startswith("gurobi")), None)
    assert row is not None, out
    assert row[2] == "no:" and "gurobipy is not installed" in " ".join(row)


def test_training_on_it_is_a_clear_error():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    with pytest.raises(bnnmip.BackendUnavailableError, match="gurobipy"):
        bnnmip.BDNNClassifier(backend="gurobi", time_limit=10).fit(X, y)
