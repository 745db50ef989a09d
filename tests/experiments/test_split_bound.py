"""benchmarks/split_bound.py: the parts cover the points once, and their bounds sum to a valid bound."""

import importlib

import numpy as np
import pytest

import bnnmip


@pytest.fixture(scope="module")
def split(benchmarks_on_path):
    return importlib.import_module("split_bound")


@pytest.mark.parametrize("method", ["random", "kmeans"])
def test_parts_are_disjoint_and_cover_every_point(split, method):
    X = np.random.default_rng(1).uniform(0, 1, (23, 4))
    parts = split.partition(X, 3, method)
    assert len(parts) == 3 and all(len(p) for p in parts)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))


def test_the_sum_of_the_parts_bounds_is_at_most_the_whole_optimum(split):
    """Proven on every part and on the whole (tiny instance): sum of parts' optima <= the optimum."""
    rng = np.random.default_rng(4)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (24, 2)), rng.integers(0, 2, 24))
    arch = bnnmip.Architecture(2, (2,), 2)
    whole = bnnmip.train(arch, data, backend="scip", options=bnnmip.SolveOptions(threads=1, seed=0))
    assert whole.status is bnnmip.SolveStatus.OPTIMAL and whole.loss > 0
    rec = split.run("tiny", 2, "kmeans", 600, instance=(arch, data, None))
    assert [p["status"] for p in rec["part_results"]] == ["optimal", "optimal"]
    assert all(p["verified"] for p in rec["part_results"])
    assert sum(p["points"] for p in rec["part_results"]) == 24
    assert rec["bound"] == sum(p["loss"] for p in rec["part_results"]) <= whole.loss
    page = split.report([rec], {"tiny": whole.loss}, "cmd")
    assert f"| tiny | {whole.loss:g} | kmeans x 2 |" in page
