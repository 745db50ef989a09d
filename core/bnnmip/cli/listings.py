"""``bnnmip backends``, ``plugins`` and ``datasets``: what is installed and available."""

from __future__ import annotations

from ..datasets import list_datasets
from ..plugins import get_plugin_manager, plugin_records
from ..plugins.registry import list_backends
from .output import add_output_flags, note, print_json, table

__all__ = ["add_parser", "cmd_backends", "cmd_datasets", "cmd_plugins"]


def add_parser(sub) -> None:
    """Register ``bnnmip backends``, ``plugins`` and ``datasets``."""
    p = sub.add_parser("backends", help="list MILP backends, solver versions and availability")
    add_output_flags(p, "the list")
    p.set_defaults(func=cmd_backends)

    p = sub.add_parser("plugins", help="list plugins found through the 'bnnmip' entry points")
    add_output_flags(p, "the list")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("datasets", help="list the data sets available by name")
    add_output_flags(p, "the list")
    p.set_defaults(func=cmd_datasets)


def cmd_backends(args) -> int:
    """Table of registered backends."""
    rows, records = [], []
    for name, backend in list_backends().items():
        ok, reason = backend.availability()
        version = backend.solver_version() if ok else "-"
        features = ", ".join(sorted(f.value for f in backend.features))
        rows.append((name, version, "yes" if ok else f"no: {reason}", features))
        records.append({"name": name, "description": getattr(backend, "description", ""),
                        "solver_version": None if not ok else version, "available": ok,
                        "reason": reason or None, "features": sorted(f.value for f in backend.features)})
    if args.json:
        print_json(records)
        return 0
    table(("backend", "solver version", "available", "features"), rows)
    return 0


def cmd_plugins(args) -> int:
    """Table of entry points and the hooks each implements."""
    pm = get_plugin_manager()
    rows, records = [], []
    for rec in plugin_records():
        if rec.loaded:
            plugin = pm.get_plugin(rec.name)
            hooks = ", ".join(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
            state = "loaded"
        else:
            hooks, state = "-", f"FAILED: {rec.error}"
        rows.append((rec.name, f"{rec.distribution} {rec.version}", rec.value, state, hooks))
        records.append({"name": rec.name, "distribution": rec.distribution, "version": rec.version,
                        "module": rec.value, "loaded": bool(rec.loaded),
                        "error": None if rec.loaded else str(rec.error),
                        "hooks": hooks.split(", ") if rec.loaded and hooks else []})
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
