"""Swarm probes: services converged, Raft quorum, node states, task spread.

Each asks a manager (failing over between managers, see
:mod:`chaos.swarm.cluster`). A probe that samples through a fault reports in
the journal how long the swarm took to converge again: the probe's outage
and time-to-recover are exactly that.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import TYPE_CHECKING, Any

from pydantic import Field

from chaos.plugin_api import ChaosError, Check, Params, Probe, describe_engine_error, hookimpl
from chaos.swarm.cluster import hostname, leader_of

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef

PAUSED_UPDATES = ("paused", "rollback_paused")
QUORUM_TIMEOUT = 2.0
"""Seconds the quorum probe waits for a manager: the resolution of an election's length."""


def _services(
    runtime: Runtime, name: str | None, targets: tuple[TargetRef, ...]
) -> list[dict[str, Any]]:
    """The services named by ``service:`` or the step's target (service kind).

    Raises ChaosError (a failed check) for a service that does not exist."""
    import docker.errors

    cluster = runtime.swarm
    wanted = [name] if name is not None else [t.id for t in targets if t.kind == "service"]
    found = []
    for service in wanted:
        try:
            found.append(cluster.service(service))
        except docker.errors.NotFound:
            shown = next((t.name for t in targets if t.id == service), service)
            raise ChaosError(f"service {shown} does not exist") from None
    return found


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
    summary = "a Raft leader exists and reachable managers are a majority; reports elections"
    Params = QuorumParams

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._leader: str | None = None
        self._leaderless_since: float | None = None
        self._changes = 0

    def check(
        self, runtime: Runtime, params: QuorumParams, targets: tuple[TargetRef, ...]
    ) -> Check:
        managers = [m.name for m in runtime.swarm.inventory.managers]
        now = time.monotonic()  # when the question was asked: what the answer describes
        nodes, answered, errors = self._ask_managers(runtime, managers)
        total = len(managers)
        if nodes is None:
            self._leaderless(now)
            # an engine that answers a ping while its swarm API stalls or refuses is
            # a manager without a leader, not a dead one
            answered = sorted(set(answered) | set(self._alive(runtime, sorted(errors))))
            if answered:
                return Check(
                    False,
                    f"quorum lost: no leader; {len(answered)} of {total} managers answer "
                    f"(a majority is {total // 2 + 1})",
                )
            shown = "; ".join(f"{name}: {error}" for name, error in sorted(errors.items()))
            return Check(False, f"no manager answers ({shown})")
        manager_nodes = [n for n in nodes if n["Spec"].get("Role") == "manager"]
        reachable = [
            n
            for n in manager_nodes
            if (n.get("ManagerStatus") or {}).get("Reachability") == "reachable"
        ]
        majority = len(manager_nodes) // 2 + 1
        leader = leader_of(manager_nodes)
        if leader is None:
            self._leaderless(now)
        note = self._leader_seen(hostname(leader), now) if leader else ""
        detail = (
            f"leader {hostname(leader) if leader else 'none'}{note}; {len(reachable)} of "
            f"{len(manager_nodes)} managers reachable (majority {majority}); "
            f"leader changes: {self._changes}"
        )
        return Check(leader is not None and len(reachable) >= majority, detail)

    def _leaderless(self, now: float) -> None:
        with self._lock:
            if self._leaderless_since is None:
                self._leaderless_since = now

    def _leader_seen(self, name: str, now: float) -> str:
        """Note a change of leader, with how long the swarm went without one."""
        with self._lock:
            note = ""
            if self._leader and name != self._leader:
                self._changes += 1
                note = f" (was {self._leader}"
                if self._leaderless_since is not None:
                    note += f", elected within {now - self._leaderless_since:.1f}s"
                note += ")"
            self._leader, self._leaderless_since = name, None
            return note

    def _alive(self, runtime: Runtime, names: list[str]) -> list[str]:
        def ping(name: str) -> bool:
            try:
                return bool(runtime.swarm.client(name, QUORUM_TIMEOUT).ping())
            except Exception:
                return False

        assert self._pool is not None
        return [n for n, ok in zip(names, self._pool.map(ping, names), strict=True) if ok]

    def _ask_managers(
        self, runtime: Runtime, managers: list[str]
    ) -> tuple[list[dict[str, Any]] | None, list[str], dict[str, str]]:
        """Ask every manager at once; the first full answer wins.

        During an election managers stall rather than refuse, so asking them
        one after another would take a timeout per manager and blur how long
        the swarm really had no leader. Returns (nodes or None, the managers
        that answered without a leader, the error of each that did not).
        """
        import docker.errors

        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2 * max(1, len(managers)))
            pool = self._pool
        futures = {
            pool.submit(lambda n=name: runtime.swarm.client(n, QUORUM_TIMEOUT).api.nodes()): name
            for name in managers
        }
        answered: list[str] = []
        errors: dict[str, str] = {}
        try:
            for future in as_completed(futures, timeout=QUORUM_TIMEOUT + 1):
                name = futures[future]
                try:
                    return future.result(), answered, errors
                except docker.errors.APIError as exc:
                    answered.append(name)
                    errors[name] = str(exc.explanation or exc)
                except Exception as exc:
                    errors[name] = describe_engine_error(exc)
        except FuturesTimeout:
            for future, name in futures.items():
                if not future.done():
                    errors[name] = "timed out"
        return None, answered, errors


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
