"""The plugin manager: built on first use, never at import; loads the ``bnnmip`` entry points.

A plugin that fails to import is recorded (``bnnmip plugins`` shows it) and skipped. Set
``BNNMIP_PLUGINS`` to a comma-separated list of entry-point names to load only those
(an empty string loads none).
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback

import attrs
import pluggy

from . import hookspecs

__all__ = ["PluginRecord", "forget_plugin_manager", "get_plugin_manager", "plugin_records"]

ENTRY_POINT_GROUP = "bnnmip"
ENV_VAR = "BNNMIP_PLUGINS"

_STATE: dict = {}


@attrs.frozen
class PluginRecord:
    """One entry point of the ``bnnmip`` group and how loading it went."""

    name: str
    value: str
    distribution: str
    version: str
    loaded: bool
    error: str = ""


def _selected() -> set[str] | None:
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _build() -> tuple[pluggy.PluginManager, list[PluginRecord]]:
    pm = pluggy.PluginManager("bnnmip")
    pm.add_hookspecs(hookspecs)
    selected = _selected()
    records = []
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        dist_version = dist.version if dist is not None else "?"
        if selected is not None and ep.name not in selected:
            continue
        if pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must never take the host down
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, False, detail))
            continue
        records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, True))
    pm.check_pending()
    return pm, records


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built on first call)."""
    if "pm" not in _STATE:
        _STATE["pm"], _STATE["records"] = _build()
    return _STATE["pm"]


def plugin_records() -> list[PluginRecord]:
    """How each entry point of the ``bnnmip`` group loaded (failures included)."""
    get_plugin_manager()
    return list(_STATE["records"])


def forget_plugin_manager() -> None:
    """Forget the plugin manager; the next use rebuilds it (see ``registry.reset_plugin_manager``)."""
    _STATE.clear()
