"""The backend conformance suite: every check takes a backend object.

A check raises ``AssertionError`` with a message when the backend misbehaves, and
``unittest.SkipTest`` (pytest reports a skip) with the reason when it does not apply: a
feature the check needs (:func:`needs` lists them) that the backend does not declare, or an
instance the backend's ``supports`` refuses. No check depends on the machine's speed or load:
they stop searches by node limits or solve instances to proven optimality, and
:func:`check_time_limit`, the one that reads a clock, gives an instance no solver proves in
its 1 s limit and counts the overshoot in CPU seconds (its docstring says why).

A third party runs the whole suite against its installed backend with one command::

    python -m bnnmip.testing.conformance BACKEND_NAME

(``__main__.py`` runs :func:`main`: the package is imported once, as itself, so ``-m`` does
not run a second copy of this module.)

or from its own tests::

    @pytest.mark.parametrize("check", bnnmip.testing.CONFORMANCE_CHECKS, ids=lambda c: c.__name__)
    def test_conformance(check):
        check(MyBackend())
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
import warnings
from pathlib import Path

import numpy as np

from ...backends import BackendFeature, solve, supports
from ...backends.results import SolveOptions, SolveStatus
from ...errors import FeatureWarning, InvalidInputError, UnknownNameError
from ...formulation import lower
from ...heuristics import ste_network
from ...heuristics.pattern_fit import polish
from ...ir import Architecture, TrainingSet
from ...milp import MilpProblem
from ...plugins.registry import get_backend
from ...strategies import trivial_network
from ...verify import verify
from ..instances import random_teacher, reference_instances, xor

__all__ = ["BUILTIN_BACKENDS", "CONFORMANCE_CHECKS", "TIME_LIMIT_CPU_SLACK", "TIME_LIMIT_WALL_SLACK",
           "hard_instance", "infeasible_problem", "main", "needs", "run_checks"]


BUILTIN_BACKENDS = ("cbc", "highs", "portfolio", "scip", "scip-indicator")
"""The backends bnnmip ships: the ones its own test suite runs checks on (a third-party
backend installed beside bnnmip is checked by its own tests)."""

_OPTIONS = dict(threads=1, seed=0, time_limit=60.0)


def _options(**kw):
    return SolveOptions(**{**_OPTIONS, **kw})


def _needs(*features: BackendFeature):
    """Mark a check as needing ``features``; it skips, naming them, on a backend without them."""

    def mark(check):
        def run(backend) -> None:
            missing = [f.value for f in features if f not in backend.features]
            if missing:
                raise unittest.SkipTest(f"backend {backend.name!r} does not declare {', '.join(missing)}")
            check(backend)

        run.__name__, run.__qualname__, run.__doc__ = check.__name__, check.__qualname__, check.__doc__
        run.needs = frozenset(features)
        return run

    return mark


def needs(check) -> frozenset[BackendFeature]:
    """The features ``check`` needs (it skips on a backend that does not declare them)."""
    return getattr(check, "needs", frozenset())


def _supported(backend, problem, what: str) -> None:
    """Skip, with the backend's reason, if it refuses ``problem`` (an instance named ``what``)."""
    ok, reason = supports(backend, problem, _options())
    if not ok:
        raise unittest.SkipTest(f"backend {backend.name!r} does not support {what}: {reason}")


def _solved(backend, problem, what: str, **kw):
    """``solve`` of a supported ``problem`` that must end OPTIMAL (assertion message if not)."""
    _supported(backend, problem, what)
    res = solve(backend, problem, _options(**kw))
    assert res.status is SolveStatus.OPTIMAL and res.objective is not None, (
        f"{what}: expected a proven optimum, got {res.status.value}: {res.message}")
    return res


