"""Plugins: the hook specifications, the plugin manager that loads entry points, and the registries.

- :mod:`.hookspecs`: every hook bnnmip calls, and the ``hookimpl`` marker plugins use.
- :mod:`.manager`: the pluggy manager, built on first use from the ``bnnmip`` entry points.
- :mod:`.registry`: backends, strategies and splitters by name, collected through the hooks.
"""

from .hookspecs import hookimpl, hookspec
from .manager import PluginRecord, get_plugin_manager, plugin_records
from .registry import (
    get_backend,
    get_splitter,
    get_strategy,
    list_backends,
    list_splitters,
    list_strategies,
    reset_plugin_manager,
)

__all__ = [
    "PluginRecord",
    "get_backend",
    "get_plugin_manager",
    "get_splitter",
    "get_strategy",
    "hookimpl",
    "hookspec",
    "list_backends",
    "list_splitters",
    "list_strategies",
    "plugin_records",
    "reset_plugin_manager",
]
