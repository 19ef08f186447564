"""Where a resource fault acts: a container, or the task containers of a Swarm service.

A container target is acted on through the run's own engine. A service
target resolves to some of its running tasks (``tasks``, default 1, and
``node``), each acted on through the engine of the node that runs it (from
the inventory), as ``service.kill_tasks`` does. The choice is made once per
injection: the watchdog (armed before the injection), ``before`` and
``inject`` all see the same containers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from chaos.plugin_api import ChaosError, FaultContext, Params, RevertFailed
from chaos.swarm.cluster import hostname

TARGET_KINDS = ("container", "service")


class TaskParams(Params):
    """Parameters of every resource fault that says which tasks of a service it hits."""

    tasks: int | Literal["all"] = Field(default=1)
    """Service targets: how many running tasks (lowest node name and slot first)."""
    node: str | None = None
    """Service targets: only tasks on this node (its hostname)."""

    def model_post_init(self, context: Any) -> None:
        if isinstance(self.tasks, int) and self.tasks < 1:
            raise ValueError("tasks must be at least 1, or all")


@dataclass(frozen=True)
class Placement:
    """One container a fault acts on, and the engine that runs it."""

    client: Any
    """A docker-py client of that engine."""
    container_id: str
    name: str
    node: str | None = None
    """The swarm node (hostname); None for the run's own engine."""

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container_id[:12], "name": self.name, "node": self.node}

    @property
    def where(self) -> str:
        return self.name if self.node is None else f"{self.name} on {self.node}"


_chosen: dict[str, list[tuple[str, str, str | None]]] = {}
_lock = threading.Lock()


def placements(ctx: FaultContext, params: Any, error: type[ChaosError]) -> list[Placement]:
    """The containers this injection acts on (chosen once per injection)."""
    if ctx.target.kind != "service":
        if getattr(params, "node", None) is not None or getattr(params, "tasks", 1) != 1:
            raise error(
                f"{ctx.target.name} is a {ctx.target.kind}: tasks and node choose among "
                "a service's tasks; leave them out"
            )
        return [Placement(ctx.runtime.docker, ctx.target.id, ctx.target.name)]
    with _lock:
        chosen = _chosen.get(ctx.injection_id)
    if chosen is None:
        chosen = _choose_tasks(ctx, params, error)
        with _lock:
            chosen = _chosen.setdefault(ctx.injection_id, chosen)
    cluster = ctx.runtime.swarm
    found = []
    for container, name, node in chosen:
        try:
            client = cluster.client(node) if node else ctx.runtime.docker
        except ChaosError as exc:
            raise error(str(exc)) from None
        found.append(Placement(client, container, name, node))
    return found


def recorded_placements(ctx: FaultContext, state: dict[str, Any]) -> list[Placement] | None:
    """The placements an injection recorded in its state (``placements``), reconnected;
    None when nothing was recorded (the runner died before the state was written)."""
    recorded = state.get("placements")
    if not isinstance(recorded, list):
        return None
    found = []
    for item in recorded:
        if not isinstance(item, dict) or not isinstance(item.get("container"), str):
            continue
        node = item.get("node") if isinstance(item.get("node"), str) else None
        try:
            client = ctx.runtime.swarm.client(node) if node else ctx.runtime.docker
        except ChaosError as exc:
            raise RevertFailed(str(exc)) from None
        found.append(Placement(client, item["container"], str(item.get("name", "")), node))
    return found


def _choose_tasks(
    ctx: FaultContext, params: Any, error: type[ChaosError]
) -> list[tuple[str, str, str | None]]:
    what = f"tasks of service {ctx.target.name}"
    cluster = ctx.runtime.swarm
    tasks = cluster.call_as(
        error,
        what,
        lambda c: c.api.tasks(filters={"service": ctx.target.id, "desired-state": "running"}),
    )
    nodes = {n["ID"]: n for n in cluster.call_as(error, what, lambda c: c.api.nodes())}
    wanted_node = getattr(params, "node", None)
    candidates = []
    for task in tasks:
        status = task.get("Status") or {}
        container = (status.get("ContainerStatus") or {}).get("ContainerID")
        node = nodes.get(task.get("NodeID", ""))
        if status.get("State") != "running" or not container or node is None:
            continue
        name = hostname(node)
        if wanted_node is not None and name != wanted_node:
            continue
        slot = task.get("Slot") or 0
        candidates.append((name, slot, container, f"{ctx.target.name}.{slot or task['ID'][:12]}"))
    candidates.sort()
    count = getattr(params, "tasks", 1)
    wanted = len(candidates) if count == "all" else int(count)
    if not candidates or len(candidates) < wanted:
        where = f" on {wanted_node}" if wanted_node else ""
        raise error(
            f"service {ctx.target.name}: {wanted if count != 'all' else 'some'} running task(s) "
            f"wanted, {len(candidates)} running{where}"
        )
    return [(container, label, node) for node, _, container, label in candidates[:wanted]]


def forget(injection_id: str) -> None:
    """Drop an injection's cached choice once it is reverted."""
    with _lock:
        _chosen.pop(injection_id, None)
