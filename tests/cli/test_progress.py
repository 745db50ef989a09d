import io

import numpy as np
from rich.console import Console

import bnnmip
from bnnmip.cli.progress import ProgressReporter, clock, format_iteration, format_solve
from bnnmip.plugins import get_plugin_manager
from bnnmip.training.task import Budget, report_iteration


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=120, highlight=False, soft_wrap=True), out


def _emit(reporter, header=("bnnmip train: test",)):
    pm = get_plugin_manager()
    pm.register(reporter, name="test-progress")
    try:
        reporter.start(list(header))
        report_iteration("split", 1, {"split": 0, "clusters": 1, "status": "optimal", "objective": 4.0,
                                      "train_loss": 4.0, "seconds": 0.5})
        report_iteration("split", 2, {"split": 1, "clusters": 2, "status": "optimal", "objective": 2.0,
                                      "train_loss": 2.0, "train_accuracy": 0.75,
                                      "validation_accuracy": 0.5, "stop": "max_splits reached",
                                      "seconds": 61.25})
    finally:
        reporter.close()
        pm.unregister(reporter)


def test_lines_without_a_terminal_one_readable_line_per_iteration():
    console, out = _console(False)
    reporter = ProgressReporter(console=console)
    assert not reporter.live
    _emit(reporter)
    assert out.getvalue().splitlines() == [
        "bnnmip train: test",
        "split 0: 1 cluster, its start met the MILP's lower bound (solver not called), "
        "training loss 4  [0:00]",
        "split 1: 2 clusters, its start met the MILP's lower bound (solver not called), "
        "training loss 2, train accuracy 0.750, validation accuracy 0.500, stop: max_splits reached  [1:01]",
    ]
    assert "\x1b" not in out.getvalue() and "=" not in out.getvalue()  # no escapes, no key=value dump


def test_verbose_gives_lines_even_on_a_terminal():
    console, _ = _console(True)
    assert not ProgressReporter(console=console, verbose=True).live
    assert ProgressReporter(console=console).live


def test_live_display_on_a_terminal_is_redrawn_and_cleared():
    console, out = _console(True)
    reporter = ProgressReporter(console=console, time_budget=90)
    _emit(reporter)
    text = out.getvalue()
    assert text.startswith("bnnmip train: test")
    assert "\x1b[" in text  # cursor control: the block is redrawn in place
    assert "training" in text and "of the 90 s budget" in text
    assert "last split 1: 2 clusters" in text
    # transient: the last thing written erases the display (cursor up, erase line)
    assert text.rstrip("\n").endswith("\x1b[2K")


def test_the_live_display_shows_the_running_solve():
    console, _ = _console(True)
    reporter = ProgressReporter(console=console)
    reporter.solves = 1
    reporter.solve = {"backend": "highs", "t0": 0.0, "time_limit": None,
                      "progress": {"objective": 3.0, "bound": 1.0, "gap": 2 / 3, "nodes": 12}}
    with console.capture() as cap:
        console.print(reporter.render())
    shown = cap.get()
    assert "solver call 1 (highs)" in shown and "no limit" in shown
    assert "incumbent 3  bound 1  gap 66.67%  nodes 12" in shown


def test_format_helpers():
    assert format_iteration("local_search", 3, {"round": 2, "block": 1, "loss": 5.0, "status": "feasible",
                                                "accepted": True, "seconds": 3.2}) == \
        "round 2, layer 1, solve feasible, training loss 5, accepted  [0:03]"
    assert format_iteration("local_search", 9, {"round": 3, "block": "all", "loss": 2.0, "status": "optimal",
                                                "accepted": True, "seconds": 8}) == \
        "round 3, all layers, solve optimal, training loss 2, accepted  [0:08]"
    assert format_iteration("mine", 4, {"seconds": 1}) == "mine iteration 4  [0:01]"
    assert format_solve({"objective": None, "bound": 0.0, "gap": None, "nodes": None}) == \
        "incumbent -  bound 0  gap -  nodes -"
    assert clock(None) == "-" and clock(61.4) == "1:01" and clock(3725) == "1:02:05"


