"""Backends, strategies and splitters by name, collected through the registration hooks.

Each plugin's registration hook is called on its own: a hook that raises, or registers
something that is not a backend (a strategy, a splitter), is recorded as that plugin's
failure (``bnnmip plugins`` lists it) and what it registered in that call is dropped; every
other plugin's registrations stand. A name registered by two plugins keeps the first
(entry points load in name order) and records the second as a failure naming both.
"""

from __future__ import annotations

import re

from ..errors import PluginError, UnknownNameError
from .manager import call_each, forget_plugin_manager, record_failure

__all__ = [
    "get_backend",
    "get_splitter",
    "get_strategy",
    "list_backends",
    "list_splitters",
    "list_strategies",
    "owner",
    "reset",
    "reset_plugin_manager",
]

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
_CACHE: dict[str, dict] = {}
_OWNERS: dict[tuple[str, str], str] = {}

_KINDS = {
    "backend": ("bnnmip_register_backends",
                ("features", "availability", "solver_version", "build", "run", "extract")),
    "strategy": ("bnnmip_register_strategies", ("train", "description")),
    "splitter": ("bnnmip_register_splitters", ("split", "description")),
}


def _checked(kind: str, obj, required: tuple[str, ...]) -> str:
    """``obj``'s name, if ``obj`` looks like a ``kind``; else :class:`PluginError`."""
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginError(
            f"register() was given {obj!r}, which is not a {kind}: a {kind} must have a lowercase "
            f"name of letters, digits, '_' or '-' (got {name!r})"
        )
    missing = [attr for attr in required if not hasattr(obj, attr)]
    if missing:
        raise PluginError(f"{kind} {name!r} lacks {', '.join(missing)}")
    return name


def _collect(kind: str) -> dict:
    hook_name, required = _KINDS[kind]
    staged: dict[str, dict] = {}

    def make_kwargs(plugin: str) -> dict:
        mine = staged.setdefault(plugin, {})

        def register(obj) -> None:
            name = _checked(kind, obj, required)
            if name in mine:
                raise PluginError(f"{kind} name {name!r} is registered twice by this plugin")
            mine[name] = obj

        return {"register": register}

    items: dict = {}
    for plugin, _ in call_each(hook_name, make_kwargs):
        for name, obj in staged.get(plugin, {}).items():
            if name in items:
                first = _OWNERS[kind, name]
                record_failure(plugin, hook_name, PluginError(
                    f"{kind} name {name!r} is already registered by plugin {first!r}; this one is "
                    "ignored (uninstall one plugin or restrict loading with BNNMIP_PLUGINS)"))
                continue
            items[name] = obj
            _OWNERS[kind, name] = plugin
    return dict(sorted(items.items()))


def _table(kind: str) -> dict:
    if kind not in _CACHE:
        _CACHE[kind] = _collect(kind)
    return _CACHE[kind]


def list_backends() -> dict:
    """All registered backends by name (available or not)."""
    return _table("backend")


def list_strategies() -> dict:
    """All registered strategies by name."""
    return _table("strategy")


def list_splitters() -> dict:
    """All registered cluster splitters by name (for data splitting)."""
    return _table("splitter")


def owner(kind: str, name: str) -> str | None:
    """The plugin that registered the ``kind`` (backend, strategy, splitter) ``name``, if known."""
    _table(kind)
    return _OWNERS.get((kind, name))


def get_splitter(name):
    """The splitter registered as ``name`` (or ``name`` itself if it is a splitter object)."""
    return _lookup("splitter", name, list_splitters())


def _lookup(kind: str, name, table: dict):
    if not isinstance(name, str):
        if hasattr(name, "name"):  # an object passed directly
            return name
        raise UnknownNameError(f"{kind} must be given by name, got {name!r}")
    key = name.strip().lower()
    if key not in table:
        known = ", ".join(table) or "none installed"
        raise UnknownNameError(f"unknown {kind} {name!r}; available: {known}")
    return table[key]


def get_backend(name):
    """The backend registered as ``name`` (or ``name`` itself if it is a backend object)."""
    return _lookup("backend", name, list_backends())


def get_strategy(name):
    """The strategy registered as ``name`` (or ``name`` itself if it is a strategy object)."""
    return _lookup("strategy", name, list_strategies())


def reset() -> None:
    """Forget the registries (the next lookup re-runs the registration hooks)."""
    _CACHE.clear()
    _OWNERS.clear()


def reset_plugin_manager() -> None:
    """Forget the plugin manager and registries; the next use rebuilds them (for tests)."""
    forget_plugin_manager()
    reset()
