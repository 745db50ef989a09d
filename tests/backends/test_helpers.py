"""The helpers backends call (bnnmip.backends.helpers): availability, status tables, options, settings."""

import importlib.metadata
import os
import sys

import attrs
import numpy as np
import pytest

import bnnmip
from bnnmip.backends import SolveOptions, SolveStatus, policy
from bnnmip.backends.helpers import (
    FAILED,
    INFEASIBLE,
    LIMIT,
    SOLVED,
    SolverRun,
    checked_options,
    copy_log,
    distribution_version,
    executable_version,
    module_availability,
    one_sided_rows,
    run_logged,
    solver_settings,
    start_entries,
    status_table,
)

S = SolveStatus


def test_module_availability_and_distribution_version():
    assert module_availability("json") == (True, "")
    ok, reason = module_availability("bnnmip_no_such_module", "bnnmip-no-such")
    assert not ok and reason == "bnnmip_no_such_module is not installed (pip install bnnmip-no-such)"
    assert distribution_version("numpy") == importlib.metadata.version("numpy")
    assert distribution_version("bnnmip-no-such-distribution") == "not installed"


def test_status_table_maps_each_kind_and_the_special_pairs():
    table = status_table(solved=["opt"], limit=["time", "nodes"], infeasible=["inf"], failed=["crash"],
                         unknown=(S.FEASIBLE, S.ERROR))
    assert table == {"opt": SOLVED, "time": LIMIT, "nodes": LIMIT, "inf": INFEASIBLE, "crash": FAILED,
                     "unknown": (S.FEASIBLE, S.ERROR)}
    assert SOLVED == (S.OPTIMAL, S.ERROR) and LIMIT == (S.FEASIBLE, S.NO_SOLUTION)
    assert INFEASIBLE == (S.INFEASIBLE, S.INFEASIBLE) and FAILED == (S.ERROR, S.ERROR)


_KINDS = {"depth": int, "effort": float, "presolve": bool, "mode": str}


def _check(options, **kw):
    return checked_options("Toy", options, kind_of=_KINDS.get, **kw)


def test_checked_options_converts_to_the_parameters_types():
    got = _check({"depth": "3", "effort": "0.5", "presolve": "off", "mode": 7})
    assert got == {"depth": 3, "effort": 0.5, "presolve": False, "mode": "7"}
    assert [type(v) for v in got.values()] == [int, float, bool, str]


def test_checked_options_names_every_refusal_in_one_error():
    owned = {"time": policy.TIME_LIMIT}
    with pytest.raises(bnnmip.InvalidInputError) as info:
        _check({"time": 5, "nope": 1, "depth": "x", "effort": 2.0, "mode": "ok"}, owned=owned,
               trial=lambda name, value: "out of range [0, 1]" if name == "effort" else None,
               reference="https://toy.example/params")
    message = str(info.value)
    assert "Toy parameter 'time' is refused: it sets the time limit" in message
    assert "Toy has no parameter 'nope' (Toy's parameters: https://toy.example/params)" in message
    assert "Toy parameter 'depth' takes an integer, got 'x'" in message
    assert "Toy refuses effort=2.0: out of range [0, 1]" in message
    assert "mode" not in message


def test_checked_options_abbreviations_reasons_converters_and_silent_refusals():
    owned = {"seconds": policy.TIME_LIMIT}
    with pytest.raises(bnnmip.InvalidInputError, match="'sec' is refused"):
        _check({"sec": 1}, owned=owned, prefix=True)
    with pytest.raises(bnnmip.InvalidInputError, match=r"^Toy refuses mode='a'$"):
        _check({"mode": "a"}, trial=lambda name, value: "")
    kinds = {"log": "bnnmip reads the log: leave it out", "cuts": lambda v: "on" if v else "off"}
    assert checked_options("Toy", {"cuts": True}, kind_of=kinds.get) == {"cuts": "on"}
    with pytest.raises(bnnmip.InvalidInputError, match="^bnnmip reads the log: leave it out$"):
        checked_options("Toy", {"log": 1}, kind_of=kinds.get)
    with pytest.raises(bnnmip.InvalidInputError, match="Toy has no option 'sec'$"):
        _check({"sec": 1}, noun="option")


def test_solver_settings_in_the_solvers_names_user_options_last():
    names = {"time_limit": "limits/time", "mip_gap": "gap", "node_limit": "nodes", "threads": "threads",
             "seed": ("seed", lambda s: s % 7), "feasibility_tolerance": "feastol"}
    options = SolveOptions(time_limit=5, node_limit=10, threads=2, seed=9)
    got = solver_settings(options, names)
    assert got == {"limits/time": 5.0, "gap": options.mip_gap, "nodes": 10, "threads": 2, "seed": 2}
    assert type(got["limits/time"]) is float and type(got["nodes"]) is int
    user = attrs.evolve(options, checked_solver_options={"nodes": 3, "cuts": 0})
    got = solver_settings(user, names)
    assert got["nodes"] == 3 and list(got)[-1] == "cuts"
    assert "limits/time" not in solver_settings(SolveOptions(time_limit=None), names)


