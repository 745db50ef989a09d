"""A backend that takes only pure-integer problems: implied integrality makes integer models its own."""

import unittest

import attrs
import numpy as np
import pytest

import bnnmip
from bnnmip.testing import CONFORMANCE_CHECKS, random_teacher
from bnnmip.testing.conformance import check_reference_optima
from bnnmip_highs import HighsBackend


class PureInteger(HighsBackend):
    """HiGHS told that every column is integer: it stands for a pure-integer solver (CP-SAT, say)."""

    name = "pure-integer"

    def supports(self, problem, options):
        if problem.is_pure_integer:
            return True, ""
        free = np.flatnonzero(~problem.implied_integrality)
        blocks = sorted({n for n, b in problem.columns.items()
                         if np.any((free >= b.start) & (free < b.stop))})
        return False, (f"{free.size} continuous column(s) not implied integral "
                       f"({', '.join(blocks) or 'unnamed'}); this solver takes integer variables only")

    def build(self, problem, options):
        return super().build(attrs.evolve(problem, integrality=problem.implied_integrality), options)


def test_the_pure_integer_backend_passes_the_checks_it_can_take():
    backend = PureInteger()
    passed, skipped = [], {}
    for check in CONFORMANCE_CHECKS:
        try:
            check(backend)
        except unittest.SkipTest as exc:
            skipped[check.__name__] = str(exc)
        else:
            passed.append(check.__name__)
    assert {"check_reference_optima", "check_infeasible", "check_unknown_solver_option"} <= set(passed)
    assert all("does not support" in why or "supports no" in why for why in skipped.values()), skipped


def test_it_solves_the_integer_reference_instance_and_refuses_the_rest():
    backend = PureInteger()
    check_reference_optima(backend)  # the integer-weight, bias-free teacher: proven optimum 0
    xor = bnnmip.testing.xor()
    res = bnnmip.solve(backend, xor.lower().problem)
    assert res.status is bnnmip.SolveStatus.UNSUPPORTED and "b1, b2, s2" in res.message


def test_train_with_integer_weights_and_no_bias_on_a_pure_integer_backend():
    net, data = random_teacher(3, (2,), 2, 10, seed=5, weight_domain="integer:2", bias=False)
    arch = bnnmip.Architecture(3, (2,), 2, weight_domain="integer:2", bias=False)
    res = bnnmip.train(arch, data, backend=PureInteger(), params={"always_solve": True})
    assert res.final.status is bnnmip.SolveStatus.OPTIMAL and res.objective == 0 and res.verification.ok
    with pytest.raises(bnnmip.UnsupportedProblemError, match="continuous column.*b1, b2"):
        bnnmip.train(bnnmip.Architecture(3, (2,), 2, weight_domain="integer:2"), data, backend=PureInteger())
