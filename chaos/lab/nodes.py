"""Lab nodes: containers of the swarm node image, each running its own ``dockerd``.

Everything here is about one node or the host engine: names, addresses,
the container spec, waiting for a node's engine, copying images into nodes,
and what the host's kernel allows. :mod:`chaos.lab.lab` puts nodes together
into a swarm.

A node container is not ``--privileged`` (that fails on some hosts); it gets
every capability but ``SYS_RESOURCE``, no seccomp or AppArmor profile, the
host's cgroup tree read-write and a tmpfs ``/run``; ``/proc`` keeps Docker's
default masking (docs/lab.md, "Privileges", says why each is needed). Its ``/var/lib/docker`` is a named volume, so a node that a
fault stopped comes back with its images and its swarm state. Its address on
the lab network is fixed, and so is the loopback port its engine is published
on, because Docker would pick new ones on restart.

Its engine speaks only mutual TLS (:mod:`chaos.lab.tls`): the node's server
certificate and key are mounted read-only, and a client needs the lab's
client certificate.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chaos.docker_client import describe_engine_error
from chaos.errors import ChaosError, UsageError
from chaos.lab.tls import CA_FILE, CERT_FILE, KEY_FILE, NODE_TLS_PATH
from chaos.swarm.inventory import InventoryNode, TlsFiles, docker_client

if TYPE_CHECKING:
    import docker

Role = Literal["manager", "worker"]

LAB_LABEL = "chaosdrill.lab"
ROLE_LABEL = "chaosdrill.lab.role"
DIR_LABEL = "chaosdrill.lab.dir"
"""Where the lab's inventory was written: found again under another labs dir."""
PREFIX = "chaosdrill-lab"
ENGINE_PORT = 2376
"""dockerd's TLS port, inside the node; published on the host's loopback only."""
SWARM_PORT = 2377
HOST_ENGINE = "unix:///var/run/docker.sock"
CGROUP_PARENT = "chaosdrill-lab"
"""Relative, so a node's containers live under the node container's own cgroup:
pausing the node freezes them too, and removing it removes their cgroups."""

NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
MAX_MANAGERS = 9
MAX_WORKERS = 99
SUBNET_CANDIDATES = tuple(f"10.199.{n}.0/24" for n in range(256))
DEFAULT_ADDR_POOL = "10.201.0.0/16"
"""Overlay networks inside the swarm: outside every candidate lab subnet."""
LOGRUS_FIELD = re.compile(r'(msg|error)="((?:[^"\\]|\\.)*)"')
LOG_CONFIG = {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}}


class LabError(ChaosError):
    """The lab could not be made, reached or removed (exit code 4)."""


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise UsageError(
            f"bad lab name {name!r}: use 1 to 24 lower-case letters, digits and dashes "
            "(it becomes part of host names)"
        )
    return name


def network_name(lab: str) -> str:
    return f"{PREFIX}-{lab}"


def lab_labels(
    lab: str,
    role: Role | None = None,
    extra: Mapping[str, str] | None = None,
    directory: str | None = None,
) -> dict[str, str]:
    labels = dict(extra or {})
    labels[LAB_LABEL] = lab
    if role:
        labels[ROLE_LABEL] = role
    if directory:
        labels[DIR_LABEL] = directory
    return labels


def label_filter(lab: str) -> dict[str, str]:
    return {"label": f"{LAB_LABEL}={lab}"}


@dataclass(frozen=True)
class NodeSpec:
    """One node as planned: its names, address and port."""

    lab: str
    role: Role
    index: int
    """1-based within its role: m1, m2... w1, w2..."""
    address: str
    port: int

    @property
    def short(self) -> str:
        return f"{'m' if self.role == 'manager' else 'w'}{self.index}"

    @property
    def hostname(self) -> str:
        """The node's name in the swarm (``docker node ls``) and in the inventory."""
        return f"{self.lab}-{self.short}"

    @property
    def container_name(self) -> str:
        return f"{PREFIX}-{self.lab}-{self.short}"

    @property
    def volume_name(self) -> str:
        return f"{PREFIX}-{self.lab}-{self.short}-data"

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


def host_address(subnet: str, role: Role, index: int) -> str:
    """Managers at .11-.19, workers from .21: below the network's dynamic range (.128/25),
    so a container attached later never takes a stopped node's address."""
    base = subnet.rsplit(".", 1)[0]
    return f"{base}.{(10 if role == 'manager' else 20) + index}"


def dynamic_range(subnet: str) -> str:
    return f"{subnet.rsplit('.', 1)[0]}.128/25"


