"""The portfolio backend: options, the same optima as single backends, who found and proved, crashes.

Every solve here ends by a proof or a node limit: no outcome depends on the clock.
"""

import json
import logging
import tempfile
import threading

import numpy as np
import pytest

import bnnmip
from bnnmip import Architecture, TrainingSet
from bnnmip.backends import SolveOptions, SolveStatus
from bnnmip.cli import main
from bnnmip.errors import InvalidInputError
from bnnmip.plugins import reset_plugin_manager
from bnnmip.strategies import trivial_network
from bnnmip.testing import fake_distribution, infeasible_problem
from bnnmip_portfolio import PortfolioBackend
from bnnmip_portfolio.config import parse_options


def _random_labels(m: int):
    """Random labels on ``m`` points, one hidden neuron: a positive optimum, proven in about a second."""
    rng = np.random.default_rng(m)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (m, 3)), rng.integers(0, 2, m))
    return bnnmip.lower(Architecture(3, (1,), 2), data)


def _solve(backend, problem, **kw):
    return bnnmip.solve(backend, problem, SolveOptions(threads=1, seed=0, time_limit=120, **kw))


# -- options -----------------------------------------------------------------------------------

def test_members_labels_seeds_and_member_options():
    config = parse_options({"members": "highs,scip,highs", "highs.2:seed": "5",
                            "highs:mip_heuristic_effort": "0.3", "executor": "local"})
    assert [(m.label, m.backend, m.seed) for m in config.members] == [
        ("highs", "highs", None), ("scip", "scip", None), ("highs.2", "highs", 5)]
    assert config.members[0].solver_options == {"mip_heuristic_effort": "0.3"}
    assert config.scheduler is None and config.explicit
    assert parse_options({"members": "cbc", "executor": "dask:tcp://10.0.0.1:8786"}).scheduler == (
        "tcp://10.0.0.1:8786")


@pytest.mark.parametrize("options, words", [
    ({"members": "highs,nosuch"}, "unknown backend 'nosuch'; installed: "),
    ({"members": "highs,portfolio"}, "cannot be a member of itself"),
    ({"members": ""}, "names no backend"),
    ({"bnnmip_no_such_parameter": 1}, "portfolio has no option 'bnnmip_no_such_parameter'"),
    ({"members": "highs", "scip:seed": 1}, "no member labelled 'scip' (members: highs)"),
    ({"members": "highs", "highs:seed": "x"}, "highs:seed='x': a seed is a whole number"),
    ({"executor": "threads"}, "executor='threads': use executor=local"),
    ({"members": "highs", "highs:no_such_option": 1}, "member highs: HiGHS has no option 'no_such_option'"),
    ({"members": "highs", "highs:time_limit": 1}, "it sets the time limit"),
    ({"members": "highs", "lead": "thred"}, "lead='thred': use lead=thread"),
])
def test_bad_options_are_refused_by_name_before_anything_runs(options, words):
    with pytest.raises(InvalidInputError) as err:
        bnnmip.backends.check_solver_options(PortfolioBackend(), SolveOptions(solver_options=options))
    assert words in str(err.value)


def test_listed_with_its_default_members():
    backend = bnnmip.get_backend("portfolio")
    assert backend.availability() == (True, "")
    assert backend.solver_version().startswith("scip ")


# -- solves ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_same_optimum_as_each_single_backend_with_the_finder_and_prover_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the members' folders land here
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    low = _random_labels(14)
    singles = {name: _solve(bnnmip.get_backend(name), low.problem) for name in ("highs", "scip")}
    assert all(r.status is SolveStatus.OPTIMAL for r in singles.values())
    res = _solve(bnnmip.get_backend("portfolio"), low.problem, solver_options={"members": "highs,scip"})
    assert res.status is SolveStatus.OPTIMAL
    for single in singles.values():
        assert res.objective == pytest.approx(single.objective, abs=1e-6)
    assert res.bound == pytest.approx(res.objective, abs=1e-6) and res.gap <= 1e-4
    d = res.details["portfolio"]
    assert d["proof"] == "optimal" and d["proved_by"] in ("highs", "scip")
    assert d["found_by"] in ("highs", "scip", "heuristic")
    assert {m["label"] for m in d["members"]} == {"highs", "scip"}
    assert f"proven optimal by {d['proved_by']}" in res.message
    assert f"found by {d['found_by']}" in res.message
    assert res.summary()["details"]["portfolio"]["proved_by"] == d["proved_by"]
    verified = bnnmip.verify(low, low.decode(res.x), res.x, res.objective)
    assert verified.ok, verified.describe()
    states = {m["label"]: m["state"] for m in d["members"]}
    assert sorted(states.values()) in (["finished", "killed"], ["finished", "finished"]), states
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("bnnmip-portfolio-")]


