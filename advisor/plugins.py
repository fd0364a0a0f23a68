"""Build the plugin manager: specs, blocked names, entry points, built-ins.

Nothing is loaded at import time; ``get_plugin_manager()`` does it on demand.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from typing import Any

import pluggy

from advisor import hookspecs
from advisor.errors import PluginError

ENTRY_POINT_GROUP = "advisor"
DISABLE_ENV = "ADVISOR_DISABLE_PLUGINS"

#: Built-in plugins, registered explicitly under these names, in this order.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "advisor.logs.lmeval",
    "advisor.logs.generic",
    "advisor.logs.promptfoo",
    "advisor.diagnosis.detectors",
    "advisor.rules.builtin",
    "advisor_plugins.tasks",
    "advisor_plugins.techniques.prompting",
    "advisor_plugins.techniques.retrieval",
    "advisor_plugins.techniques.peft_methods",
    "advisor_plugins.techniques.finetune",
    "advisor_plugins.techniques.merging",
)


def blocked_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_manager(
    *, load_entry_points: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS
) -> pluggy.PluginManager:
    """A fresh plugin manager with every hook spec, the built-ins and third-party plugins.

    Names in ``ADVISOR_DISABLE_PLUGINS`` (comma separated; built-in module names or
    entry-point names) are blocked before anything is loaded.
    """
    pm = pluggy.PluginManager("advisor")
    pm.add_hookspecs(hookspecs)
    for name in blocked_names():
        pm.set_blocked(name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for module_name in builtins:
        if pm.is_blocked(module_name):
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.check_pending()
    return pm


def collect(hook: Any, what: str) -> dict[str, Any]:
    """Call a ``register`` hook and return the registered objects by name.

    Later-registered plugins run first (pluggy's LIFO order), so a third-party plugin
    cannot silently shadow a built-in: a duplicate name is an error.
    """
    found: dict[str, Any] = {}

    def register(obj: Any) -> None:
        name = getattr(obj, "name", None)
        if not name:
            raise PluginError(f"a plugin registered a {what} without a name: {obj!r}")
        if name in found:
            raise PluginError(f"two plugins register a {what} named {name!r}")
        found[name] = obj

    hook(register=register)
    return found


def describe(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Every registered plugin with the hooks it implements (for ``advisor plugins``)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append(
            {
                "name": name,
                "builtin": name in DEFAULT_PLUGINS,
                "distribution": f"{dist.project_name} {dist.version}" if dist else None,
                "hooks": hooks,
            }
        )
    return rows
