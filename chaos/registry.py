"""The registry handed to registration hooks: the one place types are looked up."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from chaos.experiment.model import CONTINUOUS_PROBE_KEYS, FAULT_STEP_KEYS, GUARD_KEYS
from chaos.fault import Fault
from chaos.probe import Probe
from chaos.swarm.control import NodeController
from chaos.targets.base import TargetKind

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A registered type and the plugin that registered it."""

    cls: type[T]
    origin: str
    plugin: str = ""
    """Name of the plugin that registered it: a built-in module's name
    (``probes.http``) or an entry point's (``acme``)."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    plugin: str
    error: str


class RegistrationError(Exception):
    """Raised by ``add_*`` for a malformed type or a name already taken."""


@dataclass
class Registry:
    """Every registered type by name, and the plugins that failed: what registration
    hooks fill (``add_fault``, ``add_probe``...) and every command looks types up in."""

    faults: dict[str, Registered[Fault]] = field(default_factory=dict)
    """Fault types by name, each with where it comes from (:class:`Registered`)."""
    probes: dict[str, Registered[Probe]] = field(default_factory=dict)
    target_kinds: dict[str, Registered[TargetKind]] = field(default_factory=dict)
    node_controllers: dict[str, Registered[NodeController]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    """Plugins that could not be loaded or whose hook raised, by name."""
    origin: str = "unknown"
    """Where the plugin whose hook is running comes from; set by the plugin manager."""
    plugin: str = ""
    """Name of the plugin whose hook is running; set by the plugin manager."""

    def add_fault(self, cls: type[Fault]) -> None:
        self._add(self.faults, cls, Fault, "fault", "Params", FAULT_STEP_KEYS)

    def add_probe(self, cls: type[Probe]) -> None:
        self._add(self.probes, cls, Probe, "probe", "Params", (*CONTINUOUS_PROBE_KEYS, *GUARD_KEYS))

    def add_target_kind(self, cls: type[TargetKind]) -> None:
        self._add(self.target_kinds, cls, TargetKind, "target kind", "Selector", ())

    def add_node_controller(self, cls: type[NodeController]) -> None:
        self._add(self.node_controllers, cls, NodeController, "node controller", "Control", ())

    def _add(
        self,
        table: dict,
        cls: type,
        base: type,
        what: str,
        model_attr: str,
        reserved: tuple[str, ...],
    ) -> None:
        """Check everything later commands rely on, so a bad class fails here, named."""
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RegistrationError(f"{cls!r} is not a subclass of {base.__name__}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise RegistrationError(
                f"{what} class {cls.__name__} needs a name without spaces, got {name!r}"
            )
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise RegistrationError(f"{what} {name!r} does not implement {missing}")
        model = getattr(cls, model_attr, None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise RegistrationError(
                f"{what} {name!r}: {model_attr} must be a pydantic model, got {model!r}"
            )
        clash = sorted(set(model.model_fields) & set(reserved))
        if clash:
            raise RegistrationError(
                f"{what} {name!r}: parameter(s) {', '.join(clash)} clash with step keys "
                f"({', '.join(dict.fromkeys(reserved))}) and could never be set"
            )
        if name in table:
            raise RegistrationError(
                f"{what} {name!r} is already registered by {table[name].origin}"
            )
        table[name] = Registered(cls, self.origin, self.plugin)