def xor_problem(n: int = 10):
    """A small training MILP HiGHS and SCIP solve in a fraction of a second, with a search."""
    from bnnmip.formulation import lower

    rng = np.random.default_rng(3)
    X = rng.random((n, 3))
    y = (X[:, 0] + X[:, 1] > 1).astype(int) ^ (X[:, 2] > 0.5).astype(int)
    arch = bnnmip.Architecture(n_inputs=3, hidden=(2,), n_classes=2)
    return lower(arch, bnnmip.TrainingSet.from_arrays(X, y)).problem


def test_lines_show_each_solve_of_a_real_run():
    console, out = _console(False)
    reporter = ProgressReporter(console=console)
    pm = get_plugin_manager()
    pm.register(reporter, name="test-progress")
    try:
        reporter.start([])
        result = bnnmip.solve(bnnmip.get_backend("highs"), xor_problem(),
                              bnnmip.SolveOptions(time_limit=60, threads=1))
    finally:
        reporter.close()
        pm.unregister(reporter)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("solver call 1 (highs): MILP ") and "time limit 60 s" in lines[0]
    ended = f"solver call 1 (highs): {result.status.value}, objective {result.objective:g}"
    assert lines[-1].startswith(ended)
    # every line between is an improving incumbent, the best last
    incumbents = [float(line.split()[1]) for line in lines[1:-1]]
    assert result.status is bnnmip.SolveStatus.OPTIMAL
    assert incumbents and incumbents == sorted(incumbents, reverse=True)
    assert incumbents[-1] >= result.objective - 1e-9


def test_budget_cuts_time_limits():
    b = Budget(10.0)
    opts = b.limit(bnnmip.SolveOptions(time_limit=60))
    assert 9.0 < opts.time_limit <= 10.0
    assert Budget(None).limit(bnnmip.SolveOptions(time_limit=60)).time_limit == 60
    assert not b.exhausted()
    assert Budget(0.01).exhausted()  # less than the 0.05 s a solve needs at the least
    assert Budget(None).remaining() == float("inf")


def test_solves_side_by_side_each_keep_their_own_lines():
    """``error_bound=parallel``: a second solve in another thread; each line says whose it is."""
    import threading

    console, out = _console(False)
    reporter = ProgressReporter(console=console)
    problem, opts = xor_problem(), bnnmip.SolveOptions(time_limit=10)
    done = bnnmip.SolveResult(status=bnnmip.SolveStatus.OPTIMAL, backend="highs", solver_version="x",
                              objective=1.0, bound=1.0,
                              gap=0.0, nodes=3)
    record = {"objective": 5.0, "bound": 1.0, "gap": 0.8, "nodes": 3, "seconds": 1.0, "time_limit": 10}
    reporter.bnnmip_solve_started(problem=problem, backend="highs", options=opts)

    def beside():
        reporter.bnnmip_solve_started(problem=problem, backend="scip", options=opts)
        reporter.bnnmip_solve_progress(backend="scip", record=record)
        with console.capture() as cap:
            console.print(reporter.render())
        assert "solver call 1 (highs)" in cap.get() and "solver call 2 (scip)" in cap.get()
        reporter.bnnmip_solve_finished(problem=problem, backend="scip", result=done)

    thread = threading.Thread(target=beside)
    thread.start()
    thread.join()
    reporter.bnnmip_solve_progress(backend="highs", record={**record, "objective": 7.0})
    reporter.bnnmip_solve_finished(problem=problem, backend="highs", result=done)
    lines = out.getvalue().splitlines()
    assert lines[2].startswith("  call 2: incumbent 5  bound 1"), lines
    assert lines[3].startswith("solver call 2 (scip): optimal"), lines
    assert lines[4].startswith("  incumbent 7"), lines  # one solve running again: no tag
    assert lines[5].startswith("solver call 1 (highs): optimal"), lines
    assert reporter.running == {}
