"""The ``session_lab`` fixture: one Swarm lab (3 managers, 1 worker) per test session.

Loaded from ``tests/conftest.py`` as a pytest plugin, so any test can ask
for ``session_lab``. The lab is named ``t<pid of pytest>``, carries the test
labels (a later session removes it if this one is killed), and records its
inventory in a directory of the session's own (``$CHAOSDRILL_LAB_DIR`` is set
for the whole session, so CLI runs with ``--lab NAME`` find it). It is
removed at the end of the session, even when tests failed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.swarm.inventory import Inventory, InventoryNode
from tests.conftest import SESSION, SESSION_LABEL, TEST_LABEL, labels_for_test

LAB_NAME = os.environ.get("CHAOSDRILL_TEST_LAB") or f"t{SESSION}"
"""``$CHAOSDRILL_TEST_LAB`` names it otherwise (sessions sharing an engine that want
their labs told apart by name)."""
MANAGERS = 3
WORKERS = 1
NODE_TIMEOUT = 10.0
"""Seconds a node's engine may take to answer a test: a paused node never does."""


class SwarmLab:
    """The session's lab: its inventory, and clients of its nodes and of the host."""

    def __init__(self, name: str, inventory: Inventory, host: Any):
        self.name = name
        self.inventory = inventory
        self.host = host
        self._clients: dict[str, Any] = {}

    def node(self, node_name: str) -> InventoryNode:
        node = self.inventory.node(node_name)
        if node is None:
            raise KeyError(f"lab {self.name} has no node {node_name}")
        return node

    def client(self, node_name: str) -> Any:
        """A client of the node's own engine (cached; it connects on first use, so it can
        be made while the node is down)."""
        if node_name not in self._clients:
            from chaos.swarm.inventory import docker_client

            node = self.node(node_name)
            self._clients[node_name] = docker_client(
                node.endpoint, node.tls, version=self.host.api.api_version, timeout=NODE_TIMEOUT
            )
        return self._clients[node_name]

    def host_container(self, node_name: str) -> Any:
        """The node's container on the host engine, as it is now."""
        return self.host.containers.get(self.node(node_name).control["container"])

    def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()


def remove_dead_sessions_labs(host: Any) -> list[str]:
    """Labs made by test sessions that are gone (killed before their teardown)."""
    from chaos.lab import lab
    from chaos.lab.nodes import LAB_LABEL

    names = set()
    flt = {"label": [TEST_LABEL, LAB_LABEL]}
    objects = [
        *(c.labels for c in host.containers.list(all=True, filters=flt)),
        *(n.attrs.get("Labels") or {} for n in host.networks.list(filters=flt)),
        *(v.attrs.get("Labels") or {} for v in host.volumes.list(filters=flt)),
    ]
    for labels in objects:
        owner = labels.get(SESSION_LABEL, "")
        if owner.isdigit() and owner != SESSION and not _alive(int(owner)):
            names.add(labels[LAB_LABEL])
    for name in sorted(names):
        with contextlib.suppress(Exception):
            lab.down(name, client=host)
    return sorted(names)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def session_lab(
    docker_client: Any, images: dict[str, str], tmp_path_factory: Any
) -> Iterator[SwarmLab]:
    from chaos.errors import UsageError
    from chaos.lab import lab

    patch = pytest.MonkeyPatch()
    patch.setenv(lab.LAB_DIR_ENV, str(tmp_path_factory.mktemp("labs")))
    remove_dead_sessions_labs(docker_client)
    current: SwarmLab | None = None
    try:
        done = lab.up(
            LAB_NAME,
            managers=MANAGERS,
            workers=WORKERS,
            load=[images["web"]],
            labels=labels_for_test("session_lab"),
            client=docker_client,
        )
        current = SwarmLab(LAB_NAME, done.inventory, docker_client)
        yield current
    finally:
        if current is not None:
            current.close()
        with contextlib.suppress(UsageError):
            lab.down(LAB_NAME, client=docker_client)
        patch.undo()


@pytest.fixture(scope="session")
def fault_helper_lab(session_lab: Any, docker_client: Any) -> Any:
    """The session's lab with the fault helper image on every node (a lab loads
    only busybox by default): the proxy and resource faults' helpers run there."""
    from chaos.images import FAULT_HELPER_IMAGE, ensure_fault_helper_image
    from chaos.lab import lab

    ensure_fault_helper_image(docker_client)
    lab.load(session_lab.name, [FAULT_HELPER_IMAGE], client=docker_client)
    return session_lab
