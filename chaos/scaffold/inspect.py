"""Read what ``chaosdrill init`` needs from the engine: the running containers of
a selection, their restart policy, HEALTHCHECK and published ports, and which
of those ports answer HTTP.

A published port is tried with one ``GET /`` (no redirect followed, 1 s) only
when it is published on a loopback address: init sends nothing beyond this
machine.
"""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING, Any

from chaos.docker_client import engine_errors
from chaos.errors import EngineUnreachable
from chaos.labels import LABEL_HELPER
from chaos.scaffold.model import DEFAULT_HEALTH_INTERVAL, Container, Port, Selection
from chaos.targets.container import COMPOSE_PROJECT, COMPOSE_SERVICE

if TYPE_CHECKING:
    import docker

HTTP_TIMEOUT = 1.0
NANOSECONDS = 1_000_000_000


def running(client: docker.DockerClient, selection: Selection) -> list[Container]:
    """The running containers of ``selection`` (chaosdrill's own helpers left out),
    sorted by name."""
    filters: dict[str, Any] = {"status": "running"}
    if selection.compose_project:
        filters["label"] = [f"{COMPOSE_PROJECT}={selection.compose_project}"]
    elif selection.label:
        filters["label"] = [f"{selection.label[0]}={selection.label[1]}"]
    found = []
    with engine_errors(EngineUnreachable, "listing containers"):
        summaries = client.api.containers(filters=filters)
        for summary in summaries:
            if LABEL_HELPER in (summary.get("Labels") or {}):
                continue
            try:
                attrs = client.api.inspect_container(summary["Id"])
            except Exception as exc:  # gone since it was listed
                if getattr(exc, "status_code", None) == 404:
                    continue
                raise
            found.append(container_facts(attrs))
    return sorted(found, key=lambda c: c.name)


def running_summary(client: docker.DockerClient) -> tuple[list[str], int]:
    """The Compose projects with a running container (sorted), and how many
    containers run in all; chaosdrill's own helpers are not counted."""
    with engine_errors(EngineUnreachable, "listing containers"):
        summaries = client.api.containers(filters={"status": "running"})
    labels = [s.get("Labels") or {} for s in summaries]
    ours = [lab for lab in labels if LABEL_HELPER not in lab]
    projects = sorted({lab[COMPOSE_PROJECT] for lab in ours if lab.get(COMPOSE_PROJECT)})
    return projects, len(ours)


def container_facts(attrs: dict[str, Any], *, try_http: bool = True) -> Container:
    """A :class:`Container` from ``docker inspect``'s answer."""
    config = attrs.get("Config") or {}
    labels = config.get("Labels") or {}
    policy = ((attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or None
    return Container(
        name=str(attrs.get("Name", "")).lstrip("/"),
        image=str(config.get("Image", "")),
        project=labels.get(COMPOSE_PROJECT),
        service=labels.get(COMPOSE_SERVICE),
        restart_policy=None if policy == "no" else policy,
        health_interval=health_interval(config.get("Healthcheck")),
        ports=tuple(_ports(attrs, try_http)),
    )


def health_interval(healthcheck: dict[str, Any] | None) -> float | None:
    """Seconds between HEALTHCHECK runs; None without one (or with ``NONE``)."""
    if not healthcheck:
        return None
    test = healthcheck.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    interval = healthcheck.get("Interval") or 0
    return interval / NANOSECONDS if interval else DEFAULT_HEALTH_INTERVAL


def _ports(attrs: dict[str, Any], try_http: bool) -> list[Port]:
    published = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    ports: list[Port] = []
    seen: set[int] = set()
    for key in sorted(published, key=_port_number):
        number, _, protocol = key.partition("/")
        if protocol != "tcp":
            continue
        for binding in published[key] or []:
            host_port = int(binding.get("HostPort") or 0)
            if not host_port or host_port in seen:
                continue  # the IPv6 twin of a port already listed
            seen.add(host_port)
            port = Port(int(number), str(binding.get("HostIp") or ""), host_port)
            if try_http and port.on_loopback:
                port = Port(port.container_port, port.host_ip, host_port, http_status(port))
            ports.append(port)
    return ports


def _port_number(key: str) -> int:
    number = key.partition("/")[0]
    return int(number) if number.isdigit() else 0


def http_status(port: Port) -> int | None:
    """The status of one ``GET /`` on the port, or None when it does not speak HTTP
    (or does not answer within a second)."""
    host = port.host.strip("[]")
    conn = http.client.HTTPConnection(host, port.host_port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", "/", headers={"User-Agent": "chaosdrill-init", "Connection": "close"})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
