"""The CBC backend: PuLP's CBC binary on MPS files, run under a watchdog."""

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import bnnmip
from bnnmip.milp import MilpProblem
from bnnmip.strategies import trivial_network
from bnnmip.testing import random_teacher, xor

OPTS = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)
S = bnnmip.SolveStatus

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


@pytest.fixture
def cbc():
    b = bnnmip.get_backend("cbc")
    ok, reason = b.availability()
    if not ok:
        pytest.skip(f"cbc unavailable: {reason}")
    return b


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Send the backend's temporary directories to a fresh folder to check they go away."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def xor_lowering(hidden):
    return xor(hidden).lower()


def teacher_lowering(seed=3):
    net, data = random_teacher(3, (2,), 2, 20, seed=seed)
    return net, bnnmip.lower(bnnmip.Architecture(3, (2,), 2), data)


def fake_cbc(tmp_path, body):
    """An executable standing in for cbc; ``body`` is Python run with ``args`` = argv[1:]."""
    path = tmp_path / "fake-cbc"
    head = "import sys, time\nargs = sys.argv[1:]\n"
    head += "if args == ['-quit']:\n    print('Version: fake')\n    sys.exit(0)\n"
    path.write_text(f"#!{sys.executable}\n{head}{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_registered_and_located_without_pulp():
    from bnnmip_cbc import CbcBackend

    assert isinstance(bnnmip.list_backends()["cbc"], CbcBackend)
    code = (
        "import sys\nfrom bnnmip_cbc import CbcBackend\nb = CbcBackend()\n"
        "print(b.availability()[0], 'pulp' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == "False"


def test_missing_binary_is_unavailable(tmp_path):
    from bnnmip_cbc import CbcBackend

    ok, reason = CbcBackend(path=tmp_path / "nope").availability()
    assert not ok and "nope" in reason


@pytest.mark.parametrize("hidden, optimum", [((2,), 0.0), ((), 2.0)])
def test_xor_optimum(cbc, private_tmp, hidden, optimum):
    low = xor_lowering(hidden)
    res = bnnmip.solve(cbc, low.problem, OPTS)
    assert res.status is S.OPTIMAL, res.message
    assert res.objective == pytest.approx(optimum, abs=1e-6)  # includes the offset
    assert res.bound == pytest.approx(optimum, abs=1e-6) and res.gap == 0.0
    assert res.nodes >= 0 and res.x.shape == (low.problem.n_cols,)
    assert low.problem.violation(res.x) <= 1e-6
    assert low.problem.objective(res.x) == pytest.approx(res.objective, abs=1e-6)
    assert os.listdir(private_tmp) == []


def test_teacher_matches_highs(cbc):
    _, low = teacher_lowering()
    ref = bnnmip.solve(bnnmip.get_backend("highs"), low.problem, OPTS)
    res = bnnmip.solve(cbc, low.problem, OPTS)
    assert ref.status is S.OPTIMAL and res.status is S.OPTIMAL, res.message
    assert res.objective == pytest.approx(ref.objective, abs=1e-6)
    assert low.problem.violation(res.x) <= 1e-5


@pytest.mark.parametrize("lp_infeasible", [True, False])
def test_infeasible(cbc, private_tmp, lp_infeasible):
    # x0 + x1 = 1 and x0 = x1 has no integer point (LP point 0.5, 0.5); x0 + x1 = 3 has none
    rhs = 3.0 if lp_infeasible else 1.0
    problem = MilpProblem(
        c=np.array([1.0, 1.0]),
        A=sp.csr_matrix(np.array([[1.0, 1.0], [1.0, -1.0]])),
        row_lower=np.array([rhs, 0.0]),
        row_upper=np.array([rhs, 0.0]),
        col_lower=np.zeros(2),
        col_upper=np.ones(2),
        integrality=np.array([True, True]),
        offset=3.0,
    )
    res = bnnmip.solve(cbc, problem, OPTS)
    assert res.status is S.INFEASIBLE, res.message
    assert res.x is None and res.objective is None and res.bound is None
    assert os.listdir(private_tmp) == []


@pytest.mark.slow
def test_time_limit_with_incumbent_is_feasible_not_optimal(cbc, private_tmp):
    rng = np.random.default_rng(0)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (300, 5)), rng.integers(0, 2, 300))
    low = bnnmip.lower(bnnmip.Architecture(5, (3,), 2), data)
    x0 = low.encode(trivial_network(low.architecture, data))
    res = bnnmip.solve(cbc, low.problem, bnnmip.SolveOptions(time_limit=1.0, mip_start=x0))
    assert res.status is S.FEASIBLE, res.message  # PuLP would call this "Optimal"
    assert res.message.startswith("CBC: Stopped on time")
    assert res.mip_start_used is True
    assert res.objective <= low.problem.objective(x0) + 1e-6
    assert res.bound is not None and res.bound <= res.objective + 1e-6
    assert low.problem.violation(res.x) <= 1e-5
    assert res.solve_seconds < 10
    assert os.listdir(private_tmp) == []


