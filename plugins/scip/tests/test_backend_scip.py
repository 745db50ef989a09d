"""The SCIP backends (``scip``: big-M rows, ``scip-indicator``: indicator constraints)."""

import re
import subprocess
import sys

import attrs
import numpy as np
import pytest
import scipy.sparse as sp

import bnnmip
from bnnmip.heuristics import ste_network
from bnnmip.heuristics.pattern_fit import polish
from bnnmip.milp import MilpProblem
from bnnmip.strategies import trivial_network
from bnnmip.testing import hard_instance, random_teacher, xor

NAMES = ["scip", "scip-indicator"]
OPTS = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def backend(name):
    b = bnnmip.get_backend(name)
    ok, reason = b.availability()
    if not ok:
        pytest.skip(f"{name} unavailable: {reason}")
    return b


def xor_lowering(hidden):
    return xor(hidden).lower()


def teacher_lowering(seed=3):
    net, data = random_teacher(3, (2,), 2, 20, seed=seed)
    return net, bnnmip.lower(bnnmip.Architecture(3, (2,), 2), data)


def all_variants():
    from bnnmip_scip import ScipBackend

    return [ScipBackend(), ScipBackend(indicators=True)]


def test_registered_with_features():
    from bnnmip_scip import ScipBackend

    table = bnnmip.list_backends()
    assert isinstance(table["scip"], ScipBackend) and not table["scip"].indicators
    assert table["scip-indicator"].indicators
    F = bnnmip.BackendFeature
    assert {F.MIP_START, F.PARTIAL_MIP_START, F.LOG_FILE, F.SEED} <= table["scip"].features
    assert F.THREADS not in table["scip"].features
    assert F.INDICATOR_CONSTRAINTS in table["scip-indicator"].features
    assert F.CALLBACKS in table["scip"].features and F.CALLBACKS in table["scip-indicator"].features


def test_availability_does_not_import_pyscipopt():
    code = (
        "import sys\nfrom bnnmip_scip import ScipBackend\n"
        "assert ScipBackend().availability()[0]\nprint('pyscipopt' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("hidden, optimum", [((2,), 0.0), ((), 2.0)])
def test_xor_optimum_every_build(hidden, optimum):
    backend("scip")
    low = xor_lowering(hidden)
    for b in all_variants():
        res = bnnmip.solve(b, low.problem, OPTS)
        assert res.status is bnnmip.SolveStatus.OPTIMAL, (b, res.message)
        assert res.objective == pytest.approx(optimum, abs=1e-6), b
        assert res.bound == pytest.approx(optimum, abs=1e-6) and res.gap == 0.0
        assert res.nodes >= 0 and res.x.shape == (low.problem.n_cols,)
        assert low.problem.violation(res.x) <= 1e-6
        assert low.problem.objective(res.x) == pytest.approx(res.objective, abs=1e-6)


def test_teacher_matches_highs_and_indicators_match_big_m():
    backend("scip")
    _, low = teacher_lowering()
    ref = bnnmip.solve(bnnmip.get_backend("highs"), low.problem, OPTS)
    assert ref.status is bnnmip.SolveStatus.OPTIMAL
    for b in all_variants():
        res = bnnmip.solve(b, low.problem, OPTS)
        assert res.status is bnnmip.SolveStatus.OPTIMAL, (b, res.message)
        assert res.objective == pytest.approx(ref.objective, abs=1e-6), b
        assert low.problem.violation(res.x) <= 1e-5


def test_indicator_rows_replace_big_m_rows():
    from bnnmip.milp import RowKind

    b = backend("scip-indicator")
    low = xor_lowering((2,))
    n_bigm = sum(r.size for r in low.problem.rows if r.kind in (RowKind.BIGM_OFF, RowKind.BIGM_ON))
    res = bnnmip.solve(b, low.problem, OPTS)
    # one indicator per finite side: every big-M row here is one-sided
    assert f"{n_bigm} indicator constraints" in res.message


def test_infeasible():
    problem = MilpProblem(
        c=np.array([1.0, 1.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0], [1.0, -1.0]])),
        row_lower=np.array([1.0, 0.0]),  # x0 + x1 = 1 and x0 = x1: no integer point
        row_upper=np.array([1.0, 0.0]),
        col_lower=np.zeros(2),
        col_upper=np.ones(2),
        integrality=np.array([True, True]),
        offset=3.0,
    )
    for name in NAMES:
        res = bnnmip.solve(backend(name), problem, OPTS)
        assert res.status is bnnmip.SolveStatus.INFEASIBLE, res.message
        assert res.x is None and res.objective is None and res.bound is None


