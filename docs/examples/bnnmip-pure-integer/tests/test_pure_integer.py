"""The pure-integer backend plugin: conformance for what it declares, refusals, training on it.

Run from the repository root with ``pytest docs/examples/bnnmip-pure-integer/tests`` after
``pip install ./docs/examples/bnnmip-pure-integer``.
"""

import subprocess
import sys

import bnnmip
import pytest
from bnnmip.backends import BackendFeature
from bnnmip.testing import CONFORMANCE_CHECKS, random_teacher, reference_instances, xor

pytest.importorskip("bnnmip_pure_integer", reason="pip install ./docs/examples/bnnmip-pure-integer (CI does)")

from bnnmip_pure_integer import PureIntegerBackend  # noqa: E402  (after the skip)


def _integer_instance():
    """The integer-weight, bias-free reference instance (every column implied integral; optimum 0)."""
    return next(inst for inst in reference_instances() if inst.name == "teacher-integer-nobias")


class _NoBuild(PureIntegerBackend):
    """Fails the test if anything is built: a refusal must come before ``build``."""

    def build(self, problem, options):
        raise AssertionError("build called on a problem the backend refuses")


@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_conformance(check):
    check(PureIntegerBackend())  # checks on instances it refuses, or needing undeclared features, skip


def test_conformance_command_passes_what_it_can_take_and_names_each_refusal():
    run = subprocess.run([sys.executable, "-m", "bnnmip.testing.conformance", "pure-integer"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    passed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("PASS")}
    assert {"check_reference_optima", "check_infeasible", "check_unknown_solver_option"} <= passed
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIP")]
    assert skipped
    assert all("not implied integral" in line or "does not declare" in line for line in skipped)
    assert "0 failed" in run.stdout


def test_found_through_the_entry_point_and_listed():
    assert isinstance(bnnmip.get_backend("pure-integer"), PureIntegerBackend)
    out = subprocess.run([sys.executable, "-m", "bnnmip", "backends"], capture_output=True, text=True,
                         check=True).stdout
    row = next((line.split() for line in out.splitlines() if line.startswith("pure-integer")), None)
    assert row is not None and "yes" in row, out


def test_supports_integer_problems_and_refuses_continuous_columns_with_the_reason():
    backend = PureIntegerBackend()
    problem = _integer_instance().lower().problem
    assert problem.is_pure_integer and not problem.integrality.all()  # integral only by implication
    assert backend.supports(problem, bnnmip.SolveOptions()) == (True, "")
    ok, reason = backend.supports(xor().lower().problem, bnnmip.SolveOptions())
    assert not ok and "continuous column(s) not implied integral (W1, W2, b1, b2, s2)" in reason


def test_solve_of_a_refused_problem_is_unsupported_and_builds_nothing():
    res = bnnmip.solve(_NoBuild(), xor().lower().problem, bnnmip.SolveOptions(threads=1))
    assert res.status is bnnmip.SolveStatus.UNSUPPORTED
    assert res.message.startswith("backend 'pure-integer' does not support this problem: ")
    assert "not implied integral" in res.message and res.x is None and res.objective is None


def test_start_log_file_and_seeds_on_an_integer_problem(tmp_path):
    # what conformance cannot check here (its instances have continuous columns), on one this takes
    inst = _integer_instance()
    low = inst.lower()
    backend = PureIntegerBackend()
    declared = {BackendFeature.MIP_START, BackendFeature.LOG_FILE, BackendFeature.SEED}
    assert declared <= backend.features
    log = tmp_path / "solver.log"
    options = bnnmip.SolveOptions(threads=1, mip_start=low.encode(inst.teacher), log_file=log)
    res = bnnmip.solve(backend, low.problem, options)
    assert res.status is bnnmip.SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6
    assert res.mip_start_used is True
    assert log.stat().st_size > 0
    for seed in (1, 2):
        res = bnnmip.solve(backend, low.problem, bnnmip.SolveOptions(threads=1, seed=seed))
        assert res.status is bnnmip.SolveStatus.OPTIMAL and abs(res.objective) <= 1e-6, res.message
        assert low.problem.violation(res.x) <= 1e-6


def test_train_an_integer_bias_free_network_to_a_verified_optimum():
    _, data = random_teacher(3, (2,), 2, 10, seed=5, weight_domain="integer:2", bias=False)
    arch = bnnmip.Architecture(3, (2,), 2, weight_domain="integer:2", bias=False)
    res = bnnmip.train(arch, data, backend="pure-integer", options=bnnmip.SolveOptions(threads=1),
                       params={"always_solve": True})
    assert res.backend == "pure-integer" and res.final.status is bnnmip.SolveStatus.OPTIMAL
    assert res.objective == 0 and res.verification.ok, res.verification.describe()


def test_train_refuses_continuous_weights_before_any_solve():
    _, data = random_teacher(3, (2,), 2, 10, seed=5)
    with pytest.raises(bnnmip.UnsupportedProblemError) as info:
        bnnmip.train(bnnmip.Architecture(3, (2,), 2), data, backend=_NoBuild())
    message = str(info.value)
    assert "backend 'pure-integer' cannot solve this training problem" in message
    assert "not implied integral (W1, W2, b1, b2, s2)" in message and "--no-bias" in message
    assert "use another backend (" in message and "highs" in message.split("use another backend")[1]


_CLI = [sys.executable, "-m", "bnnmip", "train", "breast-cancer-wisconsin", "--hidden", "1",
        "--train-size", "30", "--backend", "pure-integer", "--threads", "1"]


@pytest.mark.slow
def test_cli_refuses_a_continuous_weight_problem_before_any_solve():
    run = subprocess.run(_CLI, capture_output=True, text=True)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "bnnmip: error: backend 'pure-integer' cannot solve this training problem" in run.stderr
    assert "not implied integral" in run.stderr and "--weights integer:P --no-bias" in run.stderr
    assert "use another backend (" in run.stderr and "highs" in run.stderr
    assert "solver call" not in run.stdout + run.stderr and "gradient" not in run.stdout


@pytest.mark.slow
def test_cli_trains_an_integer_bias_free_network_to_a_verified_optimum():
    run = subprocess.run([*_CLI, "--weights", "integer:2", "--no-bias"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "integer:2 weights, biases off" in run.stdout
    assert "solve        pure-integer" in run.stdout and "OPTIMAL (proven optimal" in run.stdout
    assert "verified: forward pass agrees with the MILP" in run.stdout
