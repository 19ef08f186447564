"""The Swarm lab on the real engine: a swarm that forms, an inventory that matches,
engines on loopback only, images in every node, and nothing left after ``down``.

Most tests share the session's lab (``session_lab``); the ones that take a lab
down, or break one on purpose, make a small lab of their own.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos.errors import UsageError
from chaos.images import BUSYBOX_IMAGE
from chaos.lab import lab
from chaos.lab.nodes import LAB_LABEL, LabError, detect_features, network_name
from tests.conftest import chaosdrill, labels_for_test, wait_for


def lab_objects(client: Any, name: str) -> list[str]:
    flt = {"label": f"{LAB_LABEL}={name}"}
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=flt)),
        *(f"network {n.name}" for n in client.networks.list(filters=flt)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=flt)),
    ]


def swarm_nodes(session_lab: Any) -> list[dict[str, Any]]:
    manager = session_lab.inventory.managers[0].name
    return session_lab.client(manager).api.nodes()


@pytest.fixture
def own_lab(docker_client: Any, request: Any) -> Iterator[str]:
    """A name for a lab of the test's own, removed afterwards whatever happened."""
    name = f"t{uuid.uuid4().hex[:6]}"
    yield name
    with contextlib.suppress(UsageError):
        lab.down(name, client=docker_client)
    assert lab_objects(docker_client, name) == []


def test_the_swarm_has_every_node_ready_and_one_leader(session_lab):
    nodes = swarm_nodes(session_lab)
    by_name = {n["Description"]["Hostname"]: n for n in nodes}
    assert sorted(by_name) == sorted(n.name for n in session_lab.inventory.nodes)
    assert all(n["Status"]["State"] == "ready" for n in nodes)
    assert all(n["Spec"]["Availability"] == "active" for n in nodes)
    managers = [n for n in nodes if n["Spec"]["Role"] == "manager"]
    assert sorted(n["Description"]["Hostname"] for n in managers) == [
        f"{session_lab.name}-m{i}" for i in (1, 2, 3)
    ]
    assert all(n["ManagerStatus"]["Reachability"] == "reachable" for n in managers)
    assert sum(bool(n["ManagerStatus"].get("Leader")) for n in managers) == 1
    worker = by_name[f"{session_lab.name}-w1"]
    assert worker["Spec"]["Role"] == "worker"
    # every node advertises its fixed address on the lab network
    for node in session_lab.inventory.nodes:
        assert by_name[node.name]["Status"]["Addr"] == node.address


def test_the_inventory_file_describes_the_lab(session_lab, docker_client):
    path = lab.inventory_path(session_lab.name)
    assert path.is_file()
    assert lab.load_lab_inventory(session_lab.name).nodes == session_lab.inventory.nodes
    data = json.loads(path.read_text())
    certs = path.parent.resolve() / "tls"
    assert data["name"] == session_lab.name
    assert data["features"] == detect_features()
    assert isinstance(data["features"]["routing_mesh"], bool)
    network = docker_client.networks.get(network_name(session_lab.name))
    assert network.attrs["Labels"][LAB_LABEL] == session_lab.name
    assert [n["role"] for n in data["nodes"]] == ["manager"] * 3 + ["worker"]
    for node in data["nodes"]:
        container = docker_client.containers.get(node["control"]["container"])
        assert node["control"] == {
            "type": "lab",
            "lab": session_lab.name,
            "container": container.id,
            "container_name": container.name,
            "network": network.name,
            "engine": "unix:///var/run/docker.sock",
        }
        short = node["name"].rsplit("-", 1)[1]
        assert container.name == f"chaosdrill-lab-{session_lab.name}-{short}"
        assert container.attrs["Config"]["Hostname"] == node["name"]
        assert container.labels[LAB_LABEL] == session_lab.name
        assert container.labels["chaosdrill.lab.role"] == node["role"]
        ip = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
        assert ip == node["address"]
        assert node["endpoint"].startswith("tcp://127.0.0.1:")
        assert node["tls"] == {
            "ca": str(certs / "ca.pem"),
            "cert": str(certs / "cert.pem"),
            "key": str(certs / "key.pem"),
            "verify": True,
        }
        # the node's server files, read-only; never the CA's key or the client's
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        served = mounts["/etc/chaosdrill/tls"]
        assert served["Source"] == str(certs / "nodes" / node["name"])
        assert served["RW"] is False
        assert sorted(p.name for p in Path(served["Source"]).iterdir()) == [
            "ca.pem",
            "cert.pem",
            "key.pem",
        ]
    modes = {str(p.relative_to(certs)): p.stat().st_mode & 0o777 for p in certs.rglob("*")}
    assert (certs.stat().st_mode & 0o777) == 0o700
    assert modes["ca-key.pem"] == modes["key.pem"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.endswith("key.pem"))
    assert all(mode == 0o700 for name, mode in modes.items() if not name.endswith(".pem"))


