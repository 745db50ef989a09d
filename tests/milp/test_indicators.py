"""Big-M rows in indicator form (bnnmip.milp.indicators): shifted rows that hold where the big-M rows do."""

import numpy as np

import bnnmip
from bnnmip.milp import RowKind
from bnnmip.milp.indicators import indicator_rows, without_rows
from bnnmip.testing import random_teacher


def _lowering():
    net, data = random_teacher(3, (2,), 2, 12, seed=4)
    low = bnnmip.lower(bnnmip.Architecture(3, (2,), 2), data)
    return low, low.encode(net)


def test_every_big_m_row_with_its_binary_is_taken_without_the_binary_term():
    low, _ = _lowering()
    problem = low.problem
    ind = indicator_rows(problem)
    bigm = [b for b in problem.rows if b.kind in (RowKind.BIGM_OFF, RowKind.BIGM_ON)]
    assert len(ind) == sum(b.size for b in bigm) > 0
    A = problem.A.tocsr()
    for k in (0, len(ind) // 2, len(ind) - 1):
        i, b = int(ind.rows[k]), int(ind.binary[k])
        row = A[i].toarray().ravel()
        coef = row[b]
        row[b] = 0.0
        assert np.array_equal(ind.matrix[k].toarray().ravel(), row)
        shift = coef * ind.active[k]
        assert ind.lower[k] == problem.row_lower[i] - shift and ind.upper[k] == problem.row_upper[i] - shift
    free = without_rows(problem, ind.rows)
    assert np.isneginf(free.row_lower[ind.rows]).all() and np.isposinf(free.row_upper[ind.rows]).all()
    kept = np.isfinite(problem.row_lower[ind.rows]) | np.isfinite(problem.row_upper[ind.rows])
    assert kept.all()  # the input is untouched


def test_violations_vanish_on_active_rows_of_a_feasible_point_and_not_elsewhere():
    low, x = _lowering()
    ind = indicator_rows(low.problem)
    low_v, up_v = ind.violations(x)
    active = x[ind.binary].round() == ind.active
    assert active.any() and (~active).any()
    assert np.all(low_v[active] <= 1e-9) and np.all(up_v[active] <= 1e-9)
    assert np.any((low_v + up_v)[~active] > 0)  # inactive rows are what the big-M relaxed


def test_a_problem_without_big_m_rows_has_none():
    from bnnmip.testing import infeasible_problem

    ind = indicator_rows(infeasible_problem())
    assert len(ind) == 0 and ind.matrix.shape == (0, 2)
    assert ind.violations(np.zeros(2))[0].size == 0
