"""Builds the plugin manager: built-in plugins, then entry points, then registration.

Built-in modules and third-party entry points go through the same steps: load
the object, register it with pluggy, reject hooks chaosdrill does not define,
then call its registration hooks. A failure at any step is recorded in
``registry.failures`` under the plugin's name and the other plugins still load.

Validating a file needs only the plugins that define the names it uses:
:func:`plugins_for` loads those (built-ins through :data:`BUILTIN_TYPES`,
third-party plugins through the entry point named like the first part of a
dotted name) and falls back to every plugin whenever a name is not found, so
an unknown name gets the same message, suggestion and list of broken plugins
as with a full load.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from chaos import hookspecs
from chaos.registry import PluginFailure, Registry

ENTRY_POINT_GROUP = "chaosdrill"
DISABLE_ENV = "CHAOSDRILL_DISABLE_PLUGINS"
"""Comma-separated plugin names not to load (entry point names or built-in module names)."""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "chaos.targets.container",
    "chaos.targets.swarm",
    "chaos.lab.control",
    "chaos.faults.container",
    "chaos.faults.network",
    "chaos.faults.proxy",
    "chaos.faults.swarm_node",
    "chaos.faults.swarm_service",
    "chaos.faults.stress",
    "chaos.faults.resource_limit",
    "chaos.faults.process",
    "chaos.faults.disk_fill",
    "probes.http",
    "probes.tcp",
    "probes.dns",
    "probes.exec",
    "probes.container_health",
    "probes.swarm",
    "probes.prometheus",
)
"""Modules registered at start-up exactly like third-party plugins."""

BUILTIN_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "target_kinds": {
        "chaos.targets.container": ("container",),
        "chaos.targets.swarm": ("node", "service", "swarm"),
    },
    "faults": {
        "chaos.faults.container": (
            "container.crash",
            "container.kill",
            "container.pause",
            "container.remove",
            "container.restart",
            "container.stop",
        ),
        "chaos.faults.network": (
            "network.bandwidth",
            "network.blackhole",
            "network.corrupt",
            "network.disconnect",
            "network.dns",
            "network.duplicate",
            "network.latency",
            "network.loss",
            "network.partition",
        ),
        "chaos.faults.proxy": (
            "http.abort",
            "http.delay",
            "proxy.bandwidth",
            "proxy.latency",
            "proxy.reset",
            "proxy.timeout",
        ),
        "chaos.faults.swarm_node": (
            "node.drain",
            "node.partition",
            "node.pause",
            "node.stop",
            "swarm.lose_managers",
        ),
        "chaos.faults.swarm_service": (
            "service.bad_update",
            "service.kill_tasks",
            "service.rebalance",
            "service.scale",
        ),
        "chaos.faults.stress": ("stress.cpu", "stress.io", "stress.memory"),
        "chaos.faults.resource_limit": ("resource.limit",),
        "chaos.faults.process": ("process.kill", "process.pause"),
        "chaos.faults.disk_fill": ("disk.fill",),
    },
    "probes": {
        "probes.http": ("http",),
        "probes.tcp": ("tcp",),
        "probes.dns": ("dns",),
        "probes.exec": ("exec",),
        "probes.container_health": ("container.health",),
        "probes.swarm": ("swarm.nodes", "swarm.quorum", "swarm.service", "swarm.spread"),
        "probes.prometheus": ("prometheus", "prometheus.alert"),
    },
}
"""Per table of the registry, which built-in module registers which names.

