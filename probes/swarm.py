"""Swarm probes: services converged, Raft quorum, node states, task spread.

Each asks a manager (failing over between managers, see
:mod:`chaos.swarm.cluster`). A probe that samples through a fault reports in
the journal how long the swarm took to converge again: the probe's outage
and time-to-recover are exactly that.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pydantic import Field

from chaos.errors import ChaosError
from chaos.fault import Params
from chaos.hookspecs import hookimpl
from chaos.probe import Check, Probe
from chaos.swarm.cluster import NoLeader, hostname, leader_of

if TYPE_CHECKING:
    from chaos.registry import Registry
    from chaos.runtime import Runtime
    from chaos.targets import TargetRef

PAUSED_UPDATES = ("paused", "rollback_paused")


def _services(
    runtime: Runtime, name: str | None, targets: tuple[TargetRef, ...]
) -> list[dict[str, Any]]:
    """The services named by ``service:`` or the step's target (service kind)."""
    cluster = runtime.swarm
    if name is not None:
        return [cluster.call(f"inspecting service {name}", lambda c: c.api.inspect_service(name))]
    wanted = [t for t in targets if t.kind == "service"]
    return [cluster.service(t.id) for t in wanted]


def _running_by_node(tasks: list[dict[str, Any]]) -> Counter[str]:
    return Counter(
        t.get("NodeID", "")
        for t in tasks
        if t.get("DesiredState") == "running" and (t.get("Status") or {}).get("State") == "running"
    )


class ServiceParams(Params):
    service: str | None = None
    """Service name or id; or give the step a ``target`` of kind service."""


