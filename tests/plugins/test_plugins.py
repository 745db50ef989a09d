import re
from pathlib import Path

import pytest

import bnnmip
import bnnmip.testing
from bnnmip.plugins import hookspecs, plugin_records
from bnnmip.testing import fake_distribution

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


TOY_PLUGIN = """
    import bnnmip
    from bnnmip_highs import HighsBackend

    class Toy(HighsBackend):
        name = "toy"

    @bnnmip.hookimpl
    def bnnmip_register_backends(register):
        register(Toy())

    EVENTS = []

    @bnnmip.hookimpl
    def bnnmip_solve_started(problem, backend, options):
        EVENTS.append(("started", backend))

    @bnnmip.hookimpl
    def bnnmip_solve_finished(problem, backend, result):
        EVENTS.append(("finished", backend, result.status.value))
"""


def test_builtin_plugins_come_through_entry_points(fresh_plugins):
    records = {r.name: r for r in plugin_records()}
    assert records["highs"].loaded and records["highs"].value == "bnnmip_highs"
    assert records["builtin_strategies"].loaded
    assert "exact" in bnnmip.list_strategies()
    assert "highs" in bnnmip.list_backends()


def test_third_party_plugin_and_broken_plugin(fresh_plugins, tmp_path):
    fake_distribution(
        tmp_path, "toyplug", {"toy": "toy_plugin", "broken": "broken_plugin"},
        {"toy_plugin": TOY_PLUGIN, "broken_plugin": "raise ImportError('needs libfoo')\n"},
    )
    fresh_plugins.syspath_prepend(str(tmp_path))
    records = {r.name: r for r in plugin_records()}
    assert records["toy"].loaded and records["toy"].distribution == "toyplug"
    assert not records["broken"].loaded and "needs libfoo" in records["broken"].error
    assert "toy" in bnnmip.list_backends()  # the broken plugin did not take the host down
    inst = bnnmip.testing.xor()
    # always_solve: the gradient start fits XOR, and the solve (with its events) must run anyway
    result = bnnmip.train(inst.architecture, inst.data, backend="toy", params={"always_solve": True})
    assert result.objective == 0 and result.backend == "toy"
    import toy_plugin

    assert toy_plugin.EVENTS == [("started", "toy"), ("finished", "toy", "optimal")]


def test_env_var_restricts_plugins(fresh_plugins):
    fresh_plugins.setenv("BNNMIP_PLUGINS", "builtin_strategies")
    assert [r.name for r in plugin_records()] == ["builtin_strategies"]
    with pytest.raises(bnnmip.UnknownNameError, match="available: none installed"):
        bnnmip.get_backend("highs")


def test_unknown_backend_lists_the_available_ones():
    with pytest.raises(bnnmip.UnknownNameError, match=r"unknown backend 'nosuchsolver'; available: .*highs"):
        bnnmip.get_backend("nosuchsolver")


def test_misspelt_hook_fails_its_plugin_only(fresh_plugins, tmp_path):
    fake_distribution(tmp_path, "typo", {"typo": "typo_plugin"}, {"typo_plugin": """
        import bnnmip

        @bnnmip.hookimpl
        def bnnmip_register_backend(register):
            pass
    """})
    fresh_plugins.syspath_prepend(str(tmp_path))
    record = next(r for r in plugin_records() if r.name == "typo")
    assert not record.loaded
    hint = "bnnmip_register_backend is not a bnnmip hook (did you mean bnnmip_register_backends?)"
    assert hint in record.error
    assert "highs" in bnnmip.list_backends()


def test_the_hook_reference_is_generated_from_the_specifications():
    text = DOCS.read_text()
    section = text.split("<!-- hooks:begin -->\n", 1)[1].split("<!-- hooks:end -->", 1)[0]
    assert section == hookspecs.hook_reference(), (
        "docs/plugins.md's hook reference differs from hookspecs.py: paste hook_reference()'s output")
    specs = {name for name in dir(hookspecs) if name.startswith("bnnmip_")}
    assert specs == {h.__name__ for h in hookspecs.HOOKS}  # every hook is in the reference


def test_every_hook_is_documented():
    text = DOCS.read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("bnnmip_")]
    assert hooks
    for name in hooks:
        assert re.search(rf"`{name}\(", text), f"hook {name} is not documented in docs/plugins.md"


def test_a_third_party_backend_declares_formulation_defaults(fresh_plugins, tmp_path):
    fake_distribution(tmp_path, "prefplug", {"pref": "pref_plugin"}, {"pref_plugin": """
        import bnnmip
        from bnnmip_highs import HighsBackend

        class NoSymmetry(HighsBackend):
            name = "nosym"
            formulation_defaults = {"symmetry_breaking": False}

        class Misspelt(HighsBackend):
            name = "misspelt"
            formulation_defaults = {"symetry_breaking": False}

        @bnnmip.hookimpl
        def bnnmip_register_backends(register):
            register(NoSymmetry())
            register(Misspelt())
    """})
    fresh_plugins.syspath_prepend(str(tmp_path))
    inst = bnnmip.testing.xor()
    res = bnnmip.train(inst.architecture, inst.data, backend="nosym", params={"start": "none"})
    assert res.objective == 0 and res.verification.ok
    assert next(r for r in res.history if "formulation" in r) == {
        "formulation": "tight", "symmetry_breaking": False, "symmetry_breaking_source": "backend",
        "activation_groups": inst.data.n_points}
    unknown = r"backend 'misspelt' declares unknown formulation default\(s\) symetry_breaking"
    with pytest.raises(bnnmip.PluginError, match=unknown):
        bnnmip.train(inst.architecture, inst.data, backend="misspelt")


def test_formulation_defaults_are_documented():
    from bnnmip.backends import FORMULATION_SETTINGS

    text = DOCS.read_text()
    assert "formulation_defaults" in text
    for key in FORMULATION_SETTINGS:
        assert f"`{key}`" in text, f"formulation default {key} is not documented in docs/plugins.md"
