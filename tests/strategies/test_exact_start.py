"""The exact strategy's gradient start, incumbent improvement and fallback."""

import re

import attrs
import numpy as np
import pytest

import bnnmip
from bnnmip import Architecture, TrainingSet
from bnnmip.backends.results import SolveResult, SolveStatus
from bnnmip.formulation import lower
from bnnmip.heuristics import improve_network
from bnnmip.heuristics.pattern_fit import polish
from bnnmip.strategies import _common, exact
from bnnmip.strategies.exact import IncumbentImprover
from bnnmip.testing import random_teacher

ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)


def _random_labels(m=40, seed=3):
    rng = np.random.default_rng(seed)
    return TrainingSet.from_arrays(rng.uniform(0, 1, (m, 4)), rng.integers(0, 2, m))


@pytest.mark.parametrize("formulation", ["paper", "tight"])
def test_gradient_start_is_recorded_and_reaches_the_teachers_optimum(formulation):
    _, data = random_teacher(6, (3,), 2, 150, seed=8)
    arch = Architecture(6, (3,), 2)
    res = bnnmip.train(arch, data, formulation=formulation, options=ONE)
    assert res.status is SolveStatus.OPTIMAL and res.loss == 0 and res.verification.ok
    start = next(r for r in res.history if "start" in r)
    assert start["start"] == "ste" and start["start_realized"]
    assert start["start_objective"] == pytest.approx(start["start_loss"])


def test_incumbent_improver_returns_a_better_feasible_solution():
    net, data = random_teacher(4, (2,), 2, 40, seed=3)
    arch = Architecture(4, (2,), 2)
    low = lower(arch, data, formulation="tight")
    # spoil one hidden threshold of the teacher: the improver's line search must find a better one
    t = data.X @ net.weights[0][0] + net.biases[0][0]
    biases = [np.array(b) for b in net.biases]
    biases[0][0] = -np.quantile(t - net.biases[0][0], 0.95)
    spoiled = attrs.evolve(net, biases=tuple(biases))
    fit = polish(spoiled, arch, data.X, eps=low.eps, bias_bounds=low.bias_bounds())
    assert fit.realized
    x = low.encode(fit.network)
    assert low.problem.violation(x) <= 1e-9
    improver = IncumbentImprover(low)
    y = improver(x)
    assert y is not None
    assert low.problem.violation(y) <= 1e-9
    assert low.problem.objective(y) < low.problem.objective(x)
    assert improver.record() | {"improve_seconds": 0} == {
        "improve": "coordinate", "improve_calls": 1, "improve_solutions": 1, "improve_seconds": 0}
    # a locally optimal incumbent gives nothing back
    better = improve_network(low.decode(y), data, bias_bound=max(low.bias_bounds()))
    z = low.encode(polish(better, arch, data.X, eps=low.eps, bias_bounds=low.bias_bounds()).network)
    assert improver(z) is None


@pytest.mark.slow
def test_improve_runs_inside_the_solver_and_is_recorded():
    data = _random_labels(m=60)
    arch = Architecture(4, (2,), 2)
    opts = attrs.evolve(ONE, time_limit=3)
    res = bnnmip.train(arch, data, formulation="tight", options=opts,
                       params={"start": "none", "improve": "coordinate"})
    rec = next(r for r in res.history if r.get("improve") == "coordinate")
    assert rec["improve_calls"] >= 1
    assert "heuristic called" in res.final.message
    none = bnnmip.train(arch, data, formulation="tight", options=opts, params={"start": "none"})
    assert not any("improve" in r for r in none.history)
    assert res.verification.ok and none.verification.ok


def test_solver_failure_falls_back_to_the_checked_start(monkeypatch):
    _, data = random_teacher(4, (2,), 2, 40, seed=2)
    arch = Architecture(4, (2,), 2)
    failed = SolveResult(SolveStatus.ERROR, "highs", "test", message="solver crashed")
    monkeypatch.setattr(_common, "solve", lambda backend, problem, options: failed)
    res = bnnmip.train(arch, data, options=ONE, params={"always_solve": True})
    assert res.status is SolveStatus.FEASIBLE
    assert res.network is not None and res.verification.ok
    assert res.loss == next(r for r in res.history if "start" in r)["start_loss"]
    fallback = res.history[-1]
    assert fallback["fallback"] == "start" and fallback["solver_status"] == "error"
    assert "solver crashed" in fallback["solver_message"]


