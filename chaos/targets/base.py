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
    """Base for a kind's selector model: unknown keys are errors.

    A criterion with an empty value (``""``, ``null``, ``{}``, ``[]``, or a
    label whose key or value is empty) is an error, not a criterion left out:
    see :func:`empty_criteria`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


NEEDS_A_SELECT = "needs a select: an empty selector would match everything"


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return not value or any(_is_empty(k) or _is_empty(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return not value or any(_is_empty(v) for v in value)
    return False  # booleans and numbers are criteria (``leader: false``)


def empty_criteria(selector: type[Selector], select: Any) -> list[tuple[str | None, str]]:
    """Why ``select`` would match more than its author meant: ``(key, message)``
    for each criterion whose value is empty, and ``(None, NEEDS_A_SELECT)``
    when there is no criterion at all. Empty for a valid selector, and for a kind that
    has nothing to select (``kind: swarm``).

    Checked when an experiment is validated and again when a target is resolved,
    after ``${name}`` substitution: an empty criterion must never widen a
    selection to every object on the engine.
    """
    fields = list(selector.model_fields)
    if not fields:
        return []
    if not isinstance(select, dict):
        return []  # the selector model reports the wrong type
    problems: list[tuple[str | None, str]] = []
    for key, value in select.items():
        if key in fields and _is_empty(value):
            shown = "null" if value is None else repr(value)
            problems.append(
                (
                    str(key),
                    f"select.{key} is empty ({shown}): an empty criterion would select "
                    "everything; give it a value or remove it",
                )
            )
    if not problems and not select:  # unknown keys are the model's to report
        problems.append((None, NEEDS_A_SELECT))
    return problems


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
