"""``bnnmip backends``, ``plugins``, ``strategies`` and ``datasets``: what is installed and available.

Each listing survives a broken plugin: a registration hook, ``availability()`` or
``solver_version()`` that raises is shown as that plugin's failure, never as a traceback.
"""

from __future__ import annotations

from ..backends import availability, declared_features, solver_version
from ..datasets import list_datasets
from ..plugins import get_plugin_manager, plugin_records
from ..plugins.registry import list_backends, list_splitters, list_strategies, owner
from .output import add_output_flags, note, print_json, table

__all__ = ["add_parser", "cmd_backends", "cmd_datasets", "cmd_plugins", "cmd_strategies"]


def add_parser(sub) -> None:
    """Register ``bnnmip backends``, ``plugins``, ``strategies`` and ``datasets``."""
    for name, helptext, func in (
        ("backends", "list MILP backends, solver versions and availability", cmd_backends),
        ("plugins", "list plugins found through the 'bnnmip' entry points", cmd_plugins),
        ("strategies", "list training strategies and data-splitting splitters", cmd_strategies),
        ("datasets", "list the data sets available by name", cmd_datasets),
    ):
        p = sub.add_parser(name, help=helptext)
        add_output_flags(p, "the list")
        p.set_defaults(func=func)


def _features(backend) -> list[str] | None:
    try:
        return sorted(f.value for f in declared_features(backend))
    except Exception:  # noqa: BLE001 - a malformed declaration is the plugin's, not the listing's
        return None


def cmd_backends(args) -> int:
    """Table of registered backends."""
    rows, records = [], []
    for name, backend in list_backends().items():
        ok, reason = availability(backend)
        version = solver_version(backend) if ok else "-"
        features = _features(backend)
        plugin = owner("backend", name)
        rows.append((name, version, "yes" if ok else f"no: {reason}",
                     "? (malformed)" if features is None else ", ".join(features), plugin or "-"))
        records.append({"name": name, "description": getattr(backend, "description", ""),
                        "solver_version": None if not ok else version, "available": ok,
                        "reason": reason or None, "features": features, "plugin": plugin})
    if args.json:
        print_json(records)
        return 0
    table(("backend", "solver version", "available", "features", "plugin"), rows)
    return 0


def cmd_strategies(args) -> int:
    """Table of registered strategies and splitters."""
    entries = [(name, "strategy", s) for name, s in list_strategies().items()]
    entries += [(name, "splitter", s) for name, s in list_splitters().items()]
    records = [{"name": name, "kind": kind, "plugin": owner(kind, name),
                "description": str(getattr(s, "description", ""))} for name, kind, s in entries]
    if args.json:
        print_json(records)
        return 0
    table(("name", "kind", "plugin", "description"),
          [(r["name"], "splitter (split)" if r["kind"] == "splitter" else r["kind"], r["plugin"] or "-",
            r["description"]) for r in records])
    note(args, "Choose one with bnnmip train --strategy NAME (a splitter with --param splitter=NAME).")
    return 0


def cmd_plugins(args) -> int:
    """Table of entry points, the hooks each implements and what failed."""
    for backend in list_backends().values():  # run every plugin hook once, so failures show
        if availability(backend)[0]:
            solver_version(backend)
    list_strategies()
    list_splitters()
    pm = get_plugin_manager()
    rows, records = [], []
    for rec in plugin_records():
        hooks = []
        if rec.loaded:
            plugin = pm.get_plugin(rec.name)
            hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append((rec.name, f"{rec.distribution} {rec.version}", rec.value, rec.state,
                     ", ".join(hooks) or "-"))
        records.append({"name": rec.name, "distribution": rec.distribution, "version": rec.version,
                        "module": rec.value, "loaded": bool(rec.loaded), "state": rec.state,
                        "error": None if rec.loaded else str(rec.error), "hooks": hooks})
    if args.json:
        print_json(records)
        return 0
    table(("plugin", "distribution", "module", "state", "hooks"), rows)
    return 0


def cmd_datasets(args) -> int:
    """Table of data sets available by name."""
    if args.json:
        print_json([{"name": k, "description": v} for k, v in list_datasets().items()])
        return 0
    table(("name", "description"), list(list_datasets().items()))
    note(args, "Any CSV file can be given by path (label: last column unless --label).")
    return 0
