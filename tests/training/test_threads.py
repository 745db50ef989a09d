"""Thread limits for the numeric libraries inside a training run (issue 19, item 3)."""

import numpy as np
import threadpoolctl

import bnnmip
from bnnmip.strategies.split import KMeansSplitter
from bnnmip.training.threads import numeric_threads


def _pool_sizes():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]


def test_numeric_threads_limits_every_pool_and_restores_them():
    import sklearn.cluster  # noqa: F401  (loads scikit-learn's OpenMP runtime)

    before = _pool_sizes()
    assert before, "no thread pool loaded: nothing to limit"
    with numeric_threads(1):
        assert set(_pool_sizes()) == {1}
    assert _pool_sizes() == before


class RecordingSplitter:
    """k-means, recording the thread pools it ran with."""

    name = "recording"

    def __init__(self):
        self.seen = []

    def split(self, X, y, *, seed):
        self.seen.append(_pool_sizes())
        return KMeansSplitter().split(X, y, seed=seed)


def test_split_runs_k_means_under_the_runs_thread_count():
    rng = np.random.default_rng(0)
    X = rng.random((30, 2))
    y = (X[:, 0] > X[:, 1]).astype(int) ^ (X[:, 0] > 0.7).astype(int)
    arch = bnnmip.Architecture(n_inputs=2, hidden=(2,), n_classes=2)
    splitter = RecordingSplitter()
    result = bnnmip.train(arch, bnnmip.TrainingSet.from_arrays(X, y), strategy="split",
                          options=bnnmip.SolveOptions(threads=1, time_limit=60),
                          params={"splitter": splitter, "max_splits": 2, "start": "none"})
    assert result.network is not None
    assert splitter.seen and all(sizes and set(sizes) == {1} for sizes in splitter.seen)
