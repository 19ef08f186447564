"""The facts ``chaosdrill init`` builds an experiment from, and the services
they group into. Pure data: nothing here talks to an engine."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chaos.errors import UsageError

RESTARTING = ("always", "unless-stopped", "on-failure")
"""Restart policies that bring a crashed container back (a crash exits non-zero,
so ``on-failure`` applies too)."""
DEFAULT_HEALTH_INTERVAL = 30.0
"""Docker's HEALTHCHECK interval when the image sets none, in seconds."""
LOOPBACK_BINDINGS = ("", "0.0.0.0", "::", "127.0.0.1", "::1")
"""Host addresses a published port answers on from 127.0.0.1."""


@dataclass(frozen=True)
class Port:
    """A published TCP port."""

    container_port: int
    host_ip: str
    host_port: int
    http_status: int | None = None
    """What ``GET /`` answered when init looked; None when nothing answered HTTP
    or the port was not tried (not published on a loopback address)."""

    @property
    def on_loopback(self) -> bool:
        return self.host_ip in LOOPBACK_BINDINGS or self.host_ip.startswith("127.")

    @property
    def host(self) -> str:
        """Where a probe on this machine reaches it."""
        if self.host_ip in ("", "0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.host_port}/"


@dataclass(frozen=True)
class Container:
    """One running container, as the engine described it."""

    name: str
    image: str
    project: str | None = None
    """Its Compose project (label ``com.docker.compose.project``)."""
    service: str | None = None
    """Its Compose service (label ``com.docker.compose.service``)."""
    restart_policy: str | None = None
    """None for ``no``."""
    health_interval: float | None = None
    """Seconds between HEALTHCHECK runs; None when it has no HEALTHCHECK."""
    ports: tuple[Port, ...] = ()

    @property
    def restarts(self) -> bool:
        return self.restart_policy in RESTARTING

    @property
    def http(self) -> Port | None:
        """The first published port that answered HTTP."""
        return next((p for p in self.ports if p.http_status is not None), None)


@dataclass(frozen=True)
class Selection:
    """Which containers ``init`` looks at: a Compose project, a label, or (neither)
    the one Compose project that is running."""

    compose_project: str | None = None
    label: tuple[str, str] | None = None

    def describe(self) -> str:
        if self.compose_project:
            return f"the Compose project {self.compose_project}"
        if self.label:
            return f"the containers labelled {self.label[0]}={self.label[1]}"
        return "the running containers"

    def nothing_running(self) -> str:
        """Why there is nothing to inspect, when the selection found no container."""
        if self.compose_project:
            return f"no container of the Compose project {self.compose_project} is running"
        if self.label:
            return f"no running container is labelled {self.label[0]}={self.label[1]}"
        return "no container is running"


def parse_label(text: str) -> tuple[str, str]:
    """``KEY=VALUE``, both non-empty: an empty one would select every container."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value:
        raise UsageError(f"--label needs KEY=VALUE with both non-empty, got {text!r}")
    if key != key.strip() or any(ord(c) < 32 for c in text):
        raise UsageError(f"--label {text!r}: a label key has no spaces or control characters")
    return key, value


@dataclass(frozen=True)
class Service:
    """Containers that are replicas of one thing: a Compose service, or a single
    container outside Compose. ``target`` is its name in the experiment."""

    target: str
    replicas: tuple[Container, ...]

    @property
    def project(self) -> str | None:
        return self.replicas[0].project

    @property
    def service(self) -> str | None:
        return self.replicas[0].service

    @property
    def restarts(self) -> bool:
        return all(c.restarts for c in self.replicas)

    @property
    def restart_policy(self) -> str | None:
        return self.replicas[0].restart_policy

    @property
    def health_interval(self) -> float | None:
        intervals = [c.health_interval for c in self.replicas if c.health_interval is not None]
        return max(intervals) if intervals else None

    @property
    def http(self) -> Port | None:
        """The endpoint of the first replica that publishes HTTP."""
        return next((c.http for c in self.replicas if c.http is not None), None)

    def selector(self, selection: Selection) -> dict[str, object]:
        """Compose project and service when it has them (a recreated container is
        still found), else its name; and the label asked for, so the selection
        never reaches past what the user named."""
        select: dict[str, object] = {}
        if selection.label:
            select["labels"] = {selection.label[0]: selection.label[1]}
        if self.project and self.service:
            select["compose_project"] = self.project
            select["compose_service"] = self.service
        else:
            select["name"] = self.replicas[0].name
        return select


def group(containers: list[Container]) -> list[Service]:
    """Services by Compose project and service (a container outside Compose is a
    service of its own), sorted by target name. Target names are the service's
    (or container's) name, made unique with the project when two projects share one."""
    groups: dict[tuple[str | None, str], list[Container]] = {}
    for container in sorted(containers, key=lambda c: c.name):
        key = (
            (container.project, container.service)
            if container.project and container.service
            else (None, container.name)
        )
        groups.setdefault(key, []).append(container)
    short = [_target_name(name) for _, name in groups]
    services = []
    for (project, name), replicas in groups.items():
        target = _target_name(name)
        if short.count(target) > 1 and project:
            target = _target_name(f"{project}-{name}")
        services.append(Service(target, tuple(replicas)))
    return sorted(services, key=lambda s: s.target)


_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _target_name(name: str) -> str:
    """Letters, digits, ``_`` and ``-``, starting with a letter and not a word YAML
    reads as a boolean or null: safe unquoted as a key, a reference and in
    ``${name_url}``."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")
    if not cleaned[:1].isalpha() or not cleaned.isascii() or cleaned.lower() in _YAML_WORDS:
        cleaned = f"svc-{cleaned}".rstrip("-")
    return cleaned


def pick_victim(services: list[Service]) -> Service:
    """The service whose replica the experiment crashes: one with a restart policy
    if any (the experiment then asks a question it can pass), then one users reach
    over HTTP, then one with a HEALTHCHECK, then by name."""
    return min(
        services,
        key=lambda s: (not s.restarts, s.http is None, s.health_interval is None, s.target),
    )
