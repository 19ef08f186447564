"""Swarm target kinds: ``service`` (a service and its tasks), ``node`` and ``swarm``.

They are resolved through a manager's API (see :mod:`chaos.swarm.cluster`):
the local engine when it is a manager, or the swarm of ``--lab`` /
``--inventory``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from chaos.plugin_api import (
    ChaosError,
    Regex,
    Selector,
    TargetError,
    TargetKind,
    TargetRef,
    UsageError,
    fullmatch,
    hookimpl,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime

STACK_LABEL = "com.docker.stack.namespace"


def _swarm_call(runtime: Runtime, what: str, action: Any) -> Any:
    try:
        return action()
    except UsageError:
        raise  # no swarm to ask: the message says how to get one
    except ChaosError as exc:
        raise TargetError(f"{what}: {exc}") from None


def _matches(name: str, exact: str | None, pattern: str | None) -> bool:
    if exact is not None and name != exact:
        return False
    return not (pattern and not fullmatch(pattern, name))


def _has_labels(have: dict[str, str], want: dict[str, str] | None) -> bool:
    return all(have.get(k) == v for k, v in (want or {}).items())


class ServiceSelector(Selector):
    name: str | None = None
    name_regex: Regex | None = None
    labels: dict[str, str] | None = None
    """Service labels (``docker service create --label``)."""
    stack: str | None = None
    """Stack name (``docker stack deploy ... NAME``)."""


class ServiceKind(TargetKind):
    name = "service"
    summary = "Swarm services (faults act on the service or its tasks on any node)"
    Selector = ServiceSelector

    def candidates(self, runtime: Runtime, selector: Selector) -> list[TargetRef]:
        assert isinstance(selector, ServiceSelector)
        services = _swarm_call(runtime, "listing services", runtime.swarm.services)
        found = []
        for service in services:
            spec = service["Spec"]
            labels = spec.get("Labels") or {}
            if not _matches(spec["Name"], selector.name, selector.name_regex):
                continue
            if not _has_labels(labels, selector.labels):
                continue
            if selector.stack is not None and labels.get(STACK_LABEL) != selector.stack:
                continue
            image = spec["TaskTemplate"]["ContainerSpec"].get("Image", "")
            found.append(
                TargetRef(
                    kind="service",
                    id=service["ID"],
                    name=spec["Name"],
                    labels=labels,
                    meta={"image": image.split("@")[0]},
                )
            )
        return sorted(found, key=lambda ref: ref.name)


class NodeSelector(Selector):
    name: str | None = None
    """The node's hostname."""
    name_regex: Regex | None = None
    role: Literal["manager", "worker"] | None = None
    leader: bool | None = None
    """``true``: the Raft leader only; ``false``: every node but the leader."""
    labels: dict[str, str] | None = None
    """Node labels (``docker node update --label-add``)."""
    availability: Literal["active", "pause", "drain"] | None = None


class NodeKind(TargetKind):
    name = "node"
    summary = "Swarm nodes, by hostname, role, leadership, labels or availability"
    Selector = NodeSelector

    def candidates(self, runtime: Runtime, selector: Selector) -> list[TargetRef]:
        assert isinstance(selector, NodeSelector)
        nodes = _swarm_call(runtime, "listing swarm nodes", runtime.swarm.nodes)
        found = []
        for node in nodes:
            spec, hostname = node["Spec"], node["Description"]["Hostname"]
            leader = bool((node.get("ManagerStatus") or {}).get("Leader"))
            if not _matches(hostname, selector.name, selector.name_regex):
                continue
            if selector.role is not None and spec.get("Role") != selector.role:
                continue
            if selector.leader is not None and leader != selector.leader:
                continue
            if (
                selector.availability is not None
                and spec.get("Availability") != selector.availability
            ):
                continue
            if not _has_labels(spec.get("Labels") or {}, selector.labels):
                continue
            found.append(
                TargetRef(
                    kind="node",
                    id=node["ID"],
                    name=hostname,
                    labels=spec.get("Labels") or {},
                    meta={
                        "role": spec.get("Role"),
                        "leader": leader,
                        "availability": spec.get("Availability"),
                        "address": (node.get("Status") or {}).get("Addr"),
                    },
                )
            )
        return sorted(found, key=lambda ref: ref.name)


class SwarmKind(TargetKind):
    name = "swarm"
    summary = "the swarm as a whole (for faults such as swarm.lose_managers)"

    def candidates(self, runtime: Runtime, selector: Selector) -> list[TargetRef]:
        info = _swarm_call(
            runtime,
            "inspecting the swarm",
            lambda: runtime.swarm.call("inspecting the swarm", lambda c: c.api.inspect_swarm()),
        )
        return [TargetRef(kind="swarm", id=info["ID"], name=runtime.swarm.inventory.name)]


@hookimpl
def chaosdrill_register_target_kinds(registry: Registry) -> None:
    registry.add_target_kind(ServiceKind)
    registry.add_target_kind(NodeKind)
    registry.add_target_kind(SwarmKind)
