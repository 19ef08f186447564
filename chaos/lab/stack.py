"""The lab's demo services, which the examples in ``experiments/swarm/`` run against.

``web`` updates with ``failure_action: rollback``; ``api`` leaves Swarm's
default (``pause``), which is the weakness ``bad-update-no-rollback`` shows.
Both use ``endpoint_mode: dnsrr`` because the lab's kernel may lack IPVS
(no routing mesh); they publish nothing, so nothing leaves the lab network.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

STACK = "chaosdrill-demo"
STACK_LABEL = "com.docker.stack.namespace"
IMAGE = "chaosdrill/busybox:1"
SERVE = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"
SECOND = 1_000_000_000


def service_spec(
    name: str, replicas: int, failure_action: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments of ``client.services.create`` for one demo service."""
    from docker.types import (
        EndpointSpec,
        Healthcheck,
        RestartPolicy,
        RollbackConfig,
        ServiceMode,
        UpdateConfig,
    )

    return {
        "image": IMAGE,
        "command": ["sh", "-c", SERVE],
        "name": name,
        "labels": {STACK_LABEL: STACK, **(labels or {})},
        "container_labels": labels or {},
        "mode": ServiceMode("replicated", replicas=replicas),
        "endpoint_spec": EndpointSpec(mode="dnsrr"),
        "healthcheck": Healthcheck(
            test=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
            interval=SECOND,
            timeout=SECOND,
            retries=2,
            start_period=SECOND,
        ),
        "restart_policy": RestartPolicy(condition="any", delay=SECOND // 2),
        "update_config": UpdateConfig(
            parallelism=1,
            delay=SECOND // 2,
            failure_action=failure_action,
            monitor=4 * SECOND,
            max_failure_ratio=0,
            order="stop-first",
        ),
        "rollback_config": RollbackConfig(parallelism=0, monitor=SECOND, failure_action="pause"),
        "stop_grace_period": SECOND,
    }


DEMO_SERVICES = (("web", 4, "rollback"), ("api", 2, "pause"))
"""``web`` has a task per node of the default lab (3 managers, 1 worker)."""


def deploy(client: docker.DockerClient, labels: dict[str, str] | None = None) -> list[str]:
    """Create (or re-create) the demo services through a manager; return their names."""
    import docker.errors

    names = []
    for name, replicas, action in DEMO_SERVICES:
        with contextlib.suppress(docker.errors.NotFound):
            client.services.get(name).remove()
        client.services.create(**service_spec(name, replicas, action, labels))
        names.append(name)
    return names


def remove(client: docker.DockerClient) -> list[str]:
    removed = []
    for service in client.services.list(filters={"label": f"{STACK_LABEL}={STACK}"}):
        service.remove()
        removed.append(service.name)
    return removed


def _manager(lab_name: str) -> docker.DockerClient:
    from chaos.lab.lab import load_lab_inventory
    from chaos.runtime import Runtime

    runtime = Runtime(inventory=load_lab_inventory(lab_name))
    return runtime.swarm.call("finding a manager", lambda client: client)


def deploy_to_lab(lab_name: str, timeout: float = 120) -> list[str]:
    """Deploy the demo services to a lab and wait until every task runs."""
    import time

    from chaos.lab.nodes import LabError

    client = _manager(lab_name)
    names = deploy(client)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [n for n in names if not _converged(client, n)]
        if not pending:
            return names
        time.sleep(1)
    raise LabError(f"lab {lab_name}: {', '.join(pending)} did not converge within {timeout:g}s")


def remove_from_lab(lab_name: str) -> list[str]:
    return remove(_manager(lab_name))


def _converged(client: docker.DockerClient, name: str) -> bool:
    service = client.services.get(name)
    wanted = service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"]
    running = [
        t for t in service.tasks({"desired-state": "running"}) if t["Status"]["State"] == "running"
    ]
    return len(running) == wanted
