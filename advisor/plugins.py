"""The plugin manager and the one registry built from it, once per process.

``get_plugin_manager()`` adds the hook specs, blocks the names in ``ADVISOR_DISABLE_PLUGINS``, loads the
entry-point group ``advisor`` and registers the built-ins. ``Registry`` calls each registration hook once
and keeps what was registered, checked against the protocols of ``advisor.api``; ``get_registry()`` is
the process's registry (the CLI puts it in click's ``ctx.obj`` and passes it on to diagnose, run and
bench).

Precedence is explicit: the built-ins come first, then installed plugins (loaded in entry-point name
order; ``tryfirst``/``trylast`` respected), then later wins where later can win (a rule with an existing id
replaces it; a command with an existing name replaces it). Two plugins registering a reader, detector,
technique or task of the same name is an error that names both plugins.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pluggy

from advisor import hookspecs
from advisor.api import Detector, LogReader, RuleSource, Task, is_rule_source, missing_members
from advisor.errors import AdvisorError, PluginError

if TYPE_CHECKING:
    import click

    from advisor.train.technique import Technique

ENTRY_POINT_GROUP = "advisor"
DISABLE_ENV = "ADVISOR_DISABLE_PLUGINS"

#: Built-in plugins, registered under these names, in this order, with the path of the product each serves.
BUILTIN_PATHS: dict[str, str] = {
    "advisor_plugins.readers.lmeval": "diagnose",
    "advisor_plugins.readers.generic": "diagnose",
    "advisor_plugins.readers.promptfoo": "diagnose",
    "advisor_plugins.readers.inspect_ai": "diagnose",
    "advisor_plugins.readers.lighteval": "diagnose",
    "advisor_plugins.readers.openai_evals": "diagnose",
    "advisor_plugins.readers.helm": "diagnose",
    "advisor_plugins.readers.opencompass": "diagnose",
    "advisor_plugins.readers.lmms_eval": "diagnose",
    "advisor_plugins.detectors": "diagnose",
    "advisor_plugins.rules": "diagnose",
    "advisor.cli.memory": "memory",
    "advisor_plugins.techniques.prompting": "train",
    "advisor_plugins.techniques.rag": "train",
    "advisor_plugins.techniques.peft_methods": "train",
    "advisor_plugins.techniques.finetune": "train",
    "advisor_plugins.techniques.merging": "train",
    "advisor_plugins.tasks": "train, bench",
    "advisor.cli.bench": "bench",
}
DEFAULT_PLUGINS: tuple[str, ...] = tuple(BUILTIN_PATHS)

#: Built-ins without which diagnosis gives no verdicts or no advice: blocking them earns a warning.
ESSENTIAL = {
    "advisor_plugins.detectors": "the failure detectors",
    "advisor_plugins.rules": "the default rules",
}

#: Which path of the product each hook feeds (for third-party plugins in ``advisor plugins``).
HOOK_PATHS = {
    "advisor_register_log_readers": "diagnose",
    "advisor_register_detectors": "diagnose",
    "advisor_register_rules": "diagnose",
    "advisor_register_techniques": "train",
    "advisor_register_tasks": "train, bench",
    "advisor_register_commands": "cli",
}


def blocked_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_manager(
    *, load_entry_points: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS
) -> pluggy.PluginManager:
    """A fresh plugin manager with every hook spec, third-party plugins and the built-ins.

    Names in ``ADVISOR_DISABLE_PLUGINS`` (comma separated; built-in module names or entry-point names)
    are blocked before anything is loaded. A plugin that fails to load is a ``PluginError``.
    """
    pm = pluggy.PluginManager("advisor")
    pm.add_hookspecs(hookspecs)
    for name in blocked_names():
        pm.set_blocked(name)
    if load_entry_points:
        _load_entry_points(pm)
    for module_name in builtins:
        if pm.is_blocked(module_name):
            continue
        pm.register(importlib.import_module(module_name), name=module_name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Load the installed plugins one entry point at a time, so that a broken one is named."""
    from importlib.metadata import entry_points

    for name in sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}):
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
        except AdvisorError:
            raise
        except Exception as exc:  # an installed plugin that does not import: say which, in one line
            raise PluginError(
                f"the installed plugin {name!r} failed to load: {type(exc).__name__}: {exc} "
                f"(uninstall it, or set {DISABLE_ENV}={name})"
            ) from exc


