"""The backend conformance suite: every check takes a backend object and raises AssertionError.

A plugin runs it against itself with::

    @pytest.mark.parametrize("check", bnnmip.testing.CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check(MyBackend())
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..backends import BackendFeature, solve
from ..backends.results import SolveOptions, SolveStatus
from ..errors import InvalidInputError
from ..formulation import lower
from ..heuristics import ste_network
from ..heuristics.pattern_fit import polish
from ..ir import Architecture, TrainingSet
from ..milp import MilpProblem
from ..strategies import trivial_network
from ..verify import verify
from .instances import random_teacher, reference_instances, xor

__all__ = ["CONFORMANCE_CHECKS", "hard_instance", "infeasible_problem"]


_OPTIONS = dict(threads=1, seed=0, time_limit=60.0)


def _options(**kw):
    return SolveOptions(**{**_OPTIONS, **kw})


def infeasible_problem():
    """``0 <= x <= 1`` integer with the row ``x >= 2``: infeasible."""
    import scipy.sparse as sp  # lazy: start-up cost (scipy submodule)


    return MilpProblem(
        c=np.array([1.0, 0.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0]])),
        row_lower=np.array([3.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(2),
        col_upper=np.ones(2),
        integrality=np.array([True, False]),
        name="infeasible",
    )


def hard_instance(n_points: int = 300, seed: int = 0, backend=None):
    """Random labels on many points: no backend proves its optimum within a second.

    A backend with ``size_limits = (max_columns, max_rows)`` (a size-limited licence) gets
    the largest instance of this family that fits.
    """
    limits = getattr(backend, "size_limits", None)
    if limits is not None:
        # 14 m + 54 columns and 44 m rows for 10 inputs, 4 hidden, 2 classes (+1 spare each)
        n_points = max(8, min(n_points, (limits[0] - 56) // 14, (limits[1] - 1) // 44))
    rng = np.random.default_rng(seed)
    data = TrainingSet.from_arrays(rng.uniform(0, 1, (n_points, 10)), rng.integers(0, 2, n_points))
    return lower(Architecture(10, (4,), 2), data)


def check_reference_optima(backend) -> None:
    """Every reference instance reaches its known optimum, proven, every field filled."""
    for inst in reference_instances():
        low = inst.lower()
        res = solve(backend, low.problem, _options())
        assert res.status is SolveStatus.OPTIMAL, f"{inst.name}: {res.status} {res.message}"
        assert abs(res.objective - inst.optimum) <= 1e-6, f"{inst.name}: {res.objective}"
        assert res.bound is not None and res.bound <= res.objective + 1e-6, inst.name
        assert res.gap is not None and res.gap <= 1e-4 + 1e-9, inst.name
        assert res.nodes is not None and res.nodes >= 0, inst.name
        assert res.backend == backend.name and res.solver_version, inst.name
        assert res.build_seconds >= 0 and res.solve_seconds >= 0, inst.name
        assert res.x is not None and res.x.shape == (low.problem.n_cols,), inst.name
        assert low.problem.violation(res.x) <= 1e-5, f"{inst.name}: solution violates the MILP"
        report = verify(low, low.decode(res.x), res.x, res.objective)
        assert report.ok, f"{inst.name}: {report.describe()}"


def check_infeasible(backend) -> None:
    """An infeasible problem is reported INFEASIBLE, without a solution."""
    res = solve(backend, infeasible_problem(), _options())
    assert res.status is SolveStatus.INFEASIBLE, f"{res.status}: {res.message}"
    assert res.x is None and res.objective is None


def check_time_limit(backend) -> None:
    """A time-limited solve is never OPTIMAL and stops near its limit."""
    low = hard_instance(backend=backend)
    res = solve(backend, low.problem, _options(time_limit=1.0))
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION), f"{res.status}"
    assert res.solve_seconds <= 1.0 + 15.0, f"ran {res.solve_seconds:.1f} s past a 1 s limit"
    if res.status is SolveStatus.FEASIBLE:
        assert res.x is not None and res.objective is not None
        assert res.bound is None or res.bound <= res.objective + 1e-6
        assert low.problem.violation(res.x) <= 1e-5


def check_mip_start(backend) -> None:
    """A feasible full start is accepted (or its rejection reported) and never worsens the result."""
    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    start = low.encode(net)
    res = solve(backend, low.problem, _options(mip_start=start))
    assert res.status is SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6
    if BackendFeature.MIP_START in backend.features:
        assert res.mip_start_used is True, "declared MIP_START but reported the start unused"
    else:
        assert res.mip_start_used in (False, None)
    # a limited solve from a start keeps at least the start's quality
    hard = hard_instance(seed=1, backend=backend)

    x0 = hard.encode(trivial_network(hard.architecture, hard.data))
    limited = solve(backend, hard.problem, _options(time_limit=1.0, mip_start=x0))
    if BackendFeature.MIP_START in backend.features:
        assert limited.status is SolveStatus.FEASIBLE or limited.status is SolveStatus.OPTIMAL
        assert limited.objective <= hard.problem.objective(x0) + 1e-6


def check_partial_mip_start(backend) -> None:
    """A partial start (weights only, NaN elsewhere) is completed or its rejection reported."""
    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    res = solve(backend, low.problem, _options(mip_start=low.encode(net, partial=True)))
    assert res.status is SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6
    if BackendFeature.PARTIAL_MIP_START not in backend.features:
        assert res.mip_start_used in (False, None)


def check_log_file(backend) -> None:
    """With LOG_FILE declared, a log file is written; quiet solves print nothing themselves."""
    if BackendFeature.LOG_FILE not in backend.features:
        return
    low = xor().lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "solver.log"
        solve(backend, low.problem, _options(log_file=path))
        assert path.exists() and path.stat().st_size > 0, "no log written"


def check_seeds_agree(backend) -> None:
    """Different seeds may find different networks but the same proven optimum."""
    net, data = random_teacher(3, (2,), 3, 12, seed=2)
    low = lower(Architecture(3, (2,), 3), data)
    objectives = {round(solve(backend, low.problem, _options(seed=s)).objective, 6) for s in (1, 2)}
    assert objectives == {0.0}


def check_heuristic_callback(backend) -> None:
    """With CALLBACKS declared, the heuristic is called during the search.

    It sees incumbents, a better solution it returns is taken, and an exception in it does
    not take the solve down.
    """
    if BackendFeature.CALLBACKS not in backend.features:
        return
    hard = hard_instance(n_points=120, seed=2, backend=backend)
    x0 = hard.encode(trivial_network(hard.architecture, hard.data))
    fit = polish(ste_network(hard.architecture, hard.data, seed=0), hard.architecture, hard.data.X,
                 eps=hard.eps, bias_bounds=hard.bias_bounds())
    assert fit.realized
    better = hard.encode(fit.network)
    assert hard.problem.violation(better) <= 1e-9
    target = hard.problem.objective(better)
    assert target < hard.problem.objective(x0) - 10

    seen = []

    def heuristic(x):
        seen.append(hard.problem.objective(x))
        return better if len(seen) == 1 else None

    res = solve(backend, hard.problem, _options(time_limit=2.0, mip_start=x0, heuristic=heuristic))
    assert seen, "declared CALLBACKS but never called the heuristic"
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert res.objective <= target + 1e-6, "the heuristic's better solution was not taken"

    calls = []

    def broken(x):
        calls.append(1)
        raise ValueError("boom")

    res = solve(backend, hard.problem, _options(time_limit=2.0, mip_start=x0, heuristic=broken))
    assert calls and res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert "ValueError: boom" in res.message and len(calls) == 1


def check_unknown_solver_option(backend) -> None:
    """A solver option the backend cannot apply is refused by name before anything runs.

    With SOLVER_OPTIONS declared the backend's ``check_solver_options`` refuses a name no
    solver has; without it, any solver option is refused.
    """
    name = "bnnmip_no_such_parameter"
    if BackendFeature.SOLVER_OPTIONS in backend.features:
        assert callable(getattr(backend, "check_solver_options", None)), (
            "declared SOLVER_OPTIONS but has no check_solver_options method")
        assert backend.check_solver_options({}) in ({}, [], None, ())
    try:
        solve(backend, xor().lower().problem, _options(solver_options={name: 1}))
    except InvalidInputError as exc:
        assert name in str(exc), f"the refusal does not name the option: {exc}"
    else:
        raise AssertionError(f"an unknown solver option {name!r} was not refused")


CONFORMANCE_CHECKS = (
    check_reference_optima,
    check_infeasible,
    check_time_limit,
    check_mip_start,
    check_partial_mip_start,
    check_log_file,
    check_seeds_agree,
    check_heuristic_callback,
    check_unknown_solver_option,
)
"""Every conformance check, in order; each takes a backend object."""
