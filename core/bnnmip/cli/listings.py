"""``bnnmip backends``, ``plugins``, ``strategies`` and ``datasets``: what is installed and available.

Each listing survives a broken plugin: a registration hook, ``availability()`` or
``solver_version()`` that raises is shown as that plugin's failure, never as a traceback.
"""

from __future__ import annotations

from ..backends import availability, solver_version
from ..datasets import list_datasets
from ..plugins import get_plugin_manager, plugin_records
from ..plugins.registry import list_backends, list_splitters, list_strategies, owner
from .output import table

__all__ = ["add_parser", "cmd_backends", "cmd_datasets", "cmd_plugins", "cmd_strategies"]


def add_parser(sub) -> None:
    """Register ``bnnmip backends``, ``plugins``, ``strategies`` and ``datasets``."""
    p = sub.add_parser("backends", help="list MILP backends, solver versions and availability")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("plugins", help="list plugins found through the 'bnnmip' entry points")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("strategies", help="list training strategies and data-splitting splitters")
    p.set_defaults(func=cmd_strategies)

    p = sub.add_parser("datasets", help="list the data sets available by name")
    p.set_defaults(func=cmd_datasets)


def _features(backend) -> str:
    try:
        return ", ".join(sorted(f.value for f in backend.features))
    except Exception as exc:  # a malformed declaration is the plugin's, not the listing's
        return f"? ({type(exc).__name__})"


def cmd_backends(args) -> int:
    """Table of registered backends."""
    rows = []
    for name, backend in list_backends().items():
        ok, reason = availability(backend)
        version = solver_version(backend) if ok else "-"
        rows.append((name, version, "yes" if ok else f"no: {reason}", _features(backend),
                     owner("backend", name) or "-"))
    table(("backend", "solver version", "available", "features", "plugin"), rows)
    return 0


def cmd_strategies(args) -> int:
    """Table of registered strategies and splitters."""
    rows = [(name, "strategy", owner("strategy", name) or "-", str(getattr(s, "description", "")))
            for name, s in list_strategies().items()]
    rows += [(name, "splitter (split)", owner("splitter", name) or "-",
              str(getattr(s, "description", ""))) for name, s in list_splitters().items()]
    table(("name", "kind", "plugin", "description"), rows)
    print("Choose one with bnnmip train --strategy NAME (a splitter with --param splitter=NAME).")
    return 0


def cmd_plugins(args) -> int:
    """Table of entry points, the hooks each implements and what failed."""
    for backend in list_backends().values():  # run every plugin hook once, so failures show
        if availability(backend)[0]:
            solver_version(backend)
    list_strategies()
    list_splitters()
    pm = get_plugin_manager()
    rows = []
    for rec in plugin_records():
        hooks = "-"
        if rec.loaded:
            plugin = pm.get_plugin(rec.name)
            hooks = ", ".join(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        rows.append((rec.name, f"{rec.distribution} {rec.version}", rec.value, rec.state, hooks))
    table(("plugin", "distribution", "module", "state", "hooks"), rows)
    return 0


def cmd_datasets(args) -> int:
    """Table of data sets available by name."""
    table(("name", "description"), list(list_datasets().items()))
    print("Any CSV file can be given by path (label: last column unless --label).")
    return 0
