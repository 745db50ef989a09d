"""The ``bnnmip_solve_progress`` hook: fed from the solvers' callbacks, only when observed."""

import numpy as np
import pytest

import bnnmip
from bnnmip.backends import BackendFeature
from bnnmip.formulation import lower
from bnnmip.plugins import get_plugin_manager, hookimpl


def small_training_milp():
    rng = np.random.default_rng(3)
    X = rng.random((10, 3))
    y = (X[:, 0] + X[:, 1] > 1).astype(int) ^ (X[:, 2] > 0.5).astype(int)
    arch = bnnmip.Architecture(n_inputs=3, hidden=(2,), n_classes=2)
    return lower(arch, bnnmip.TrainingSet.from_arrays(X, y)).problem


class Observer:
    def __init__(self):
        self.records, self.options = [], []

    @hookimpl
    def bnnmip_solve_started(self, problem, backend, options):
        self.options.append(options)


class ProgressObserver(Observer):
    @hookimpl
    def bnnmip_solve_progress(self, backend, record):
        self.records.append((backend, record))


def _observed(observer, backend):
    pm = get_plugin_manager()
    pm.register(observer, name="test-solve-progress")
    try:
        return bnnmip.solve(bnnmip.get_backend(backend), small_training_milp(),
                            bnnmip.SolveOptions(time_limit=60, threads=1))
    finally:
        pm.unregister(observer)


@pytest.mark.parametrize("backend", ["highs", "scip"])
def test_callback_backends_report_incumbents_and_bounds(backend):
    assert BackendFeature.CALLBACKS in bnnmip.get_backend(backend).features
    observer = ProgressObserver()
    result = _observed(observer, backend)
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert observer.records, "no progress reported"
    assert {name for name, _ in observer.records} == {backend}
    keys = {"objective", "bound", "gap", "nodes", "seconds", "time_limit"}
    for _, record in observer.records:
        assert set(record) == keys and record["time_limit"] == 60
    incumbents = [r["objective"] for _, r in observer.records if r["objective"] is not None]
    assert incumbents and incumbents == sorted(incumbents, reverse=True)  # only ever improves
    assert all(value >= result.objective - 1e-9 for value in incumbents)
    for _, r in observer.records:
        if r["bound"] is not None:  # a valid lower bound of a minimization
            assert r["bound"] <= result.objective + 1e-6


def test_no_callback_is_installed_when_nobody_observes_progress():
    observer = Observer()  # observes starts, not progress
    result = _observed(observer, "highs")
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert observer.options and observer.options[0].progress is None
    watching = ProgressObserver()
    _observed(watching, "highs")
    assert watching.options[0].progress is not None


def test_backends_without_callbacks_are_not_given_a_progress_callable():
    observer = ProgressObserver()
    result = _observed(observer, "cbc")
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert observer.options[0].progress is None and observer.records == []
