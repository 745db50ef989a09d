"""The solver's own parameters (``SolveOptions.solver_options``, ``--solver-option``)."""

import json

import numpy as np
import pytest

import bnnmip
from bnnmip.backends import BackendFeature, check_solver_options, option_value, prepared_options, solve
from bnnmip.cli import main
from bnnmip.errors import InvalidInputError
from bnnmip.estimator import BDNNClassifier
from bnnmip.testing import xor

# per backend: options that change nothing a tiny solve needs, their typed form, a way to read
# each back from the built native model, and a refused name and value
GOOD = {
    "scip": ({"separating/maxrounds": "0", "misc/allowstrongdualreds": "false", "lp/initalgorithm": "d"},
             {"separating/maxrounds": 0, "misc/allowstrongdualreds": False, "lp/initalgorithm": "d"}),
    "highs": ({"mip_heuristic_effort": "0.2", "presolve": "off", "mip_detect_symmetry": "false"},
              {"mip_heuristic_effort": 0.2, "presolve": "off", "mip_detect_symmetry": False}),
    "cbc": ({"cuts": "off", "maxNodes": 100000, "preprocess": False},
            ["-cuts", "off", "-maxNodes", "100000", "-preprocess", "off"]),
}
UNKNOWN = {"scip": "separating/nosuchthing", "highs": "no_such_option", "cbc": "noSuchParameter"}
OUT_OF_RANGE = {"scip": ("separating/maxrounds", -7, "Must be in range"),
                "highs": ("mip_max_nodes", -5, "below lower bound"),
                "cbc": ("maxNodes", -5, "valid range")}


def _backend(name):
    backend = bnnmip.get_backend(name)
    if not backend.availability()[0]:
        pytest.skip(f"{name} not available")
    return backend


def _read_back(name, native, options):
    if name == "scip":
        return {k: native.model.getParam(k) for k in options}
    if name == "highs":
        return {k: native.highs.getOptionValue(k)[1] for k in options}
    raise AssertionError(name)


# -- SolveOptions ---------------------------------------------------------------------------------
def test_solve_options_keep_a_read_only_copy():
    given = {"a/b": np.int64(3), "c": "x"}
    opts = bnnmip.SolveOptions(solver_options=given)
    given["a/b"] = 4
    assert dict(opts.solver_options) == {"a/b": 3, "c": "x"}
    assert isinstance(opts.solver_options["a/b"], int)
    with pytest.raises(TypeError):
        opts.solver_options["c"] = "y"
    assert opts == bnnmip.SolveOptions(solver_options={"c": "x", "a/b": 3})
    hash(opts)
    assert bnnmip.SolveOptions().solver_options == {}


@pytest.mark.parametrize("value, message", [
    (["a=1"], "mapping"),
    ({"has space": 1}, "not a parameter name"),
    ({"": 1}, "not a parameter name"),
    ({3: 1}, "not a parameter name"),
    ({"a": None}, "bool, number or string"),
    ({"a": [1]}, "bool, number or string"),
])
def test_solve_options_refuse_malformed_solver_options(value, message):
    with pytest.raises(InvalidInputError, match=message):
        bnnmip.SolveOptions(solver_options=value)


@pytest.mark.parametrize("value, kind, expected", [
    ("3", int, 3), (3.0, int, 3), ("1e3", float, 1000.0), (2, float, 2.0), ("on", bool, True),
    ("No", bool, False), (0, bool, False), (True, bool, True), (5, str, "5"),
])
def test_option_value_converts(value, kind, expected):
    got = option_value("S", "p", value, kind)
    assert got == expected and type(got) is kind


@pytest.mark.parametrize("value, kind", [
    ("3.5", int), (3.5, int), (True, int), (float("inf"), int), ("x", float), ("maybe", bool), (2, bool),
])
def test_option_value_refuses(value, kind):
    with pytest.raises(InvalidInputError, match="S parameter 'p' takes"):
        option_value("S", "p", value, kind)


# -- each backend ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(GOOD))
def test_backend_checks_and_types_its_options(name):
    backend = _backend(name)
    assert BackendFeature.SOLVER_OPTIONS in backend.features
    given, typed = GOOD[name]
    assert backend.check_solver_options(given) == typed


