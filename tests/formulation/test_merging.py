"""Points that must share their activations under robust training are merged before the solve."""

import numpy as np
import pytest

import bnnmip
from bnnmip import ActivationTies, Architecture, RobustnessSet, TrainingSet
from bnnmip.formulation import lower, merge_overlapping_balls

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)


def _groups(labels):
    """The partition as a set of frozensets of point indices (independent of numbering)."""
    labels = np.asarray(labels)
    return {frozenset(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)}


def test_points_whose_balls_overlap_are_merged_transitively_and_the_boundary_is_left_alone():
    X = np.array([[0.0], [0.15], [0.3], [0.7], [0.9], [1.2]])
    ties = merge_overlapping_balls(ActivationTies.none(6), X, 0.1)
    # 0 - 0.15 - 0.3 chain; 0.7 and 0.9 are exactly 2r apart (not merged); 1.2 alone
    assert _groups(ties.cluster) == {frozenset({0, 1, 2}), frozenset({3}), frozenset({4}), frozenset({5})}
    assert merge_overlapping_balls(ActivationTies.none(6), X, 0.0).n_clusters == 6


def test_a_point_near_the_hull_of_a_tied_cluster_joins_it():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.65], [0.5, 0.8], [0.1, 0.9]])
    ties = ActivationTies.from_labels([0, 0, 1, 2, 3])
    merged = merge_overlapping_balls(ties, X, 0.1)
    # l-inf distance to the segment from (0,0) to (1,1): 0.075 and 0.15 (<= 2r); the last
    # point is 0.4 from it and still 0.28 from the triangle the merges leave
    assert _groups(merged.cluster) == {frozenset({0, 1, 2, 3}), frozenset({4})}
    pairwise = merge_overlapping_balls(ties, X, 0.1, hulls=False)  # the two middle points only
    assert _groups(pairwise.cluster) == {frozenset({0, 1}), frozenset({2, 3}), frozenset({4})}


def test_the_hull_rule_merges_what_the_pairwise_rule_misses():
    # (-.19,-.19), (0,0), (.19,.19) are one group by the pairwise rule; (0.3, -0.05) is more
    # than 2r = 0.2 from each of them but 0.175 from the segment through them
    X = np.array([[-0.19, -0.19], [0.0, 0.0], [0.19, 0.19], [0.3, -0.05]])
    pairwise = merge_overlapping_balls(ActivationTies.none(4), X, 0.1, hulls=False)
    assert _groups(pairwise.cluster) == {frozenset({0, 1, 2}), frozenset({3})}
    assert merge_overlapping_balls(ActivationTies.none(4), X, 0.1).n_clusters == 1


@pytest.mark.parametrize("seed", range(4))
def test_every_robust_neuron_is_constant_on_every_merged_group(seed):
    # brute force: many random hyperplanes, keep those that leave every ball on one side with
    # the model's margins; each must give all points of a merged group the same side
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (30, 2))
    r = 0.06
    ties = merge_overlapping_balls(ActivationTies.none(30), X, r)
    assert ties.n_clusters < 30  # the check below has something to check
    W = rng.normal(size=(200_000, 2))
    b = -np.einsum("ij,ij->i", W, rng.uniform(0, 1, (200_000, 2)))  # through a point of the square
    t = X @ W.T + b  # (points, neurons)
    slack = r * np.abs(W).sum(axis=1)
    on, off = t - slack >= 0, t + slack <= -1e-4
    robust = np.all(on | off, axis=0)
    assert robust.sum() > 50
    for c in range(ties.n_clusters):
        members = on[ties.cluster == c][:, robust]
        assert np.all(members == members[:1]), f"group {c} split by a robust neuron"


def test_merged_groups_give_the_same_optimum_as_the_paper_with_a_constant_loss_part():
    # two classes interleaved closer than 2r: the groups' minorities are forced errors
    X = np.array([[0.0, 0.0], [0.1, 0.05], [0.15, 0.1], [1.0, 1.0], [0.9, 0.95], [0.0, 1.0],
                  [1.0, 0.0], [0.5, 0.5]])
    y = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    data = TrainingSet.from_arrays(X, y)
    arch = Architecture(2, (2,), 2)
    robust = RobustnessSet(0.1)
    low = lower(arch, data, robust=robust)
    assert low.ties.n_clusters == 5  # {0,1,2}, {3,4}, and three single points
    # group {0,1,2} costs 2 (one wrong point) and {3,4} costs 2, whatever the network does
    assert low.problem.trivial_bound() == pytest.approx(4.0)
    res = {f: bnnmip.train(arch, data, formulation=f, robust=robust, options=ONE, params={"start": "none"})
           for f in ("paper", "tight")}
    assert all(r.status is bnnmip.SolveStatus.OPTIMAL for r in res.values())
    assert res["tight"].objective == pytest.approx(res["paper"].objective, abs=1e-6)
    assert res["tight"].objective >= 4.0 - 1e-6
    assert res["tight"].verification.ok, res["tight"].verification.describe()
    rec = next(r for r in res["tight"].history if "formulation" in r)
    assert rec["activation_groups"] == 5
    assert lower(arch, data, robust=robust, formulation="paper").ties.n_clusters == 8


def test_the_gradient_start_stops_at_the_loss_the_groups_force(monkeypatch):
    import bnnmip.strategies._common as ste  # the strategies call the gradient start from here

    X = np.array([[0.0, 0.0], [0.1, 0.05], [0.15, 0.1], [1.0, 1.0], [0.9, 0.95], [0.0, 1.0],
                  [1.0, 0.0], [0.5, 0.5]])
    data = TrainingSet.from_arrays(X, np.array([0, 1, 0, 1, 0, 1, 1, 0]))
    seen = []
    original = ste.ste_network
    monkeypatch.setattr(ste, "ste_network", lambda *a, **k: seen.append(k["loss_bound"]) or original(*a, **k))
    res = bnnmip.train(Architecture(2, (2,), 2), data, robust=RobustnessSet(0.1), options=ONE)
    assert seen == [pytest.approx(4.0)]
    assert res.status is bnnmip.SolveStatus.OPTIMAL and res.verification.ok


def test_the_cli_names_the_groups_and_the_forced_loss(capsys):
    from bnnmip.cli import main

    assert main(["train", "iris", "--hidden", "2", "--robust-radius", "0.05", "--train-size", "75",
                 "--threads", "1", "--time-limit", "30"]) == 0
    out = capsys.readouterr().out
    assert "75 points in " in out and "activation groups" in out
    assert "is the least possible (points that must share activations have different labels)" in out
    assert "verified" in out


def test_the_hull_rule_stops_at_its_lp_budget_and_merges_less(monkeypatch):
    from bnnmip.formulation import merging

    X = np.array([[-0.19, -0.19], [0.0, 0.0], [0.19, 0.19], [0.3, -0.05]])
    monkeypatch.setattr(merging, "HULL_LP_BUDGET", 0)
    assert merge_overlapping_balls(ActivationTies.none(4), X, 0.1).n_clusters == 2
    monkeypatch.setattr(merging, "HULL_LP_BUDGET", 1)
    assert merge_overlapping_balls(ActivationTies.none(4), X, 0.1).n_clusters == 1