@pytest.mark.parametrize("name", NAMES)
def test_time_limit_is_never_optimal(name):
    b = backend(name)
    rng = np.random.default_rng(0)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (300, 5)), rng.integers(0, 2, 300))
    low = bnnmip.lower(bnnmip.Architecture(5, (3,), 2), data)
    x0 = low.encode(trivial_network(low.architecture, data))
    res = bnnmip.solve(b, low.problem, bnnmip.SolveOptions(time_limit=1.0, mip_start=x0))
    assert res.status is bnnmip.SolveStatus.FEASIBLE, res.message
    assert "timelimit" in res.message
    assert res.objective <= low.problem.objective(x0) + 1e-6
    assert res.bound is None or res.bound <= res.objective + 1e-6
    assert res.solve_seconds < 10


@pytest.mark.parametrize("name", NAMES)
def test_mip_starts(name):
    b = backend(name)
    net, low = teacher_lowering()
    full = bnnmip.solve(b, low.problem, bnnmip.SolveOptions(mip_start=low.encode(net)))
    assert full.mip_start_used is True and full.objective == pytest.approx(0.0, abs=1e-6)
    part = bnnmip.solve(b, low.problem, bnnmip.SolveOptions(mip_start=low.encode(net, partial=True)))
    assert part.mip_start_used is True and part.objective == pytest.approx(0.0, abs=1e-6)
    none = bnnmip.solve(b, low.problem, OPTS)
    assert none.mip_start_used is None


def test_infeasible_full_start_is_reported_unused():
    b = backend("scip")
    net, low = teacher_lowering()
    bad = low.encode(net)
    bad[low.problem.columns["u1"].start] = 1 - bad[low.problem.columns["u1"].start]
    assert low.problem.violation(bad) > 0
    res = bnnmip.solve(b, low.problem, bnnmip.SolveOptions(mip_start=bad))
    assert res.mip_start_used is False and res.status is bnnmip.SolveStatus.OPTIMAL


@pytest.mark.parametrize("name", NAMES)
def test_train_xor_verifies(name):
    backend(name)
    arch = bnnmip.Architecture(n_inputs=2, hidden=(2,), n_classes=2)
    result = bnnmip.train(arch, bnnmip.TrainingSet.from_arrays(XOR_X, XOR_Y), backend=name,
                          options=OPTS)
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert result.verification.mismatches == 0 and result.verification.ok


def test_log_file_and_quiet(tmp_path, capfd):
    b = backend("scip")
    path = tmp_path / "scip.log"
    bnnmip.solve(b, xor_lowering((2,)).problem, bnnmip.SolveOptions(log_file=path))
    assert "SCIP Status" in path.read_text()
    out, _ = capfd.readouterr()
    assert "SCIP" not in out


def test_status_map_is_literal():
    from bnnmip_scip.backend import _STATUS

    S = bnnmip.SolveStatus
    assert _STATUS["optimal"] == (S.OPTIMAL, S.ERROR)
    assert _STATUS["gaplimit"][0] is S.OPTIMAL
    for limit in ("timelimit", "nodelimit", "userinterrupt", "memlimit", "sollimit"):
        assert _STATUS[limit] == (S.FEASIBLE, S.NO_SOLUTION)
    assert _STATUS["infeasible"] == (S.INFEASIBLE, S.INFEASIBLE)
    assert all(S.OPTIMAL not in v for k, v in _STATUS.items() if k not in ("optimal", "gaplimit"))


def test_solver_version():
    b = backend("scip")
    assert b.solver_version().startswith("pyscipopt ") and "SCIP" in b.solver_version()