@pytest.mark.parametrize("name", sorted(GOOD))
def test_unknown_name_and_bad_value_are_refused_by_name_before_the_solve(name, monkeypatch):
    backend = _backend(name)
    key, value, why = OUT_OF_RANGE[name]
    built = []
    monkeypatch.setattr(type(backend), "build", lambda *a: built.append(a))
    inst = xor()
    opts = bnnmip.SolveOptions(solver_options={UNKNOWN[name]: 1, key: value})
    with pytest.raises(InvalidInputError) as exc:
        bnnmip.train(inst.architecture, inst.data, backend=name, options=opts)
    assert UNKNOWN[name] in str(exc.value) and key in str(exc.value) and why in str(exc.value)
    problem = bnnmip.lower(inst.architecture, inst.data).problem
    with pytest.raises(InvalidInputError, match=UNKNOWN[name]):
        solve(backend, problem, opts)
    assert built == []  # refused before anything was built


@pytest.mark.parametrize("name", ["scip", "highs"])
def test_options_reach_the_native_model_after_bnnmips_own(name):
    backend = _backend(name)
    given, typed = GOOD[name]
    # what bnnmip sets from SolveOptions (here the gap) is refused as a solver option (issue 18:
    # options that change what is solved); the others reach the model next to bnnmip's own
    key = {"scip": "limits/gap", "highs": "mip_rel_gap"}[name]
    inst = xor()
    problem = bnnmip.lower(inst.architecture, inst.data).problem
    with pytest.raises(InvalidInputError, match="is refused: it sets the relative gap"):
        refused = bnnmip.SolveOptions(mip_gap=1e-4, solver_options={**given, key: "0.25"})
        prepared_options(backend, problem, refused)
    opts = bnnmip.SolveOptions(mip_gap=1e-3, solver_options=given)
    native = backend.build(problem, prepared_options(backend, problem, opts)[0])
    assert _read_back(name, native, [*typed, key]) == {**typed, key: 1e-3}


def test_cbc_options_go_on_the_command_line_before_the_solve():
    backend = _backend("cbc")
    given, words = GOOD["cbc"]
    inst = xor()
    problem = bnnmip.lower(inst.architecture, inst.data).problem
    opts = prepared_options(backend, problem, bnnmip.SolveOptions(time_limit=5, solver_options=given))[0]
    native = backend.build(problem, opts)
    cmd = backend.command(native, opts)
    at = cmd.index("-cuts")
    assert cmd[at:at + len(words)] == words and cmd.index("-solve") == at + len(words)


@pytest.mark.parametrize("key", ["log", "logLevel", "printingOptions", "solu", "-mips", "timeMode"])
def test_cbc_refuses_what_bnnmip_reads_back(key):
    with pytest.raises(InvalidInputError, match="bnnmip's to set"):
        _backend("cbc").check_solver_options({key: "0"})


@pytest.mark.parametrize("name", sorted(GOOD))
def test_training_with_options_reaches_the_same_optimum(name):
    _backend(name)
    inst = xor()
    opts = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60, solver_options=GOOD[name][0])
    res = bnnmip.train(inst.architecture, inst.data, backend=name, options=opts,
                       params={"start": "none", "improve": "none"})  # make the solver do the work
    assert res.status.value == "optimal" and res.objective == pytest.approx(inst.optimum)
    assert res.verification.ok


def test_a_backend_without_the_feature_is_named_with_those_that_have_it():
    class Plain:
        name = "plain"
        features = frozenset()

        def availability(self):
            return True, ""

    with pytest.raises(InvalidInputError, match="'plain' does not take solver options.*highs"):
        check_solver_options(Plain(), bnnmip.SolveOptions(solver_options={"x": 1}))
    check_solver_options(Plain(), bnnmip.SolveOptions())  # nothing given: nothing to refuse


# -- estimator and CLI ------------------------------------------------------------------------------
def test_estimator_passes_solver_options():
    inst = xor()
    clf = BDNNClassifier(hidden_layer_sizes=(2,), backend="highs", random_state=0,
                                solver_options={"presolve": "off"})
    clf.fit(inst.data.X, inst.data.y)
    assert clf.status_ == "optimal" and clf.get_params()["solver_options"] == {"presolve": "off"}
    bad = BDNNClassifier(backend="highs", solver_options={"presolve": "bogus"})
    with pytest.raises(InvalidInputError, match="presolve"):
        bad.fit(inst.data.X, inst.data.y)


