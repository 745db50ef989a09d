import io

from bnnmip.cli.progress import ProgressReporter, format_iteration
from bnnmip.plugins import get_plugin_manager
from bnnmip.training.task import Budget, report_iteration


def _emit(reporter):
    pm = get_plugin_manager()
    pm.register(reporter, name="test-progress")
    try:
        report_iteration("split", 1, {"split": 1, "clusters": 2, "train_loss": 4.0, "seconds": 0.5})
        report_iteration("split", 2, {"split": 2, "clusters": 3, "train_loss": 2.0, "seconds": 1.25})
    finally:
        reporter.close()
        pm.unregister(reporter)


def test_verbose_prints_a_line_per_iteration():
    out = io.StringIO()
    _emit(ProgressReporter(verbose=True, stream=out))
    lines = out.getvalue().splitlines()
    assert lines == [
        "[split 1] split=1 clusters=2 train_loss=4  0.5 s",
        "[split 2] split=2 clusters=3 train_loss=2  1.2 s",
    ]


def test_silent_when_not_interactive():
    out = io.StringIO()
    _emit(ProgressReporter(stream=out, interactive=False))
    assert out.getvalue() == ""


def test_redraws_one_line_on_a_terminal():
    out = io.StringIO()
    _emit(ProgressReporter(stream=out, interactive=True))
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and "clusters=3" in text


def test_format_skips_unknown_and_missing_keys():
    assert format_iteration("x", 3, {"loss": 1.5, "other": 9}) == "[x 3] loss=1.5"


def test_budget_cuts_time_limits():
    import bnnmip

    b = Budget(10.0)
    opts = b.limit(bnnmip.SolveOptions(time_limit=60))
    assert 9.0 < opts.time_limit <= 10.0
    assert Budget(None).limit(bnnmip.SolveOptions(time_limit=60)).time_limit == 60
    assert not b.exhausted()
    assert Budget(0.01).exhausted()  # less than the 0.05 s a solve needs at the least
    assert Budget(None).remaining() == float("inf")
