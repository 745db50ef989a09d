"""The package's layout: one-way layers, no cycles, function-local imports only where needed."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

importlinter = pytest.importorskip("importlinter", reason="import-linter is in the test extra")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "core" / "bnnmip"
LAZY = "# lazy: "


def test_layers_and_acyclic_contracts_hold():
    """lint-imports checks the contracts in pyproject.toml (layers, acyclic siblings)."""
    command = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(command)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _function_local_imports(path: Path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    yield node, "\n".join(lines[node.lineno - 1:node.end_lineno])


def test_function_local_imports_say_why():
    """A function-local import is for an optional dependency or start-up cost, and says so."""
    unexplained = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {text.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node, text in _function_local_imports(path)
        if LAZY not in text
    ]
    assert not unexplained, "function-local imports without '# lazy: <why>':\n" + "\n".join(unexplained)


def test_no_module_imports_the_package_root():
    """Modules import what they use from where it lives, never the package's public face."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import) and any(a.name == "bnnmip" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "bnnmip" and node.level == 0:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_tests_mirror_the_package():
    """Every subpackage of bnnmip has its own test folder."""
    subpackages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    missing = [name for name in subpackages if not (ROOT / "tests" / name).is_dir()]
    assert not missing, f"no tests/<subpackage>/ folder for: {missing}"
