"""The plugin manager: built on first use, never at import; loads the ``bnnmip`` entry points.

Every place a plugin's code runs is isolated: a plugin that fails to import (any exception,
``SystemExit`` and ``KeyboardInterrupt`` raised by its import included), implements a hook
bnnmip does not have (a misspelt name) or whose hook raises is recorded, with its name, the
hook and the error (``bnnmip plugins`` shows them), and every other plugin keeps working.

Set ``BNNMIP_PLUGINS`` to a comma-separated list of entry-point names to load only those
(an empty string loads none).
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import traceback
import warnings
from collections.abc import Callable

import attrs
import pluggy

from ..errors import PluginWarning
from . import hookspecs

__all__ = [
    "PluginFailure",
    "PluginRecord",
    "call_each",
    "forget_plugin_manager",
    "get_plugin_manager",
    "notify",
    "plugin_failures",
    "plugin_records",
    "record_failure",
]

ENTRY_POINT_GROUP = "bnnmip"
ENV_VAR = "BNNMIP_PLUGINS"

_STATE: dict = {}


@attrs.frozen
class PluginFailure:
    """One failure of a plugin's code: which plugin, where (``hook``) and the error."""

    plugin: str
    hook: str
    error: str

    def describe(self) -> str:
        """``hook: error`` on one line."""
        return f"{self.hook}: {self.error}"


@attrs.frozen
class PluginRecord:
    """One entry point of the ``bnnmip`` group, how loading it went and what failed since.

    ``loaded`` is False when the plugin could not be imported or registered (``error`` says
    why); ``failures`` lists the hooks of a loaded plugin that raised or were refused.
    """

    name: str
    value: str
    distribution: str
    version: str
    loaded: bool
    error: str = ""
    failures: tuple[PluginFailure, ...] = ()

    @property
    def state(self) -> str:
        """``loaded``, ``FAILED: error`` or ``loaded with N failure(s): hook: error; ...``."""
        if not self.loaded:
            return f"FAILED: {self.error}"
        if not self.failures:
            return "loaded"
        return (f"loaded with {len(self.failures)} failure(s): "
                + "; ".join(f.describe() for f in self.failures))


def _selected() -> set[str] | None:
    raw = os.environ.get(ENV_VAR)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _unknown_hooks(pm: pluggy.PluginManager, plugin) -> list[str]:
    """The hooks ``plugin`` implements that bnnmip has no specification for (misspelt names)."""
    out = []
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            known = [name for name in dir(hookspecs) if name.startswith("bnnmip_")]
            near = difflib.get_close_matches(caller.name, known, n=1)
            out.append(f"{caller.name} is not a bnnmip hook"
                       + (f" (did you mean {near[0]}?)" if near else "")
                       + f"; the hooks: {', '.join(known)}")
    return out


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
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # never take the host down
            where = "" if isinstance(exc, Exception) else f" ({type(exc).__name__} raised at import)"
            records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, False,
                                        f"import failed{where}: {_error_text(exc)}"))
            continue
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a hook whose signature does not match its specification
            records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, False,
                                        f"registration refused: {_error_text(exc)}"))
            continue
        unknown = _unknown_hooks(pm, plugin)
        if unknown:  # pluggy's check_pending would fail every plugin for this one's typo
            pm.unregister(plugin)
            records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, False,
                                        "; ".join(unknown)))
            continue
        records.append(PluginRecord(ep.name, ep.value, dist_name, dist_version, True))
    pm.check_pending()  # every hook left has a specification
    return pm, records


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built on first call)."""
    if "pm" not in _STATE:
        _STATE["pm"], _STATE["records"] = _build()
        _STATE["failures"] = []
    return _STATE["pm"]


def record_failure(plugin: str, hook: str, exc_or_text) -> PluginFailure:
    """Record that ``plugin``'s ``hook`` failed (an exception or a message); returns the record.

    A :class:`bnnmip.errors.PluginWarning` names it too (once per plugin, hook and error).
    """
    get_plugin_manager()
    text = exc_or_text if isinstance(exc_or_text, str) else _error_text(exc_or_text)
    failure = PluginFailure(plugin, hook, text)
    if failure not in _STATE["failures"]:
        _STATE["failures"].append(failure)
        warnings.warn(f"plugin {plugin!r}: {hook} failed and was skipped: {text}", PluginWarning,
                      stacklevel=3)
    return failure


def plugin_failures() -> list[PluginFailure]:
    """Every failure of a plugin's code recorded in this process, in order."""
    get_plugin_manager()
    return list(_STATE["failures"])


def plugin_records() -> list[PluginRecord]:
    """How each entry point of the ``bnnmip`` group loaded, with the failures of its hooks."""
    get_plugin_manager()
    failures = _STATE["failures"]
    return [attrs.evolve(rec, failures=tuple(f for f in failures if f.plugin == rec.name))
            for rec in _STATE["records"]]


def call_each(hook_name: str, make_kwargs: Callable[[str], dict]) -> list[tuple[str, object]]:
    """Call every implementation of ``hook_name`` on its own, isolated from the others.

    ``make_kwargs(plugin_name)`` gives the keyword arguments of each call (a registration
    callback that knows whose it is, say). An implementation that raises (``SystemExit``
    included) is recorded (:func:`record_failure`) and skipped. Returns
    ``(plugin_name, value)`` per successful call, in the order the plugins were registered
    (entry points by name, then plugins registered at run time).
    """
    pm = get_plugin_manager()
    out = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue  # wrappers wrap a whole hook call; bnnmip's hooks have no use for them
        kwargs = make_kwargs(impl.plugin_name)
        try:
            value = impl.function(**{name: kwargs[name] for name in impl.argnames})
        except (Exception, SystemExit) as exc:  # one plugin's failure must not take the others down
            # (a KeyboardInterrupt is the user's: it propagates)
            record_failure(impl.plugin_name, hook_name, exc)
            continue
        out.append((impl.plugin_name, value))
    return out


def notify(hook_name: str, **kwargs) -> None:
    """Fire the observer hook ``hook_name``: every implementation is called, none can fail the call."""
    call_each(hook_name, lambda _plugin: kwargs)


def forget_plugin_manager() -> None:
    """Forget the plugin manager; the next use rebuilds it (see ``registry.reset_plugin_manager``)."""
    _STATE.clear()
