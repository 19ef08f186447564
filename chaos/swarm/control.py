"""Node controllers: how a swarm node is stopped, paused or cut off from its peers.

Draining a node is a swarm API call, but stopping one is a matter of the
platform it runs on: a lab container, a VM, a cloud instance, a bare-metal
box behind a power switch. An inventory node's ``control`` mapping names a
controller type (``control: {type: lab, ...}``); controllers are registered
through ``chaosdrill_register_node_controllers`` and the lab's is one of them.

A controller's actions are reversible pairs: ``stop``/start,
``pause``/unpause and ``isolate``/rejoin. ``undo_argv`` describes the undo
as a command, so that the dead man's switch of a node fault can restore the
node when the runner is gone: it runs in the swarm node image (sh, curl,
docker CLI) with host networking and the local engine's socket mounted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from chaos.errors import InjectionFailed

if TYPE_CHECKING:
    from chaos.runtime import Runtime
    from chaos.swarm.inventory import Inventory, InventoryNode

Action = Literal["stop", "pause", "isolate"]
"""What a node controller can do to a node (and undo)."""


class ControlSettings(BaseModel):
    """Base of a controller's ``control:`` model; ``type`` is implied."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NodeController(ABC):
    """Stops, pauses and isolates one node. One instance per node and run."""

    name: ClassVar[str]
    """The ``control.type`` this controller handles."""

    summary: ClassVar[str] = ""

    Control: ClassVar[type[ControlSettings]] = ControlSettings
    """Validates the node's ``control`` mapping (without ``type``)."""

    actions: ClassVar[tuple[Action, ...]] = ("stop", "pause", "isolate")

    def __init__(
        self, runtime: Runtime, node: InventoryNode, inventory: Inventory, settings: Any
    ) -> None:
        self.runtime = runtime
        self.node = node
        self.inventory = inventory
        self.settings = settings

    @abstractmethod
    def apply(self, action: Action, tag: str, *, graceful: bool = False) -> dict[str, Any]:
        """Stop, pause or isolate the node; return what ``undo`` needs (JSON data).

        ``tag`` is unique to the injection (names of rules derive from it);
        ``graceful`` asks a stop to let the node shut down rather than lose power.
        Raise InjectionFailed naming the node when it cannot be done.
        """

    @abstractmethod
    def undo(self, action: Action, tag: str) -> None:
        """Start, unpause or rejoin the node. Must be harmless when ``apply``
        never ran or the node is already back. Raise RevertFailed otherwise."""

    def undo_argv(self, action: Action, tag: str) -> tuple[str, ...] | None:
        """The undo as an argv for a watchdog (see the module docstring), or
        None when this platform cannot be restored without chaosdrill."""
        return None


def controller_for(runtime: Runtime, node: InventoryNode, inventory: Inventory) -> NodeController:
    """The controller of ``node``; InjectionFailed when there is none."""
    from pydantic import ValidationError

    kind = node.control_type
    if kind is None:
        raise InjectionFailed(
            f"node {node.name} has no `control` in the inventory, so it cannot be "
            "stopped, paused or isolated (drain and service faults still work)"
        )
    registered = runtime.node_controllers.get(kind)
    if registered is None:
        known = ", ".join(sorted(runtime.node_controllers)) or "none"
        raise InjectionFailed(
            f"node {node.name}: no node controller for control type {kind!r} "
            f"(installed: {known}); install the plugin that provides it"
        )
    cls: type[NodeController] = registered.cls
    settings = {k: v for k, v in node.control.items() if k != "type"}
    try:
        parsed = cls.Control.model_validate(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InjectionFailed(
            f"node {node.name}: control.{'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None
    return cls(runtime, node, inventory, parsed)


def run_all(argvs: list[tuple[str, ...]]) -> tuple[str, ...]:
    """One argv that runs several argvs in turn, each whatever the others did."""
    import shlex

    return ("sh", "-c", 'for c in "$@"; do sh -c "$c"; done', "undo", *map(shlex.join, argvs))