@pytest.mark.slow
def test_an_infeasible_problem_is_proven_so_by_a_member():
    res = _solve(bnnmip.get_backend("portfolio"), infeasible_problem(),
                 solver_options={"members": "highs,scip"})
    assert res.status is SolveStatus.INFEASIBLE and res.x is None
    d = res.details["portfolio"]
    assert d["proof"] == "infeasible" and d["proved_by"] in ("highs", "scip")


@pytest.mark.slow
def test_threads_cap_the_member_processes_and_seeds_reach_the_members():
    low = _random_labels(10)
    res = bnnmip.solve(bnnmip.get_backend("portfolio"), low.problem,
                       SolveOptions(threads=2, seed=3, time_limit=120,
                                    solver_options={"members": "highs,scip,cbc", "highs:seed": 5}))
    assert res.status is SolveStatus.OPTIMAL and res.objective == pytest.approx(2.0, abs=1e-6)
    states = {m["label"]: m["state"] for m in res.details["portfolio"]["members"]}
    assert states["cbc"] == "not run"
    seeds = {m["label"]: m["seed"] for m in res.details["portfolio"]["members"]}
    assert seeds == {"highs": 5, "scip": 3, "cbc": 3}  # its own, else the solve's
    assert "member cbc not run: threads=2: one member process per thread" in res.message


# -- members that crash, fail or lie -----------------------------------------------------------

_MEMBERS = '''
import os
import time
import bnnmip
from bnnmip.backends import NativeResult
from bnnmip_highs import HighsBackend


class Crasher(HighsBackend):
    name = "crasher"

    def run(self, model, options):
        os._exit(3)  # the member process dies in the middle of its solve


class Failer(HighsBackend):
    name = "failer"

    def run(self, model, options):
        raise RuntimeError("solver exploded")


class Liar(HighsBackend):
    name = "liar"

    def extract(self, model, problem, options):
        native = super().extract(model, problem, options)  # the true optimum, with a bound above it
        return NativeResult("kTimeLimit", has_solution=True, x=native.x, bound=native.objective + 5,
                            nodes=native.nodes, message="claims a bound above its own solution")


class Waiter(HighsBackend):
    name = "waiter"

    def run(self, model, options):  # never proves: waits until the portfolio interrupts it
        for _ in range(6000):
            if options.interrupt is not None and options.interrupt():
                return
            time.sleep(0.01)


class Absent(HighsBackend):
    name = "absent"

    def availability(self):
        return False, "its solver is not installed here"


@bnnmip.hookimpl
def bnnmip_register_backends(register):
    register(Absent())
    register(Crasher())
    register(Failer())
    register(Liar())
    register(Waiter())
'''


@pytest.fixture
def odd_members(tmp_path, monkeypatch):
    fake_distribution(tmp_path, "odd-members", {"odd": "odd_members"}, {"odd_members": _MEMBERS})
    monkeypatch.syspath_prepend(str(tmp_path))  # the member processes get the coordinator's sys.path
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.mark.slow
def test_a_crashing_member_is_reported_and_the_others_carry_on(odd_members):
    low = _random_labels(10)
    # a crashing solver in the calling process would take it down, as a single backend would:
    # crashes are a reason to run the lead in a process of its own
    alone = _solve(bnnmip.get_backend("portfolio"), low.problem,
                   solver_options={"members": "crasher", "lead": "process"})
    assert alone.status is SolveStatus.ERROR
    crashed = alone.details["portfolio"]["members"][0]
    assert crashed["state"] == "crashed" and "exit code 3" in crashed["note"], crashed
    res = _solve(bnnmip.get_backend("portfolio"), low.problem,
                 solver_options={"members": "absent,crasher,failer,highs", "lead": "process"})
    assert res.status is SolveStatus.OPTIMAL and res.objective == pytest.approx(2.0, abs=1e-6)
    members = {m["label"]: m for m in res.details["portfolio"]["members"]}
    assert res.details["portfolio"]["proved_by"] == "highs"
    assert members["absent"]["state"] == "not run"
    assert "member absent not run: its solver is not installed here" in res.message
    assert members["crasher"]["state"] in ("crashed", "killed")  # killed if highs proved first
    assert members["failer"]["state"] in ("finished", "killed")
    if members["failer"]["state"] == "finished":
        assert members["failer"]["status"] == "error" and "solver exploded" in members["failer"]["note"]


@pytest.mark.slow
def test_the_lead_runs_in_this_process_and_is_interrupted_by_another_members_proof(odd_members):
    low = _random_labels(10)
    res = _solve(bnnmip.get_backend("portfolio"), low.problem, solver_options={"members": "waiter,highs"})
    assert res.status is SolveStatus.OPTIMAL and res.details["portfolio"]["proved_by"] == "highs"
    members = {m["label"]: m for m in res.details["portfolio"]["members"]}
    assert members["waiter"]["runs_in"] == "this process" and members["highs"]["runs_in"] == "process"
    assert members["waiter"]["state"] == "killed", members["waiter"]
    assert not [t for t in threading.enumerate() if t.name.startswith("bnnmip-portfolio-")], "the lead still runs"


