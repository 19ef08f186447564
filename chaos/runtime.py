"""What faults, probes and target kinds get to work with during a run."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chaos.labels import LABEL_HELPER, LABEL_OWNER, LABEL_RUN
from chaos.liveness import ProcessId, this_process
from chaos.redaction import Redactor
from chaos.swarm.cluster import Cluster
from chaos.swarm.inventory import Inventory

if TYPE_CHECKING:
    import docker

DEFAULT_HELPER_IMAGE = "chaosdrill/busybox:1"
HELPER_IMAGE_ENV = "CHAOSDRILL_HELPER_IMAGE"
DEFAULT_NETNS_IMAGE = "chaosdrill/netns-helper:1"
NETNS_IMAGE_ENV = "CHAOSDRILL_NETNS_IMAGE"
DEFAULT_SWARM_NODE_IMAGE = "chaosdrill/swarm-node:1"
SWARM_NODE_IMAGE_ENV = "CHAOSDRILL_SWARM_NODE_IMAGE"


def owner_label(process: ProcessId) -> str:
    return f"{process.host}/{process.boot_id or ''}/{process.pid}/{process.started or ''}"


def parse_owner(value: str) -> ProcessId | None:
    parts = value.split("/")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    host, boot, pid, started = parts
    return ProcessId(host, int(pid), boot or None, int(started) if started.isdigit() else None)


class Runtime:
    """Shared, thread-safe services for one run (or one validate/dry-run).

    The Docker client is created on first use, so commands that never touch
    the engine (``validate``, ``schema``) never import the SDK.
    """

    def __init__(
        self,
        *,
        docker_url: str | None = None,
        helper_image: str | None = None,
        run_id: str | None = None,
        redactor: Redactor | None = None,
        inventory: Inventory | None = None,
        node_controllers: Mapping[str, Any] | None = None,
    ):
        """``node_controllers`` come from the plugins (``registry.node_controllers``):
        a runtime made for a run gets them here, once."""
        self.docker_url = docker_url
        self.helper_image = helper_image or os.environ.get(HELPER_IMAGE_ENV, DEFAULT_HELPER_IMAGE)
        self.netns_image = os.environ.get(NETNS_IMAGE_ENV, DEFAULT_NETNS_IMAGE)
        """Image with iptables, tc and curl: network faults, network probes, watchdogs."""
        self.swarm_node_image = os.environ.get(SWARM_NODE_IMAGE_ENV, DEFAULT_SWARM_NODE_IMAGE)
        """Debian with dockerd and the docker CLI: lab nodes, and Swarm faults' watchdogs."""
        self.inventory = inventory
        """The swarm's nodes and engines (``--lab``/``--inventory``); None means
        the local engine is the swarm, if it is a manager."""
        self._swarm: Cluster | None = None
        self.node_controllers: Mapping[str, Any] = (
            node_controllers if node_controllers is not None else {}
        )
        """The registry's node controllers by ``control.type`` (a
        ``chaos.registry.Registered`` of a ``NodeController`` each; set from the
        plugins, read by :func:`chaos.swarm.control.controller_for`). The runtime
        sits below the plugin interfaces, which all take it, so it does not
        name their types."""
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.redactor = redactor or Redactor()
        self._docker: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def docker(self) -> docker.DockerClient:
        """A connected Docker client; raises EngineUnreachable."""
        with self._lock:
            if self._docker is None:
                from chaos.docker_client import connect

                self._docker = connect(self.docker_url)
            return self._docker

    @property
    def swarm(self) -> Cluster:
        """The swarm under test: its managers' API and every node's engine."""
        with self._lock:
            if self._swarm is None:
                self._swarm = Cluster(lambda: self.docker, self.docker_url, self.inventory)
            return self._swarm

    @property
    def engine_is_local(self) -> bool:
        """True when the engine runs on this host (its PIDs are ours)."""
        url = self.docker_url or os.environ.get("DOCKER_HOST", "unix://")
        return url.startswith(("unix://", "npipe://")) or url == ""

    def helper_labels(self) -> dict[str, str]:
        return {LABEL_HELPER: "1", LABEL_RUN: self.run_id, LABEL_OWNER: owner_label(this_process())}

    def engine_versions(self) -> dict[str, Any]:
        from chaos.docker_client import engine_errors
        from chaos.errors import EngineUnreachable

        with engine_errors(EngineUnreachable, "asking the Docker engine for its version"):
            info = self.docker.version()
        return {
            "version": info.get("Version"),
            "api_version": info.get("ApiVersion"),
            "os": info.get("Os"),
            "arch": info.get("Arch"),
            "kernel": info.get("KernelVersion"),
        }

    def close(self) -> None:
        with self._lock:
            if self._swarm is not None:
                self._swarm.close()
                self._swarm = None
            if self._docker is not None:
                self._docker.close()
                self._docker = None