def _hard_with_better_solution():
    """The conformance check's instance, its trivial start and a much better solution."""
    hard = hard_instance(n_points=120, seed=2)
    x0 = hard.encode(trivial_network(hard.architecture, hard.data))
    fit = polish(ste_network(hard.architecture, hard.data, seed=0), hard.architecture, hard.data.X,
                 eps=hard.eps, bias_bounds=hard.bias_bounds())
    better = hard.encode(fit.network)
    assert fit.realized and hard.problem.violation(better) <= 1e-9
    assert hard.problem.objective(better) < hard.problem.objective(x0) - 10
    return hard, x0, better


@pytest.mark.slow
def test_indicator_slacks_follow_scips_linear_rows():
    """The slack set for each indicator is the least one making SCIP's own linear row hold."""
    from bnnmip_scip import ScipBackend

    backend("scip-indicator")
    hard, _, better = _hard_with_better_solution()
    b = ScipBackend(indicators=True)
    native = b.build(hard.problem, bnnmip.SolveOptions(heuristic=lambda x: None))
    m, conss = native.model, native.indicators
    assert len(conss) > 0
    given = {v.name: val for v, val in native.slacks(better)}
    assert given, "the better solution violates no inactive row: the test would prove nothing"
    column = {v.name: better[j] for j, v in enumerate(native.vars)}
    for cons in conss:
        # SCIP's row: a x - s <= rhs, s >= 0 (pyscipopt negates a lower side into this form)
        slack, lin = m.getSlackVarIndicator(cons), m.getLinearConsIndicator(cons)
        row = m.getValsLinear(lin)
        assert row.pop(slack.name) == -1.0 and slack.getLbOriginal() == 0.0
        assert m.getLhs(lin) <= -m.infinity()
        activity = sum(a * column[name] for name, a in row.items())
        assert given.get(slack.name, 0.0) == pytest.approx(max(0.0, activity - m.getRhs(lin)), abs=1e-9)


@pytest.mark.slow
def test_indicator_heuristic_solution_is_accepted():
    """A better solution handed back during the search is accepted by SCIP (slacks filled in)."""
    from bnnmip_scip import ScipBackend

    backend("scip-indicator")
    hard, x0, better = _hard_with_better_solution()
    target = hard.problem.objective(better)
    calls = []

    def heuristic(x):
        calls.append(hard.problem.objective(x))
        return better if len(calls) == 1 else None

    b = ScipBackend(indicators=True)
    options = bnnmip.SolveOptions(threads=1, seed=0, time_limit=120.0, node_limit=20,  # no clock
                                  mip_start=x0, heuristic=heuristic)
    res = bnnmip.solve(b, hard.problem, options)
    assert calls[0] == pytest.approx(hard.problem.objective(x0))
    assert re.search(r"heuristic called \d+x, 1 solution\(s\) handed back", res.message), res.message
    assert "1 heuristic solution(s) accepted by SCIP" in res.message, res.message
    assert res.objective <= target + 1e-6
    assert hard.problem.violation(res.x) <= 1e-5


@pytest.mark.slow
def test_train_improve_coordinate_on_indicators():
    """``improve="coordinate"`` runs end to end on ``scip-indicator``."""
    backend("scip-indicator")
    rng = np.random.default_rng(3)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (60, 4)), rng.integers(0, 2, 60))
    arch = bnnmip.Architecture(4, (2,), 2)
    res = bnnmip.train(arch, data, backend="scip-indicator", formulation="tight",
                       options=attrs.evolve(OPTS, time_limit=3),
                       params={"start": "none", "improve": "coordinate"})
    rec = next(r for r in res.history if r.get("improve") == "coordinate")
    assert rec["improve_calls"] >= 1
    assert "indicator constraints" in res.final.message and "failed" not in res.final.message
    # every improved incumbent handed back is feasible, so SCIP must accept each one
    accepted = re.search(r"(\d+) heuristic solution\(s\) accepted by SCIP", res.final.message)
    given = re.search(r"(\d+) solution\(s\) handed back", res.final.message)
    assert given and accepted and given[1] == accepted[1] == str(rec["improve_solutions"]), res.final.message
    assert res.verification.ok