def plan_nodes(lab: str, subnet: str, managers: int, workers: int) -> list[NodeSpec]:
    ports = free_ports(managers + workers)
    roles: list[tuple[Role, int]] = [("manager", i) for i in range(1, managers + 1)]
    roles += [("worker", i) for i in range(1, workers + 1)]
    return [
        NodeSpec(lab, role, index, host_address(subnet, role, index), port)
        for (role, index), port in zip(roles, ports, strict=True)
    ]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports, held open together so none is picked twice."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def dockerd_command(storage_driver: str | None = None) -> list[str]:
    """The node's dockerd: its unix socket for ``docker exec NODE docker ...``, and tcp
    with mutual TLS (the files mounted at :data:`~chaos.lab.tls.NODE_TLS_PATH`)."""
    command = [
        "dockerd",
        "--host=unix:///var/run/docker.sock",
        f"--host=tcp://0.0.0.0:{ENGINE_PORT}",
        "--tlsverify",
        f"--tlscacert={NODE_TLS_PATH}/{CA_FILE}",
        f"--tlscert={NODE_TLS_PATH}/{CERT_FILE}",
        f"--tlskey={NODE_TLS_PATH}/{KEY_FILE}",
        f"--cgroup-parent={CGROUP_PARENT}",
    ]
    if storage_driver:
        command.append(f"--storage-driver={storage_driver}")
    return command


def create_network(
    host: docker.DockerClient, lab: str, labels: Mapping[str, str]
) -> tuple[Any, str]:
    """Create the lab network on the first free candidate subnet; return it and the subnet."""
    import docker.errors
    from docker.types import IPAMConfig, IPAMPool

    name = network_name(lab)
    last = ""
    for subnet in SUBNET_CANDIDATES:
        gateway = subnet.replace(".0/24", ".1")
        ipam = IPAMConfig(
            pool_configs=[IPAMPool(subnet=subnet, iprange=dynamic_range(subnet), gateway=gateway)]
        )
        try:
            network = host.networks.create(
                name, driver="bridge", ipam=ipam, labels=dict(labels), check_duplicate=True
            )
        except docker.errors.APIError as exc:
            last = describe_engine_error(exc)
            if "overlap" in last.lower():
                continue
            raise LabError(f"cannot create the lab network {name}: {last}") from None
        return network, subnet
    raise LabError(f"no free subnet for the lab network {name} in 10.199.0.0/16: {last}")


def create_node(
    host: docker.DockerClient,
    spec: NodeSpec,
    *,
    image: str,
    network: str,
    labels: Mapping[str, str],
    tls_dir: Path,
    storage_driver: str | None = None,
) -> str:
    """Create (not start) the node's volume and container; return the container id.

    ``tls_dir`` holds the node's server files (:meth:`chaos.lab.tls.LabTls.node_dir`)."""
    api = host.api
    host.volumes.create(spec.volume_name, labels=dict(labels))
    host_config = api.create_host_config(
        cap_add=["ALL"],
        cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        binds={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            spec.volume_name: {"bind": "/var/lib/docker", "mode": "rw"},
            str(tls_dir): {"bind": NODE_TLS_PATH, "mode": "ro"},
        },
        tmpfs={"/run": ""},
        port_bindings={ENGINE_PORT: ("127.0.0.1", spec.port)},
        init=True,
        log_config=LOG_CONFIG,
    )
    # /proc keeps Docker's default masking (kcore, keys, timer_list... hidden;
    # /proc/sys, /proc/sysrq-trigger... read-only): the node's dockerd, its tasks
    # and the node faults work with it (docs/lab.md, "Privileges").
    networking = api.create_networking_config(
        {network: api.create_endpoint_config(ipv4_address=spec.address)}
    )
    created = api.create_container(
        image,
        command=dockerd_command(storage_driver),
        name=spec.container_name,
        hostname=spec.hostname,
        labels=dict(labels),
        ports=[ENGINE_PORT],
        host_config=host_config,
        networking_config=networking,
        detach=True,
    )
    return str(created["Id"])


def node_client(
    endpoint: str, timeout: float = 30, tls: TlsFiles | None = None
) -> docker.DockerClient:
    """A client of a node's engine (with the lab's client certificate when ``tls`` is
    given), every call bounded by ``timeout``; raises (SDK errors) when it does not answer."""
    client: docker.DockerClient = docker_client(endpoint, tls, timeout=timeout)
    try:
        client.ping()
    except BaseException:
        client.close()
        raise
    return client


