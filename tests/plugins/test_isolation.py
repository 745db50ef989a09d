"""A broken plugin never breaks the CLI: each failure is named (plugin, hook, error), the rest works."""

import pytest

import bnnmip
from bnnmip.cli import main
from bnnmip.errors import PluginWarning
from bnnmip.plugins import plugin_records
from bnnmip.plugins.manager import plugin_failures
from bnnmip.testing import fake_distribution

TRAIN = ["train", "breast-cancer-wisconsin", "--hidden", "1", "--train-size", "30", "--seed", "0"]

GOOD = """
    import bnnmip
    from bnnmip_highs import HighsBackend

    class Toy(HighsBackend):
        name = "toy"

    @bnnmip.hookimpl
    def bnnmip_register_backends(register):
        register(Toy())
"""

BROKEN = {
    "registration_raises": ("""
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            raise RuntimeError("no licence server")
    """, "bnnmip_register_backends: RuntimeError: no licence server"),
    "register_42": ("""
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            register(42)
    """, "bnnmip_register_backends: bnnmip.errors.PluginError: register() was given 42, "
         "which is not a backend"),
    "strategy_registration_raises": ("""
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_strategies(register):
            raise KeyError("half-installed")
    """, "bnnmip_register_strategies: KeyError: 'half-installed'"),
    "availability_raises": ("""
        import bnnmip
        from bnnmip_highs import HighsBackend

        class Flaky(HighsBackend):
            name = "flaky"

            def availability(self):
                raise OSError("probe crashed")

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            register(Flaky())
    """, "backend 'flaky' availability(): OSError: probe crashed"),
    "version_raises": ("""
        import bnnmip
        from bnnmip_highs import HighsBackend

        class NoVersion(HighsBackend):
            name = "noversion"

            def solver_version(self):
                raise AttributeError("no __version__")

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            register(NoVersion())
    """, "backend 'noversion' solver_version(): AttributeError: no __version__"),
    "system_exit_in_registration": ("""
        import bnnmip
        import sys

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            sys.exit(4)
    """, "bnnmip_register_backends: SystemExit: 4"),
    "misspelt_hook": ("""
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_backend(register):
            pass
    """, "FAILED: bnnmip_register_backend is not a bnnmip hook (did you mean bnnmip_register_backends?)"),
    "system_exit_at_import": ("raise SystemExit(3)\n",
                              "FAILED: import failed (SystemExit raised at import): SystemExit: 3"),
    "keyboard_interrupt_at_import": ("raise KeyboardInterrupt\n",
                                     "FAILED: import failed (KeyboardInterrupt raised at import): "
                                     "KeyboardInterrupt"),
    "bad_signature": ("""
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_backends(register, extra):
            pass
    """, "FAILED: registration refused:"),
}


def install(monkeypatch, tmp_path, case):
    module = f"broken_{case}"  # one module name per case: Python caches imported modules
    fake_distribution(tmp_path, "mixed", {"good": "good_plugin", "broken": module},
                      {"good_plugin": GOOD, module: BROKEN[case][0]})
    monkeypatch.syspath_prepend(str(tmp_path))


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.filterwarnings("ignore::bnnmip.errors.PluginWarning")
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_is_named_and_the_cli_keeps_working(case, fresh_plugins, tmp_path, capsys):
    shown = BROKEN[case][1]
    install(fresh_plugins, tmp_path, case)
    code, out, err = run(capsys, "backends")
    assert code == 0 and "Traceback" not in out + err
    assert "toy" in out and "highs" in out  # every other plugin keeps working
    code, out, err = run(capsys, "plugins")
    assert code == 0 and "Traceback" not in out + err
    line = next(row for row in out.splitlines() if row.startswith("broken "))
    assert shown in line, line
    assert next(row for row in out.splitlines() if row.startswith("good ")).split()[-2:] == [
        "loaded", "bnnmip_register_backends"]
    code, out, err = run(capsys, "strategies")
    assert code == 0 and "exact" in out and "split" in out


@pytest.mark.filterwarnings("ignore::bnnmip.errors.PluginWarning")
@pytest.mark.parametrize("case", ["registration_raises", "register_42", "availability_raises",
                                  "system_exit_at_import"])
def test_train_runs_beside_a_broken_plugin(case, fresh_plugins, tmp_path, capsys):
    install(fresh_plugins, tmp_path, case)
    code, out, err = run(capsys, *TRAIN, "--backend", "toy")
    assert code == 0 and "OPTIMAL" in out and "verified" in out, out + err