def test_a_lead_that_cannot_be_interrupted_runs_in_a_process():
    from bnnmip_cbc import CbcBackend
    from bnnmip.backends import BackendFeature

    assert BackendFeature.INTERRUPT not in CbcBackend().features
    low = _random_labels(10)
    coordinator = PortfolioBackend().build(low.problem, SolveOptions(solver_options={"members": "cbc,highs"}))
    assert coordinator.lead() is None
    coordinator = PortfolioBackend().build(low.problem, SolveOptions(solver_options={"members": "highs,cbc"}))
    assert coordinator.lead().label == "highs"
    coordinator = PortfolioBackend().build(
        low.problem, SolveOptions(solver_options={"members": "highs,cbc", "lead": "process"}))
    assert coordinator.lead() is None


@pytest.mark.slow
def test_an_interrupted_portfolio_stops_every_member_and_keeps_its_incumbent():
    from bnnmip.testing import hard_instance

    low = hard_instance(n_points=60, seed=2)
    start = low.encode(trivial_network(low.architecture, low.data))
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 20  # the coordinator polls about 10 times a second

    res = bnnmip.solve(bnnmip.get_backend("portfolio"), low.problem,
                       SolveOptions(time_limit=600, mip_start=start, interrupt=stop,
                                    solver_options={"members": "scip,highs"}))
    assert res.status is SolveStatus.FEASIBLE and res.objective <= low.problem.objective(start) + 1e-9
    assert {m["state"] for m in res.details["portfolio"]["members"]} <= {"killed", "finished"}
    assert not [t for t in threading.enumerate() if t.name.startswith("bnnmip-portfolio-")], "the lead still runs"


@pytest.mark.slow
def test_a_member_whose_bound_contradicts_a_known_solution_is_not_trusted(odd_members):
    low = _random_labels(10)
    res = _solve(bnnmip.get_backend("portfolio"), low.problem, solver_options={"members": "liar"})
    assert res.status is SolveStatus.FEASIBLE  # its own solution is kept, its bound and proof are not
    assert res.objective == pytest.approx(2.0, abs=1e-6) and res.bound is None
    liar = res.details["portfolio"]["members"][0]
    assert liar["wrong"].startswith("claimed the bound 7")
    assert "WRONG: claimed the bound 7" in res.message


# -- start, heuristic, log ---------------------------------------------------------------------

@pytest.mark.slow
def test_the_start_counts_and_a_node_limit_keeps_its_quality(tmp_path):
    low = _random_labels(14)
    start = low.encode(trivial_network(low.architecture, low.data))
    log = tmp_path / "portfolio.log"
    res = _solve(bnnmip.get_backend("portfolio"), low.problem, node_limit=1, mip_start=start, log_file=log,
                 solver_options={"members": "highs,scip"})
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert res.objective <= low.problem.objective(start) + 1e-9 and res.mip_start_used is True
    assert res.details["portfolio"]["incumbents"][0][1] == "start"
    text = log.read_text()
    assert "incumbent" in text and "===== member highs" in text and "===== member scip" in text


# -- where members run, and the command line ---------------------------------------------------

@pytest.mark.slow
def test_members_on_dask_workers_reach_the_same_optimum():
    distributed = pytest.importorskip("distributed")
    low = _random_labels(10)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    try:
        executor = f"dask:{cluster.scheduler_address}"
        res = _solve(bnnmip.get_backend("portfolio"), low.problem,
                     solver_options={"members": "highs,scip", "executor": executor})
    finally:
        cluster.close()
    assert res.status is SolveStatus.OPTIMAL and res.objective == pytest.approx(2.0, abs=1e-6)
    d = res.details["portfolio"]
    assert d["executor"].startswith("dask:") and d["proved_by"] in ("highs", "scip")


@pytest.mark.slow
def test_cli_train_shows_who_found_and_who_proved(tmp_path, capsys):
    rng = np.random.default_rng(14)
    csv = tmp_path / "random.csv"
    rows = [",".join(f"{v:.3f}" for v in x) + f",{c}" for x, c in zip(rng.uniform(0, 1, (20, 3)),
                                                                       rng.integers(0, 2, 20), strict=True)]
    csv.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    args = ["train", str(csv), "--hidden", "1", "--backend", "portfolio",
            "--solver-option", "members=highs,scip", "--time-limit", "120"]
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "optimal", out["solve"]
    d = out["solve"]["details"]["portfolio"]
    assert d["proof"] == "optimal" and d["proved_by"] in ("highs", "scip")
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"proven optimal by {d['proved_by']}" in text and "  portfolio    incumbent found by" in text