def test_mip_starts(cbc):
    net, low = teacher_lowering()
    full = bnnmip.solve(cbc, low.problem, bnnmip.SolveOptions(mip_start=low.encode(net)))
    assert full.mip_start_used is True and full.objective == pytest.approx(0.0, abs=1e-6)
    # unknown integers would be read as 0 by CBC: such a start is not passed
    with pytest.warns(bnnmip.errors.FeatureWarning, match="integer column"):
        partial = bnnmip.solve(cbc, low.problem,
                               bnnmip.SolveOptions(mip_start=low.encode(net, partial=True)))
    assert partial.mip_start_used is False and "integer column(s) unknown" in partial.message
    assert "does not declare partial_mip_start" in partial.message  # held back by bnnmip.solve
    assert partial.objective == pytest.approx(0.0, abs=1e-6)
    # unknown continuous columns only: CBC computes them from the fixed integers
    start = low.encode(net)
    start[low.problem.columns["W1"].start] = np.nan
    cont = bnnmip.solve(cbc, low.problem, bnnmip.SolveOptions(mip_start=start))
    assert cont.mip_start_used is True and cont.status is S.OPTIMAL


def test_train_xor_verifies(cbc):
    arch = bnnmip.Architecture(n_inputs=2, hidden=(2,), n_classes=2)
    result = bnnmip.train(arch, bnnmip.TrainingSet.from_arrays(XOR_X, XOR_Y), backend="cbc",
                          options=OPTS)
    assert result.status is S.OPTIMAL
    assert result.verification.mismatches == 0 and result.verification.ok


def test_command_line_and_log(cbc, tmp_path, capfd):
    low = xor_lowering((2,))
    log = tmp_path / "cbc.log"
    opts = bnnmip.SolveOptions(time_limit=5, mip_gap=0.01, threads=2, seed=7, log_file=log)
    res = bnnmip.solve(cbc, low.problem, opts)
    assert res.status is S.OPTIMAL
    text = log.read_text()
    first = text.splitlines()[0]
    for piece in ("-timeMode elapsed", "-sec 5.0", "-ratio 0.01", "-threads 2",
                  "-randomCbcSeed 7", "-solve", "-printingOptions all", "-solution"):
        assert piece in first, piece
    assert "Objective value" in text
    out, _ = capfd.readouterr()
    assert "CBC" not in out  # quiet unless verbose


def test_crash_is_an_error_result(tmp_path, private_tmp):
    from bnnmip_cbc import CbcBackend

    exe = fake_cbc(tmp_path, "print('Welcome to a broken CBC'); print('segfault!'); sys.exit(139)")
    res = bnnmip.solve(CbcBackend(path=exe), xor_lowering((2,)).problem, OPTS)
    assert res.status is S.ERROR and "exited with code 139" in res.message
    assert "segfault!" in res.message
    assert os.listdir(private_tmp) == []


def test_hung_cbc_is_killed(tmp_path, private_tmp):
    from bnnmip_cbc import CbcBackend

    exe = fake_cbc(tmp_path, "print('thinking', flush=True); time.sleep(60)")
    opts = bnnmip.SolveOptions(time_limit=0.2)
    res = bnnmip.solve(CbcBackend(path=exe, grace_seconds=0.5), xor_lowering((2,)).problem, opts)
    assert res.status is S.ERROR and "killed" in res.message and "thinking" in res.message
    assert res.solve_seconds < 5
    assert os.listdir(private_tmp) == []


def test_stopped_on_time_from_the_solution_file_is_feasible(tmp_path):
    """The status line decides, whatever the log says (PuLP maps this line to Optimal)."""
    from bnnmip_cbc import CbcBackend

    low = xor_lowering(())
    n = low.problem.n_cols
    x = low.encode(trivial_network(low.architecture, low.data))
    values = "".join(f"'{j} C{j:07d} {v!r} 0\\n'," for j, v in enumerate(x.tolist()))
    body = (
        "out = args[args.index('-solution') + 1]\n"
        f"open(out, 'w').writelines(['Stopped on time - objective value 4.00000000\\n', "
        f"'0 R0000000 0 0\\n', {values} '{n} OBJCONST 1 4\\n'])\n"
        "print('Cbc0005I Partial search - best objective 4 (best possible 1.5), took 3 "
        "iterations and 7 nodes (1.00 seconds)')\n"
        "print('Objective value:                4.00000000')\nprint('Enumerated nodes: 7')"
    )
    res = bnnmip.solve(CbcBackend(path=fake_cbc(tmp_path, body)), low.problem, OPTS)
    assert res.status is S.FEASIBLE
    assert res.objective == 4.0 and res.bound == 1.5 and res.nodes == 7
    assert res.gap == pytest.approx(2.5 / 4.0)
    np.testing.assert_array_equal(res.x, x)


def test_no_integer_solution_at_time_limit(tmp_path):
    from bnnmip_cbc import CbcBackend

    body = (
        "out = args[args.index('-solution') + 1]\n"
        "open(out, 'w').write('Stopped on time (no integer solution - continuous used) - "
        "objective value 0.5\\n')\n"
        "print('No feasible solution found')"
    )
    res = bnnmip.solve(CbcBackend(path=fake_cbc(tmp_path, body)), xor_lowering(()).problem, OPTS)
    assert res.status is S.NO_SOLUTION and res.x is None and res.objective is None