Only a shortcut: :func:`plugins_for` imports the modules a file's names point
to, and they still register through the hooks. A test checks this table
against what each module actually registers.
"""

BUILTIN_ORIGIN = "builtin"


@dataclass(frozen=True)
class PluginSource:
    """Where one plugin comes from, as ``chaosdrill plugins --json`` shows it."""

    name: str
    """The plugin's name: a built-in module's, or its entry point's."""
    builtin: bool
    module: str | None = None
    """The module holding its hook implementations (None for an object registered
    from code that is not a module)."""
    distribution: str | None = None
    """The installed distribution that declares its entry point, and its version."""
    version: str | None = None
    entry_point: str | None = None
    """As declared: ``acme = acme_chaos.plugin``."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "builtin": self.builtin,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
        }


REGISTRATION_HOOKS = (
    "chaosdrill_register_target_kinds",
    "chaosdrill_register_faults",
    "chaosdrill_register_probes",
    "chaosdrill_register_node_controllers",
)
"""Called once per plugin, in this order: target kinds exist before faults name them."""


class Plugins:
    """A loaded plugin manager and the registry its hooks filled."""

    def __init__(self, pm: pluggy.PluginManager, registry: Registry):
        self.pm = pm
        self.registry = registry
        self.origins: dict[str, str] = {}
        """Plugin name -> where it comes from (``builtin`` or ``dist-name version``)."""
        self.sources: dict[str, PluginSource] = {}
        """Plugin name -> its module, distribution and entry point, for listings."""

    @property
    def hook(self):
        return self.pm.hook

    def register(
        self, plugin: object, name: str | None = None, *, origin: str | None = None
    ) -> bool:
        """Register a plugin object after start-up and run its registration hooks.

        For in-process plugins (tests, embedding applications). Failures are
        recorded in ``registry.failures`` as for entry points; returns False
        when the plugin could not be registered at all.
        """
        name = name or self.pm.get_canonical_name(plugin)
        if not self._load(name, lambda: plugin, origin or name):
            return False
        for hook_name in REGISTRATION_HOOKS:
            self._register_types(hook_name, name)
        return True

    def call_each(self, hook_name: str, **kwargs: Any) -> list[PluginFailure]:
        """Call every implementation of a hook on its own, in pluggy's order.

        Unlike ``hook.<name>(...)``, an implementation that raises does not
        stop the ones after it; each failure is returned under its plugin's name.
        """
        failures = []
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            try:
                self._subset(hook_name, impl.plugin_name)(**kwargs)
            except Exception as exc:
                failures.append(PluginFailure(impl.plugin_name, _describe(exc)))
        return failures

    # -- loading -----------------------------------------------------------

    def _load(
        self,
        name: str,
        load: Callable[[], object],
        origin: str,
        source: PluginSource | None = None,
    ) -> bool:
        if self.pm.has_plugin(name):
            self._fail(
                name,
                f"another plugin is already registered under the name {name!r} "
                f"(from {self.origins.get(name, 'unknown')})",
            )
            return False
        try:
            plugin = load()
            self.pm.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must not take the others down
            self._fail(name, _describe(exc))
            return False
        unknown = self._unknown_hooks(plugin)
        if unknown:
            self.pm.unregister(plugin)
            known = ", ".join(sorted(_hook_names()))
            self._fail(
                name,
                f"PluginValidationError: unknown hook {', '.join(unknown)}; "
                f"chaosdrill calls: {known}",
            )
            return False
        self.origins[name] = origin
        self.sources[name] = source or PluginSource(
            name, builtin=False, module=getattr(plugin, "__name__", None)
        )
        return True

    def _unknown_hooks(self, plugin: object) -> list[str]:
        unknown = []
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.has_spec():
                continue
            if any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls()):
                unknown.append(caller.name)
        return sorted(unknown)

    def _register_types(self, hook_name: str, name: str) -> None:
        self.registry.origin = self.origins.get(name, name)
        self.registry.plugin = name
        try:
            self._subset(hook_name, name)(registry=self.registry)
        except Exception as exc:
            self._fail(name, _describe(exc))
        finally:
            self.registry.origin = "unknown"
            self.registry.plugin = ""

    def _subset(self, hook_name: str, name: str):
        others = [p for n, p in self.pm.list_name_plugin() if n != name]
        return self.pm.subset_hook_caller(hook_name, remove_plugins=others)

    def _fail(self, name: str, error: str) -> None:
        self.registry.failures.append(PluginFailure(name, error))


def build_plugin_manager(
    *, load_entry_points: bool = True, only: Collection[str] | None = None
) -> Plugins:
    """Load every plugin (or those named in ``only``) and run the registration hooks.

    ``only`` holds plugin names: built-in module names and entry point names.
    Entry points are not even looked up when it names none of them.
    Failures (an import error, an unknown hook, a hook that raises, a
    duplicate name) are kept in ``registry.failures`` under the plugin's name
    instead of stopping the others.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm, Registry())
    disabled = disabled_plugins()
    loaded: list[str] = []

    for module_name in BUILTIN_PLUGINS:
        if module_name in disabled or (only is not None and module_name not in only):
            continue
        source = PluginSource(module_name, builtin=True, module=module_name)
        if plugins._load(module_name, _importer(module_name), BUILTIN_ORIGIN, source):
            loaded.append(module_name)

    if only is not None and not set(only) - set(BUILTIN_PLUGINS):
        load_entry_points = False
    if load_entry_points:
        for ep in _entry_points():
            if ep.name in disabled or (only is not None and ep.name not in only):
                continue
            if plugins._load(ep.name, ep.load, _origin(ep), _source(ep)):
                loaded.append(ep.name)
    pm.check_pending()  # cannot fail: plugins with unknown hooks were unregistered

    for hook_name in REGISTRATION_HOOKS:
        for name in loaded:
            plugins._register_types(hook_name, name)
    return plugins


