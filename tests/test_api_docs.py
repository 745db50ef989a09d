"""The documentation site builds, offline, with warnings as errors, and documents the public API.

``mkdocs build --strict`` (``mkdocs.yml``: the pages of ``docs/`` and the API reference in
``docs/reference/``, generated from the docstrings by mkdocstrings) must pass: a docstring
griffe cannot read (a ``Parameters`` entry that is not in the signature, a malformed section),
a page missing from the nav or a broken link fails it. Any network access is routed to a dead
proxy, so a build that needs the network fails here too. Then the site's object inventory
(``objects.inv``) must hold every public name: each name in ``__all__`` of each module with a
reference page, and every hook.
"""

import inspect
import os
import subprocess
import sys
import zlib
from pathlib import Path

import attrs
import griffe
import pytest
import yaml

import bnnmip
import bnnmip.plugins.hookspecs

ROOT = Path(__file__).resolve().parents[1]
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing answers

# module -> its page in docs/reference/ (each page is one `::: module` directive)
REFERENCE = {
    "bnnmip": "bnnmip.md",
    "bnnmip.estimator": "estimator.md",
    "bnnmip.training": "training.md",
    "bnnmip.backends": "backends.md",
    "bnnmip.plugins.hookspecs": "hookspecs.md",
    "bnnmip.testing": "testing.md",
    "bnnmip.datasets": "datasets.md",
    "bnnmip.robustness": "robustness.md",
    "bnnmip.experiments": "experiments.md",
    "bnnmip.deploy": "deploy.md",
}

# modules documented on another module's page (after it)
ALSO = {"bnnmip.deploy.onnx": "deploy.md"}

pytestmark = pytest.mark.slow  # one build, about 5-10 s


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_PROXY": "", "no_proxy": ""}
    proxies = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
    env.update(dict.fromkeys(proxies, DEAD_PROXY))
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return out, proc


def _inventory(site_dir: Path) -> dict[str, str]:
    """Name -> page of every primary entry of the Sphinx-format inventory mkdocstrings writes."""
    raw = (site_dir / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four header lines, then the zlib-compressed entries
        header_end = raw.index(b"\n", header_end) + 1
    entries = {}
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        name, _domain, priority, location, *_ = line.split(" ")
        if priority == "1":
            entries[name] = location.split("#")[0]
    return entries


def test_the_site_builds_strict_and_offline(site):
    out, proc = site
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}"
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (out / "index.html").is_file() and (out / "objects.inv").is_file()
    for page in REFERENCE.values():
        assert (out / "reference" / page.replace(".md", ".html")).is_file(), page


def test_a_docstring_griffe_cannot_read_fails_the_build(tmp_path):
    """The guard itself: a griffe warning (here a parameter not in the signature) is an error."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "demo.py").write_text(
        'def f(a):\n    """Do.\n\n    Parameters\n    ----------\n    b : int\n        Not there.\n    """\n'
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("::: demo\n")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: demo\ntheme:\n  name: mkdocs\nplugins:\n  - mkdocstrings:\n      handlers:\n"
        "        python:\n          paths: [src]\n          options:\n            docstring_style: numpy\n"
    )
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stderr
    assert "'b' does not appear in the function signature" in proc.stderr, proc.stderr


def test_every_reference_page_is_in_the_nav_and_documents_its_module():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())  # only plain YAML there: no !!python tags

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    nav = set(pages(config["nav"]))
    for module, page in REFERENCE.items():
        assert f"reference/{page}" in nav, f"add reference/{page} to the nav of mkdocs.yml"
        assert (ROOT / "docs" / "reference" / page).read_text().startswith(f"::: {module}\n"), page
    written = {p.name for p in (ROOT / "docs" / "reference").glob("*.md")}
    assert set(REFERENCE.values()) | {"index.md"} == written, "a new reference page belongs in REFERENCE"


@pytest.mark.parametrize("module_name", sorted({**REFERENCE, **ALSO}))
def test_every_public_name_has_an_entry(site, module_name):
    out, proc = site
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = _inventory(out)
    module = __import__(module_name, fromlist=["_"])
    page = f"reference/{({**REFERENCE, **ALSO})[module_name]}".replace(".md", ".html")
    missing = []
    html = (out / page).read_text()
    for name in module.__all__:
        if name.startswith("_") or entries.get(f"{module_name}.{name}") == page:
            continue
        # A lazy export (module __getattr__), or a function that shares its name with its module
        # (griffe sees the module): documented under its own path, and linked from this page.
        obj = getattr(module, name)
        path = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if path not in entries or f'#{path}"' not in html:
            missing.append(name)
    assert not missing, f"{module_name}: no entry on {page} for {missing} (mkdocs.yml's filters?)"


def test_every_hook_is_documented(site):
    out, _ = site
    entries = _inventory(out)
    hooks = [hook.__name__ for hook in bnnmip.plugins.hookspecs.HOOKS]
    assert len(hooks) >= 7
    page = "reference/hookspecs.html"
    assert all(entries.get(f"bnnmip.plugins.hookspecs.{h}") == page for h in hooks), hooks


def test_the_generated_site_is_not_in_git():
    assert "/site/" in (ROOT / ".gitignore").read_text().splitlines()


def _public_attrs_classes():
    for module_name in REFERENCE:
        module = __import__(module_name, fromlist=["_"])
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and attrs.has(obj):
                yield f"{module_name}.{name}", obj


def test_attrs_signatures_in_the_reference_are_the_real_ones():
    """The reference's griffe extension writes attrs' ``__init__`` as attrs generates it."""
    extensions = griffe.load_extensions(str(ROOT / "docs" / "reference" / "griffe_extensions.py"))
    package = griffe.load("bnnmip", search_paths=[str(ROOT / "core")], extensions=extensions)
    checked = 0
    for path, cls in _public_attrs_classes():
        documented = package[path.removeprefix("bnnmip.")] if path.count(".") > 0 else package
        init = documented.members["__init__"]
        got = [(p.name, p.kind.name) for p in init.parameters if p.name != "self"]
        real = [(p.name, p.kind.name.lower()) for p in inspect.signature(cls).parameters.values()]
        assert got == real, path
        checked += 1
    assert checked >= 10, checked