OBSERVER = """
    import bnnmip

    @bnnmip.hookimpl
    def bnnmip_solve_started(problem, backend, options):
        raise ValueError("started observer bug")

    @bnnmip.hookimpl
    def bnnmip_solve_finished(problem, backend, result):
        raise ValueError("finished observer bug")

    @bnnmip.hookimpl
    def bnnmip_strategy_iteration(strategy, iteration, record):
        raise ValueError("iteration observer bug")
"""

RECORDER = """
    import bnnmip

    EVENTS = []

    @bnnmip.hookimpl
    def bnnmip_solve_finished(problem, backend, result):
        EVENTS.append(result.status.value)

    @bnnmip.hookimpl
    def bnnmip_strategy_iteration(strategy, iteration, record):
        EVENTS.append(strategy)
"""


def test_a_raising_observer_loses_no_result(fresh_plugins, tmp_path, capsys):
    fake_distribution(tmp_path, "observers", {"noisy": "noisy_plugin", "recorder": "recorder_plugin"},
                      {"noisy_plugin": OBSERVER, "recorder_plugin": RECORDER})
    fresh_plugins.syspath_prepend(str(tmp_path))
    code, out, err = run(capsys, *TRAIN, "--param", "always_solve=true", "--json")
    assert code == 0 and '"status": "optimal"' in out, err
    for hook, text in (("bnnmip_solve_started", "started"), ("bnnmip_solve_finished", "finished")):
        assert (f"plugin 'noisy': {hook} failed and was skipped: ValueError: {text} observer bug"
                in err), err
    import recorder_plugin

    assert recorder_plugin.EVENTS == ["optimal"]  # the other observer saw the solve
    code, out, _ = run(capsys, "plugins")
    line = next(row for row in out.splitlines() if row.startswith("noisy "))
    assert "loaded with 2 failure(s): bnnmip_solve_started: ValueError: started observer bug" in line


@pytest.mark.filterwarnings("ignore::bnnmip.errors.PluginWarning")
def test_a_raising_iteration_observer_loses_no_result(fresh_plugins, tmp_path):
    fake_distribution(tmp_path, "observers", {"noisy": "noisy_plugin", "recorder": "recorder_plugin"},
                      {"noisy_plugin": OBSERVER, "recorder_plugin": RECORDER})
    fresh_plugins.syspath_prepend(str(tmp_path))
    inst = bnnmip.testing.xor()
    with pytest.warns(PluginWarning, match="'noisy': bnnmip_strategy_iteration failed"):
        res = bnnmip.train(inst.architecture, inst.data, strategy="local_search",
                           params={"max_rounds": 1})
    assert res.network is not None and res.iterations >= 1
    import recorder_plugin

    assert "local_search" in recorder_plugin.EVENTS
    assert {f.hook for f in plugin_failures() if f.plugin == "noisy"} >= {"bnnmip_strategy_iteration"}


def test_a_duplicate_name_keeps_the_first_and_names_both(fresh_plugins, tmp_path):
    fake_distribution(tmp_path, "dupplug", {"zz_dup": "dup_plugin"}, {"dup_plugin": """
        import bnnmip
        from bnnmip_highs import HighsBackend

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            register(HighsBackend())
    """})
    fresh_plugins.syspath_prepend(str(tmp_path))
    with pytest.warns(PluginWarning, match="already registered by plugin 'highs'"):
        backends = bnnmip.list_backends()
    assert type(backends["highs"]).__module__ == "bnnmip_highs.backend"
    record = next(r for r in plugin_records() if r.name == "zz_dup")
    assert "backend name 'highs' is already registered by plugin 'highs'" in record.state


STRATEGIES = """
    import bnnmip

    class Boom:
        name = "boom"
        description = "always fails"

        def train(self, task):
            return 1 / 0

    class Wrong:
        name = "wrong"
        description = "returns the wrong type"

        def train(self, task):
            return {"network": None}

    @bnnmip.hookimpl
    def bnnmip_register_strategies(register):
        register(Boom())
        register(Wrong())
"""


@pytest.mark.parametrize("name, message", [
    ("boom", "strategy 'boom' (plugin 'strats') failed: ZeroDivisionError: division by zero"),
    ("wrong", "strategy 'wrong' (plugin 'strats') returned dict, not a bnnmip.TrainingResult"),
])
def test_a_failing_strategy_is_a_named_error(name, message, fresh_plugins, tmp_path, capsys):
    fake_distribution(tmp_path, "strats", {"strats": "strats_plugin"}, {"strats_plugin": STRATEGIES})
    fresh_plugins.syspath_prepend(str(tmp_path))
    code, out, err = run(capsys, *TRAIN, "--strategy", name)
    assert code == 2 and message in err and "Traceback" not in err
