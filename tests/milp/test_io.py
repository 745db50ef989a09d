"""MPS and LP writers: solvers read the files back and reach the arrays' optimum."""

import re
import time

import numpy as np
import pytest
import scipy.sparse as sp

import bnnmip
from bnnmip.milp import MilpProblem
from bnnmip.milp.io import OBJCONST, column_index, write_lp, write_mps

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def xor_problem(hidden):
    arch = bnnmip.Architecture(n_inputs=2, hidden=hidden, n_classes=2)
    return bnnmip.lower(arch, bnnmip.TrainingSet.from_arrays(XOR_X, XOR_Y)).problem


def highs_file_optimum(path):
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value, h


def scip_file_optimum(path):
    pyscipopt = pytest.importorskip("pyscipopt")
    m = pyscipopt.Model()
    m.hideOutput()
    m.readProblem(str(path))
    m.optimize()
    assert m.getStatus() == "optimal"
    return m.getObjVal()


def odd_problem():
    """Every row and bound kind: ranged, equality, free row, negative, free and fixed columns."""
    A = sp.csr_matrix(
        np.array(
            [
                [1.0, 1.0, 0.0, 0.0, 0.0],   # ranged: 1 <= x0 + x1 <= 3
                [1.0, -1.0, 2.0, 0.0, 0.0],  # equality = 0.5
                [0.0, 0.0, 1.0, 1.0, 0.0],   # free row (skipped)
                [0.0, 1.0, 0.0, -1.0, 1.0],  # <= 2.25
                [1.0, 0.0, 0.0, 1.0, 0.0],   # >= -4
            ]
        )
    )
    return MilpProblem(
        c=np.array([1.0, -2.0, 0.5, 1.0, 0.0]),
        A=A,
        row_lower=np.array([1.0, 0.5, -np.inf, -np.inf, -4.0]),
        row_upper=np.array([3.0, 0.5, np.inf, 2.25, np.inf]),
        col_lower=np.array([-2.0, 0.0, -np.inf, -np.inf, 1.5]),
        col_upper=np.array([5.0, 4.0, np.inf, 3.0, 1.5]),
        integrality=np.array([True, True, False, False, False]),
        offset=-7.25,
        name="odd problem",
    )


@pytest.mark.parametrize("hidden, optimum", [((2,), 0.0), ((), 2.0)])
def test_xor_files_reach_the_arrays_optimum(tmp_path, hidden, optimum):
    problem = xor_problem(hidden)
    assert problem.offset != 0  # the constant matters for these optima
    direct = bnnmip.solve(bnnmip.get_backend("highs"), problem)
    assert direct.status is bnnmip.SolveStatus.OPTIMAL
    assert direct.objective == pytest.approx(optimum, abs=1e-9)
    write_mps(problem, tmp_path / "m.mps")
    write_lp(problem, tmp_path / "m.lp")
    for name in ("m.mps", "m.lp"):
        value, _ = highs_file_optimum(tmp_path / name)
        assert value == pytest.approx(optimum, abs=1e-9), name
    assert scip_file_optimum(tmp_path / "m.mps") == pytest.approx(optimum, abs=1e-9)


def test_mps_holds_exactly_the_arrays(tmp_path):
    problem = xor_problem((2,))
    write_mps(problem, tmp_path / "m.mps")
    _, h = highs_file_optimum(tmp_path / "m.mps")
    lp = h.getLp()
    names = list(lp.col_names_)
    assert names[-1] == OBJCONST and len(names) == problem.n_cols + 1
    order = [column_index(n) for n in names[:-1]]
    assert order == list(range(problem.n_cols))
    np.testing.assert_array_equal(np.asarray(lp.col_cost_)[:-1], problem.c)
    assert lp.col_cost_[-1] == problem.offset
    assert lp.col_lower_[-1] == lp.col_upper_[-1] == 1.0
    np.testing.assert_array_equal(np.asarray(lp.col_lower_)[:-1], problem.col_lower)
    np.testing.assert_array_equal(np.asarray(lp.col_upper_)[:-1], problem.col_upper)
    integ = np.array([int(v) for v in lp.integrality_])[:-1] == 1
    np.testing.assert_array_equal(integ, problem.integrality)
    np.testing.assert_array_equal(lp.row_lower_, problem.row_lower)
    np.testing.assert_array_equal(lp.row_upper_, problem.row_upper)
    A = sp.csc_matrix(
        (lp.a_matrix_.value_, lp.a_matrix_.index_, lp.a_matrix_.start_),
        shape=(problem.n_rows, problem.n_cols + 1),
    )
    assert (A[:, :-1] != problem.A).nnz == 0
    assert A[:, -1].nnz == 0


