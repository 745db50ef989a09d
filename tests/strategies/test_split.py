"""The ``split`` strategy (iterative data splitting) and its cluster splitters."""

import numpy as np
import pytest

import bnnmip
from bnnmip.strategies.split import (
    BUILTIN_SPLITTERS,
    ClassKMeansSplitter,
    KMeansSplitter,
    SplitStrategy,
    resolve_splitter,
)
from bnnmip.testing import random_teacher

ARCH = bnnmip.Architecture(3, (2,), 2)
SPLITTERS = [KMeansSplitter(), ClassKMeansSplitter()]


@pytest.fixture(scope="module")
def teacher():
    return random_teacher(3, (2,), 2, 40, seed=0)[1]


def run(data, *, backend="highs", arch=ARCH, validation=None, time_budget=None, time_limit=10, **params):
    params.setdefault("start", "none")  # the paper's setting; tests of the gradient start set it
    task = bnnmip.TrainingTask(
        architecture=arch,
        data=data,
        backend=bnnmip.get_backend(backend),
        options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=time_limit),
        validation=validation,
        time_budget=time_budget,
        params=params,
    )
    return SplitStrategy().train(task)


# -- splitters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("splitter", SPLITTERS, ids=lambda s: s.name)
def test_splitters_return_two_sided_labels_deterministically(splitter):
    rng = np.random.default_rng(1)
    X, y = rng.uniform(0, 1, (30, 4)), rng.integers(0, 3, 30)
    labels = splitter.split(X, y, seed=0)
    assert labels.shape == (30,) and set(np.unique(labels)) == {0, 1}
    assert np.array_equal(labels, splitter.split(X, y, seed=0))
    assert splitter.name in {s.name for s in BUILTIN_SPLITTERS} and splitter.description


@pytest.mark.parametrize("splitter", SPLITTERS, ids=lambda s: s.name)
def test_identical_points_cannot_be_split_but_duplicates_can(splitter):
    same = np.tile([[0.3, 0.7]], (5, 1))
    with pytest.raises(bnnmip.InvalidInputError, match="distinct"):
        splitter.split(same, np.array([0, 1, 0, 1, 0]), seed=0)
    X = np.vstack([same, [[0.9, 0.1]]])  # five copies of one point and one other point
    labels = splitter.split(X, np.zeros(6, dtype=int), seed=0)
    assert labels.tolist() == [0, 0, 0, 0, 0, 1]


def test_kmeans_splits_two_blobs_apart():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [1.0, 1.0], [0.9, 1.0], [1.0, 0.9]])
    assert KMeansSplitter().split(X, np.array([0, 1, 0, 1, 0, 1]), seed=3).tolist() == [0, 0, 0, 1, 1, 1]


def test_class_aware_splitter_separates_classes():
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (40, 2))
    y = (rng.uniform(size=40) < 0.5).astype(int)  # classes interleaved: k-means alone mixes them
    labels = ClassKMeansSplitter().split(X, y, seed=0)
    assert np.array_equal(labels, y) or np.array_equal(labels, 1 - y)
    # three classes: every class on one side, both sides used; two nearby classes grouped
    X3 = np.vstack([rng.normal(c, 0.05, (8, 2)) for c in (0.0, 0.1, 1.0)])
    y3 = np.repeat([0, 1, 2], 8)
    labels3 = ClassKMeansSplitter().split(X3, y3, seed=0)
    sides = [set(labels3[y3 == k]) for k in range(3)]
    assert all(len(s) == 1 for s in sides) and sides[0] == sides[1] != sides[2]
    # one class: k-means within it
    X1 = np.array([[0.0, 0.0], [0.1, 0.1], [1.0, 1.0], [0.9, 0.9]])
    assert ClassKMeansSplitter().split(X1, np.ones(4, dtype=int), seed=0).tolist() == [0, 0, 1, 1]


def test_splitters_resolve_by_name_or_object():
    assert resolve_splitter("kmeans").name == "kmeans"
    assert resolve_splitter(" Class_KMeans ").name == "class_kmeans"
    obj = KMeansSplitter()
    assert resolve_splitter(obj) is obj
    with pytest.raises(bnnmip.UnknownNameError, match="class_kmeans"):
        resolve_splitter("nope")


# -- the strategy ------------------------------------------------------------------------------


