import pytest

import bnnmip
from bnnmip.plugins import reset_plugin_manager


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Rebuild the plugin manager for this test and again afterwards."""
    reset_plugin_manager()
    yield monkeypatch
    monkeypatch.undo()
    reset_plugin_manager()


@pytest.fixture
def capture_lowerings(monkeypatch):
    """``capture(module)``: record every lowering ``module.lower`` builds; returns the list."""

    def capture(module):
        seen = []

        def capturing(*args, **kwargs):
            seen.append(bnnmip.lower(*args, **kwargs))
            return seen[-1]

        monkeypatch.setattr(module, "lower", capturing)
        return seen

    return capture


@pytest.fixture
def highs():
    return bnnmip.get_backend("highs")


ONE_THREAD = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)
