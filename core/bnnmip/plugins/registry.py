"""Backends and strategies by name, collected through the registration hooks."""

from __future__ import annotations

import re

from ..errors import PluginError, UnknownNameError
from .manager import forget_plugin_manager, get_plugin_manager

__all__ = [
    "get_backend",
    "get_splitter",
    "get_strategy",
    "list_backends",
    "list_splitters",
    "list_strategies",
    "reset",
    "reset_plugin_manager",
]

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")
_CACHE: dict[str, dict] = {}


def _collect(kind: str, hook_name: str, required: tuple[str, ...]) -> dict:
    items: dict = {}

    def register(obj) -> None:
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise PluginError(
                f"a {kind} must have a lowercase name of letters, digits, '_' or '-'; "
                f"got {name!r} from {obj!r}"
            )
        missing = [attr for attr in required if not hasattr(obj, attr)]
        if missing:
            raise PluginError(f"{kind} {name!r} lacks {', '.join(missing)}")
        if name in items:
            raise PluginError(
                f"{kind} name {name!r} is registered twice ({items[name]!r} and {obj!r}); "
                "uninstall one plugin or restrict loading with BNNMIP_PLUGINS"
            )
        items[name] = obj

    hook = getattr(get_plugin_manager().hook, hook_name)
    hook(register=register)
    return dict(sorted(items.items()))


def list_backends() -> dict:
    """All registered backends by name (available or not)."""
    if "backend" not in _CACHE:
        _CACHE["backend"] = _collect(
            "backend",
            "bnnmip_register_backends",
            ("features", "availability", "solver_version", "build", "run", "extract"),
        )
    return _CACHE["backend"]


def list_strategies() -> dict:
    """All registered strategies by name."""
    if "strategy" not in _CACHE:
        _CACHE["strategy"] = _collect("strategy", "bnnmip_register_strategies", ("train", "description"))
    return _CACHE["strategy"]


def list_splitters() -> dict:
    """All registered cluster splitters by name (for data splitting)."""
    if "splitter" not in _CACHE:
        _CACHE["splitter"] = _collect("splitter", "bnnmip_register_splitters", ("split", "description"))
    return _CACHE["splitter"]


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


def reset_plugin_manager() -> None:
    """Forget the plugin manager and registries; the next use rebuilds them (for tests)."""
    forget_plugin_manager()
    reset()