@pytest.mark.slow
def test_refinements_never_raise_the_tied_optimum_and_keep_the_warm_start(teacher):
    result = run(teacher, splitter="kmeans", max_splits=6)
    hist = result.history
    assert all(h["status"] == "optimal" for h in hist)
    objectives = [h["objective"] for h in hist]
    assert all(b <= a + 1e-6 for a, b in zip(objectives, objectives[1:], strict=False))
    assert [h["clusters"] for h in hist] == list(range(1, len(hist) + 1))
    assert [h["split"] for h in hist] == list(range(len(hist)))
    assert hist[0]["warm_start"] is None and all(h["warm_start"] for h in hist[1:])
    assert len(result.solves) == len(hist) and result.verification.ok
    # verified tied solutions: the untied loss is the tied objective
    assert all(abs(h["train_loss"] - h["objective"]) <= 1e-6 for h in hist)


def test_previous_network_is_a_feasible_start_after_a_split(teacher):
    one = bnnmip.ActivationTies.from_labels(np.zeros(teacher.n_points))
    low = bnnmip.lower(ARCH, teacher, ties=one)
    opts = bnnmip.SolveOptions(threads=1, seed=0, time_limit=10)
    res = bnnmip.solve(bnnmip.get_backend("highs"), low.problem, opts)
    net = low.decode(res.x)
    labels = ClassKMeansSplitter().split(teacher.X, teacher.y, seed=0)
    refined = bnnmip.lower(ARCH, teacher, ties=bnnmip.ActivationTies.from_labels(labels))
    x = refined.encode(net)
    assert refined.problem.violation(x) <= 1e-9
    assert abs(refined.problem.objective(x) - res.objective) <= 1e-6


@pytest.mark.slow
def test_splitting_reaches_zero_loss_on_a_teacher_instance(teacher):
    for splitter in ("kmeans", "class_kmeans"):
        result = run(teacher, splitter=splitter, max_splits=30)
        last = result.history[-1]
        assert last["train_loss"] < result.history[0]["train_loss"]
        assert last["train_loss"] == 0 and last["stop"] == "zero training loss"
        assert result.status is bnnmip.SolveStatus.OPTIMAL
        assert result.network.hamming_loss(teacher.X, teacher.y, scaled=True) == 0


@pytest.mark.slow
def test_model_selection_uses_validation_accuracy(teacher):
    # validation labels all 0: networks that fit the training data score worse on it
    val = bnnmip.TrainingSet.from_arrays(teacher.X[:20], np.zeros(20, dtype=int), n_classes=2)
    result = run(teacher, splitter="kmeans", max_splits=30, validation=val)
    hist = result.history
    best = max(range(len(hist)), key=lambda i: (hist[i]["validation_accuracy"], -hist[i]["train_loss"], -i))
    assert best != len(hist) - 1  # the test is meaningful: the last network is not selected
    net = result.network
    acc = np.mean(net.predict_index(val.X, scaled=True) == val.y)
    assert acc == pytest.approx(hist[best]["validation_accuracy"])
    loss = net.hamming_loss(teacher.X, teacher.y, scaled=True)
    assert loss == pytest.approx(hist[best]["train_loss"])
    assert result.verification.true_loss == pytest.approx(loss)
    assert result.status is (bnnmip.SolveStatus.OPTIMAL if loss == 0 else bnnmip.SolveStatus.FEASIBLE)
    # without validation data the lowest training loss wins
    assert run(teacher, splitter="kmeans", max_splits=30).history[-1]["validation_accuracy"] is None


def test_max_splits_zero_is_one_solve_with_one_cluster(teacher):
    result = run(teacher, max_splits=0)
    assert len(result.solves) == 1 and len(result.history) == 1
    assert result.history[0]["clusters"] == 1 and result.history[0]["stop"] == "max_splits reached"
    assert result.status is bnnmip.SolveStatus.FEASIBLE  # one pattern for two classes: loss > 0
    # tight (the default) fixes the first cluster's hidden binaries (symmetry breaking)
    assert result.problem_size["binaries"] == 1 * (2 + 2) - 2


def test_initial_clusters_and_splitter_objects(teacher):
    result = run(teacher, splitter=KMeansSplitter(), initial_clusters=3, max_splits=0)
    assert result.history[0]["clusters"] == 3 and result.problem_size["binaries"] == 3 * 4 - 2


