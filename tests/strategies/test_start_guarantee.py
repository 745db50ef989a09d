"""Every built-in strategy returns a network at least as good as the best start it had.

Losses are recomputed here with the plain numpy forward pass. The instances are small
enough that every solve ends proven optimal (the clock cannot change the outcome), or the
guarantee holds whatever the solves return (steps are accepted only when verified and not
worse).
"""

import numpy as np
import pytest

import bnnmip
from bnnmip.strategies import ExactStrategy, LocalSearchStrategy, SplitStrategy
from bnnmip.strategies._common import gradient_start
from bnnmip.strategies._lns import Incumbent, Neighbourhood, sub_problem
from bnnmip.strategies.local_search import repair_margins

STRATEGIES = {"exact": ExactStrategy, "local_search": LocalSearchStrategy, "split": SplitStrategy}
PARAMS = {"exact": {}, "local_search": {"max_rounds": 2}, "split": {"max_splits": 3}}


def noisy_moons(m, seed):
    """Two interleaved half circles with 15% of the labels flipped: no zero-loss width-2 net."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, m)
    y = rng.integers(0, 2, m)
    X = np.column_stack([np.cos(t) + y, np.sin(t) * (1 - 2 * y) + 0.5 * y])
    X = X + rng.normal(0, 0.1, X.shape)
    flip = rng.random(m) < 0.15
    y = np.where(flip, 1 - y, y)
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    return bnnmip.TrainingSet.from_arrays(X, y, n_classes=2)


def task_for(data, hidden, params, **kw):
    return bnnmip.TrainingTask(
        architecture=bnnmip.Architecture(data.n_features, hidden, data.n_classes), data=data,
        backend=bnnmip.get_backend("highs"),
        options=bnnmip.SolveOptions(threads=1, seed=0, time_limit=60), params=params, **kw)


def loss_of(net, data):
    return net.hamming_loss(data.X, data.y, weights=data.weights, scaled=True)


def the_start(task):
    """The gradient start exactly as every strategy builds it, and its loss."""
    low = bnnmip.lower(task.architecture, task.data, formulation=task.formulation, symmetry_breaking=False)
    net, _ = gradient_start(low, 5.0, seed=task.options.seed)
    return net, loss_of(net, task.data)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("seed", [0, 1])
def test_never_worse_than_the_gradient_start(name, seed):
    data = noisy_moons(12, seed)  # small enough for exact to prove optimality in seconds
    task = task_for(data, (2,), PARAMS[name])
    _, start_loss = the_start(task)
    assert start_loss > 0  # noisy labels: the start leaves something to improve
    result = STRATEGIES[name]().train(task)
    assert result.verification.ok, result.verification.describe()
    assert loss_of(result.network, data) <= start_loss + 1e-9
    outcome = next(r for r in reversed(result.history) if "start_outcome" in r)
    assert outcome["start_outcome"] in ("beaten", "kept")
    beaten = loss_of(result.network, data) < outcome["start_loss"] - 1e-9
    assert (outcome["start_outcome"] == "beaten") == beaten


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_never_worse_than_a_good_warm_start(name):
    data = noisy_moons(16, 0)
    task = task_for(data, (2,), PARAMS[name])
    warm, warm_loss = the_start(task)
    assert warm_loss > 0
    # the warm start alone (no gradient start of its own): it is the start to beat or keep
    params = dict(PARAMS[name], start="none")
    result = STRATEGIES[name]().train(task_for(data, (2,), params, warm_start=warm))
    assert result.verification.ok
    assert loss_of(result.network, data) <= warm_loss + 1e-9


def test_local_search_kept_start_on_a_deeper_net_and_records_it():
    data = noisy_moons(24, 5)
    task = task_for(data, (2, 2), {"max_rounds": 1, "finish": "none"})
    _, start_loss = the_start(task)
    result = LocalSearchStrategy().train(task)
    first, last = result.history[0], result.history[-1]
    assert first["start"] in first["start_candidates"] and first["start_loss"] <= start_loss
    assert last["final_loss"] == loss_of(result.network, data) <= first["start_loss"]
    assert last["start_outcome"] == ("beaten" if last["final_loss"] < first["start_loss"] else "kept")


def test_local_search_batches_keep_the_loss_and_the_outside_points():
    data = noisy_moons(60, 7)
    task = task_for(data, (3,), {"max_rounds": 1, "batch_size": 16, "free_neurons": 1, "finish": "none"})
    _, start_loss = the_start(task)
    result = LocalSearchStrategy().train(task)
    assert any(r["points"] < data.n_points for r in result.history)  # the batch path ran
    losses = [result.history[0]["start_loss"], *(r["loss"] for r in result.history)]
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:], strict=False))
    assert loss_of(result.network, data) <= start_loss + 1e-9
    assert result.verification.ok


def test_a_batch_sub_milp_keeps_every_outside_point_unchanged():
    data = noisy_moons(40, 2)
    arch = bnnmip.Architecture(2, (3,), 2)
    full = bnnmip.lower(arch, data, symmetry_breaking=False)
    net, _ = gradient_start(full, 5.0)
    net = repair_margins(full, net)
    x = full.encode(net)
    assert full.problem.violation(x) <= 1e-9
    points = np.arange(0, 40, 4)
    hood = Neighbourhood(1, (0, 2), points)
    low, problem, fixed, start = sub_problem(full, hood, Incumbent(net, loss_of(net, data), x))
    assert start is not None and problem.violation(start) <= 1e-9
    # push the free neurons' weights: the optimum of an objective rewarding a different row
    res = bnnmip.solve(bnnmip.get_backend("highs"), problem,
                       bnnmip.SolveOptions(threads=1, time_limit=30, mip_start=start))
    assert res.status is bnnmip.SolveStatus.OPTIMAL
    xx = np.array(res.x)
    xx[fixed] = problem.col_lower[fixed]
    cand = low.decode(xx)
    outside = np.setdiff1d(np.arange(40), points)
    before = net.forward(data.X[outside], scaled=True).act
    after = cand.forward(data.X[outside], scaled=True).act
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    # the batch objective plus the (unchanged) outside loss is the full loss
    out_loss = loss_of(net, bnnmip.TrainingSet.from_arrays(data.X[outside], data.y[outside], n_classes=2))
    assert loss_of(cand, data) == pytest.approx(res.objective + out_loss)


def test_split_starts_from_the_start_patterns():
    data = noisy_moons(30, 4)
    task = task_for(data, (2,), {"max_splits": 0})
    start, _ = the_start(task)
    result = SplitStrategy().train(task)
    record = result.history[0]
    assert record["start"] == "ste"
    acts = start.forward(data.X, scaled=True).act
    patterns = np.unique(np.column_stack(acts), axis=0).shape[0]
    solve = next(r for r in result.history if "split" in r)
    assert solve["clusters"] == patterns and solve["warm_start"] is True
    assert solve["train_loss"] <= record["start_loss"]


def test_start_params_are_checked():
    data = noisy_moons(10, 0)
    for name in ("local_search", "split"):
        with pytest.raises(bnnmip.InvalidInputError, match="start must be one of ste, none"):
            STRATEGIES[name]().train(task_for(data, (2,), {"start": "mlp"}))
        with pytest.raises(bnnmip.InvalidInputError, match="start_seconds"):
            STRATEGIES[name]().train(task_for(data, (2,), {"start_seconds": -1}))


def test_split_with_batches_never_selects_a_network_worse_than_the_start():
    # batches break the refinement argument: a batch's optimum can be worse on every point
    data = noisy_moons(40, 6)
    task = task_for(data, (2,), {"max_splits": 3, "batch_size": 8})
    _, start_loss = the_start(task)
    result = SplitStrategy().train(task)
    assert loss_of(result.network, data) <= start_loss + 1e-9
    solves = [r for r in result.history if "split" in r]
    assert len(solves) == 4
    assert result.verification.ok


def test_large_problems_use_a_view_and_keep_the_guarantee(monkeypatch):
    from bnnmip.strategies import _lns

    monkeypatch.setattr(_lns, "FULL_MILP_MAX_NONZEROS", 0)  # every problem counts as large
    data = noisy_moons(60, 8)
    task = task_for(data, (3,), {"max_rounds": 2, "batch_size": 16})
    _, start_loss = the_start(task)
    result = LocalSearchStrategy().train(task)
    assert all(r["points"] < data.n_points for r in result.history)  # never the full MILP
    assert loss_of(result.network, data) <= start_loss + 1e-9
    assert result.verification.ok and result.verification.milp_objective is None
    assert result.verification.forward_only
    assert "full MILP was not built" in result.verification.describe()
    assert "agrees with the MILP" not in result.verification.describe()
    assert result.verification.true_loss == loss_of(result.network, data)
    # the forward-pass check agrees with the full MILP: the network is a feasible point of it
    full = bnnmip.lower(task.architecture, data, symmetry_breaking=False)
    assert full.problem.violation(full.encode(result.network)) <= 1e-9
    assert result.problem_size["variables"] < full.problem.n_cols


def test_forward_pass_feasibility_matches_the_full_milp():
    from bnnmip.strategies._lns import full_view, network_violation
    from bnnmip.strategies.local_search import random_network

    data = noisy_moons(30, 9)
    arch = bnnmip.Architecture(2, (3,), 2)
    full = bnnmip.lower(arch, data, formulation="paper", symmetry_breaking=False)
    view = full_view(arch, data, "paper", None)
    assert view.bias_bounds() == full.bias_bounds() and view.eps == full.eps
    rng = np.random.default_rng(0)
    verdicts = set()
    for _ in range(10):
        net = repair_margins(full, random_network(full, rng))
        t = data.X @ net.weights[0][0] + net.biases[0][0]
        biases = [np.array(b) for b in net.biases]
        biases[0][0] -= t[t > 0].min()  # a point exactly on the hyperplane: margin broken
        on_plane = bnnmip.BinarizedNetwork.from_arrays(net.weights, biases)
        too_big = bnnmip.BinarizedNetwork.from_arrays([3 * W for W in net.weights], net.biases)
        for cand in (net, on_plane, too_big):
            milp = full.problem.violation(full.encode(cand)) <= 1e-9
            assert (network_violation(view, cand) <= 1e-9) == milp
            verdicts.add(milp)
    assert verdicts == {True, False}