@pytest.mark.parametrize(
    "params, message",
    [({"improve": "magic"}, "improve must be one of coordinate, none"),
     ({"start": "mlp"}, "start must be one of ste, none"),
     ({"start_seconds": "soon"}, "start_seconds must be a positive number"),
     ({"budget": 3}, "unknown exact parameter(s) budget"),
     ({"always_solve": "yes"}, "always_solve must be true or false"),
     ({"symmetry_breaking": 0}, "symmetry_breaking must be true or false"),
     ({"error_bound": "on"}, "error_bound must be true, false, auto")],
)
def test_bad_params_are_rejected_before_any_solve(params, message):
    data = _random_labels(m=8)
    with pytest.raises(bnnmip.errors.InvalidInputError, match=re.escape(message)):
        bnnmip.train(Architecture(4, (2,), 2), data, params=params)
    assert exact.DEFAULT_PARAMS == {"start": "ste", "start_seconds": 5.0, "improve": "none",
                                    "always_solve": False, "symmetry_breaking": True, "error_bound": False}


def _counting_solve(monkeypatch):
    calls = []
    real = _common.solve

    def counted(backend, problem, options):
        calls.append(problem)
        return real(backend, problem, options)

    monkeypatch.setattr(_common, "solve", counted)
    return calls


@pytest.mark.parametrize("backend", ["highs", "scip", "cbc"])
def test_a_start_with_zero_loss_is_optimal_without_calling_the_solver(monkeypatch, backend):
    if not bnnmip.plugins.registry.get_backend(backend).availability()[0]:
        pytest.skip(f"{backend} not installed")
    _, data = random_teacher(6, (3,), 2, 150, seed=8)
    arch = Architecture(6, (3,), 2)
    calls = _counting_solve(monkeypatch)
    res = bnnmip.train(arch, data, backend=backend, options=ONE)
    assert calls == []
    assert res.status is SolveStatus.OPTIMAL and res.loss == 0 and res.verification.ok
    solved = res.solves[0]
    assert solved.nodes == 0 and solved.objective == 0 and solved.bound == 0 and solved.gap == 0
    assert solved.mip_start_used and "trivial lower bound" in solved.message
    assert res.network.hamming_loss(data.X, data.y, scaled=True) == 0


def test_always_solve_calls_the_solver_on_a_zero_loss_start(monkeypatch):
    _, data = random_teacher(6, (3,), 2, 150, seed=8)
    arch = Architecture(6, (3,), 2)
    calls = _counting_solve(monkeypatch)
    res = bnnmip.train(arch, data, options=ONE, params={"always_solve": True})
    assert len(calls) == 1
    assert res.status is SolveStatus.OPTIMAL and res.loss == 0 and res.verification.ok
    assert "trivial lower bound" not in res.solves[0].message


@pytest.mark.slow
def test_a_start_above_the_bound_is_searched(monkeypatch):
    data = _random_labels(m=30, seed=5)
    arch = Architecture(4, (1,), 2)  # one neuron cannot fit these random labels: loss > 0
    calls = _counting_solve(monkeypatch)
    res = bnnmip.train(arch, data, options=ONE)
    assert next(r for r in res.history if "start" in r)["start_loss"] > 0
    assert len(calls) == 1 and res.status is SolveStatus.OPTIMAL and res.verification.ok


def test_symmetry_breaking_can_be_turned_off_with_the_same_optimum():
    data = _random_labels(m=14, seed=7)
    arch = Architecture(4, (2,), 2)
    params = {"start": "none", "always_solve": True}
    on = bnnmip.train(arch, data, options=ONE, params=params)
    off = bnnmip.train(arch, data, options=ONE, params={**params, "symmetry_breaking": False})
    assert on.status is off.status is SolveStatus.OPTIMAL
    assert on.objective == pytest.approx(off.objective)
    assert off.problem_size["rows"] < on.problem_size["rows"]  # the ordering rows are gone


# -- symmetry breaking: the user's choice, else the backend's preference, else on ---------------


def _sym_record(res):
    rec = next(r for r in res.history if "formulation" in r)
    return {k: v for k, v in rec.items() if k != "activation_groups"}