class Registry:
    """What every plugin registered, collected on first use and kept for the life of the process."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    # -- the registered objects ------------------------------------------------------------------
    @cached_property
    def readers(self) -> dict[str, LogReader]:
        return self._named("advisor_register_log_readers", "log reader", _protocol_check(LogReader))

    @cached_property
    def detectors(self) -> dict[str, Detector]:
        return self._named("advisor_register_detectors", "detector", _protocol_check(Detector))

    @cached_property
    def techniques(self) -> dict[str, Technique]:
        from advisor.train.technique import KINDS, Technique

        def check(obj: Any) -> str | None:
            return (
                None if isinstance(obj, Technique) else "is not an instance of an advisor.Technique subclass"
            )

        found = self._named("advisor_register_techniques", "technique", check)
        order = {kind: i for i, kind in enumerate(KINDS)}  # cheapest family first
        names = list(found)
        return dict(
            sorted(found.items(), key=lambda kv: (order.get(kv[1].kind, len(order)), names.index(kv[0])))
        )

    @cached_property
    def tasks(self) -> dict[str, Task]:
        return self._named("advisor_register_tasks", "task", _protocol_check(Task))

    @cached_property
    def rule_sources(self) -> list[tuple[str, RuleSource]]:
        """(plugin, source) in precedence order: a later rule with the same id replaces an earlier one."""
        sources: list[tuple[str, RuleSource]] = []
        for plugin, call in self._impls("advisor_register_rules"):

            def register(source: Any, _plugin: str = plugin) -> None:
                if not is_rule_source(source):
                    raise PluginError(
                        f"plugin {_plugin!r} registered rules that are neither a TOML path nor a "
                        f"list of rule dictionaries: {source!r}"
                    )
                sources.append((_plugin, source))

            call(register=register)
        return sources

    def add_commands(self, cli: click.Group) -> None:
        """Let every plugin add commands to ``cli`` (built-ins first, so a plugin may replace one)."""
        for _plugin, call in self._impls("advisor_register_commands"):
            call(cli=cli)

    # -- what the user should know ---------------------------------------------------------------
    def warnings(self) -> list[str]:
        """Essential built-ins that ``ADVISOR_DISABLE_PLUGINS`` blocks, as warning lines."""
        out = []
        for name, what in ESSENTIAL.items():
            if self.pm.is_blocked(name):
                out.append(f"{DISABLE_ENV} blocks {name} ({what}): diagnosis runs without them")
        return out

    def describe(self) -> list[dict[str, Any]]:
        """Every registered plugin, the path of the product it serves and the hooks it implements."""
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        rows = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # blocked
                continue
            dist = dists.get(id(plugin))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            path = BUILTIN_PATHS.get(name) or ", ".join(
                dict.fromkeys(HOOK_PATHS.get(h, "cli") for h in hooks)
            )
            rows.append(
                {
                    "name": name,
                    "path": path,
                    "builtin": name in BUILTIN_PATHS,
                    "distribution": f"{dist.project_name} {dist.version}" if dist else None,
                    "hooks": hooks,
                }
            )
        order = ["diagnose", "memory", "train", "train, bench", "bench"]
        rows.sort(
            key=lambda r: (not r["builtin"], order.index(r["path"]) if r["path"] in order else len(order))
        )
        return rows

    # -- machinery -------------------------------------------------------------------------------
    def _impls(self, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
        """(plugin name, a function calling its implementation), lowest precedence first.

        The registration hooks are called one implementation at a time so that every object is known
        by the plugin that registered it; an exception inside a plugin becomes a PluginError naming it.
        """
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        builtin_rank = {name: i for i, name in enumerate(BUILTIN_PATHS)}

        def precedence(item: tuple[int, Any]) -> tuple[int, int, int]:
            index, impl = item
            tier = 2 if impl.tryfirst else 0 if impl.trylast else 1
            if impl.plugin_name in builtin_rank and not (impl.tryfirst or impl.trylast):
                return (tier, 0, builtin_rank[impl.plugin_name])
            return (tier, 1, index)

        ordered = [impl for _, impl in sorted(enumerate(impls), key=precedence)]
        return [(impl.plugin_name, _guarded(impl, hook_name)) for impl in ordered]

    def _named(self, hook_name: str, what: str, check: Callable[[Any], str | None]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        owner: dict[str, str] = {}
        for plugin, call in self._impls(hook_name):

            def register(obj: Any, _plugin: str = plugin) -> None:
                problem = check(obj)
                if problem:
                    raise PluginError(f"plugin {_plugin!r} registered a {what} that {problem}: {obj!r}")
                name = getattr(obj, "name", None)
                if not name or not isinstance(name, str):
                    raise PluginError(f"plugin {_plugin!r} registered a {what} without a name: {obj!r}")
                if name in found:
                    who = (
                        f"plugins {owner[name]!r} and {_plugin!r} both"
                        if owner[name] != _plugin
                        else f"plugin {_plugin!r} twice"
                    )
                    raise PluginError(f"{who} register a {what} named {name!r}")
                found[name] = obj
                owner[name] = _plugin

            call(register=register)
        return found


def _protocol_check(protocol: type) -> Callable[[Any], str | None]:
    def check(obj: Any) -> str | None:
        missing = missing_members(obj, protocol)
        return f"lacks {', '.join(missing)} (see advisor.{protocol.__name__})" if missing else None

    return check


def _guarded(impl: Any, hook_name: str) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        try:
            return impl.function(**{name: kwargs[name] for name in impl.argnames})
        except AdvisorError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
            ) from exc

    return call


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process's registry: built on first use from ``get_plugin_manager()``."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry(get_plugin_manager())
    return _REGISTRY


def set_registry(registry: Registry | None) -> None:
    """Replace the process's registry (tests; embedding applications); None rebuilds it on next use."""
    global _REGISTRY
    _REGISTRY = registry
