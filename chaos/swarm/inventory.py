"""The inventory: which engines make up a swarm, and how to reach and control each node.

chaosdrill talks to a swarm through its nodes' engines: a manager's engine for
the swarm API (nodes, services, tasks), each node's own engine for the task
containers that run there. The inventory names those endpoints. ``chaosdrill
lab up`` writes one for the lab; for a real cluster users write their own
(YAML or JSON)::

    name: prod-eu
    nodes:
      - name: mgr-1                  # the node's hostname in `docker node ls`
        role: manager
        endpoint: tcp://10.0.0.11:2376
        tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
      - name: worker-1
        role: worker
        endpoint: ssh://ops@10.0.0.21
        control: {type: aws-ec2, instance: i-0abc}   # read by a node-controller plugin

``control`` says how the node itself is stopped, paused or cut off; it is
opaque to the core: its ``type`` names a node controller registered through
the ``chaosdrill_register_node_controllers`` hook, whose ``Control`` model
validates the rest (see :mod:`chaos.swarm.control`; the lab's controller
handles ``type: lab``). Without it, node power faults refuse the
node with a clear message; swarm-level faults (drain, services, tasks) work.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chaos.errors import UsageError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsFiles(_Model):
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True

    def docker_config(self) -> Any:
        """The docker SDK's ``TLSConfig`` for these files."""
        import docker.tls

        cert = (self.cert, self.key) if self.cert and self.key else None
        verify: Any = self.ca if (self.verify and self.ca) else self.verify
        return docker.tls.TLSConfig(client_cert=cert, verify=verify)


API_VERSION = "1.41"
"""Spoken to every node without asking first: a client that asks the version
on creation fails on a stopped node before any call is made, and would ask
before a TLS client is set up (below). Newer engines still serve it."""


def docker_client(
    endpoint: str, tls: TlsFiles | None, *, version: str = API_VERSION, **options: Any
) -> Any:
    """A docker SDK client of ``endpoint``, with ``tls``'s files when given, whose
    calls are bounded and retried as :mod:`chaos.bounded_client` says. It
    connects on its first call.

    A TLS client ignores the environment: requests lets ``$REQUESTS_CA_BUNDLE``
    or ``$CURL_CA_BUNDLE`` replace the CA a session was given, and the engine's
    certificate must be checked against the inventory's CA, not the system's.
    """
    from chaos.bounded_client import BoundedDockerClient

    client = BoundedDockerClient(
        base_url=endpoint,
        tls=tls.docker_config() if tls is not None else False,
        version=version,
        **options,
    )
    if tls is not None:
        client.api.trust_env = False
    return client


class InventoryNode(_Model):
    """One node of the swarm under test: its name, role, engine and how to control it."""

    name: str = Field(min_length=1)
    """The node's hostname as the swarm reports it (``docker node ls``)."""
    role: Literal["manager", "worker"]
    endpoint: str = Field(min_length=1)
    """Where this node's engine answers: ``tcp://host:port``, ``ssh://user@host``
    or ``unix:///path``."""
    tls: TlsFiles | None = None
    address: str | None = None
    """The node's address inside the swarm (its advertise address): an IPv4
    or IPv6 address, nothing else, since it goes into iptables rules."""
    control: dict[str, Any] = Field(default_factory=dict)
    """How to stop, start, pause and isolate the node; ``type`` picks the plugin."""

    @field_validator("address")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(
                f"address must be an IP address such as 10.0.0.11 or fd00::11, got {value!r}"
            ) from None
        if getattr(ip, "scope_id", None):
            raise ValueError(
                f"address must be an IP address without a %zone, got {value!r}: "
                f"write {value.partition('%')[0]}"
            )
        return str(ip)

    @property
    def control_type(self) -> str | None:
        value = self.control.get("type")
        return str(value) if value else None


class Inventory(_Model):
    """The swarm under test: its nodes (``--lab`` or ``--inventory``)."""

    name: str = "swarm"
    nodes: list[InventoryNode] = Field(min_length=1)
    features: dict[str, bool] = Field(default_factory=dict)
    """What the platform can do, as measured when the inventory was written
    (for the lab: ``routing_mesh`` is false where the kernel lacks IPVS)."""
    source: str | None = Field(default=None, exclude=True)
    """The file this inventory was read from, for messages."""

    def node(self, name: str) -> InventoryNode | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def managers(self) -> list[InventoryNode]:
        return [n for n in self.nodes if n.role == "manager"]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2) + "\n"


def load_inventory(path: str | Path) -> Inventory:
    """Read an inventory (YAML or JSON); raise UsageError naming the file and field."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read inventory {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UsageError(f"{where}: not valid YAML or JSON") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: an inventory is a mapping with a `nodes` list")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top)"
        message = first["msg"].removeprefix("Value error, ")
        raise UsageError(
            f"{path}: inventory field {field}{_node_named(data, first['loc'])}: {message}"
        ) from None
    names = [n.name for n in inventory.nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"{path}: node {duplicates[0]} is listed twice")
    if not inventory.managers:
        raise UsageError(f"{path}: no manager node: the swarm API is only on managers")
    return inventory.model_copy(update={"source": str(path)})


def _node_named(data: dict[Any, Any], loc: tuple[Any, ...]) -> str:
    """`` (node mgr-1)`` when an error is in a node that has a name, else nothing."""
    nodes = data.get("nodes")
    if len(loc) < 2 or loc[0] != "nodes" or not isinstance(nodes, list):
        return ""
    index = loc[1]
    if not isinstance(index, int) or not 0 <= index < len(nodes):
        return ""
    node = nodes[index]
    name = node.get("name") if isinstance(node, dict) else None
    return f" (node {name})" if isinstance(name, str) and name else ""