def test_engines_are_published_on_loopback_only(session_lab):
    for node in session_lab.inventory.nodes:
        container = session_lab.host_container(node.name)
        ports = container.attrs["NetworkSettings"]["Ports"]
        bindings = [b for published in ports.values() if published for b in published]
        assert bindings, f"{node.name} publishes nothing"
        assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings
        assert [b["HostPort"] for b in bindings] == [node.endpoint.rsplit(":", 1)[1]]
        # a fixed port, not left to Docker: it survives a restart of the node
        configured = container.attrs["HostConfig"]["PortBindings"]["2376/tcp"]
        assert configured == [{"HostIp": "127.0.0.1", "HostPort": bindings[0]["HostPort"]}]
        assert session_lab.client(node.name).ping()


def test_nodes_keep_the_default_proc_masking(session_lab):
    for node in session_lab.inventory.nodes:
        container = session_lab.host_container(node.name)
        config = container.attrs["HostConfig"]
        assert "/proc/timer_list" in config["MaskedPaths"], config["MaskedPaths"]
        assert "/proc/sys" in config["ReadonlyPaths"], config["ReadonlyPaths"]
        assert "systempaths=unconfined" not in (config.get("SecurityOpt") or [])
        # seen from inside the running node
        code, output = container.exec_run(["sh", "-c", "grep ' /proc/sys ' /proc/mounts"])
        assert code == 0 and " ro," in output.decode(), output
        # masked: empty here (the host's has thousands of bytes)
        code, output = container.exec_run(["sh", "-c", "wc -c < /proc/timer_list"])
        assert code == 0 and output.decode().strip() == "0", output


def test_images_are_in_every_node_and_lab_load_adds_more(session_lab, images):
    for node in session_lab.inventory.nodes:
        session_lab.client(node.name).images.get(BUSYBOX_IMAGE)
    tag = f"chaosdrill/lab-load-test:{uuid.uuid4().hex[:8]}"
    session_lab.host.images.get(images["busybox"]).tag(tag)
    try:
        done = chaosdrill("lab", "load", tag, "--name", session_lab.name)
        assert done.returncode == 0, done.stderr
        assert f"loaded {tag} into 4 nodes" in done.stdout
        for node in session_lab.inventory.nodes:
            session_lab.client(node.name).images.get(tag)
    finally:
        session_lab.host.images.remove(tag)
        for node in session_lab.inventory.nodes:
            with contextlib.suppress(Exception):
                session_lab.client(node.name).images.remove(tag)


def test_a_dnsrr_service_converges(session_lab, request):
    from docker.types import EndpointSpec, ServiceMode

    manager = session_lab.client(session_lab.inventory.managers[0].name)
    service = manager.services.create(
        BUSYBOX_IMAGE,
        ["sleep", "3600"],
        name=f"labtest-{uuid.uuid4().hex[:6]}",
        mode=ServiceMode("replicated", replicas=2),
        endpoint_spec=EndpointSpec(mode="dnsrr"),
        labels=labels_for_test(request.node.name[:60]),
    )
    try:

        def running() -> int:
            tasks = service.tasks(filters={"desired-state": "running"})
            return sum(t["Status"]["State"] == "running" for t in tasks)

        wait_for(lambda: running() == 2, 60, "2 running replicas", interval=0.5)
    finally:
        service.remove()


