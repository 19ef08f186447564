"""Builds the plugin manager: built-in plugins, then entry points, then registration."""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from chaos import hookspecs
from chaos.registry import PluginFailure, Registry

ENTRY_POINT_GROUP = "chaosdrill"
DISABLE_ENV = "CHAOSDRILL_DISABLE_PLUGINS"
"""Comma-separated plugin names not to load (entry point names or built-in module names)."""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "chaos.targets.container",
    "chaos.faults.container",
    "probes.http",
    "probes.tcp",
    "probes.exec",
    "probes.container_health",
)
"""Modules registered at start-up exactly like third-party plugins."""

_REGISTRATION_HOOKS = (
    "chaosdrill_register_target_kinds",
    "chaosdrill_register_faults",
    "chaosdrill_register_probes",
)


class Plugins:
    """A loaded plugin manager and the registry its hooks filled."""

    def __init__(self, pm: pluggy.PluginManager, registry: Registry):
        self.pm = pm
        self.registry = registry

    @property
    def hook(self):
        return self.pm.hook


def build_plugin_manager(*, load_entry_points: bool = True) -> Plugins:
    """Load every plugin and run the registration hooks.

    Failures (an import error, a hook that raises, a duplicate name) are kept
    in ``registry.failures`` under the plugin's name instead of stopping the
    others.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    origins = {name: "builtin" for name in BUILTIN_PLUGINS}
    disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}

    for module_name in BUILTIN_PLUGINS:
        if module_name in disabled:
            continue
        pm.register(importlib.import_module(module_name), name=module_name)

    if load_entry_points:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in disabled or pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the others down
                registry.failures.append(PluginFailure(ep.name, _describe(exc)))
                continue
            dist = ep.dist
            origins[ep.name] = f"{dist.metadata['Name']} {dist.version}" if dist else ep.name
    pm.check_pending()

    plugins = pm.list_name_plugin()
    for hook_name in _REGISTRATION_HOOKS:
        for name, _plugin in plugins:
            others = [p for n, p in plugins if n != name]
            caller = pm.subset_hook_caller(hook_name, remove_plugins=others)
            registry.origin = origins.get(name, name)
            try:
                caller(registry=registry)
            except Exception as exc:
                registry.failures.append(PluginFailure(name, _describe(exc)))
    registry.origin = "unknown"
    return Plugins(pm, registry)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=1)
def default_plugins() -> Plugins:
    """The process-wide plugin set, built on first use."""
    return build_plugin_manager()
