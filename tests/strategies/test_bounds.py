"""``exact``'s error_bound solves: repeated points merged before the small MILPs."""

import numpy as np

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
    assert exact._error_bound_setting("auto", bnnmip.lower(Architecture(3, (2,), 2), data)) == (
        True, exact.AUTO_BOUND_SECONDS)
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
