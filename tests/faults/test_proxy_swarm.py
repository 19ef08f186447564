"""proxy.latency on a Swarm service: a proxy next to every task, on every node's own
engine, measured from the node the task runs on; nothing left after the revert."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import pytest

from chaos.engine.result import Verdict
from chaos.faults.proxy_helper import LABEL_PROXY_TARGET
from chaos.images import FAULT_HELPER_IMAGE
from tests.conftest import labels_for_test
from tests.swarm_support import (
    healthy_lab,  # noqa: F401
    lab_service,
    node_spec,
    run_on_lab,
    running_tasks,
)

pytestmark = pytest.mark.usefixtures("healthy_lab")

DELAY = 0.3
TIMES = (
    'for i in $(seq "$2"); do '
    'curl -s -o /dev/null --max-time 5 -w "%{time_total}\\n" "http://$1:8080/"; done'
)
"""curl's own time for each of $2 requests to $1, one connection each."""


def task_address(lab: Any, node: str, container_id: str) -> str:
    info = lab.client(node).api.inspect_container(container_id)
    networks = info["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))


def nat_rules(lab: Any, node: str, container_id: str) -> str:
    """The nat table in a task's namespace, read on its node's engine."""
    output = lab.client(node).containers.run(
        FAULT_HELPER_IMAGE,
        ["iptables", "-t", "nat", "-S"],
        remove=True,
        network_mode=f"container:{container_id}",
        cap_add=["NET_ADMIN"],
        labels=labels_for_test("proxy-swarm-rules"),
    )
    return output.decode()


def request_times(lab: Any, node: str, address: str, count: int) -> list[float]:
    """From the node itself (its container on this host), into the task's namespace."""
    node_container = lab.host_container(node)
    code, output = node_container.exec_run(["sh", "-c", TIMES, "times", address, str(count)])
    assert code == 0, output
    return [float(line) for line in output.decode().split()]


def test_latency_on_every_task_through_each_node_engine(
    session_lab, fault_helper_lab, experiment_file, tmp_path, request
):
    replicas = len(session_lab.inventory.nodes)
    with lab_service(session_lab, request.node.name, name="proxyweb", replicas=replicas) as name:
        tasks = running_tasks(session_lab, name)
        hostnames = {
            node_spec(session_lab, n.name)["ID"]: n.name for n in session_lab.inventory.nodes
        }
        placed = [
            (hostnames[t["NodeID"]], t["Status"]["ContainerStatus"]["ContainerID"]) for t in tasks
        ]
        node, container = next(p for p in placed if p[0] != session_lab.inventory.managers[0].name)
        address = task_address(session_lab, node, container)
        base = statistics.median(request_times(session_lab, node, address, 10))
        path = experiment_file(f"""
            version: 1
            title: slow tasks
            targets:
              svc: {{kind: service, select: {{name: {name}}}}}
            method:
              - {{name: slow, fault: proxy.latency, target: svc, port: 8080, delay: 300ms,
                  duration: 25s}}
        """)
        measured: dict[str, Any] = {}

        def measure() -> None:
            measured["times"] = request_times(session_lab, node, address, 20)
            measured["proxies"] = {
                n: session_lab.client(n).api.containers(filters={"label": LABEL_PROXY_TARGET})
                for n, _ in placed
            }
            measured["rules"] = nat_rules(session_lab, node, container)

        def while_it_runs() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                found = session_lab.client(node).api.containers(
                    filters={"label": f"{LABEL_PROXY_TARGET}={container}"}
                )
                if found:
                    time.sleep(0.5)
                    measure()
                    return
                time.sleep(0.2)

        thread = threading.Thread(target=while_it_runs, daemon=True)
        thread.start()
        result = run_on_lab(session_lab, path, tmp_path)
        thread.join(timeout=30)
        assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
        state = result.journal.faults[0].state
        assert {p["node"] for p in state["proxies"]} == {n for n, _ in placed}
        assert len(state["proxies"]) == replicas
        slowed = statistics.median(measured["times"])
        added = slowed - base
        print(f"base {base * 1000:.1f} ms, with the fault {slowed * 1000:.1f} ms")
        assert DELAY <= added <= DELAY + 0.05, f"added {added * 1000:.1f} ms"
        assert "REDIRECT" in measured["rules"]
        assert "CD-" not in nat_rules(session_lab, node, container), "the rule is gone"
        for n, _ in placed:
            assert measured["proxies"][n], f"a proxy ran on {n}'s own engine"
            left = session_lab.client(n).api.containers(
                all=True, filters={"label": LABEL_PROXY_TARGET}
            )
            assert not left, f"no proxy left on {n}"
        after = statistics.median(request_times(session_lab, node, address, 5))
        assert after < base + 0.05


def test_sigkilled_runner_proxies_gone_from_every_node_by_the_deadline(
    session_lab, fault_helper_lab, experiment_file, tmp_path, request
):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT, wait_for

    def proxies_on_nodes() -> dict[str, int]:
        return {
            n.name: len(
                session_lab.client(n.name).api.containers(
                    all=True, filters={"label": LABEL_PROXY_TARGET}
                )
            )
            for n in session_lab.inventory.nodes
        }

    replicas = len(session_lab.inventory.nodes)
    with lab_service(session_lab, request.node.name, name="proxykill", replicas=replicas) as name:
        path = experiment_file(f"""
            version: 1
            title: slow tasks, then the runner dies
            targets:
              svc: {{kind: service, select: {{name: {name}}}}}
            method:
              - {{name: slow, fault: proxy.latency, target: svc, port: 8080, delay: 300ms,
                  duration: 6s}}
        """)
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaos", "run", str(path), "--json", "--lab", session_lab.name,
             "--report-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "CHAOSDRILL_WATCHDOG_GRACE": "1"},
        )  # fmt: skip
        try:
            wait_for(lambda: sum(proxies_on_nodes().values()) == replicas, 60, "a proxy per task")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert sum(proxies_on_nodes().values()) == replicas, "nobody reverted yet"
            # deadline (6 s from injection) + grace (1 s) + slack for a loaded machine
            wait_for(
                lambda: sum(proxies_on_nodes().values()) == 0, 40, "the watchdog on every node"
            )
        finally:
            if proc.poll() is None:
                proc.kill()
        for task in running_tasks(session_lab, name):
            node = next(
                n.name
                for n in session_lab.inventory.nodes
                if node_spec(session_lab, n.name)["ID"] == task["NodeID"]
            )
            container = task["Status"]["ContainerStatus"]["ContainerID"]
            assert "CD-" not in nat_rules(session_lab, node, container), f"rule gone on {node}"
