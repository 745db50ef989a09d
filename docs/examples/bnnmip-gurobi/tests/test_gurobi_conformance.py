"""The Gurobi plugin against bnnmip's backend conformance suite, and through the entry point.

Run from the repository root with ``pytest docs/examples/bnnmip-gurobi/tests`` after
``pip install docs/examples/bnnmip-gurobi``.
"""

import importlib.util
import subprocess
import sys

import bnnmip
import numpy as np
import pytest
import scipy.sparse as sp
from bnnmip.backends import prepared_options
from bnnmip.testing import CONFORMANCE_CHECKS, xor

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("gurobipy") is None,
        reason="gurobipy (a commercial solver's package) is not installed: pip install gurobipy",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("bnnmip_gurobi") is None,
        reason="the example plugin is not installed: pip install ./docs/examples/bnnmip-gurobi",
    ),
]


@pytest.fixture(scope="module")
def backend():
    from bnnmip_gurobi import GurobiBackend

    return GurobiBackend()


def _check_id(check):
    return check.__name__.removeprefix("check_")


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=_check_id)
def test_conformance(backend, check):
    check(backend)


def test_found_through_the_entry_point():
    from bnnmip_gurobi import GurobiBackend

    found = bnnmip.get_backend("gurobi")
    assert isinstance(found, GurobiBackend)
    assert found.availability() == (True, "")


def test_train_xor_through_the_registry():
    inst = xor()
    result = bnnmip.train(
        inst.architecture, inst.data, backend="gurobi", options=bnnmip.SolveOptions(threads=1)
    )
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert abs(result.objective) <= 1e-6
    assert result.verification.ok, result.verification.describe()


def test_cli_lists_gurobi():
    out = subprocess.run(
        [sys.executable, "-m", "bnnmip", "backends"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in out.splitlines()]
    row = next((r for r in rows if r and r[0] == "gurobi"), None)
    assert row is not None, out
    assert "yes" in row


def test_ranged_equality_and_free_rows(backend):
    # min -x0 - 2 x1 + 1  s.t.  1 <= x0 + x1 <= 2.5 (ranged), x0 - x1 = 0, a free row;
    # x0 >= 0 integer, x1 free: x0 = x1 = 1, objective -2
    problem = bnnmip.MilpProblem(
        c=np.array([-1.0, -2.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0], [1.0, -1.0], [3.0, 4.0]])),
        row_lower=np.array([1.0, 0.0, -np.inf]),
        row_upper=np.array([2.5, 0.0, np.inf]),
        col_lower=np.array([0.0, -np.inf]),
        col_upper=np.array([np.inf, np.inf]),
        integrality=np.array([True, False]),
        offset=1.0,
    )
    native = backend.build(problem, prepared_options(backend, problem, bnnmip.SolveOptions())[0])
    native.model.update()
    assert native.model.NumConstrs == 3  # = row, <= and >= halves of the ranged row; free dropped
    res = bnnmip.solve(backend, problem, bnnmip.SolveOptions())
    assert res.status is bnnmip.SolveStatus.OPTIMAL, res.message
    assert res.objective == pytest.approx(-2.0)
    assert res.x == pytest.approx([1.0, 1.0])


def test_rejected_start_is_reported_unused(backend):
    from bnnmip import Architecture, lower
    from bnnmip.testing import random_teacher

    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    start = low.encode(net)
    ints = low.problem.integrality
    start[ints] = 1.0 - start[ints]  # every binary flipped: violates the rows
    res = bnnmip.solve(backend, low.problem, bnnmip.SolveOptions(mip_start=start))
    assert res.status is bnnmip.SolveStatus.OPTIMAL
    assert res.mip_start_used is False


def test_quiet_solve_prints_nothing(backend, capfd):
    from bnnmip import lower

    inst = xor()
    low = lower(inst.architecture, inst.data)
    teacher, _ = bnnmip.testing.random_teacher(2, (2,), 2, 4, seed=0)
    start = low.encode(teacher, partial=True)  # a start switches Gurobi's log on, unseen
    bnnmip.solve(backend, low.problem, bnnmip.SolveOptions(mip_start=start))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _wide_problem(n):
    return bnnmip.MilpProblem(
        c=np.ones(n),
        A=sp.csr_matrix(np.ones((1, n))),
        row_lower=np.array([1.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, dtype=bool),
    )


def test_licence_error_is_a_clear_error_result(backend, monkeypatch):
    import gurobipy as gp

    from bnnmip_gurobi import LICENCE_MESSAGE

    def refuse(self, *args, **kwargs):
        raise gp.GurobiError(10010, "Model too large for size-limited license")

    monkeypatch.setattr(gp.Model, "optimize", refuse)
    res = bnnmip.solve(backend, bnnmip.testing.infeasible_problem(), bnnmip.SolveOptions())
    assert res.status is bnnmip.SolveStatus.ERROR
    assert LICENCE_MESSAGE in res.message


def test_too_large_for_the_pip_licence(backend, monkeypatch):
    from bnnmip_gurobi import LICENCE_MESSAGE, GurobiBackend

    built = []
    build = GurobiBackend.build
    monkeypatch.setattr(GurobiBackend, "build", lambda self, *a: built.append(1) or build(self, *a))
    res = bnnmip.solve(backend, _wide_problem(backend.size_limits[0] + 1), bnnmip.SolveOptions())
    if res.status is bnnmip.SolveStatus.OPTIMAL:
        pytest.skip("a full Gurobi licence is installed: no size limit to hit")
    assert res.status is bnnmip.SolveStatus.UNSUPPORTED and not built  # refused before building
    assert LICENCE_MESSAGE in res.message and "2,001 columns" in res.message


def test_train_refuses_a_model_too_large_for_the_licence(backend):
    from bnnmip_gurobi.backend import _size_limited_licence

    if not _size_limited_licence():
        pytest.skip("a full Gurobi licence is installed: no size limit to hit")
    rng = np.random.default_rng(0)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (200, 10)), rng.integers(0, 2, 200))
    with pytest.raises(bnnmip.UnsupportedProblemError, match="cannot solve this training problem: "
                       ".*size-limited Gurobi licence.*use another backend \\(.*highs"):
        bnnmip.train(bnnmip.Architecture(10, (4,), 2), data, backend="gurobi")


def test_solver_options_are_checked_and_applied_last(backend):
    from bnnmip.errors import InvalidInputError

    problem = xor().lower().problem
    opts = bnnmip.SolveOptions(mip_gap=1e-4, solver_options={"MIPFocus": "1", "MIPGap": "0.25"})
    native = backend.build(problem, prepared_options(backend, problem, opts)[0])
    assert native.model.Params.MIPFocus == 1 and native.model.Params.MIPGap == 0.25
    with pytest.raises(InvalidInputError, match="Gurobi refuses Cuts=7.*maximum is 3"):
        backend.check_solver_options({"Cuts": 7})
    res = bnnmip.solve(backend, problem, bnnmip.SolveOptions(solver_options={"MIPFocus": 2}))
    assert res.status.value == "optimal" and res.objective == pytest.approx(0.0)