def infeasible_problem(pure_integer: bool = False):
    """``x0 + x1 >= 3`` with ``0 <= x0, x1 <= 1``, ``x0`` integer (both with ``pure_integer``): infeasible."""
    import scipy.sparse as sp  # lazy: start-up cost (scipy submodule)


    return MilpProblem(
        c=np.array([1.0, 0.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0]])),
        row_lower=np.array([3.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(2),
        col_upper=np.ones(2),
        integrality=np.array([True, pure_integer]),
        name="infeasible",
    )


def hard_instance(n_points: int = 300, seed: int = 0, backend=None):
    """Random labels on many points: with 300 (the default) no backend proves the optimum in 1 s.

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
    """Every reference instance the backend supports reaches its known optimum, proven, every field filled."""
    refused = []
    for inst in reference_instances():
        low = inst.lower()
        ok, reason = supports(backend, low.problem, _options())
        if not ok:
            refused.append(f"{inst.name} ({reason})")
            continue
        res = _solved(backend, low.problem, inst.name)
        assert abs(res.objective - inst.optimum) <= 1e-6, (
            f"{inst.name}: objective {res.objective}, known optimum {inst.optimum}")
        assert res.bound is not None and res.bound <= res.objective + 1e-6, f"{inst.name}: bound {res.bound}"
        assert res.gap is not None and res.gap <= 1e-4 + 1e-9, f"{inst.name}: gap {res.gap}"
        assert res.nodes is not None and res.nodes >= 0, f"{inst.name}: nodes {res.nodes}"
        assert res.backend == backend.name and res.solver_version, f"{inst.name}: backend/version unset"
        assert res.build_seconds >= 0 and res.solve_seconds >= 0, inst.name
        assert res.x is not None and res.x.shape == (low.problem.n_cols,), f"{inst.name}: no solution vector"
        assert low.problem.violation(res.x) <= 1e-5, f"{inst.name}: solution violates the MILP"
        report = verify(low, low.decode(res.x), res.x, res.objective)
        assert report.ok, f"{inst.name}: {report.describe()}"
    if len(refused) == len(reference_instances()):
        raise unittest.SkipTest(
            f"backend {backend.name!r} supports no reference instance: {'; '.join(refused)}")


def check_infeasible(backend) -> None:
    """An infeasible problem is reported INFEASIBLE, without a solution."""
    problem = infeasible_problem()
    if not supports(backend, problem, _options())[0]:  # a pure-integer solver gets its own
        problem = infeasible_problem(pure_integer=True)
    _supported(backend, problem, "the infeasible problem")
    res = solve(backend, problem, _options())
    assert res.status is SolveStatus.INFEASIBLE, f"expected infeasible, got {res.status.value}: {res.message}"
    assert res.x is None and res.objective is None, "an infeasible result came with a solution"


def check_time_limit(backend) -> None:
    """A time-limited solve is never OPTIMAL and stops near its limit, however busy the machine.

    The clock cannot decide the outcome of an honest backend either way:

    - the status: the 300-point random-label instance takes every solver far longer than 1 s
      to prove (hours), and a busy machine only makes it slower, so a 1 s solve that honours
      the limit ends ``FEASIBLE`` or ``NO_SOLUTION``, never ``OPTIMAL``;
    - the overshoot is measured in CPU seconds (``os.times``: this process and the solver
      processes it waited for), which other programs on a loaded machine do not inflate as
      they do wall-clock seconds (the solve runs on one thread). A backend that ignores the
      limit searches for hours; one that honours it uses about 1 s. The check fails beyond
      :data:`TIME_LIMIT_CPU_SLACK` CPU seconds past the limit, and, for a solver that works
      outside this process tree (a server, say), beyond :data:`TIME_LIMIT_WALL_SLACK`
      wall-clock seconds: a margin that no load seen on a 2-core machine stretches a 1 s
      solve to.
    """
    low = hard_instance(backend=backend)
    _supported(backend, low.problem, "the 300-point random-label instance")
    cpu0 = _cpu_seconds()
    res = solve(backend, low.problem, _options(time_limit=1.0))
    cpu = _cpu_seconds() - cpu0
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION), (
        f"a 1 s solve of an instance nobody proves in 1 s ended {res.status.value}: {res.message}")
    assert cpu <= 1.0 + TIME_LIMIT_CPU_SLACK, f"used {cpu:.1f} CPU seconds under a 1 s limit"
    assert res.solve_seconds <= 1.0 + TIME_LIMIT_WALL_SLACK, (
        f"ran {res.solve_seconds:.1f} s under a 1 s limit")
    if res.status is SolveStatus.FEASIBLE:
        assert res.x is not None and res.objective is not None, "FEASIBLE without a solution"
        assert res.bound is None or res.bound <= res.objective + 1e-6, f"bound {res.bound} > {res.objective}"
        assert low.problem.violation(res.x) <= 1e-5, "the time-limited solution violates the MILP"


TIME_LIMIT_CPU_SLACK = 30.0
"""CPU seconds a 1 s time-limited solve may use beyond its limit (:func:`check_time_limit`)."""
TIME_LIMIT_WALL_SLACK = 120.0
"""Wall-clock seconds a 1 s time-limited solve may run beyond its limit (:func:`check_time_limit`)."""


def _cpu_seconds() -> float:
    """CPU time of this process and of the child processes it has waited for (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _limited_instance(backend, seed: int):
    """60 random-label points (fewer under a size limit), and the majority-class start."""
    hard = hard_instance(n_points=60, seed=seed, backend=backend)
    _supported(backend, hard.problem, "the 60-point random-label instance")
    return hard, hard.encode(trivial_network(hard.architecture, hard.data))


@_needs(BackendFeature.NODE_LIMIT, BackendFeature.MIP_START)
def check_node_limit(backend) -> None:
    """A search stopped at 1 node keeps the start's quality and claims no proof it lacks."""
    hard, x0 = _limited_instance(backend, seed=1)
    res = solve(backend, hard.problem, _options(node_limit=1, mip_start=x0))
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL), (
        f"a node-limited solve from a feasible start ended {res.status.value}: {res.message}")
    assert res.objective <= hard.problem.objective(x0) + 1e-6, (
        f"objective {res.objective} worse than the start's {hard.problem.objective(x0)}")
    assert hard.problem.violation(res.x) <= 1e-5, "the node-limited solution violates the MILP"
    if res.status is SolveStatus.OPTIMAL:
        assert res.gap is not None and res.gap <= 1e-4 + 1e-9, f"OPTIMAL with gap {res.gap}"
    else:
        assert res.bound is None or res.bound <= res.objective + 1e-6, f"bound {res.bound} > {res.objective}"


@_needs(BackendFeature.MIP_START)
def check_mip_start(backend) -> None:
    """A feasible full start is accepted and the solve ends at the proven optimum."""
    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    res = _solved(backend, low.problem, "a 16-point teacher instance", mip_start=low.encode(net))
    assert abs(res.objective) <= 1e-6, f"objective {res.objective}, known optimum 0"
    assert res.mip_start_used is True, f"declared mip_start but reported the start unused: {res.message}"


def check_partial_mip_start(backend) -> None:
    """A partial start (weights only, NaN elsewhere) is completed, or held back without PARTIAL_MIP_START."""
    net, data = random_teacher(3, (2,), 2, 16, seed=1)
    low = lower(Architecture(3, (2,), 2), data)
    partial = low.encode(net, partial=True)
    with warnings.catch_warnings():  # without PARTIAL_MIP_START the start is held back, as checked
        warnings.simplefilter("ignore", FeatureWarning)
        res = _solved(backend, low.problem, "a 16-point teacher instance", mip_start=partial)
    assert abs(res.objective) <= 1e-6, f"objective {res.objective}, known optimum 0"
    if BackendFeature.PARTIAL_MIP_START not in backend.features:
        assert res.mip_start_used is False, "bnnmip.solve should have held the partial start back"


@_needs(BackendFeature.LOG_FILE)
def check_log_file(backend) -> None:
    """A log file is written when asked for."""
    low = xor().lower()
    _supported(backend, low.problem, "XOR")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "solver.log"
        solve(backend, low.problem, _options(log_file=path))
        assert path.exists() and path.stat().st_size > 0, "no log written"


def check_seeds_agree(backend) -> None:
    """Different seeds may find different networks but the same proven optimum."""
    net, data = random_teacher(3, (2,), 3, 12, seed=2)
    low = lower(Architecture(3, (2,), 3), data)
    for seed in (1, 2):
        res = _solved(backend, low.problem, f"a 12-point teacher instance with seed {seed}", seed=seed)
        assert abs(res.objective) <= 1e-6, f"seed {seed}: objective {res.objective}, known optimum 0"


@_needs(BackendFeature.CALLBACKS, BackendFeature.MIP_START, BackendFeature.NODE_LIMIT)
def check_heuristic_callback(backend) -> None:
    """The heuristic is called during the search and a better solution it returns is taken.

    An exception in it does not take the solve down: it is switched off and reported.
    """
    hard, x0 = _limited_instance(backend, seed=2)
    fit = polish(ste_network(hard.architecture, hard.data, seed=0), hard.architecture, hard.data.X,
                 eps=hard.eps, bias_bounds=hard.bias_bounds())
    assert fit.realized, "test set-up: the gradient network could not be refitted"
    better = hard.encode(fit.network)
    assert hard.problem.violation(better) <= 1e-9, "test set-up: the better solution is infeasible"
    target = hard.problem.objective(better)
    assert target < hard.problem.objective(x0) - 10, "test set-up: the better solution is not better"

    seen = []

    def heuristic(x):
        seen.append(hard.problem.objective(x))
        return better if len(seen) == 1 else None

    res = solve(backend, hard.problem, _options(node_limit=1, mip_start=x0, heuristic=heuristic))
    assert seen, f"declared callbacks but never called the heuristic: {res.message}"
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL), f"{res.status.value}: {res.message}"
    assert res.objective <= target + 1e-6, (
        f"the heuristic's better solution ({target}) was not taken: objective {res.objective}")

    calls = []

    def broken(x):
        calls.append(1)
        raise ValueError("boom")

    res = solve(backend, hard.problem, _options(node_limit=1, mip_start=x0, heuristic=broken))
    assert calls, f"the heuristic was never called: {res.message}"
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL), f"{res.status.value}: {res.message}"
    assert "ValueError: boom" in res.message and len(calls) == 1, (
        f"a failing heuristic must be switched off and reported; called {len(calls)}x: {res.message}")