def test_every_row_and_bound_kind(tmp_path):
    problem = odd_problem()
    direct = bnnmip.solve(bnnmip.get_backend("highs"), problem)
    assert direct.status is bnnmip.SolveStatus.OPTIMAL
    write_mps(problem, tmp_path / "m.mps")
    write_lp(problem, tmp_path / "m.lp")
    for name in ("m.mps", "m.lp"):
        value, _ = highs_file_optimum(tmp_path / name)
        assert value == pytest.approx(direct.objective, abs=1e-9), name
    assert scip_file_optimum(tmp_path / "m.mps") == pytest.approx(direct.objective, abs=1e-9)
    text = (tmp_path / "m.mps").read_text()
    assert "R0000002" not in text  # the free row is skipped
    assert "RANGES" in text and "MARKER" in text


def test_mps_names_fit_fixed_format(tmp_path):
    write_mps(odd_problem(), tmp_path / "m.mps")
    section = None
    for line in (tmp_path / "m.mps").read_text().splitlines():
        if not line.startswith(" "):
            section = line.split()[0]
            continue
        fields = line.split()
        if section == "ROWS":
            names = fields[1:2]
        elif section == "COLUMNS":
            names = [f for f in fields if not re.fullmatch(r"[-+0-9.eE]+|'MARKER'|'INT\w+'", f)]
        elif section in ("RHS", "RANGES"):
            names = fields[:2]
        else:  # BOUNDS: type, set name, column
            names = fields[1:3]
        assert all(len(n) <= 8 and " " not in n for n in names), line


def test_conflicting_row_bounds_are_refused(tmp_path):
    bad = MilpProblem(
        c=np.zeros(1), A=sp.csr_matrix(np.ones((1, 1))), row_lower=np.array([2.0]),
        row_upper=np.array([1.0]), col_lower=np.zeros(1), col_upper=np.ones(1),
        integrality=np.array([False]),
    )
    with pytest.raises(ValueError, match="row 0"):
        write_mps(bad, tmp_path / "m.mps")
    with pytest.raises(ValueError, match="row 0"):
        write_lp(bad, tmp_path / "m.lp")


def test_writing_1e5_nonzeros_is_fast(tmp_path):
    rng = np.random.default_rng(0)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (500, 10)), rng.integers(0, 2, 500))
    problem = bnnmip.lower(bnnmip.Architecture(10, (4,), 2), data).problem
    assert problem.nnz >= 1e5
    t0 = time.perf_counter()
    write_mps(problem, tmp_path / "m.mps")
    t1 = time.perf_counter()
    write_lp(problem, tmp_path / "m.lp")
    t2 = time.perf_counter()
    assert t1 - t0 < 2.0 and t2 - t1 < 2.0, (t1 - t0, t2 - t1)


def test_temporary_mps_is_removed_and_names_read_back_in_column_order():
    import os

    from bnnmip.milp.io import column_names, in_column_order, temporary_mps

    problem = xor_problem((2,))
    with temporary_mps(problem) as path:
        text = open(path).read()
        assert OBJCONST in text and os.path.isfile(path)
    assert not os.path.exists(os.path.dirname(path))
    names = column_names(problem.n_cols)
    shuffled = [OBJCONST, *names[::-1]]
    assert in_column_order(shuffled, problem.n_cols, str) == names
    with pytest.raises(RuntimeError, match="column C0000000 was lost"):
        in_column_order(names[1:], problem.n_cols, str)
    with pytest.raises(RuntimeError, match="unexpected variable 'x7'"):
        in_column_order([*names, "x7"], problem.n_cols, str)
