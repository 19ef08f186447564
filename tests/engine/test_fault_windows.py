"""A fault lasts its ``duration`` from the moment it takes effect: the time spent
arming its safety net is not taken out of it. Checked against what the kernel
and the engine saw, not only against the journal."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chaos import cgroup_freezer
from tests.conftest import chaosdrill

pytestmark = pytest.mark.docker

TOLERANCE = 0.1
"""Seconds the time in effect may differ from ``duration``."""


def run_one(experiment_file, tmp_path: Path, group: str, step: str) -> dict[str, Any]:
    path = experiment_file(f"""
        version: 1
        title: fault window
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {step}
    """)
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = json.loads(Path(json.loads(proc.stdout)["journal"]).read_text())
    (fault,) = journal["faults"]
    assert fault["outcome"] == "reverted"
    return fault


def test_a_pause_is_frozen_for_its_duration(containers, experiment_file, tmp_path):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    # the kernel's own view (cgroup v1 freezer.state or v2 cgroup.freeze), every 2 ms
    freezer = cgroup_freezer.find(web.id, web.attrs["State"]["Pid"])
    frozen: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if freezer.frozen():
                frozen.append(time.monotonic())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        fault = run_one(
            experiment_file, tmp_path, group,
            "{name: freeze, fault: container.pause, target: web, duration: 2s}",
        )  # fmt: skip
    finally:
        stop.set()
        watcher.join(5)
    assert frozen, "the watcher never saw the container frozen"
    seen = frozen[-1] - frozen[0]
    assert abs(seen - 2.0) <= TOLERANCE, f"frozen for {seen:.3f}s, asked 2s"
    assert fault["duration"] == 2.0
    assert abs(fault["in_effect"] - 2.0) <= TOLERANCE, fault


def test_a_stop_keeps_the_container_down_for_its_duration(containers, experiment_file, tmp_path):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    fault = run_one(
        experiment_file, tmp_path, group,
        "{name: down, fault: container.stop, target: web, duration: 2s, timeout: 0s}",
    )  # fmt: skip
    web.reload()
    state = web.attrs["State"]
    # the engine's own timestamps: when the container stopped, when it started again
    down = _ts(state["StartedAt"]) - _ts(state["FinishedAt"])
    # the engine takes a while to start a container again: that is the revert's own
    # time, which the journal records; until the revert began it was 2 s
    assert abs(fault["revert_started"] - fault["due"]) <= TOLERANCE, fault
    assert down >= 2.0 - TOLERANCE, f"down for only {down:.3f}s, asked 2s"
    # the engine's view starts when the container died, a little before the stop
    # call returned (applied_at), and ends once it runs again (reverted_at)
    assert down <= fault["in_effect"] + 0.5, (down, fault)


def _ts(text: str) -> float:
    """A Docker timestamp (nanoseconds, Z) as seconds."""
    head, _, frac = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head + "+00:00").timestamp()
    return base + float("0." + (frac or "0"))


def test_a_disconnect_lasts_its_duration(containers, net, experiment_file, tmp_path, docker_client):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(
        "busybox", command=["sleep", "600"], labels={"grp": group}, network=net.name
    )
    since = time.time()
    run_one(
        experiment_file, tmp_path, group,
        f"{{name: unplug, fault: network.disconnect, target: web, network: {net.name}, duration: 2s}}",
    )  # fmt: skip
    events = [
        (e["timeNano"] / 1e9, e["Action"])
        for e in docker_client.events(
            since=since, until=time.time() + 1, filters={"type": "network"}, decode=True
        )
        if (e.get("Actor") or {}).get("Attributes", {}).get("container") == web.id
        and e["Actor"]["Attributes"].get("name") == net.name
    ]
    disconnected = next(t for t, action in events if action == "disconnect")
    connected = next(t for t, action in events if action == "connect" and t > disconnected)
    off = connected - disconnected  # the engine's own record
    assert abs(off - 2.0) <= TOLERANCE, f"off the network for {off:.3f}s, asked 2s"


@pytest.mark.parametrize(
    ("step", "chain_from"),
    [
        ("{name: cut, fault: network.dns, target: web, duration: 2s}", "dns"),
        (
            "{name: cut, fault: network.partition, target: web, from: [peer], duration: 2s}",
            "partition",
        ),
    ],
)
def test_a_network_rule_is_in_place_for_its_duration(
    containers, net, experiment_file, tmp_path, step, chain_from
):
    import shutil
    import subprocess

    # the Docker engine needs both on its host (util-linux, and iptables for its networks)
    assert shutil.which("nsenter") and shutil.which("iptables"), "nsenter and iptables"
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(
        "busybox", command=["sleep", "600"], labels={"grp": group}, network=net.name
    )
    peer = containers.run(
        "busybox", command=["sleep", "600"], labels={"peer": group}, network=net.name
    )
    pid = str(web.attrs["State"]["Pid"])
    polls: list[tuple[float, float, bool]] = []
    """(asked, answered, rules present): each look takes a while on a loaded machine,
    and the rules were read at some moment between the two."""
    stop = threading.Event()

    def watch() -> None:  # the rules in the container's namespace, as the kernel has them
        while not stop.is_set():
            asked = time.monotonic()
            rules = subprocess.run(
                ["nsenter", "-t", pid, "-n", "iptables", "-w", "-S", "OUTPUT"],
                capture_output=True, text=True, check=False,
            ).stdout  # fmt: skip
            polls.append((asked, time.monotonic(), " -j CD-" in rules))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    path = experiment_file(f"""
        version: 1
        title: rule window
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
          peer: {{select: {{labels: {{peer: {group}}}}}}}
        method:
          - {step}
    """)
    try:
        proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    finally:
        stop.set()
        watcher.join(5)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    present = [i for i, (_, _, there) in enumerate(polls) if there]
    assert present, f"the {chain_from} rules were never seen"
    first, last = present[0], present[-1]
    assert first > 0 and last + 1 < len(polls), "the watch saw the rules come and go"
    # the rules came between the last look without them and the first with them,
    # and went between the last look with them and the next look
    shortest = polls[last][0] - polls[first][1]
    longest = polls[last + 1][1] - polls[first - 1][0]
    assert longest - shortest < 1.0, f"the looks were too slow to measure: {shortest}..{longest}"
    assert shortest - TOLERANCE <= 2.0 <= longest + TOLERANCE, (
        f"rules in place for {shortest:.3f}s to {longest:.3f}s, asked 2s"
    )
    assert peer.status