@_needs(BackendFeature.INTERRUPT)
def check_interrupt(backend) -> None:
    """A solve whose interrupt check says stop ends soon after, as at a limit, keeping what it found.

    The check says ``True`` from its third call on, on the 60-point random-label instance that
    no solver proves in a few node solves. The time limit (60 s) is only a safety net: an
    honest backend stops within a few CPU seconds, one that never polls the check searches to
    the limit, and the CPU seconds (not the clock) tell the two apart on a busy machine too.
    """
    hard, _ = _limited_instance(backend, seed=2)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 3

    cpu0 = _cpu_seconds()
    res = solve(backend, hard.problem, _options(time_limit=INTERRUPT_TIME_LIMIT, interrupt=stop))
    cpu = _cpu_seconds() - cpu0
    assert len(calls) >= 3, f"the interrupt check was called {len(calls)} time(s) before the solve ended"
    assert cpu <= INTERRUPT_CPU_SLACK, (
        f"used {cpu:.1f} CPU seconds after the interrupt check said stop (at its call 3 of {len(calls)})")
    assert res.status in (SolveStatus.FEASIBLE, SolveStatus.NO_SOLUTION, SolveStatus.OPTIMAL), (
        f"an interrupted solve ended {res.status.value}: {res.message}")
    if res.status is SolveStatus.OPTIMAL:
        assert res.gap is not None and res.gap <= 1e-4 + 1e-9, f"OPTIMAL with gap {res.gap}"
    if res.x is not None:
        assert hard.problem.violation(res.x) <= 1e-5, "the interrupted solve's solution violates the MILP"


