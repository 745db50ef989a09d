"""``exact``'s error_bound: merged points, time caps, and ``parallel`` (beside the training MILP)."""

import numpy as np
import pytest

from bnnmip import TrainingSet
from bnnmip.strategies._bounds import _merged


def test_repeated_input_label_pairs_become_one_weighted_point():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    data = TrainingSet.from_arrays(X, [1, 1, 0, 0], weights=[1.0, 2.0, 1.0, 1.0])
    merged = _merged(data)
    assert merged.n_points == 3  # (x0, 1) twice, (x0, 0), (x1, 0)
    assert merged.weights.sum() == data.weights.sum()
    pairs = {(tuple(x), int(y)): w for x, y, w in zip(merged.X, merged.y, merged.weights, strict=True)}
    assert pairs[((0.0, 1.0), 1)] == 3.0 and pairs[((0.0, 1.0), 0)] == 1.0 and pairs[((1.0, 0.0), 0)] == 1.0


def test_distinct_points_are_kept_as_they_are():
    data = TrainingSet.from_arrays(np.eye(3), [0, 1, 0])
    assert _merged(data) is data


def _recorded_limits(monkeypatch) -> list:
    """The time limits of the small solves, as they run."""
    from bnnmip.strategies import _bounds

    limits = []
    real = _bounds.solve

    def recording(backend, problem, options):
        limits.append(options.time_limit)
        return real(backend, problem, options)

    monkeypatch.setattr(_bounds, "solve", recording)
    return limits


def test_small_solves_share_half_of_the_solve_time_limit(monkeypatch):
    import bnnmip
    from bnnmip import Architecture

    limits = _recorded_limits(monkeypatch)
    rng = np.random.default_rng(2)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (10, 2)), rng.integers(0, 2, 10))
    bnnmip.train(Architecture(2, (2,), 2), data, options=bnnmip.SolveOptions(threads=1, time_limit=8),
                 params={"error_bound": True, "start": "none"})
    assert limits and all(t is not None and t <= 4.0 for t in limits)


def _records(res):
    return [r for r in res.history if "error_bound" in r]


def test_auto_runs_where_it_applies_and_not_for_other_shapes():
    """``error_bound="auto"``: width 2 with biases, robust or not; a cap without a time limit; off by default."""
    import bnnmip
    from bnnmip import Architecture, RobustnessSet
    from bnnmip.strategies import _bounds, exact

    rng = np.random.default_rng(5)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (12, 3)), rng.integers(0, 2, 12))
    opts = bnnmip.SolveOptions(threads=1)
    assert not _records(bnnmip.train(Architecture(3, (2,), 2), data, options=opts, params={"start": "none"}))
    res = bnnmip.train(Architecture(3, (2,), 2), data, options=opts, params={"start": "none", "error_bound": "auto"})
    rec = _records(res)
    assert len(rec) == 1 and rec[0]["error_bound_setting"] == "auto", res.history
    assert isinstance(rec[0]["error_bound"], float) and rec[0]["error_bound"] <= res.loss + 1e-9
    assert exact._error_bound_setting("auto", bnnmip.lower(Architecture(3, (2,), 2), data),
                                      bnnmip.get_backend("highs")) == ("before", exact.AUTO_BOUND_SECONDS, None)
    robust = bnnmip.train(Architecture(3, (2,), 2), data, options=opts, robust=RobustnessSet(0.01),
                          params={"start": "none", "error_bound": "auto"})
    assert "error_bound_cells" in _records(robust)[0], robust.history  # the cell relaxation keeps the balls
    for arch in (Architecture(3, (3,), 2), Architecture(3, (2,), 2, bias=False)):
        res = bnnmip.train(arch, data, options=opts, params={"start": "none", "error_bound": "auto"})
        assert not _records(res), (arch, res.history)
    assert _bounds.SHARE == 0.5


def test_auto_caps_the_small_solves_without_a_time_limit(monkeypatch):
    import bnnmip
    from bnnmip import Architecture
    from bnnmip.strategies import exact

    limits = _recorded_limits(monkeypatch)
    monkeypatch.setattr(exact, "AUTO_BOUND_SECONDS", 6.0)
    rng = np.random.default_rng(2)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (10, 2)), rng.integers(0, 2, 10))
    bnnmip.train(Architecture(2, (2,), 2), data, options=bnnmip.SolveOptions(threads=1),
                 params={"start": "none", "error_bound": "auto"})
    assert limits and all(t is not None and t <= 6.0 for t in limits), limits


# -- error_bound="parallel": the small solves beside the training MILP ----------------------------

def _random_labels(m: int, n: int, seed: int) -> TrainingSet:
    rng = np.random.default_rng(seed)
    return TrainingSet.from_arrays(rng.uniform(0, 1, (m, n)), rng.integers(0, 2, m))


@pytest.mark.parametrize("backend", ["highs", "scip"])
def test_parallel_bound_reaches_the_same_proven_optimum(backend):
    """Beside the solver or before it, or not at all: the same proven loss, a verified network."""
    import bnnmip
    from bnnmip import Architecture

    data = _random_labels(14, 2, 11)
    arch = Architecture(2, (2,), 2)
    opts = bnnmip.SolveOptions(threads=1, seed=0)
    losses = {}
    for setting in (False, True, "parallel"):
        res = bnnmip.train(arch, data, backend=backend, options=opts, params={"error_bound": setting})
        assert res.status is bnnmip.SolveStatus.OPTIMAL and res.verification.ok, (setting, res.final.message)
        losses[setting] = res.loss
    assert losses[False] > 0  # a positive optimum: a proof the bound can make
    assert losses[True] == losses["parallel"] == losses[False], losses
    rec = _records(res)
    assert len(rec) == 1 and rec[0]["error_bound_setting"] == "parallel", res.history
    assert isinstance(rec[0]["error_bound"], float) and rec[0]["error_bound"] <= res.loss + 1e-9


