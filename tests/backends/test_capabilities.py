"""A backend may refuse a problem before it is built; features it does not declare are held back."""

import warnings

import numpy as np
import pytest

import bnnmip
from bnnmip.backends import BackendFeature, declared_options
from bnnmip.cli import main
from bnnmip.errors import FeatureWarning, SolveWarning, UnsupportedProblemError
from bnnmip.strategies import ExactStrategy
from bnnmip.testing import fake_distribution, xor
from bnnmip_highs import HighsBackend

S = bnnmip.SolveStatus
ONE = bnnmip.SolveOptions(threads=1, seed=0, time_limit=60)


class Counting(HighsBackend):
    """HiGHS that counts its builds and takes at most ``max_cols`` columns."""

    def __init__(self, max_cols=10**9, features=None, name="counting"):
        self.name = name
        self.max_cols = max_cols
        self.builds = 0
        if features is not None:
            self.features = frozenset(features)

    def supports(self, problem, options):
        if problem.n_cols > self.max_cols:
            return False, f"{problem.n_cols} columns, this licence takes {self.max_cols}"
        return True, ""

    def build(self, problem, options):
        self.builds += 1
        self.last_options = options
        return super().build(problem, options)


def test_a_refused_problem_is_unsupported_with_its_reason_and_never_built():
    backend = Counting(max_cols=5)
    res = bnnmip.solve(backend, xor().lower().problem, ONE)
    assert res.status is S.UNSUPPORTED and not res.status.has_solution and res.x is None
    assert "does not support this problem: " in res.message and "this licence takes 5" in res.message
    assert backend.builds == 0
    small = Counting(max_cols=10**6)
    assert bnnmip.solve(small, xor().lower().problem, ONE).status is S.OPTIMAL and small.builds == 1


def test_train_refuses_an_unsupported_problem_before_any_solve():
    backend = Counting(max_cols=5)
    inst = xor()
    with pytest.raises(UnsupportedProblemError, match=r"backend 'counting' cannot solve this training "
                       r"problem: \d+ columns, this licence takes 5; use another backend \(.*highs"):
        bnnmip.train(inst.architecture, inst.data, backend=backend)
    assert backend.builds == 0


def test_exact_reports_an_unsupported_solve_and_its_reason():
    backend = Counting(max_cols=5)
    inst = xor()
    task = bnnmip.TrainingTask(inst.architecture, inst.data, backend, options=ONE,
                               params={"always_solve": True})
    res = ExactStrategy().train(task)
    assert res.final.status is S.UNSUPPORTED
    fallback = next(r for r in res.history if "fallback" in r)
    assert fallback["solver_status"] == "unsupported" and "licence takes 5" in fallback["solver_message"]


def test_a_raising_supports_is_a_refusal_naming_it():
    class Broken(Counting):
        def supports(self, problem, options):
            raise RuntimeError("cannot read licence")

    with pytest.warns(bnnmip.errors.PluginWarning, match="supports"):
        res = bnnmip.solve(Broken(), xor().lower().problem, ONE)
    assert res.status is S.UNSUPPORTED
    assert "supports() failed: RuntimeError: cannot read licence" in res.message


BARE = {BackendFeature.LOG_FILE}  # no threads, seed, starts or callbacks


def test_undeclared_features_are_held_back_and_named(tmp_path):
    backend = Counting(features=BARE)
    low = xor().lower()
    start = np.zeros(low.problem.n_cols)
    seen = []
    opts = bnnmip.SolveOptions(threads=2, seed=3, time_limit=60, mip_start=start,
                               heuristic=lambda x: seen.append(1), incumbent_source=lambda: seen.append(2))
    with pytest.warns(FeatureWarning) as caught:
        res = bnnmip.solve(backend, low.problem, opts)
    said = " ".join(str(w.message) for w in caught)
    for what in ("threads=2 not passed (1 passed): backend 'counting' does not declare threads",
                 "seed=3 not passed (0 passed)", "does not declare seed",
                 "the MIP start not passed: backend 'counting' does not declare mip_start",
                 "the heuristic not called: backend 'counting' does not declare callbacks",
                 "the incumbent source not called: backend 'counting' does not declare callbacks"):
        assert what in said and what in res.message, what
    assert res.status is S.OPTIMAL and res.mip_start_used is False
    passed = backend.last_options
    assert passed.mip_start is None and passed.heuristic is None and passed.incumbent_source is None
    assert not seen
    assert passed.threads == 1 and passed.seed == 0


