"""Helpers for tests that run against the session's Swarm lab (``session_lab`` fixture)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from tests.conftest import labels_for_test, wait_for


def manager_client(lab: Any) -> Any:
    """A client of the first manager whose swarm API answers."""
    last: Exception | None = None
    for node in lab.inventory.managers:
        client = lab.client(node.name)
        try:
            client.api.nodes()
            return client
        except Exception as exc:
            last = exc
    raise AssertionError(f"no lab manager answers: {last}")


def swarm_nodes(lab: Any) -> list[dict[str, Any]]:
    return manager_client(lab).api.nodes()


def leader_name(lab: Any) -> str | None:
    for node in swarm_nodes(lab):
        if (node.get("ManagerStatus") or {}).get("Leader"):
            return node["Description"]["Hostname"]
    return None


def node_spec(lab: Any, hostname: str) -> dict[str, Any]:
    return next(n for n in swarm_nodes(lab) if n["Description"]["Hostname"] == hostname)


def lab_is_healthy(lab: Any) -> bool:
    """Every node ready and active, every manager reachable, a leader elected."""
    try:
        nodes = swarm_nodes(lab)
    except AssertionError:
        return False
    if len(nodes) != len(lab.inventory.nodes):
        return False
    for node in nodes:
        if (node.get("Status") or {}).get("State") != "ready":
            return False
        if node["Spec"].get("Availability") != "active":
            return False
        status = node.get("ManagerStatus")
        if status is not None and status.get("Reachability") != "reachable":
            return False
    return any((n.get("ManagerStatus") or {}).get("Leader") for n in nodes)


def wait_healthy(lab: Any, timeout: float = 150) -> None:
    wait_for(lambda: lab_is_healthy(lab), timeout, "the lab to be healthy again", interval=1)


def running_tasks(lab: Any, service: str) -> list[dict[str, Any]]:
    tasks = manager_client(lab).api.tasks(filters={"service": service, "desired-state": "running"})
    return [t for t in tasks if (t.get("Status") or {}).get("State") == "running"]


def converged(lab: Any, service: str) -> bool:
    info = manager_client(lab).api.inspect_service(service)
    replicas = info["Spec"]["Mode"]["Replicated"]["Replicas"]
    return len(running_tasks(lab, service)) == replicas


@contextlib.contextmanager
def lab_service(
    lab: Any,
    test_name: str,
    *,
    name: str,
    replicas: int,
    failure_action: str = "rollback",
    timeout: float = 90,
) -> Iterator[str]:
    """A demo-like service (busybox httpd with a healthcheck), converged, removed after."""
    from chaos.lab.stack import service_spec

    client = manager_client(lab)
    with contextlib.suppress(Exception):
        client.services.get(name).remove()
    client.services.create(
        **service_spec(name, replicas, failure_action, labels_for_test(test_name[:60]))
    )
    try:
        wait_for(lambda: converged(lab, name), timeout, f"service {name} to converge", interval=0.5)
        yield name
    finally:
        with contextlib.suppress(Exception):
            manager_client(lab).services.get(name).remove()


def run_on_lab(lab: Any, path: Path, report_dir: Path, **kwargs: Any) -> api.RunResult:
    loaded = api.load(path)
    return api.run(
        loaded,
        inventory=lab.inventory,
        report_dir=report_dir,
        handle_signals=False,
        **kwargs,
    )


def poll_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    """True as soon as ``predicate`` holds; False after ``timeout`` (exceptions count as no)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(interval)
    return False


@pytest.fixture
def healthy_lab(session_lab: Any) -> Iterator[Any]:
    """The session's lab, healthy before the test and again after it."""
    wait_healthy(session_lab)
    yield session_lab
    wait_healthy(session_lab)