def test_unsplittable_clusters_end_the_run():
    # two distinct points, each repeated with conflicting labels: loss 2 per minority copy forever
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 3, axis=0)
    data = bnnmip.TrainingSet.from_arrays(X, [0, 0, 1, 1, 1, 0])
    result = run(data, arch=bnnmip.Architecture(2, (2,), 2), max_splits=10)
    assert result.history[-1]["stop"] == "no cluster can be split"
    assert result.history[-1]["train_loss"] == 4


def test_time_budget_stops_early():
    rng = np.random.default_rng(0)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (150, 10)), rng.integers(0, 2, 150))
    result = run(data, arch=bnnmip.Architecture(10, (4,), 2), time_budget=1.0, max_splits=50)
    assert result.history[-1]["stop"] == "time budget exhausted"
    assert len(result.history) < 51 and result.seconds < 1.0 + 10
    assert result.network is not None


@pytest.mark.slow
def test_batches_use_a_random_subset_per_solve(teacher):
    result = run(teacher, splitter="kmeans", batch_size=16, max_splits=4)
    assert len(result.history) >= 2
    rows_per_point = 2 * (2 + 2)  # two big-M rows per point and neuron (2 hidden + 2 outputs)
    assert result.problem_size["rows"] < teacher.n_points * rows_per_point
    again = run(teacher, splitter="kmeans", batch_size=16, max_splits=4)
    assert [h["objective"] for h in again.history] == [h["objective"] for h in result.history]
    assert all(h["objective"] <= 2 * 16 for h in result.history)  # objectives cover the batch only
    # a batch at least as large as the data is the whole data
    whole = run(teacher, splitter="kmeans", batch_size=100, max_splits=2)
    assert [h["objective"] for h in whole.history] == [h["objective"] for h in run(
        teacher, splitter="kmeans", max_splits=2).history]


@pytest.mark.parametrize(
    "params",
    [{"max_split": 3}, {"max_splits": -1}, {"max_splits": True}, {"max_splits": 2.5},
     {"batch_size": 0}, {"initial_clusters": 0}, {"splitter": 42}],
    ids=str,
)
def test_bad_params_are_rejected_before_any_solve(teacher, params):
    with pytest.raises(bnnmip.InvalidInputError, match="valid keys|splitter must be"):
        run(teacher, **params)


def test_unknown_splitter_and_bad_splitter_output(teacher):
    with pytest.raises(bnnmip.UnknownNameError, match="kmeans"):
        run(teacher, splitter="nope")

    class OneSided:
        name, description = "one-sided", "puts everything on one side"

        def split(self, X, y, *, seed):
            return np.zeros(len(X), dtype=int)

    with pytest.raises(bnnmip.PluginError, match="both sides"):
        run(teacher, splitter=OneSided())


def test_each_iteration_is_reported(teacher, monkeypatch):
    import bnnmip.strategies.split as split_module

    calls = []
    monkeypatch.setattr(split_module, "report_iteration", lambda *args: calls.append(args))
    result = run(teacher, splitter="kmeans", max_splits=3)
    assert [c[:2] for c in calls] == [("split", i + 1) for i in range(len(result.history))]
    assert [c[2] for c in calls] == list(result.history)
    keys = {"split", "clusters", "status", "mip_seconds", "objective", "train_loss", "train_accuracy",
            "validation_accuracy", "seconds"}
    assert all(keys <= set(record) for record in result.history)


@pytest.mark.slow
def test_runs_on_scip(teacher):
    backend = bnnmip.get_backend("scip")
    ok, reason = backend.availability()
    if not ok:
        pytest.skip(f"scip unavailable: {reason}")
    result = run(teacher, backend="scip", splitter="kmeans", max_splits=30)
    highs = run(teacher, splitter="kmeans", max_splits=30)
    assert result.backend == "scip" and result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.history[0]["objective"] == pytest.approx(highs.history[0]["objective"])
    assert result.history[-1]["train_loss"] == 0


def test_registered_through_the_entry_point():
    assert "split" in bnnmip.list_strategies()
    from bnnmip.plugins.registry import list_splitters

    assert {"kmeans", "class_kmeans"} <= set(list_splitters())