def wait_engine(
    host: docker.DockerClient,
    spec: NodeSpec,
    container: str,
    deadline: float,
    tls: TlsFiles | None = None,
) -> docker.DockerClient:
    """Poll the node's engine until it answers; LabError naming the node otherwise."""
    last = "no answer"
    while True:
        try:
            return node_client(spec.endpoint, timeout=10, tls=tls)
        except Exception as exc:
            last = describe_engine_error(exc)
        state = host.api.inspect_container(container)["State"]
        if not state.get("Running"):
            raise LabError(
                f"lab node {spec.hostname}: its engine exited "
                f"(exit {state.get('ExitCode')}): {log_tail(host, container)}"
            )
        if time.monotonic() > deadline:
            raise LabError(
                f"lab node {spec.hostname}: its engine did not answer at {spec.endpoint} "
                f"({last}): {log_tail(host, container)}"
            )
        time.sleep(0.2)


def log_tail(host: docker.DockerClient, container: str, lines: int = 3) -> str:
    """The last error lines of a node's dockerd, or its last lines, for messages."""
    try:
        text = host.api.logs(container, tail=40).decode("utf-8", "replace")
    except Exception:
        return "no logs"
    rows = [r for r in text.strip().splitlines() if r.strip()]
    errors = [r for r in rows if "level=error" in r or "level=fatal" in r]
    picked = [_log_message(r) for r in (errors or rows)[-lines:]]
    return " | ".join(picked) or "no logs"


def _log_message(line: str) -> str:
    """``msg`` and ``error`` of a logrus line (dockerd's), else the line."""
    fields = {k: v.replace('\\"', '"') for k, v in LOGRUS_FIELD.findall(line)}
    if "msg" not in fields:
        return line.strip()
    return f"{fields['msg']}: {fields['error']}" if fields.get("error") else fields["msg"]


def check_images_present(host: docker.DockerClient, images: Sequence[str]) -> None:
    import docker.errors

    for image in images:
        try:
            host.images.get(image)
        except docker.errors.ImageNotFound:
            raise UsageError(
                f"image {image} is not on the local engine: build, pull or tag it first "
                "(lab nodes get images only from this engine, never from a registry)"
            ) from None
        except docker.errors.APIError as exc:
            raise UsageError(f"image {image}: {describe_engine_error(exc)}") from None


@contextlib.contextmanager
def saved_images(host: docker.DockerClient, images: Sequence[str]) -> Iterator[list[Path]]:
    """Each image saved once (``docker save``, by name so the tag goes along) to a file."""
    with tempfile.TemporaryDirectory(prefix="chaosdrill-lab-images-") as tmp:
        paths = []
        for number, image in enumerate(images):
            path = Path(tmp) / f"{number}.tar"
            with path.open("wb") as fh:
                for chunk in host.api.get_image(image):
                    fh.write(chunk)
            paths.append(path)
        yield paths


def load_into(node: InventoryNode, archives: Sequence[Path], timeout: float = 300) -> None:
    """Stream saved images into a node's engine; raise on the first the engine refuses."""
    client = node_client(node.endpoint, timeout=timeout, tls=node.tls)
    try:
        for archive in archives:
            with archive.open("rb") as fh:
                for message in client.api.load_image(fh, quiet=True):
                    if isinstance(message, dict) and message.get("error"):
                        raise LabError(str(message["error"]))
    finally:
        client.close()


def load_images(
    host: docker.DockerClient, nodes: Sequence[InventoryNode], images: Sequence[str]
) -> None:
    """Copy ``images`` from the host engine into every node, nodes in parallel.
    Raises UsageError for an image the host lacks, LabError naming a node."""
    images = list(dict.fromkeys(images))
    if not images or not nodes:
        return
    check_images_present(host, images)
    with saved_images(host, images) as archives, ThreadPoolExecutor(len(nodes)) as pool:
        futures = {node.name: pool.submit(load_into, node, archives) for node in nodes}
        failed = []
        for name, future in futures.items():
            try:
                future.result()
            except Exception as exc:
                failed.append(f"{name} ({describe_engine_error(exc)})")
    if failed:
        raise LabError(f"loading {', '.join(images)} failed on {'; '.join(failed)}")


def detect_features() -> dict[str, bool]:
    """What the host kernel allows the lab's swarm, measured, not assumed.

    ``routing_mesh``: the ingress routing mesh needs IPVS. It is there when the
    ``ip_vs`` module is loaded, built in, or installed for the running kernel
    (the kernel loads it on first use).
    """
    return {"routing_mesh": _has_ipvs()}


def _has_ipvs() -> bool:
    if Path("/proc/net/ip_vs").exists() or Path("/sys/module/ip_vs").exists():
        return True
    modules = Path("/lib/modules") / platform.release()
    for index in ("modules.builtin", "modules.dep"):
        with contextlib.suppress(OSError):
            text = (modules / index).read_text(encoding="utf-8", errors="replace")
            if re.search(r"(^|/)ip_vs\.ko", text, re.MULTILINE):
                return True
    return False


def host_engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or HOST_ENGINE