class SwarmServiceProbe(Probe):
    name = "swarm.service"
    summary = "running tasks equal desired replicas (healthy, where a healthcheck exists) and no update is paused"
    Params = ServiceParams
    accepts_target = True

    def check(
        self, runtime: Runtime, params: ServiceParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        try:
            services = _services(runtime, params.service, targets)
        except ChaosError as exc:
            return Check(False, str(exc))
        if not services:
            return Check(False, "no service to check (give `service:` or a target of kind service)")
        failures, states = [], []
        for service in services:
            ok, detail = self._one(runtime, service)
            (states if ok else failures).append(detail)
        return Check(not failures, "; ".join(failures or states))

    def _one(self, runtime: Runtime, service: dict[str, Any]) -> tuple[bool, str]:
        name = service["Spec"]["Name"]
        tasks = runtime.swarm.tasks(service["ID"])
        running = sum(_running_by_node(tasks).values())
        mode = service["Spec"].get("Mode") or {}
        if "Replicated" in mode:
            desired = int(mode["Replicated"].get("Replicas", 1))
        else:  # global: one task per eligible node, as the orchestrator wants it
            desired = sum(1 for t in tasks if t.get("DesiredState") == "running")
        detail = f"{name}: {running}/{desired} running"
        pending = Counter(
            (t.get("Status") or {}).get("State", "?")
            for t in tasks
            if t.get("DesiredState") == "running"
            and (t.get("Status") or {}).get("State") != "running"
        )
        if pending:
            detail += " (" + ", ".join(f"{n} {s}" for s, n in sorted(pending.items())) + ")"
        update = service.get("UpdateStatus") or {}
        state = update.get("State")
        if state in PAUSED_UPDATES:
            return False, f"{detail}; update {state}: {update.get('Message', '')}".rstrip(": ")
        if state:
            detail += f"; update {state}"
        return running == desired, detail


class QuorumParams(Params):
    pass


class SwarmQuorumProbe(Probe):
    name = "swarm.quorum"
    summary = "a Raft leader exists and reachable managers are a majority; reports leader changes"
    Params = QuorumParams

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leader: str | None = None
        self._changes = 0

    def check(
        self, runtime: Runtime, params: QuorumParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        cluster = runtime.swarm
        managers = cluster.inventory.managers
        answering = _answering(runtime, [m.name for m in managers])
        total = len(managers)
        majority = total // 2 + 1
        try:
            nodes = cluster.nodes()
        except NoLeader:
            return Check(
                False,
                f"quorum lost: no leader; {len(answering)} of {total} managers answer "
                f"(a majority is {majority})",
            )
        except ChaosError as exc:
            return Check(False, f"no manager answers: {exc}")
        manager_nodes = [n for n in nodes if n["Spec"].get("Role") == "manager"]
        reachable = [
            n
            for n in manager_nodes
            if (n.get("ManagerStatus") or {}).get("Reachability") == "reachable"
        ]
        leader = leader_of(manager_nodes)
        majority = len(manager_nodes) // 2 + 1
        with self._lock:
            leader_name = hostname(leader) if leader else None
            note = ""
            if leader_name and self._leader and leader_name != self._leader:
                self._changes += 1
                note = f" (was {self._leader})"
            if leader_name:
                self._leader = leader_name
            changes = self._changes
        detail = (
            f"leader {leader_name or 'none'}{note}; {len(reachable)} of {len(manager_nodes)} "
            f"managers reachable (majority {majority}); leader changes: {changes}"
        )
        return Check(leader is not None and len(reachable) >= majority, detail)


def _answering(runtime: Runtime, names: list[str]) -> list[str]:
    """Managers whose engine answers a ping right now (asked in parallel)."""

    def ping(name: str) -> bool:
        try:
            return bool(runtime.swarm.client(name).ping())
        except Exception:
            return False

    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        results = list(pool.map(ping, names))
    return [n for n, ok in zip(names, results, strict=True) if ok]


class NodesParams(Params):
    min_ready: int | None = Field(default=None, ge=0)
    """At least this many nodes Ready (default: every node)."""
    max_down: int | None = Field(default=None, ge=0)
    """At most this many nodes not Ready (default: 0 unless min_ready is set)."""
    min_active: int | None = Field(default=None, ge=0)
    """At least this many nodes with availability active."""


class SwarmNodesProbe(Probe):
    name = "swarm.nodes"
    summary = "counts of ready and down nodes, and of active, paused and drained ones"
    Params = NodesParams

    def check(self, runtime: Runtime, params: NodesParams, targets: tuple[TargetRef, ...]) -> Check:
        try:
            nodes = runtime.swarm.nodes()
        except ChaosError as exc:
            return Check(False, str(exc))
        states = Counter((n.get("Status") or {}).get("State", "unknown") for n in nodes)
        availability = Counter(n["Spec"].get("Availability", "active") for n in nodes)
        ready, total = states.get("ready", 0), len(nodes)
        down = total - ready
        detail = f"{total} nodes: {ready} ready, {down} not ready; " + ", ".join(
            f"{availability.get(a, 0)} {a}" for a in ("active", "pause", "drain")
        )
        problems = []
        if params.min_ready is not None and ready < params.min_ready:
            problems.append(f"fewer than {params.min_ready} ready")
        max_down = (
            params.max_down
            if params.max_down is not None
            else (None if params.min_ready is not None else 0)
        )
        if max_down is not None and down > max_down:
            not_ready = sorted(
                hostname(n) for n in nodes if (n.get("Status") or {}).get("State") != "ready"
            )
            problems.append(f"more than {max_down} down ({', '.join(not_ready)})")
        if params.min_active is not None and availability.get("active", 0) < params.min_active:
            problems.append(f"fewer than {params.min_active} active")
        if problems:
            return Check(False, f"{detail}: {'; '.join(problems)}")
        return Check(True, detail)


class SpreadParams(Params):
    service: str | None = None
    max_per_node: int = Field(ge=1)


class SwarmSpreadProbe(Probe):
    name = "swarm.spread"
    summary = "no node runs more than N running tasks of the service"
    Params = SpreadParams
    accepts_target = True

    def check(
        self, runtime: Runtime, params: SpreadParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        try:
            services = _services(runtime, params.service, targets)
            nodes = runtime.swarm.nodes()
        except ChaosError as exc:
            return Check(False, str(exc))
        if not services:
            return Check(False, "no service to check (give `service:` or a target of kind service)")
        names = {n["ID"]: hostname(n) for n in nodes}
        failures, states = [], []
        for service in services:
            per_node = _running_by_node(runtime.swarm.tasks(service["ID"]))
            shown = ", ".join(
                f"{names.get(k, k[:12])} {v}"
                for k, v in sorted(per_node.items(), key=lambda kv: names.get(kv[0], kv[0]))
            )
            detail = f"{service['Spec']['Name']}: {shown or 'no running tasks'}"
            crowded = [names.get(k, k) for k, v in per_node.items() if v > params.max_per_node]
            if crowded:
                failures.append(
                    f"{detail} (more than {params.max_per_node} on {', '.join(sorted(crowded))})"
                )
            else:
                states.append(detail)
        return Check(not failures, "; ".join(failures or states))


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    for probe in (SwarmServiceProbe, SwarmQuorumProbe, SwarmNodesProbe, SwarmSpreadProbe):
        registry.add_probe(probe)