INTERRUPT_TIME_LIMIT = 60.0
"""The time limit of :func:`check_interrupt`'s solve: a safety net, not what stops it."""
INTERRUPT_CPU_SLACK = 30.0
"""CPU seconds an interrupted solve may use in all (:func:`check_interrupt`)."""


def check_unknown_solver_option(backend) -> None:
    """A solver option the backend cannot apply is refused by name before anything runs.

    With SOLVER_OPTIONS declared the backend's ``check_solver_options`` refuses a name no
    solver has; without it, any solver option is refused.
    """
    name = "bnnmip_no_such_parameter"
    if BackendFeature.SOLVER_OPTIONS in backend.features:
        assert callable(getattr(backend, "check_solver_options", None)), (
            "declared SOLVER_OPTIONS but has no check_solver_options method")
        assert backend.check_solver_options({}) in ({}, [], None, ()), "no options should check to nothing"
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
    check_node_limit,
    check_mip_start,
    check_partial_mip_start,
    check_log_file,
    check_seeds_agree,
    check_heuristic_callback,
    check_interrupt,
    check_unknown_solver_option,
)
"""Every conformance check, in order; each takes a backend object."""


def run_checks(backend, checks=CONFORMANCE_CHECKS, out=sys.stdout) -> int:
    """Run ``checks`` on ``backend``, print one line per check; the number that failed."""
    failed = 0
    for check in checks:
        try:
            check(backend)
        except unittest.SkipTest as exc:
            print(f"SKIP  {check.__name__}: {exc}", file=out)
        except Exception as exc:  # an assertion, or the backend's own failure: report, go on
            failed += 1
            print(f"FAIL  {check.__name__}: {type(exc).__name__}: {exc}", file=out)
        else:
            print(f"PASS  {check.__name__}", file=out)
    return failed


def main(argv: list[str] | None = None) -> int:
    """``python -m bnnmip.testing.conformance NAME``: the suite on an installed backend."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bnnmip.testing.conformance BACKEND_NAME", file=sys.stderr)
        return 2
    try:
        backend = get_backend(args[0])
    except UnknownNameError as exc:
        print(f"bnnmip: error: {exc}", file=sys.stderr)
        return 2
    ok, reason = backend.availability()
    if not ok:
        print(f"backend {backend.name!r} is not usable here: {reason}", file=sys.stderr)
        return 2
    failed = run_checks(backend)
    print(f"{len(CONFORMANCE_CHECKS) - failed} of {len(CONFORMANCE_CHECKS)} checks passed or skipped, "
          f"{failed} failed")
    return 1 if failed else 0

