"""The built-in backends pass the conformance suite; the suite's own behaviour on odd backends.

Only the backends bnnmip ships are checked here: a third-party plugin installed in the same
environment runs the suite itself (``python -m bnnmip.testing.conformance NAME``).
"""

import unittest

import attrs
import pytest

import bnnmip
from bnnmip.testing import BUILTIN_BACKENDS, CONFORMANCE_CHECKS
from bnnmip.testing.conformance import check_reference_optima, check_seeds_agree, main, needs
from bnnmip_highs import HighsBackend


@pytest.mark.slow
@pytest.mark.parametrize("check", CONFORMANCE_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", BUILTIN_BACKENDS)
def test_conformance(name, check):
    backend = bnnmip.get_backend(name)
    ok, reason = backend.availability()
    if not ok:
        pytest.skip(f"backend {name} unavailable: {reason}")
    check(backend)


def test_builtin_backends_are_registered():
    assert set(BUILTIN_BACKENDS) <= set(bnnmip.list_backends())


def test_checks_skip_with_the_missing_feature_named():
    class Bare(HighsBackend):
        name = "bare"
        features = frozenset()

    skipped = [c for c in CONFORMANCE_CHECKS if needs(c)]
    assert {c.__name__ for c in skipped} >= {"check_node_limit", "check_heuristic_callback", "check_log_file"}
    for check in skipped:
        with pytest.raises(unittest.SkipTest, match="backend 'bare' does not declare"):
            check(Bare())


def test_a_wrong_answer_is_an_assertion_message_not_a_type_error():
    class NoSolution(HighsBackend):
        name = "nosolution"

        def extract(self, model, problem, options):
            return bnnmip.backends.NativeResult("kTimeLimit", message="gave up")

    with pytest.raises(AssertionError, match="expected a proven optimum, got no_solution: gave up"):
        check_seeds_agree(NoSolution())


def test_instances_a_backend_refuses_are_skipped_with_its_reason():
    class Refusing(HighsBackend):
        name = "refusing"

        def supports(self, problem, options):
            return False, "no continuous columns here"

    with pytest.raises(unittest.SkipTest, match="supports no reference instance: .*no continuous columns"):
        check_reference_optima(Refusing())


@pytest.mark.slow
def test_the_time_limit_check_counts_cpu_seconds(monkeypatch):
    """The overshoot is CPU time: with no slack at all, the 1 s solve's own second fails it."""
    from bnnmip.testing import conformance

    monkeypatch.setattr(conformance, "TIME_LIMIT_CPU_SLACK", -1.0)
    with pytest.raises(AssertionError, match=r"used \d+\.\d CPU seconds under a 1 s limit"):
        conformance.check_time_limit(HighsBackend())


def test_a_backend_that_declares_interrupt_but_never_polls_it_fails(monkeypatch):
    from bnnmip.testing import conformance

    class Deaf(HighsBackend):
        name = "deaf"

        def build(self, problem, options):
            return super().build(problem, attrs.evolve(options, interrupt=None))

    monkeypatch.setattr(conformance, "INTERRUPT_TIME_LIMIT", 1.0)
    with pytest.raises(AssertionError, match=r"the interrupt check was called 0 time\(s\)"):
        conformance.check_interrupt(Deaf())


def test_the_one_line_command_on_an_unknown_name(capsys):
    assert main(["nosuchbackend"]) == 2
    assert "unknown backend 'nosuchbackend'; available:" in capsys.readouterr().err


def test_the_one_line_command_runs_clean_as_a_module():
    """``-m`` runs ``conformance/__main__.py``: no "found in sys.modules" RuntimeWarning (an error here)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "bnnmip.testing.conformance",
                          "nosuchbackend"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "RuntimeWarning" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "unknown backend 'nosuchbackend'; available:" in run.stderr


@pytest.mark.slow
def test_the_one_line_command_runs_the_suite():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "bnnmip.testing.conformance",
                          "highs"], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "RuntimeWarning" not in run.stderr, run.stderr
    for check in CONFORMANCE_CHECKS:
        assert f"PASS  {check.__name__}" in run.stdout, run.stdout
    n = len(CONFORMANCE_CHECKS)
    assert f"{n} of {n} checks passed or skipped, 0 failed" in run.stdout