def _fake_bound(monkeypatch, floor, networks=(), fail=False):
    """Make the small solves return ``floor`` and ``networks`` at once (or raise)."""
    from bnnmip.strategies import _bounds

    def fake(lowering, task, budget, upper, cap_seconds=None, share=0.5, interrupt=None):
        if fail:
            raise RuntimeError("broken bound")
        return floor(lowering, upper), list(networks), {"error_bound": floor(lowering, upper)}

    monkeypatch.setattr(_bounds, "error_bound", fake)


def test_a_floor_at_the_incumbent_stops_the_training_milp_as_optimal(monkeypatch):
    """The solver is interrupted as soon as the floor meets its incumbent; the result says who proved it.

    The floor here is made up (the start's own loss), to see the mechanics on an instance no
    solver proves in minutes: the run ends at the solver's first poll, not at its time limit.
    """
    import bnnmip
    from bnnmip import Architecture

    _fake_bound(monkeypatch, lambda lowering, upper: upper)
    data = _random_labels(60, 10, 7)
    res = bnnmip.train(Architecture(10, (2,), 2), data, backend="highs",
                       options=bnnmip.SolveOptions(threads=1, time_limit=600),
                       params={"error_bound": "parallel"})
    assert res.status is bnnmip.SolveStatus.OPTIMAL and res.verification.ok
    assert res.loss > 0 and res.final.bound == res.loss
    assert "proved optimal by exact's error_bound beside the solver" in res.final.message
    assert "stopped by the interrupt check" in res.final.message
    rec = _records(res)[0]
    assert rec["error_bound_proved"] and rec["error_bound_setting"] == "parallel"


def test_the_bounds_network_is_returned_where_it_beats_the_solver(monkeypatch):
    """A solver stopped (here at its first node) before it took the small solves' better network."""
    import bnnmip
    from bnnmip import Architecture

    data = _random_labels(14, 2, 11)
    arch = Architecture(2, (2,), 2)
    best = bnnmip.train(arch, data, backend="highs", options=bnnmip.SolveOptions(threads=1))
    assert best.status is bnnmip.SolveStatus.OPTIMAL and best.loss > 0
    _fake_bound(monkeypatch, lambda lowering, upper: best.loss, [best.network])
    res = bnnmip.train(arch, data, backend="highs", options=bnnmip.SolveOptions(threads=1, node_limit=1),
                       params={"error_bound": "parallel", "start": "none"})
    assert res.status is bnnmip.SolveStatus.OPTIMAL and res.verification.ok
    assert res.loss == best.loss == res.final.objective
    assert res.network.hamming_loss(data.X, data.y, scaled=True) == best.loss


def test_a_failing_bound_is_reported_and_the_solve_goes_on(monkeypatch):
    import bnnmip
    from bnnmip import Architecture

    data = _random_labels(14, 2, 11)
    _fake_bound(monkeypatch, None, fail=True)
    res = bnnmip.train(Architecture(2, (2,), 2), data, backend="highs",
                       options=bnnmip.SolveOptions(threads=1), params={"error_bound": "parallel"})
    assert res.status is bnnmip.SolveStatus.OPTIMAL and res.verification.ok
    assert _records(res)[0]["error_bound"] == "failed: RuntimeError: broken bound"


def test_parallel_runs_before_the_milp_on_backends_that_cannot_be_interrupted():
    import bnnmip
    from bnnmip import Architecture
    from bnnmip.strategies import exact

    data = _random_labels(14, 2, 11)
    low = bnnmip.lower(Architecture(2, (2,), 2), data)
    mode, cap, note = exact._error_bound_setting("parallel", low, bnnmip.get_backend("cbc"))
    assert (mode, cap) == ("before", None)
    assert "does not declare CALLBACKS and INTERRUPT" in note["error_bound_parallel"], note
    assert exact._error_bound_setting("parallel", low, bnnmip.get_backend("scip"))[:2] == ("beside", None)
    with pytest.raises(bnnmip.InvalidInputError, match="parallel"):
        bnnmip.train(Architecture(2, (2,), 2), data, params={"error_bound": "beside"})


def test_the_bound_thread_is_stopped_when_the_training_solve_raises(monkeypatch):
    """An exception in the training MILP's solve (here a made-up one) leaves no bound thread running."""
    import threading

    import bnnmip
    from bnnmip import Architecture
    from bnnmip.strategies import _bounds, exact

    started = threading.Event()

    def endless(lowering, task, budget, upper, cap_seconds=None, share=0.5, interrupt=None):
        started.set()
        while not interrupt():  # a small solve without a limit: only the interrupt ends it
            threading.Event().wait(0.01)
        return 0.0, [], {"error_bound": 0.0}

    def broken(*args, **kwargs):
        assert started.wait(60)
        raise KeyboardInterrupt

    monkeypatch.setattr(_bounds, "error_bound", endless)
    monkeypatch.setattr(exact, "solve_lowering", broken)
    with pytest.raises(KeyboardInterrupt):
        bnnmip.train(Architecture(2, (2,), 2), _random_labels(14, 2, 11), backend="highs",
                     options=bnnmip.SolveOptions(threads=1), params={"error_bound": "parallel"})
    assert not [t for t in threading.enumerate() if t.name == "bnnmip-error-bound"]