def test_a_partial_start_goes_only_to_a_backend_that_declares_it():
    low = xor().lower()
    partial = np.full(low.problem.n_cols, np.nan)
    partial[0] = 0.0
    full_only = Counting(features={BackendFeature.MIP_START})
    with pytest.warns(FeatureWarning, match=r"partial MIP start \(\d+ integer column\(s\) unknown\) "
                      "not passed: backend 'counting' does not declare partial_mip_start"):
        res = bnnmip.solve(full_only, low.problem, bnnmip.SolveOptions(mip_start=partial))
    assert res.mip_start_used is False and full_only.last_options.mip_start is None
    integers_known = np.where(low.problem.integrality, 0.0, np.nan)  # continuous ones unknown
    assert declared_options(full_only, low.problem,
                            bnnmip.SolveOptions(mip_start=integers_known))[0].mip_start is not None
    both = Counting()  # HiGHS declares both
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureWarning)
        bnnmip.solve(both, low.problem, bnnmip.SolveOptions(mip_start=partial))
    assert np.array_equal(both.last_options.mip_start, partial, equal_nan=True)
    empty = np.full(low.problem.n_cols, np.nan)
    assert declared_options(both, low.problem, bnnmip.SolveOptions(mip_start=empty))[0].mip_start is None
    with pytest.raises(bnnmip.InvalidInputError, match="one entry per column"):
        declared_options(both, low.problem, bnnmip.SolveOptions(mip_start=np.zeros(3)))


@pytest.mark.parametrize("kw, message", [
    ({"threads": 2}, "backend 'counting' does not declare threads, so it cannot honour threads=2; "
                     "use threads 1, or a backend that does: .*highs"),
])
def test_train_refuses_undeclared_threads(kw, message):
    inst = xor()
    with pytest.raises(bnnmip.InvalidInputError, match=message):
        bnnmip.train(inst.architecture, inst.data, backend=Counting(features=BARE),
                     options=bnnmip.SolveOptions(**kw))


REFUSING = """
    import bnnmip
    from bnnmip_highs import HighsBackend

    class Tiny(HighsBackend):
        name = "tiny"

        def supports(self, problem, options):
            if problem.n_cols > 50:
                return False, f"at most 50 columns, this MILP has {problem.n_cols}"
            return True, ""

    class Crashing(HighsBackend):
        name = "crashing"

        def build(self, problem, options):
            raise RuntimeError("licence server unreachable")

    @bnnmip.hookimpl
    def bnnmip_register_backends(register):
        register(Tiny())
        register(Crashing())
"""

TRAIN = ["train", "breast-cancer-wisconsin", "--hidden", "1", "--train-size", "30", "--seed", "0"]


def test_cli_refuses_an_unsupported_problem_and_names_a_failed_solve(fresh_plugins, tmp_path, capsys):
    fake_distribution(tmp_path, "refusing", {"refusing": "refusing_plugin"}, {"refusing_plugin": REFUSING})
    fresh_plugins.syspath_prepend(str(tmp_path))
    assert main([*TRAIN, "--backend", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "backend 'tiny' cannot solve this training problem: at most 50 columns, this MILP has" in err
    assert main([*TRAIN, "--backend", "crashing", "--param", "always_solve=true"]) == 0
    out = capsys.readouterr().out
    assert "last solve   ERROR: build failed: RuntimeError('licence server unreachable')" in out
    assert "fallback     the solver returned no network (error); the returned network is the start" in out


def test_the_estimator_warns_when_the_solver_returned_no_network(fresh_plugins, tmp_path):
    fake_distribution(tmp_path, "refusing", {"refusing": "refusing_plugin"}, {"refusing_plugin": REFUSING})
    fresh_plugins.syspath_prepend(str(tmp_path))
    from bnnmip.estimator import BDNNClassifier

    inst = xor()
    clf = BDNNClassifier(hidden_layer_sizes=(2,), backend="crashing",
                         strategy_params={"always_solve": True})
    with pytest.warns(SolveWarning, match=r"backend 'crashing' returned no network \(status 'error': "
                      r"build failed: RuntimeError\('licence server unreachable'\)\)"):
        clf.fit(inst.data.X, inst.data.y)


def test_malformed_features_are_the_plugins_error_named():
    class NoFeatures(HighsBackend):
        name = "nofeatures"
        features = ["threads"]

    inst = xor()
    with pytest.raises(bnnmip.PluginError, match="backend 'nofeatures' .* must declare features as a "
                       "frozenset of bnnmip.BackendFeature, got \\['threads'\\]"):
        bnnmip.train(inst.architecture, inst.data, backend=NoFeatures())
    with pytest.raises(bnnmip.PluginError, match="must declare features"):
        bnnmip.solve(NoFeatures(), inst.lower().problem)