def test_status_reports_a_healthy_lab(session_lab):
    done = chaosdrill("lab", "status", "--name", session_lab.name, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True and report["problems"] == []
    assert report["features"] == session_lab.inventory.features
    assert [n["name"] for n in report["nodes"]] == [n.name for n in session_lab.inventory.nodes]
    for node in report["nodes"]:
        assert node["container"] == "running" and node["engine"] is True
        assert node["state"] == "ready" and node["availability"] == "active"
    assert sum(n["leader"] for n in report["nodes"]) == 1
    plain = chaosdrill("lab", "status", "--name", session_lab.name)
    assert plain.returncode == 0
    assert f"lab {session_lab.name}: healthy" in plain.stdout
    assert "routing mesh: " in plain.stdout and "leader" in plain.stdout


def test_up_again_finds_the_lab_up(session_lab, docker_client):
    again = lab.up(session_lab.name, managers=3, workers=1, client=docker_client)
    assert again.created is False and again.started == []
    assert again.inventory.nodes == session_lab.inventory.nodes
    other_size = chaosdrill("lab", "up", "--name", session_lab.name, "--workers", "2")
    assert other_size.returncode == 2
    assert "exists with 3 managers and 1 workers" in other_size.stderr
    assert "Traceback" not in other_size.stderr


def test_bad_input_is_a_clear_usage_error(session_lab):
    cases = [
        (("lab", "status", "--name", "nosuchlab"), "no lab named nosuchlab"),
        (("lab", "down", "--name", "nosuchlab"), "no lab named nosuchlab"),
        (("lab", "load", "chaosdrill/busybox:1", "--name", "nosuchlab"), "no lab named nosuchlab"),
        (
            ("lab", "load", "chaosdrill/no-such-image:9", "--name", session_lab.name),
            "image chaosdrill/no-such-image:9 is not on the local engine",
        ),
        (("lab", "up", "--name", "Bad_Name"), "bad lab name 'Bad_Name'"),
        (("lab", "up", "--name", "x", "--managers", "0"), "--managers must be between 1 and"),
        (("lab", "up", "--name", "x", "--load", "no/such:image"), "image no/such:image is not"),
    ]
    for argv, message in cases:
        done = chaosdrill(*argv)
        assert done.returncode == 2, (argv, done.stderr)
        assert message in done.stderr, (argv, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert chaosdrill("lab").returncode == 2


def test_a_node_restarted_keeps_its_address_port_and_swarm(own_lab, docker_client, images):
    """What node faults rely on: a stopped node comes back as the same swarm node."""
    done = lab.up(
        own_lab, managers=1, workers=1, labels=labels_for_test("restart"), client=docker_client
    )
    worker = done.inventory.nodes[1]
    container = docker_client.containers.get(worker.control["container"])
    container.kill()
    container.start()
    container.reload()
    network = network_name(own_lab)
    assert container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"] == worker.address
    port = container.attrs["NetworkSettings"]["Ports"]["2376/tcp"][0]
    assert f"tcp://{port['HostIp']}:{port['HostPort']}" == worker.endpoint
    wait_for(lambda: lab.status(own_lab, client=docker_client).healthy, 60, "the lab healthy")
    nodes = lab.status(own_lab, client=docker_client).nodes
    assert [n.name for n in nodes if n.state == "ready"] == [f"{own_lab}-m1", f"{own_lab}-w1"]


def test_down_leaves_nothing_and_a_half_made_lab_is_replaced(own_lab, docker_client):
    labels = labels_for_test("down")
    first = lab.up(own_lab, managers=1, workers=0, labels=labels, client=docker_client)
    assert first.created and lab_objects(docker_client, own_lab)
    # an `up` that died before writing the inventory leaves a half-made lab...
    first.path.unlink()
    status = chaosdrill("lab", "status", "--name", own_lab)
    assert status.returncode == 4 and "half-made" in status.stdout
    # ...which the next `up` removes and makes again
    again = lab.up(own_lab, managers=1, workers=0, labels=labels, client=docker_client)
    assert again.created and again.removed_partial
    done = chaosdrill("lab", "down", "--name", own_lab)
    assert done.returncode == 0, done.stderr
    assert "removed 1 container, 1 network, 1 volume" in done.stdout
    assert lab_objects(docker_client, own_lab) == []
    assert not lab.inventory_path(own_lab).parent.exists()
    assert "left" not in done.stderr


def test_a_failed_up_removes_everything_it_made(own_lab, docker_client):
    # busybox has no dockerd: the first node cannot start
    with pytest.raises(LabError, match=f"lab {own_lab} could not be started") as failure:
        lab.up(
            own_lab,
            managers=2,
            workers=1,
            image=BUSYBOX_IMAGE,
            labels=labels_for_test("failed-up"),
            client=docker_client,
        )
    assert "dockerd" in str(failure.value)
    assert lab_objects(docker_client, own_lab) == []
    assert not lab.inventory_path(own_lab).exists()


def test_down_removes_no_directory_it_did_not_make(docker_client, tmp_path, request):
    """A label can name any directory: ``down`` removes only the lab's own, in the labs
    folder, and leaves anything else (here a planted label, then a symlink) in place."""
    from chaos.lab.nodes import DIR_LABEL

    name = f"t{uuid.uuid4().hex[:6]}"
    outside = tmp_path / "outside"
    precious = outside / name
    precious.mkdir(parents=True)
    (precious / "inventory.json").write_text("{}")
    (precious / "keep.txt").write_text("mine")
    (precious / lab.MARKER_FILE).write_text(name)  # a marker alone does not make it the lab's
    labels = {LAB_LABEL: name, DIR_LABEL: str(outside), **labels_for_test(request.node.name[:60])}
    link = lab.labs_dir() / name

    def planted() -> Any:
        return docker_client.containers.create(BUSYBOX_IMAGE, ["sleep", "60"], labels=labels)

    made = [planted()]
    try:
        done = chaosdrill("lab", "down", "--name", name)
        assert done.returncode == 0, done.stderr
        assert "removed 1 container" in done.stdout
        assert f"left {precious} in place: it is not lab {name}'s directory" in done.stderr
        assert (precious / "keep.txt").read_text() == "mine"
        assert lab_objects(docker_client, name) == []
        # the lab's own path in the labs folder, but a symlink to the outside directory
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(precious, target_is_directory=True)
        made.append(planted())
        done = chaosdrill("lab", "down", "--name", name)
        assert done.returncode == 0, done.stderr
        assert f"left {link} in place: it is a symbolic link" in done.stderr
        assert "Traceback" not in done.stderr
        assert link.is_symlink() and (precious / "keep.txt").read_text() == "mine"
        assert sorted(p.name for p in precious.iterdir()) == [
            lab.MARKER_FILE,
            "inventory.json",
            "keep.txt",
        ]
    finally:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        if link.is_symlink():
            link.unlink()