# -- symmetry breaking: off by default on CBC (docs/benchmarks/symmetry.md) --------------------


def _sym_record(res):
    rec = next(r for r in res.history if "formulation" in r)
    return {k: v for k, v in rec.items() if k != "activation_groups"}


def test_cbc_prefers_no_symmetry_breaking():
    from bnnmip.backends import formulation_defaults
    from bnnmip_cbc import CbcBackend

    assert formulation_defaults(CbcBackend()) == {"symmetry_breaking": False}


def test_exact_on_cbc_drops_the_symmetry_rows_unless_asked_with_the_same_optimum(cbc, capture_lowerings):
    from bnnmip.strategies import exact

    seen = capture_lowerings(exact)
    rng = np.random.default_rng(7)
    data = bnnmip.TrainingSet.from_arrays(rng.uniform(0, 1, (14, 4)), rng.integers(0, 2, 14))
    arch = bnnmip.Architecture(4, (2,), 2)
    params = {"start": "none", "always_solve": True}
    default = bnnmip.train(arch, data, backend="cbc", options=OPTS, params=params)
    kept = bnnmip.train(arch, data, backend="cbc", options=OPTS, params={**params, "symmetry_breaking": True})
    assert [low.symmetry_breaking for low in seen] == [False, True]
    assert _sym_record(default) == {"formulation": "tight", "symmetry_breaking": False,
                                    "symmetry_breaking_source": "backend"}
    assert _sym_record(kept) == {"formulation": "tight", "symmetry_breaking": True,
                                 "symmetry_breaking_source": "user"}
    assert default.problem_size["rows"] < kept.problem_size["rows"]  # the ordering rows are gone
    assert default.status is kept.status is S.OPTIMAL
    assert default.verification.ok and kept.verification.ok
    assert default.objective == pytest.approx(kept.objective)


def test_cli_train_on_cbc_says_where_symmetry_breaking_came_from(cbc, tmp_path, capsys):
    import json

    from bnnmip.cli import main

    rng = np.random.default_rng(3)
    X = rng.uniform(0, 10, size=(16, 3))
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([X, (X[:, 0] > 5).astype(int)]), delimiter=",")
    base = ["train", str(csv), "--backend", "cbc", "--time-limit", "20", "--param", "start=none"]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "symmetry breaking off (the cbc backend's default" in out
    assert main([*base, "--param", "symmetry_breaking=true", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rec = next(r for r in summary["history"] if "formulation" in r)
    assert rec["symmetry_breaking"] is True and rec["symmetry_breaking_source"] == "user"


def test_split_on_cbc_follows_the_backends_symmetry_preference(cbc, capture_lowerings):
    from bnnmip.strategies import split

    seen = capture_lowerings(split)
    _, data = random_teacher(3, (2,), 2, 12, seed=1)
    arch = bnnmip.Architecture(3, (2,), 2)
    res = bnnmip.train(arch, data, backend="cbc", strategy="split", formulation="tight", options=OPTS,
                       params={"max_splits": 2})
    assert seen and not any(low.symmetry_breaking for low in seen)
    assert res.verification.ok
    seen.clear()
    bnnmip.train(arch, data, backend="highs", strategy="split", formulation="tight", options=OPTS,
                 params={"max_splits": 2})
    assert seen and all(low.symmetry_breaking for low in seen)


PREPROCESSING_CUT_SHORT = """Continuous objective value is 0 - 0.14 seconds
Cgl0000I Cut generators found to be infeasible! (or unbounded)
Pre-processing says infeasible or unbounded
Total time (CPU seconds):       0.34   (Wallclock seconds):       0.37
"""


@pytest.mark.parametrize("time_limit, expected",
                         [(0.3, S.NO_SOLUTION), (60.0, S.INFEASIBLE), (None, S.INFEASIBLE)])
def test_preprocessing_infeasible_cut_short_by_the_time_limit_is_no_proof(tmp_path, time_limit, expected):
    """CBC 2.10 says "Integer infeasible" on a feasible model when its time limit stops preprocessing."""
    from bnnmip.backends.helpers import SolverRun
    from bnnmip_cbc.backend import CbcBackend, _Native

    native = _Native(SolverRun("CBC"))
    native.run.returncode = 0
    Path(native.run.log).write_text(PREPROCESSING_CUT_SHORT)
    Path(native.run.path("solution.sol")).write_text("Integer infeasible - objective value 0.00000000\n"
                                                     "      0 C0000000  0.5  1\n")
    problem = xor_lowering((2,)).problem
    backend = CbcBackend()
    raw = backend.extract(native, problem, bnnmip.SolveOptions(time_limit=time_limit))
    res = bnnmip.backends.normalise(backend, problem, raw)
    assert res.status is expected and res.x is None, res.message
    assert ("not a proof" in res.message) == (expected is S.NO_SOLUTION)
