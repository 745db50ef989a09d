"""Installed-looking plugin distributions for tests: entry points that load as pip-installed ones do."""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["fake_distribution"]


def fake_distribution(root, name: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed-looking distribution with ``bnnmip`` entry points into ``root``.

    Put ``root`` on ``sys.path`` (and ``PYTHONPATH`` for child processes) and rebuild the
    plugin manager: the entry points then load exactly as a pip-installed plugin's would.
    ``modules`` maps module names to their (dedented) source.
    """
    root = Path(root)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[bnnmip]\n{eps}\n")
    for mod, source in modules.items():
        (root / f"{mod}.py").write_text(textwrap.dedent(source))