TRAIN = ["train", "breast-cancer-wisconsin", "--hidden", "2", "--train-size", "30", "--seed", "0"]


def test_cli_prints_and_records_the_options(capsys):
    code = main([*TRAIN, "--solver-option", "presolve=off", "--solver-option", "mip_heuristic_effort=0.2"])
    out = capsys.readouterr().out
    assert code == 0 and "OPTIMAL (" in out
    assert "; solver options presolve=off, mip_heuristic_effort=0.2" in out
    assert main([*TRAIN, "--solver-option", "presolve=off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["solver_options"] == {"presolve": "off"}


def test_cli_errors_name_the_option(capsys):
    assert main([*TRAIN, "--solver-option", "no_such_option=1"]) == 2
    err = capsys.readouterr().err
    assert "HiGHS has no option 'no_such_option'" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main([*TRAIN, "--solver-option", "presolve"])
    assert exc.value.code == 2 and "expected NAME=VALUE" in capsys.readouterr().err


# -- experiment grids ------------------------------------------------------------------------------
GRID = dict(datasets=["iris"], backends=["highs", "scip"], seeds=[0], time_limits=[5], hidden=[[2]],
            max_points=12)


def test_grid_solver_options_are_an_axis_recorded_only_where_given():
    from bnnmip.experiments import Grid

    plain = Grid(**GRID).keyed_cells()
    grid = Grid(**GRID, solver_options={"scip": [{}, {"separating/maxrounds": 0}],
                                        "highs": {"presolve": "off"}})
    grid.validate_names()
    cells = grid.keyed_cells()
    assert len(plain) == 2 and len(cells) == 3
    by_options = {(c["backend"], json.dumps(c.get("solver_options"))): k for k, c in cells}
    # a cell without solver options keeps the key it had before the field existed
    scip_plain = next(k for k, c in plain if c["backend"] == "scip")
    assert by_options[("scip", "null")] == scip_plain
    assert ("scip", json.dumps({"separating/maxrounds": 0})) in by_options
    assert ("highs", json.dumps({"presolve": "off"})) in by_options and ("highs", "null") not in by_options


@pytest.mark.parametrize("options, message", [
    ({"cbc": {"cuts": "off"}}, "not among the backends"),
    (3, "must map backend names"),
    ({"scip": [3]}, "must be a table"),
    ({"scip": {"bad name": 1}}, "not a parameter name"),
])
def test_grid_refuses_malformed_solver_options(options, message):
    from bnnmip.experiments import Grid

    with pytest.raises(InvalidInputError, match=message):
        Grid(**GRID, solver_options=options)


def test_grid_has_the_backend_check_its_options_before_any_cell_runs():
    from bnnmip.experiments import Grid

    _backend("scip")
    grid = Grid(**GRID, solver_options={"scip": [{}, {"separating/nosuchthing": 1}]})
    with pytest.raises(InvalidInputError,
                       match="solver_options.scip: SCIP has no parameter 'separating/nosuchthing'"):
        grid.validate_names()


@pytest.mark.slow
def test_compare_runs_cells_with_solver_options_and_reports_them_apart(tmp_path, capsys):
    _backend("scip")
    store, out = tmp_path / "runs.jsonl", tmp_path / "report"
    flags = ["compare", "--datasets", "iris", "--backends", "scip", "--seeds", "0", "--time-limits", "5",
             "--hidden", "2", "--max-points", "12", "--store", str(store), "--workers", "1"]
    assert main([*flags, "--solver-option", "separating/maxrounds=0"]) == 0
    assert main([*flags[:-4], "--store", str(store), "--workers", "1"]) == 0  # the same grid without
    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert sorted(json.dumps(r["config"].get("solver_options")) for r in records) == [
        "null", json.dumps({"separating/maxrounds": "0"})]
    assert all(r["status"] == "optimal" for r in records)
    capsys.readouterr()
    assert main(["report", str(store), "--output", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "| exact | tight | scip separating/maxrounds=0 |" in text and "| exact | tight | scip |" in text
    with pytest.raises(SystemExit):
        main([*flags, "--solver-option", "scip:"])
    assert main([*flags[:5], "highs", *flags[5:], "--solver-option", "presolve=off"]) == 2
    assert "say which one" in capsys.readouterr().err