def disabled_plugins() -> set[str]:
    """The names listed in ``CHAOSDRILL_DISABLE_PLUGINS``."""
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _entry_points() -> Iterable[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def _importer(module_name: str) -> Callable[[], object]:
    return lambda: importlib.import_module(module_name)


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    if dist is None:
        return ep.value
    return f"{dist.metadata['Name']} {dist.version}"


def _source(ep: EntryPoint) -> PluginSource:
    dist = ep.dist
    return PluginSource(
        ep.name,
        builtin=False,
        module=ep.module,
        distribution=None if dist is None else dist.metadata["Name"],
        version=None if dist is None else dist.version,
        entry_point=f"{ep.name} = {ep.value}",
    )


def _hook_names() -> list[str]:
    return [name for name in vars(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@lru_cache(maxsize=1)
def default_plugins() -> Plugins:
    """The process-wide plugin set, built on first use."""
    return build_plugin_manager()


def plugins_for(names: Mapping[str, Collection[str]]) -> Plugins:
    """Plugins that define ``names``: {registry table: names} (``faults``, ``probes``,
    ``target_kinds``), as a file to validate uses them.

    Loads only the built-in modules that register those names and, for the
    others, the entry point named like the part of the name before its first
    dot (``acme.touch`` -> ``acme``). When a name is still not registered after
    that (a typo, a plugin that failed, a third-party name without that
    prefix), returns :func:`default_plugins` instead: a file that names
    something unknown is checked against every plugin, exactly as before.
    """
    wanted = {table: frozenset(names.get(table, ())) for table in BUILTIN_TYPES}
    modules: set[str] = set()
    prefixes: set[str] = set()
    for table, by_module in BUILTIN_TYPES.items():
        for name in wanted[table]:
            module = next((m for m, defined in by_module.items() if name in defined), None)
            if module is not None:
                modules.add(module)
            else:
                prefixes.add(name.split(".", 1)[0])
    plugins = _plugins_named(frozenset(modules), frozenset(prefixes), frozenset(disabled_plugins()))
    registry = plugins.registry
    tables: dict[str, Mapping[str, object]] = {
        "target_kinds": registry.target_kinds,
        "faults": registry.faults,
        "probes": registry.probes,
    }
    if registry.failures or any(n not in tables[t] for t, ns in wanted.items() for n in ns):
        return default_plugins()
    return plugins


@lru_cache(maxsize=8)
def _plugins_named(
    modules: frozenset[str], prefixes: frozenset[str], disabled: frozenset[str]
) -> Plugins:
    """Built per set of names and of disabled plugins (``disabled`` only keys the cache)."""
    entry_point_names: set[str] = set()
    if prefixes:
        entry_point_names = {ep.name for ep in _entry_points() if ep.name in prefixes}
    return build_plugin_manager(only=modules | entry_point_names)
