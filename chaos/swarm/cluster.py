"""Connections to a swarm: the managers' API and each node's own engine.

The swarm API (nodes, services, tasks) answers on any manager that can reach
the Raft leader. A fault may just have stopped the manager chaosdrill was
talking to, so every swarm call goes through :meth:`Cluster.call`, which
tries the managers in turn, starting with the last one that answered.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chaos.docker_client import describe_engine_error
from chaos.errors import ChaosError, NoSwarm, TargetError
from chaos.swarm.inventory import API_VERSION, Inventory, InventoryNode, docker_client

if TYPE_CHECKING:
    import docker

T = TypeVar("T")

NODE_TIMEOUT = float(os.environ.get("CHAOSDRILL_SWARM_TIMEOUT", "8"))
"""Seconds a node's engine may take to answer: a paused node never does."""


UPDATE_ATTEMPTS = 5
MUST_EXIST: Any = object()
"""Default of ``gone``: an object that does not exist is an error."""


class NoLeader(ChaosError):
    """The managers answer but the swarm has no leader (quorum lost or an election)."""


class Cluster:
    """The swarm of ``inventory``, or of the local engine when there is none.

    ``local`` returns the client of the local engine (the run's own, found at
    ``docker_url``): it answers for the swarm when no inventory is given.
    """

    def __init__(
        self,
        local: Callable[[], docker.DockerClient],
        docker_url: str | None,
        inventory: Inventory | None,
    ):
        self._local = local
        self._docker_url = docker_url
        self._given = inventory
        self._inventory: Inventory | None = inventory
        self._clients: dict[tuple[str, float], docker.DockerClient] = {}
        self._borrowed: set[tuple[str, float]] = set()
        """Nodes whose client is the local one (closed by its owner, the runtime)."""
        self._preferred = 0
        self._lock = threading.Lock()

    @property
    def inventory(self) -> Inventory:
        """The inventory given, or one made of the local engine when it is a manager."""
        if self._inventory is None:
            self._inventory = self._local_inventory()
        return self._inventory

    @property
    def is_local(self) -> bool:
        return self._given is None

    def _local_inventory(self) -> Inventory:
        from chaos.docker_client import engine_errors
        from chaos.errors import EngineUnreachable

        with engine_errors(EngineUnreachable, "asking the local engine about its swarm"):
            info = self._local().info()
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise NoSwarm(
                "this experiment targets a swarm, but the local engine is not a swarm manager "
                "and no swarm was named: start a lab (`chaosdrill lab up`) and name it, "
                "or name the swarm's inventory"
            )
        endpoint = self._docker_url or os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return Inventory(
            name="local",
            nodes=[
                InventoryNode(name=info.get("Name") or "local", role="manager", endpoint=endpoint)
            ],
        )

    def node(self, name: str) -> InventoryNode:
        found = self.inventory.node(name)
        if found is None:
            where = self.inventory.source or "the local engine's swarm"
            raise TargetError(
                f"node {name} has no engine endpoint in the inventory ({where}); "
                "list every node in an inventory to act on its containers"
            )
        return found

    def client(self, node_name: str, timeout: float = NODE_TIMEOUT) -> docker.DockerClient:
        """A client of one node's own engine (created once per timeout, then reused).

        Probes ask with a short ``timeout``: a stalled manager (during an
        election) must cost a sample seconds, not the default timeout.
        """
        node = self.node(node_name)
        key = (node.name, timeout)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self.is_local and node.endpoint.startswith("unix://"):
                    client = self._local()
                    self._borrowed.add(key)
                else:
                    client = self._connect(node, timeout)
                self._clients[key] = client
            return client

    def _connect(self, node: InventoryNode, timeout: float) -> docker.DockerClient:
        try:
            return docker_client(
                node.endpoint,
                node.tls,
                timeout=timeout,
                version=API_VERSION,
                use_ssh_client=node.endpoint.startswith("ssh://"),
                max_pool_size=16,
            )
        except Exception as exc:
            raise TargetError(
                f"cannot connect to node {node.name} at {node.endpoint}: {describe_engine_error(exc)}"
            ) from None

    def call(self, what: str, action: Callable[[docker.DockerClient], T]) -> T:
        """Run ``action`` on a manager, failing over to the next one.

        Raises :class:`NoLeader` when managers answer but none has a leader,
        TargetError when no manager answers at all.
        """
        import docker.errors

        managers = self.inventory.managers
        errors: list[str] = []
        no_leader = False
        for offset in range(len(managers)):
            index = (self._preferred + offset) % len(managers)
            manager = managers[index]
            try:
                result = action(self.client(manager.name))
            except docker.errors.NotFound:
                raise
            except docker.errors.APIError as exc:
                text = str(exc.explanation or exc)
                if exc.status_code == 503 or "leader" in text or "not a swarm manager" in text:
                    no_leader = no_leader or "leader" in text
                    errors.append(f"{manager.name}: {text}")
                    continue
                raise
            except ChaosError as exc:
                errors.append(f"{manager.name}: {exc}")
                continue
            except Exception as exc:  # transport: refused, timed out
                errors.append(f"{manager.name}: {describe_engine_error(exc)}")
                continue
            self._preferred = index
            return result
        detail = "; ".join(errors)
        if no_leader:
            raise NoLeader(f"{what}: the swarm has no leader ({detail})")
        raise TargetError(f"{what}: no manager answered ({detail})")

    def call_as(
        self,
        error: type[ChaosError],
        what: str,
        action: Callable[[docker.DockerClient], T],
        *,
        gone: Any = MUST_EXIST,
    ) -> T:
        """:meth:`call`, with every failure raised as ``error`` (what a fault raises);
        an object that does not exist returns ``gone`` when one is given."""
        import docker.errors

        try:
            return self.call(what, action)
        except docker.errors.NotFound as exc:
            if gone is not MUST_EXIST:
                return gone
            raise error(f"{what}: {describe_engine_error(exc)}") from None
        except ChaosError as exc:
            if isinstance(exc, error):
                raise
            raise error(str(exc)) from None
        except Exception as exc:
            raise error(f"{what}: {describe_engine_error(exc)}") from None

    def versioned_update(
        self,
        error: type[ChaosError],
        what: str,
        read: Callable[[docker.DockerClient], dict[str, Any]],
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        write: Callable[[docker.DockerClient, int, dict[str, Any]], Any],
        *,
        gone: Any = MUST_EXIST,
    ) -> Any:
        """Read a node or service, change its spec, write it back at the version read.

        Swarm refuses a write at a stale version ("update out of sequence")
        when someone else wrote in between: read and try again. ``change``
        returns None when there is nothing to change. Returns the object as
        it was read before the write (or ``gone``).
        """
        for attempt in range(UPDATE_ATTEMPTS):
            current = self.call_as(error, what, read, gone=gone)
            if current is gone:
                return gone
            spec = change(copy.deepcopy(current["Spec"]))
            if spec is None:
                return current
            version = int(current["Version"]["Index"])
            try:
                self.call_as(error, what, lambda c, v=version, s=spec: write(c, v, s))
                return current
            except error as exc:
                if "out of sequence" not in str(exc) or attempt == UPDATE_ATTEMPTS - 1:
                    raise
            time.sleep(0.2)
        raise error(what)  # pragma: no cover - the loop returns or raises

    # -- swarm objects, as the engine reports them (low-level dicts) --

    def nodes(self) -> list[dict[str, Any]]:
        return self.call("listing swarm nodes", lambda c: c.api.nodes())

    def services(self) -> list[dict[str, Any]]:
        return self.call("listing services", lambda c: c.api.services())

    def service(self, service_id: str) -> dict[str, Any]:
        return self.call(
            f"inspecting service {service_id}", lambda c: c.api.inspect_service(service_id)
        )

    def tasks(self, service_id: str) -> list[dict[str, Any]]:
        return self.call(
            f"listing tasks of {service_id}", lambda c: c.api.tasks(filters={"service": service_id})
        )

    def close(self) -> None:
        with self._lock:
            for key, client in self._clients.items():
                if key not in self._borrowed:
                    client.close()
            self._clients.clear()


def leader_of(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((n for n in nodes if (n.get("ManagerStatus") or {}).get("Leader")), None)


def hostname(node: dict[str, Any]) -> str:
    return str(node["Description"]["Hostname"])
