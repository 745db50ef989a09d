"""``bnnmip backends``, ``plugins`` and ``datasets``: what is installed and available."""

from __future__ import annotations

from ..datasets import list_datasets
from ..plugins import get_plugin_manager, plugin_records
from ..plugins.registry import list_backends
from .output import table

__all__ = ["add_parser", "cmd_backends", "cmd_datasets", "cmd_plugins"]


def add_parser(sub) -> None:
    """Register ``bnnmip backends``, ``plugins`` and ``datasets``."""
    p = sub.add_parser("backends", help="list MILP backends, solver versions and availability")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("plugins", help="list plugins found through the 'bnnmip' entry points")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("datasets", help="list the data sets available by name")
    p.set_defaults(func=cmd_datasets)


def cmd_backends(args) -> int:
    """Table of registered backends."""
    rows = []
    for name, backend in list_backends().items():
        ok, reason = backend.availability()
        version = backend.solver_version() if ok else "-"
        features = ", ".join(sorted(f.value for f in backend.features))
        rows.append((name, version, "yes" if ok else f"no: {reason}", features))
    table(("backend", "solver version", "available", "features"), rows)
    return 0


def cmd_plugins(args) -> int:
    """Table of entry points and the hooks each implements."""
    pm = get_plugin_manager()
    rows = []
    for rec in plugin_records():
        if rec.loaded:
            plugin = pm.get_plugin(rec.name)
            hooks = ", ".join(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
            state = "loaded"
        else:
            hooks, state = "-", f"FAILED: {rec.error}"
        rows.append((rec.name, f"{rec.distribution} {rec.version}", rec.value, state, hooks))
    table(("plugin", "distribution", "module", "state", "hooks"), rows)
    return 0


def cmd_datasets(args) -> int:
    """Table of data sets available by name."""
    table(("name", "description"), list(list_datasets().items()))
    print("Any CSV file can be given by path (label: last column unless --label).")
    return 0