def test_run_logged_writes_the_command_and_output_and_kills_a_hung_process(tmp_path):
    log = tmp_path / "solver.log"
    code, killed = run_logged([sys.executable, "-c", "import sys; print('solved'); sys.exit(3)"], log=log)
    text = log.read_text()
    assert (code, killed) == (3, False) and text.startswith("$ ") and "solved" in text
    code, killed = run_logged([sys.executable, "-c", "import time; print('thinking', flush=True); "
                               "time.sleep(600)"], log=log, timeout=0.5, solver="Toy")
    text = log.read_text()
    assert killed and code != 0 and "thinking" in text
    assert "[bnnmip] Toy killed by the watchdog after 0.5 s" in text


def test_copy_log_notes_a_failure_instead_of_raising(tmp_path):
    log = tmp_path / "solver.log"
    log.write_text("the log")
    assert copy_log(log, None) == ""
    assert copy_log(log, tmp_path / "copy.log") == "" and (tmp_path / "copy.log").read_text() == "the log"
    note = copy_log(log, tmp_path / "no-such-dir" / "copy.log")
    assert note.startswith("could not write the log file: ") and "no-such-dir" in note


def test_start_entries_split_known_columns_and_say_whether_full():
    known, values, full = start_entries(np.array([1.0, np.nan, -2.5, 0.0]))
    assert known.tolist() == [0, 2, 3] and known.dtype == np.int32
    assert values.tolist() == [1.0, -2.5, 0.0] and not full
    known, values, full = start_entries(np.array([0.0, 1.0]))
    assert known.tolist() == [0, 1] and values.tolist() == [0.0, 1.0] and full


def test_solver_run_records_each_failure_and_removes_its_directory(tmp_path):
    ok = SolverRun("Toy")
    out = ok.path("solution.sol")
    assert os.path.dirname(out) == ok.directory and ok.log == ok.path("toy.log")
    copy = tmp_path / "c.log"
    ok.run([sys.executable, "-c", f"open({out!r}, 'w').write('x'); print('solved')"], log_file=copy)
    assert ok.failure(out) == "" and "solved" in ok.log_text() and "solved" in copy.read_text()
    assert ok.failure(ok.path("other.sol")) == "Toy wrote no solution file"
    ok.close()
    assert not os.path.exists(ok.directory) and ok.log_text() == "" and ok.log_tail() == "(no Toy output)"

    crash = SolverRun("Toy")
    crash.run([sys.executable, "-c", "print('\\n'.join(map(str, range(40)))); raise SystemExit(139)"])
    assert crash.failure(out) == "Toy exited with code 139"
    assert crash.log_tail().splitlines() == [str(i) for i in range(15, 40)]
    hung = SolverRun("Toy")
    hung.run([sys.executable, "-c", "import time; time.sleep(600)"], timeout=0.5)
    assert hung.failure(out) == "Toy did not stop in time and was killed by the watchdog"
    missing = SolverRun("Toy")
    missing.run([str(tmp_path / "no-such-solver")])
    assert missing.failure(out).startswith("could not run Toy: FileNotFoundError")
    missing.run(None)
    assert missing.failure(out) == "no toy executable found"
    directories = [r.directory for r in (crash, hung, missing)]
    del crash, hung, missing
    import gc

    gc.collect()
    assert not any(os.path.exists(d) for d in directories)  # removed when collected at the latest


def test_executable_version_reads_a_banner_or_gives_none(tmp_path):
    banner = [sys.executable, "-c", "print('Welcome\\nVersion: 2.10.3\\nBuild Date')"]
    assert executable_version(banner, r"Version:\s*(\S+)") == "2.10.3"
    assert executable_version(banner, r"Revision:\s*(\S+)") is None
    assert executable_version([str(tmp_path / "no-such-solver")], r"(.*)") is None


def test_one_sided_rows_split_ranged_rows_in_two_and_drop_free_ones():
    import scipy.sparse as sp

    inf = np.inf
    problem = bnnmip.MilpProblem(
        c=np.zeros(1), A=sp.csr_matrix(np.ones((5, 1))), row_lower=np.array([1.0, -inf, 0.0, -inf, 2.0]),
        row_upper=np.array([1.0, 3.0, 4.0, inf, inf]), col_lower=np.zeros(1), col_upper=np.ones(1),
        integrality=np.array([False]))
    equal, upper, lower = one_sided_rows(problem)
    assert (equal.tolist(), upper.tolist(), lower.tolist()) == ([0], [1, 2], [2, 4])
