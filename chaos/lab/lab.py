"""The Swarm lab: a real multi-node swarm of Docker-in-Docker nodes on this host.

``up`` makes a bridge network with a fixed subnet, one container of the
swarm node image per node (each running its own ``dockerd``), initialises a
swarm on the first manager, joins the others, copies the framework's images
into every node and writes the lab's :class:`~chaos.swarm.inventory.Inventory`
to ``<labs dir>/<name>/inventory.json``. ``down`` removes every container,
network and volume labelled ``chaosdrill.lab=<name>``, with or without that
file; of directories it removes only the lab's own (see :func:`down`).
``status`` says what each node's container, engine and swarm membership
look like now. ``load`` copies more local images into every node.

The command line (``chaosdrill lab ...``) is a thin client of these functions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.docker_client import connect, describe_engine_error
from chaos.errors import ChaosError, InvalidArgument, NoLab, UsageError
from chaos.images import BUSYBOX_IMAGE, SWARM_NODE_IMAGE
from chaos.lab.nodes import (
    DEFAULT_ADDR_POOL,
    DIR_LABEL,
    LAB_LABEL,
    MAX_MANAGERS,
    MAX_WORKERS,
    ROLE_LABEL,
    SWARM_PORT,
    LabError,
    NodeSpec,
    check_images_present,
    check_name,
    create_network,
    create_node,
    detect_features,
    host_engine_url,
    lab_labels,
    label_filter,
    load_images,
    log_tail,
    network_name,
    node_client,
    plan_nodes,
    wait_engine,
)
from chaos.lab.tls import TLS_DIR, ServerName, make_lab_tls
from chaos.swarm.inventory import Inventory, InventoryNode, TlsFiles, load_inventory

if TYPE_CHECKING:
    import docker

__all__ = [
    "DEFAULT_IMAGES",
    "DEFAULT_NAME",
    "LAB_DIR_ENV",
    "LAB_LABEL",
    "ROLE_LABEL",
    "DownResult",
    "LabError",
    "LabStatus",
    "LabUp",
    "NodeStatus",
    "down",
    "inventory_path",
    "labs_dir",
    "load",
    "load_lab_inventory",
    "status",
    "up",
]

DEFAULT_NAME = "lab"
LAB_DIR_ENV = "CHAOSDRILL_LAB_DIR"
INVENTORY_FILE = "inventory.json"
MARKER_FILE = ".chaosdrill-lab"
"""Written into every lab directory ``up`` makes (the lab's name): ``down`` removes
no directory without it."""
DEFAULT_IMAGES = (BUSYBOX_IMAGE,)
"""Loaded into every node by ``up``: the demo services and helpers run it."""
UP_TIMEOUT = 180.0
ENGINE_TIMEOUT = 60.0
PROBE_TIMEOUT = 3.0
"""Seconds ``status`` gives a node's engine: a paused node never answers."""

Progress = Callable[[str], None]


# -- where labs are recorded ---------------------------------------------------


def labs_dir() -> Path:
    """``$CHAOSDRILL_LAB_DIR``, else ``<state dir>/labs`` (see :mod:`chaos.ledger`)."""
    if os.environ.get(LAB_DIR_ENV):
        return Path(os.environ[LAB_DIR_ENV])
    from chaos.ledger import default_state_dir

    return default_state_dir() / "labs"


def inventory_path(name: str) -> Path:
    return labs_dir() / check_name(name) / INVENTORY_FILE


def load_lab_inventory(name: str) -> Inventory:
    """The inventory ``chaosdrill lab up`` wrote for lab ``name``; UsageError if none."""
    path = inventory_path(name)
    if not path.is_file():
        raise NoLab(name)
    return load_inventory(path)


def _make_lab_dir(name: str) -> Path:
    """``<labs dir>/<name>``, made for this lab and marked as made by it."""
    path = labs_dir() / name
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        what = "a symbolic link" if path.is_symlink() else "not a directory"
        raise UsageError(
            f"{path} is in the way of lab {name}'s directory (it is {what}); move it away first"
        )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    (path / MARKER_FILE).write_text(f"{name}\n", encoding="utf-8")
    return path


def _not_ours(path: Path, name: str) -> str | None:
    """Why ``path`` is not a directory ``up`` made for lab ``name`` under this labs dir,
    or None when it is (then ``down`` may remove it)."""
    root = labs_dir()
    if path.is_symlink():
        return "it is a symbolic link"
    if not path.is_dir():
        return "it is not a directory"
    try:
        real, real_root = path.resolve(strict=True), root.resolve(strict=True)
    except OSError as exc:
        return f"it cannot be resolved ({exc.strerror or exc})"
    if real != real_root / name:
        return f"it is not lab {name}'s directory in the labs folder {real_root}"
    try:
        marker = (real / MARKER_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return f"it has no {MARKER_FILE} marker: `chaosdrill lab up` did not make it"
    if marker != name:
        return f"its {MARKER_FILE} marker names lab {marker!r}, not {name}"
    return None


def _remove_lab_dirs(name: str, candidates: Sequence[Path]) -> tuple[bool, list[str]]:
    """Remove the lab's own directory among ``candidates``; say why any other is kept."""
    removed, kept = False, []
    for path in dict.fromkeys(candidates):
        if not (path.exists() or path.is_symlink()):
            continue
        reason = _not_ours(path, name)
        if reason:
            kept.append(f"left {path} in place: {reason}")
            continue
        shutil.rmtree(path)
        removed = True
    return removed, kept


def _write_inventory(inventory: Inventory) -> Path:
    path = inventory_path(inventory.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(inventory.to_json(), encoding="utf-8")
    tmp.replace(path)
    return path


# -- results -------------------------------------------------------------------


@dataclass
class LabUp:
    inventory: Inventory
    created: bool
    """False when a healthy lab of that name was already there."""
    seconds: float
    images: list[str]
    path: Path
    removed_partial: bool = False
    """True when a half-made lab of that name (a failed ``up``) was removed first."""
    started: list[str] = field(default_factory=list)
    """Node containers of an existing lab that were stopped or paused and were started."""


@dataclass
class DownResult:
    name: str
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    inventory_removed: bool = False
    kept: list[str] = field(default_factory=list)
    """Directories the lab's labels name that ``down`` left in place, and why: only a
    directory ``up`` made, in this labs folder, is removed."""

    @property
    def removed_anything(self) -> bool:
        return bool(self.containers or self.networks or self.volumes or self.inventory_removed)


@dataclass
class NodeStatus:
    name: str
    role: str
    container: str
    """The host container's state: running, paused, exited, missing..."""
    endpoint: str | None = None
    address: str | None = None
    engine: bool = False
    """The node's engine answered."""
    swarm_role: str | None = None
    availability: str | None = None
    state: str | None = None
    """The swarm's view: ready, down, unknown; None when no manager answered."""
    reachability: str | None = None
    leader: bool = False
    storage_driver: str | None = None


@dataclass
class LabStatus:
    name: str
    nodes: list[NodeStatus]
    features: dict[str, bool]
    network: str | None
    inventory: str | None
    """The inventory file, or None for a half-made lab."""
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


# -- up ------------------------------------------------------------------------


def up(
    name: str = DEFAULT_NAME,
    *,
    managers: int = 3,
    workers: int = 2,
    image: str = SWARM_NODE_IMAGE,
    load: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    storage_driver: str | None = None,
    timeout: float = UP_TIMEOUT,
    client: docker.DockerClient | None = None,
    progress: Progress | None = None,
) -> LabUp:
    """Start lab ``name`` (or find it healthy) and return its inventory.

    ``load`` names local images copied into every node besides
    :data:`DEFAULT_IMAGES`; ``labels`` go on every object besides the lab's own.
    A half-made lab of that name (no inventory: a failed ``up``) is removed
    first. When ``up`` fails it removes everything it made and raises
    :class:`LabError` (or UsageError for bad input, before touching anything).
    """
    check_name(name)
    if not 1 <= managers <= MAX_MANAGERS:
        raise InvalidArgument("managers", f"must be between 1 and {MAX_MANAGERS}, not {managers}")
    if not 0 <= workers <= MAX_WORKERS:
        raise InvalidArgument("workers", f"must be between 0 and {MAX_WORKERS}, not {workers}")
    reserved = sorted(k for k in (labels or {}) if k in (LAB_LABEL, ROLE_LABEL, DIR_LABEL))
    if reserved:
        raise UsageError(f"label {reserved[0]} is set by the lab itself")
    say = progress or (lambda _message: None)
    host = client or connect()
    images = list(dict.fromkeys([*DEFAULT_IMAGES, *load]))
    _ensure_images(host, image, images, say)
    started = time.monotonic()

    removed_partial = False
    if _lab_objects(host, name):
        recorded = _recorded_inventory(host, name)
        if recorded is not None:
            return _existing(host, name, recorded, managers, workers, images, started, say)
        say(f"removing the half-made lab {name} (an earlier `lab up` failed)")
        _remove(host, name)
        removed_partial = True
    _remove_lab_dirs(name, [labs_dir() / name])  # stale: its containers are gone
    lab_dir = _make_lab_dir(name)
    (lab_dir / INVENTORY_FILE).unlink(missing_ok=True)

    deadline = started + timeout
    try:
        inventory = _create(
            host,
            name,
            managers,
            workers,
            image,
            images,
            labels or {},
            storage_driver,
            deadline,
            say,
        )
    except BaseException as exc:
        say("failed: removing what was made")
        with contextlib.suppress(Exception):
            _remove(host, name)
        with contextlib.suppress(OSError):
            _remove_lab_dirs(name, [lab_dir])
        if isinstance(exc, UsageError | KeyboardInterrupt | SystemExit):
            raise
        reason = str(exc) if isinstance(exc, ChaosError) else describe_engine_error(exc)
        raise LabError(f"lab {name} could not be started: {reason}") from exc
    path = _write_inventory(inventory)
    return LabUp(inventory, True, time.monotonic() - started, images, path, removed_partial)


def _ensure_images(host: docker.DockerClient, image: str, images: list[str], say: Progress) -> None:
    """The node image (built when it is the default one), and every image to load."""
    import docker.errors

    from chaos.images import build_swarm_node_image, ensure_busybox_image

    try:
        host.images.get(image)
    except docker.errors.ImageNotFound:
        if image != SWARM_NODE_IMAGE:
            raise UsageError(f"node image {image} is not on the local engine") from None
        say(f"building {image} with debootstrap (once; a minute or two)")
        build_swarm_node_image(host, image)
    if BUSYBOX_IMAGE in images:
        ensure_busybox_image(host)
    check_images_present(host, images)


def _create(
    host: docker.DockerClient,
    name: str,
    managers: int,
    workers: int,
    image: str,
    images: list[str],
    labels: Mapping[str, str],
    storage_driver: str | None,
    deadline: float,
    say: Progress,
) -> Inventory:
    net_name = network_name(name)
    directory = str(labs_dir().resolve())
    _network, subnet = create_network(host, name, lab_labels(name, None, labels, directory))
    say(f"network {net_name} {subnet}")
    specs = plan_nodes(name, subnet, managers, workers)
    certificates = make_lab_tls(
        labs_dir() / name / TLS_DIR,
        name,
        [ServerName(s.hostname, s.container_name, s.address) for s in specs],
    )
    tls = TlsFiles(**certificates.as_inventory())
    containers: dict[str, str] = {}
    for spec in specs:
        containers[spec.hostname] = create_node(
            host,
            spec,
            image=image,
            network=net_name,
            labels=lab_labels(name, spec.role, labels, directory),
            tls_dir=certificates.node_dir(spec.hostname),
            storage_driver=storage_driver,
        )
    for spec in specs:
        host.api.start(containers[spec.hostname])
    say(f"nodes started: {', '.join(s.hostname for s in specs)}")

    engine_deadline = min(deadline, time.monotonic() + ENGINE_TIMEOUT)
    with ThreadPoolExecutor(len(specs)) as pool:
        futures = [
            pool.submit(wait_engine, host, s, containers[s.hostname], engine_deadline, tls)
            for s in specs
        ]
        clients = {s.hostname: f.result() for s, f in zip(specs, futures, strict=True)}
    nodes = [
        InventoryNode(
            name=s.hostname,
            role=s.role,
            endpoint=s.endpoint,
            tls=tls,
            address=s.address,
            control={
                "type": "lab",
                "lab": name,
                "container": containers[s.hostname],
                "container_name": s.container_name,
                "network": net_name,
                "engine": host_engine_url(),
            },
        )
        for s in specs
    ]
    try:
        drivers = {clients[s.hostname].info().get("Driver") for s in specs}
        say(f"engines answer (storage driver {', '.join(sorted(d for d in drivers if d))})")
        _form_swarm(host, specs, clients, containers, deadline, say)
        load_images(host, nodes, images)
        say(f"images loaded: {', '.join(images)}")
    finally:
        for client in clients.values():
            client.close()
    return Inventory(name=name, nodes=nodes, features=detect_features())


def _form_swarm(
    host: docker.DockerClient,
    specs: list[NodeSpec],
    clients: dict[str, docker.DockerClient],
    containers: dict[str, str],
    deadline: float,
    say: Progress,
) -> None:
    """Init on the first manager; managers join one at a time (each join changes the
    Raft membership), workers all at once; then wait for every node to be ready."""
    first, *others = specs
    leader = clients[first.hostname]
    leader.swarm.init(
        advertise_addr=first.address,
        listen_addr=f"0.0.0.0:{SWARM_PORT}",
        default_addr_pool=[DEFAULT_ADDR_POOL],
        subnet_size=24,
    )
    tokens = leader.swarm.attrs["JoinTokens"]
    remote = [f"{first.address}:{SWARM_PORT}"]

    def join(spec: NodeSpec) -> None:
        try:
            clients[spec.hostname].swarm.join(
                remote_addrs=remote,
                join_token=tokens["Manager" if spec.role == "manager" else "Worker"],
                advertise_addr=spec.address,
                listen_addr=f"0.0.0.0:{SWARM_PORT}",
            )
        except Exception as exc:
            raise LabError(
                f"lab node {spec.hostname} could not join the swarm: "
                f"{describe_engine_error(exc)}; {log_tail(host, containers[spec.hostname])}"
            ) from None

    for spec in others:
        if spec.role == "manager":
            join(spec)
    workers = [s for s in others if s.role == "worker"]
    if workers:
        with ThreadPoolExecutor(len(workers)) as pool:
            for future in [pool.submit(join, s) for s in workers]:
                future.result()
    _wait_ready(leader, specs, deadline)
    say(f"swarm formed: {first.hostname} initialised, {len(others)} joined, all ready")


def _wait_ready(
    leader: docker.DockerClient, specs: list[NodeSpec], deadline: float, interval: float = 0.5
) -> None:
    while True:
        problems = _swarm_problems(leader.api.nodes(), specs)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise LabError(f"the lab's swarm is not ready in time: {'; '.join(problems)}")
        time.sleep(interval)


def _swarm_problems(
    nodes: list[dict[str, Any]], specs: Sequence[NodeSpec | InventoryNode]
) -> list[str]:
    seen = _by_hostname(nodes)
    problems = []
    for spec in specs:
        name = spec.hostname if isinstance(spec, NodeSpec) else spec.name
        node = seen.get(name)
        if node is None:
            problems.append(f"{name} is not in the swarm")
            continue
        state = (node.get("Status") or {}).get("State")
        if state != "ready":
            problems.append(f"{name} is {state}")
        if spec.role == "manager":
            reach = (node.get("ManagerStatus") or {}).get("Reachability")
            if reach != "reachable":
                problems.append(f"manager {name} is {reach or 'not a manager'}")
    if not any((n.get("ManagerStatus") or {}).get("Leader") for n in seen.values()):
        problems.append("no leader")
    return problems


def _by_hostname(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One entry per hostname: a node that left and joined again is listed twice,
    once down; the ready one (else the newest) is the node."""
    best: dict[str, dict[str, Any]] = {}
    for node in nodes:
        name = (node.get("Description") or {}).get("Hostname", "")
        old = best.get(name)
        if old is None or _rank(node) > _rank(old):
            best[name] = node
    return best


def _rank(node: dict[str, Any]) -> tuple[bool, str]:
    return ((node.get("Status") or {}).get("State") == "ready", node.get("UpdatedAt", ""))


def _existing(
    host: docker.DockerClient,
    name: str,
    path: Path,
    managers: int,
    workers: int,
    images: list[str],
    started: float,
    say: Progress,
) -> LabUp:
    """A lab with an inventory: start its stopped nodes, check it, load the images."""
    inventory = load_inventory(path)
    have = (len(inventory.managers), len(inventory.nodes) - len(inventory.managers))
    if have != (managers, workers):
        raise UsageError(
            f"lab {name} exists with {have[0]} managers and {have[1]} workers; take it "
            "down first to start one of another size"
        )
    started_nodes = []
    for container in host.containers.list(all=True, filters=label_filter(name)):
        if container.status == "paused":
            say(f"unpausing node container {container.name}")
            container.unpause()
        elif container.status != "running":
            say(f"starting stopped node container {container.name}")
            container.start()
        else:
            continue
        started_nodes.append(container.name)
    deadline = time.monotonic() + ENGINE_TIMEOUT
    while True:
        current = status(name, client=host)
        if current.healthy:
            break
        if time.monotonic() > deadline:
            raise LabError(
                f"lab {name} exists but is not healthy: {'; '.join(current.problems)}; "
                "take it down and start it again"
            )
        time.sleep(1)
    load_images(host, inventory.nodes, images)
    return LabUp(inventory, False, time.monotonic() - started, images, path, started=started_nodes)


# -- load ----------------------------------------------------------------------


def load(
    name: str, images: Sequence[str], *, client: docker.DockerClient | None = None
) -> Inventory:
    """Copy local images into every node of lab ``name`` (nodes in parallel)."""
    if not images:
        raise UsageError("name at least one image to load")
    host = client or connect()
    path = _recorded_inventory(host, name)
    inventory = load_inventory(path) if path else load_lab_inventory(name)
    check_images_present(host, images)
    load_images(host, inventory.nodes, images)
    return inventory


# -- status --------------------------------------------------------------------


def status(name: str, *, client: docker.DockerClient | None = None) -> LabStatus:
    """Every node's container, engine and swarm state now; UsageError if no such lab."""
    check_name(name)
    host = client or connect()
    path = _recorded_inventory(host, name)
    inventory = load_inventory(path) if path else None
    containers = host.containers.list(all=True, filters=label_filter(name))
    networks = host.networks.list(filters=label_filter(name))
    if inventory is None and not containers and not networks:
        raise NoLab(name)
    problems: list[str] = []
    if inventory is None:
        problems.append("no inventory: a half-made lab (an earlier `lab up` failed)")
        nodes = [
            NodeStatus(
                name=c.attrs["Config"].get("Hostname", c.name),
                role=c.labels.get(ROLE_LABEL, "?"),
                container=c.status,
            )
            for c in sorted(containers, key=lambda c: c.name)
        ]
        return LabStatus(name, nodes, {}, networks[0].name if networks else None, None, problems)

    by_id = {c.id: c for c in containers}
    nodes = []
    for node in inventory.nodes:
        container = by_id.get(str(node.control.get("container")))
        nodes.append(
            NodeStatus(
                name=node.name,
                role=node.role,
                container=container.status if container else "missing",
                endpoint=node.endpoint,
                address=node.address,
            )
        )
    _probe_engines(inventory, nodes)
    swarm = _swarm_view(inventory, nodes)
    for node, state in zip(inventory.nodes, nodes, strict=True):
        if state.container != "running":
            problems.append(f"{node.name}: container {state.container}")
        elif not state.engine:
            problems.append(f"{node.name}: engine does not answer at {node.endpoint}")
        seen = swarm.get(node.name)
        if seen is None:
            continue
        spec, status_ = seen.get("Spec") or {}, seen.get("Status") or {}
        manager = seen.get("ManagerStatus") or {}
        state.swarm_role = spec.get("Role")
        state.availability = spec.get("Availability")
        state.state = status_.get("State")
        state.reachability = manager.get("Reachability")
        state.leader = bool(manager.get("Leader"))
    if swarm:
        problems += [
            p for p in _swarm_problems(list(swarm.values()), inventory.nodes) if p not in problems
        ]
        problems += [
            f"{s.name}: availability {s.availability}"
            for s in nodes
            if s.availability and s.availability != "active"
        ]
    else:
        problems.append("no manager's swarm API answers")
    return LabStatus(name, nodes, dict(inventory.features), network_name(name), str(path), problems)


def _probe_engines(inventory: Inventory, nodes: list[NodeStatus]) -> None:
    def probe(node: InventoryNode) -> tuple[bool, str | None]:
        try:
            client = node_client(node.endpoint, timeout=PROBE_TIMEOUT, tls=node.tls)
        except Exception:
            return False, None
        try:
            return True, client.info().get("Driver")
        except Exception:
            return True, None
        finally:
            client.close()

    with ThreadPoolExecutor(len(nodes)) as pool:
        results = list(pool.map(probe, inventory.nodes))
    for state, (engine, driver) in zip(nodes, results, strict=True):
        state.engine, state.storage_driver = engine, driver


def _swarm_view(inventory: Inventory, nodes: list[NodeStatus]) -> dict[str, dict[str, Any]]:
    """The swarm's nodes by hostname, from the first manager whose swarm API answers."""
    answering = {s.name for s in nodes if s.engine}
    for manager in inventory.managers:
        if manager.name not in answering:
            continue
        try:
            client = node_client(manager.endpoint, timeout=PROBE_TIMEOUT, tls=manager.tls)
        except Exception:
            continue
        try:
            return _by_hostname(client.api.nodes())
        except Exception:
            continue
        finally:
            client.close()
    return {}


# -- down ----------------------------------------------------------------------


def down(name: str, *, client: docker.DockerClient | None = None) -> DownResult:
    """Remove every container, network and volume labelled ``chaosdrill.lab=<name>``
    and the lab's directory (inventory, certificates); UsageError when there is no
    such lab.

    A directory is removed only when ``up`` made it for this lab (it carries the
    marker) and it is ``<labs dir>/<name>`` once symlinks are resolved. Any other
    directory a label names is left in place, and ``kept`` says why.
    """
    check_name(name)
    host = client or connect()
    recorded = _recorded_inventory(host, name)
    result = _remove(host, name)
    candidates = [labs_dir() / name, *([recorded.parent] if recorded else [])]
    result.inventory_removed, result.kept = _remove_lab_dirs(name, candidates)
    if not result.removed_anything and not result.kept:
        raise UsageError(f"no lab named {name}; nothing to remove")
    return result


def _lab_objects(host: docker.DockerClient, name: str) -> list[Any]:
    flt = label_filter(name)
    return [
        *host.networks.list(filters=flt),
        *host.containers.list(all=True, filters=flt),
        *host.volumes.list(filters=flt),
    ]


def _recorded_inventory(host: docker.DockerClient, name: str) -> Path | None:
    """The lab's inventory file: in this labs dir, else where its objects say it was
    written (a lab made with another ``$CHAOSDRILL_LAB_DIR``); None if there is none."""
    path = inventory_path(name)
    if path.is_file():
        return path
    for obj in _lab_objects(host, name):
        directory = (
            obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
        ).get(DIR_LABEL)
        if directory and (Path(directory) / name / INVENTORY_FILE).is_file():
            return Path(directory) / name / INVENTORY_FILE
    return None


def _remove(host: docker.DockerClient, name: str) -> DownResult:
    """Remove the lab's objects: containers, then networks, then volumes."""
    import docker.errors

    flt = label_filter(name)
    result = DownResult(name)
    containers = host.containers.list(all=True, filters=flt)
    with ThreadPoolExecutor(max(1, min(8, len(containers)))) as pool:
        for container, error in zip(
            containers, pool.map(_remove_container, containers), strict=True
        ):
            if error:
                raise LabError(f"cannot remove lab container {container.name}: {error}")
            result.containers.append(container.name)
    for network in host.networks.list(filters=flt):
        network.reload()
        for attached in network.containers:  # not the lab's (those are gone): detach them
            with contextlib.suppress(docker.errors.APIError):
                network.disconnect(attached, force=True)
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            raise LabError(
                f"cannot remove lab network {network.name}: {describe_engine_error(exc)}"
            ) from None
        result.networks.append(network.name)
    for volume in host.volumes.list(filters=flt):
        _remove_volume(volume)
        result.volumes.append(volume.name)
    return result


def _remove_container(container: Any) -> str | None:
    import docker.errors

    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        return describe_engine_error(exc)
    return None


def _remove_volume(volume: Any, attempts: int = 10) -> None:
    """A volume can stay "in use" for a moment after its container is removed."""
    import docker.errors

    for attempt in range(attempts):
        try:
            volume.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if attempt == attempts - 1:
                raise LabError(
                    f"cannot remove lab volume {volume.name}: {describe_engine_error(exc)}"
                ) from None
            time.sleep(0.5)
