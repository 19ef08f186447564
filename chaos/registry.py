"""The registry handed to registration hooks: the one place types are looked up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chaos.fault import Fault
from chaos.probe import Probe
from chaos.targets.base import TargetKind

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    """A registered type and the plugin that registered it."""

    cls: type[T]
    origin: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or whose hook raised."""

    plugin: str
    error: str


class RegistrationError(Exception):
    """Raised by ``add_*`` for a malformed type or a name already taken."""


@dataclass
class Registry:
    faults: dict[str, Registered[Fault]] = field(default_factory=dict)
    probes: dict[str, Registered[Probe]] = field(default_factory=dict)
    target_kinds: dict[str, Registered[TargetKind]] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    origin: str = "unknown"
    """Name of the plugin whose hook is running; set by the plugin manager."""

    def add_fault(self, cls: type[Fault]) -> None:
        self._add(self.faults, cls, Fault, "fault")

    def add_probe(self, cls: type[Probe]) -> None:
        self._add(self.probes, cls, Probe, "probe")

    def add_target_kind(self, cls: type[TargetKind]) -> None:
        self._add(self.target_kinds, cls, TargetKind, "target kind")

    def _add(self, table: dict, cls: type, base: type, what: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RegistrationError(f"{cls!r} is not a subclass of {base.__name__}")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"{what} class {cls.__name__} has no name")
        if name in table:
            raise RegistrationError(
                f"{what} {name!r} is already registered by {table[name].origin}"
            )
        table[name] = Registered(cls, self.origin)
