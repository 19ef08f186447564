"""The target-kind interface.

A target kind turns a selector (``select:`` in an experiment) into the list
of candidate objects a fault may act on. Containers are built in; Swarm
services and nodes, or other orchestrators, arrive as further kinds through
``chaosdrill_register_target_kinds``. The engine never knows which kind it
is dealing with.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from chaos.runtime import Runtime


@dataclass(frozen=True)
class TargetRef:
    """One resolved object: recorded in the journal and handed to faults and probes.

    ``id`` is the engine's identifier and is what faults act on: a fault never
    looks a target up by name again, so it cannot hit a different object that
    took the same name.
    """

    kind: str
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "labels": dict(self.labels),
            **({"meta": dict(self.meta)} if self.meta else {}),
        }


class Selector(BaseModel):
    """Base for a kind's selector model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class TargetKind(ABC):
    """A kind of object that faults can target."""

    name: ClassVar[str]
    """The value of ``kind:`` in an experiment, e.g. ``container``."""

    summary: ClassVar[str] = ""

    Selector: ClassVar[type[Selector]] = Selector
    """Validates ``select:``; several keys combine with AND."""

    @abstractmethod
    def candidates(self, runtime: Runtime, selector: Selector) -> list[TargetRef]:
        """Every object matching ``selector``, in a stable order (by name)."""
