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


def test_small_solves_share_half_of_the_solve_time_limit(monkeypatch):
    import bnnmip
    from bnnmip import Architecture
    from bnnmip.strategies import _bounds

    limits = []
    real = _bounds.solve

    def recording(backend, problem, options):
        limits.append(options.time_limit)
        return real(backend, problem, options)

    monkeypatch.setattr(_bounds, "solve", recording)
    rng = np.random.default_rng(2)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (10, 2)), rng.integers(0, 2, 10))
    bnnmip.train(Architecture(2, (2,), 2), data, options=bnnmip.SolveOptions(threads=1, time_limit=8),
                 params={"error_bound": True, "start": "none"})
    assert limits and all(t is not None and t <= 4.0 for t in limits)