def _preferring(defaults, name="prefers"):
    from bnnmip_highs import HighsBackend

    class Prefers(HighsBackend):
        pass

    Prefers.name = name
    Prefers.formulation_defaults = defaults
    return Prefers()


def test_backends_without_a_preference_keep_symmetry_breaking(capture_lowerings):
    data = _random_labels(m=8)
    seen = capture_lowerings(exact)
    res = bnnmip.train(Architecture(4, (2,), 2), data, backend="highs", options=ONE,
                       params={"start": "none"})
    assert seen[0].symmetry_breaking
    assert _sym_record(res) == {"formulation": "tight", "symmetry_breaking": True,
                                "symmetry_breaking_source": "default"}
    assert res.history[0]["formulation"] == "tight"  # the lowering comes first
    assert res.history[0]["activation_groups"] == 8
    assert res.iterations == 0  # an auxiliary record, not an iteration


def test_a_backends_preference_is_the_default_and_the_user_still_wins(capture_lowerings):
    data = _random_labels(m=8)
    arch = Architecture(4, (2,), 2)
    backend = _preferring({"symmetry_breaking": False})
    seen = capture_lowerings(exact)
    params = {"start": "none"}
    pref = bnnmip.train(arch, data, backend=backend, options=ONE, params=params)
    user = bnnmip.train(arch, data, backend=backend, options=ONE,
                        params={**params, "symmetry_breaking": True})
    assert [low.symmetry_breaking for low in seen] == [False, True]
    assert _sym_record(pref) == {"formulation": "tight", "symmetry_breaking": False,
                                 "symmetry_breaking_source": "backend"}
    assert _sym_record(user) == {"formulation": "tight", "symmetry_breaking": True,
                                 "symmetry_breaking_source": "user"}
    assert pref.problem_size == lower(arch, data, symmetry_breaking=False).problem.size_summary()
    assert user.problem_size == lower(arch, data).problem.size_summary()
    # the user's explicit default value wins over the backend's too
    off = bnnmip.train(arch, data, backend=_preferring({"symmetry_breaking": True}), options=ONE,
                       params={**params, "symmetry_breaking": False})
    assert _sym_record(off)["symmetry_breaking_source"] == "user" and not seen[-1].symmetry_breaking


def test_a_formulation_without_symmetry_rows_records_none():
    data = _random_labels(m=8)
    res = bnnmip.train(Architecture(4, (2,), 2), data, formulation="paper", options=ONE,
                       params={"start": "none", "symmetry_breaking": True})
    assert _sym_record(res) == {"formulation": "paper", "symmetry_breaking": False,
                                "symmetry_breaking_source": "formulation"}


@pytest.mark.parametrize(
    "declared, message",
    [({"symmetry_braking": False}, "unknown formulation default(s) symmetry_braking"),
     ({"symmetry_breaking": "no"}, "symmetry_breaking must be True or False, got 'no'"),
     ({"symmetry_breaking": 0}, "symmetry_breaking must be True or False, got 0"),
     (["symmetry_breaking"], "formulation_defaults must be a mapping"),
     ("symmetry_breaking=false", "formulation_defaults must be a mapping")],
)
def test_a_bad_backend_preference_is_a_clear_error_before_any_solve(monkeypatch, declared, message):
    data = _random_labels(m=8)
    calls = _counting_solve(monkeypatch)
    backend = _preferring(declared, name="sloppy")
    for params in ({}, {"symmetry_breaking": True}):  # checked even when the user decides
        with pytest.raises(bnnmip.PluginError, match=r"backend 'sloppy'.*" + re.escape(message)):
            bnnmip.train(Architecture(4, (2,), 2), data, backend=backend, params=params)
    assert calls == []


def test_formulation_defaults_are_read_and_checked():
    from bnnmip.backends import FORMULATION_SETTINGS, formulation_defaults

    assert set(FORMULATION_SETTINGS) == {"symmetry_breaking"}
    assert formulation_defaults(bnnmip.get_backend("highs")) == {}
    assert formulation_defaults(_preferring(None)) == {}
    assert formulation_defaults(_preferring({})) == {}
    assert formulation_defaults(_preferring({"symmetry_breaking": np.False_})) == {"symmetry_breaking": False}
