"""Node faults on the real lab swarm: drain, stop, pause, partition, lose managers.

Each test starts from a healthy lab, proves the fault by what the swarm and
the node containers show while it is in effect, and leaves the lab healthy.
"""

from __future__ import annotations

import threading

import pytest

from chaos.engine.result import Verdict
from tests.conftest import ROOT
from tests.swarm_support import (
    healthy_lab,  # noqa: F401
    lab_service,
    leader_name,
    node_spec,
    poll_until,
    run_on_lab,
    running_tasks,
    swarm_nodes,
    wait_healthy,
)

pytestmark = pytest.mark.usefixtures("healthy_lab")


def host_state(lab, node: str) -> dict:
    return lab.host_container(node).client.api.inspect_container(lab.host_container(node).id)[
        "State"
    ]


def in_background(target, *args, **kwargs):
    box: dict = {}

    def run():
        box["result"] = target(*args, **kwargs)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_drain_moves_the_workers_tasks_and_restores_it_active(
    session_lab, experiment_file, tmp_path, request
):
    worker = session_lab.inventory.nodes[-1].name
    assert session_lab.inventory.node(worker).role == "worker"
    replicas = len(session_lab.inventory.nodes)
    with lab_service(session_lab, request.node.name, name="drainweb", replicas=replicas) as service:
        worker_id = node_spec(session_lab, worker)["ID"]
        assert poll_until(
            lambda: any(t["NodeID"] == worker_id for t in running_tasks(session_lab, service)), 30
        ), "spread put no task on the worker"
        path = experiment_file(f"""
            version: 1
            title: drain a worker
            targets:
              worker: {{kind: node, select: {{name: {worker}}}}}
            steady_state:
              - {{name: converged, probe: swarm.service, service: {service}}}
            method:
              - {{name: drain, fault: node.drain, target: worker, duration: 15s}}
            probes:
              - {{name: tasks, probe: swarm.service, service: {service}, interval: 1s,
                  tolerance: {{max_outage: 14s}}}}
            recovery: {{within: 60s, interval: 1s}}
        """)
        thread, box = in_background(run_on_lab, session_lab, path, tmp_path / "reports")

        def moved() -> bool:
            tasks = running_tasks(session_lab, service)
            return (
                node_spec(session_lab, worker)["Spec"]["Availability"] == "drain"
                and len(tasks) == replicas
                and all(t["NodeID"] != worker_id for t in tasks)
            )

        assert poll_until(moved, 40), "the drained worker's tasks did not move elsewhere"
        thread.join(120)
        result = box["result"]
        assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
        assert node_spec(session_lab, worker)["Spec"]["Availability"] == "active"
        fault = result.journal.faults[0]
        assert fault.state == {"availability_before": "active"}
        assert fault.revert_state == {"availability": "active"}
        probe = result.journal.probes[0]
        assert probe.summary is not None and probe.summary.time_to_recover is not None


def test_losing_the_leader_elects_a_new_one_and_passes(session_lab, tmp_path):
    before = leader_name(session_lab)
    assert before is not None
    path = ROOT / "experiments" / "swarm" / "lose-one-manager.yaml"
    thread, box = in_background(run_on_lab, session_lab, path, tmp_path / "reports")
    assert poll_until(lambda: not host_state(session_lab, before)["Running"], 30), (
        "the leader's node was not stopped"
    )
    assert poll_until(lambda: leader_name(session_lab) not in (None, before), 45), (
        "no new leader was elected"
    )
    thread.join(240)
    result = box["result"]
    assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
    fault = result.journal.faults[0]
    assert fault.state["nodes"] == [before] and fault.state["leader_before"] == before
    assert fault.state["managers"] == 3 and fault.state["majority"] == 2
    assert host_state(session_lab, before)["Running"]
    probe = result.journal.probes[0]
    details = " ".join(s.detail for s in probe.samples)
    assert f"(was {before}, elected within " in details, "the probe did not report the election"
    # the election shows as the quorum probe's outage: measured, and within the tolerance.
    # 40 s: measured on the lab, 20 runs of benchmarks/swarm_faults.py lose-leader gave
    # 10.0-23.0 s (median 12.5, p95 17.8, p99 22.0); the slowest seen were 24.8 s (this
    # test) and 27.5 s (benchmarks); a split vote adds another 10-20 s Raft timeout.
    assert probe.summary is not None and probe.summary.longest_outage <= 40
    wait_healthy(session_lab)


def test_losing_a_quorum_of_managers_fails_says_how_long_and_restores(session_lab, tmp_path):
    path = ROOT / "experiments" / "swarm" / "lose-quorum.yaml"
    result = run_on_lab(session_lab, path, tmp_path / "reports")
    assert result.verdict is Verdict.FAILED, [r.message for r in result.reasons]
    messages = " ".join(r.message for r in result.reasons)
    assert "leader" in messages and "outage of" in messages and "exceeds max_outage 10s" in messages
    samples = result.journal.probes[0].samples
    assert any("quorum lost: no leader" in s.detail for s in samples)
    fault = result.journal.faults[0]
    assert fault.outcome == "reverted" and len(fault.state["nodes"]) == 2
    assert fault.state["lost"] == 2 and fault.state["majority"] == 2
    for node in fault.state["nodes"]:
        assert host_state(session_lab, node)["Running"]
    wait_healthy(session_lab)
    assert leader_name(session_lab) is not None


@pytest.mark.parametrize(
    ("fault", "observe"),
    [
        ("node.pause", "paused"),
        ("node.partition", "isolated"),
    ],
)
def test_pause_and_partition_take_the_worker_away_and_give_it_back(
    session_lab, experiment_file, tmp_path, fault, observe
):
    worker = next(n for n in session_lab.inventory.nodes if n.role == "worker").name
    path = experiment_file(f"""
        version: 1
        title: {fault} a worker
        targets:
          worker: {{kind: node, select: {{name: {worker}}}}}
        method:
          - {{name: f, fault: {fault}, target: worker, duration: 25s}}
        recovery: {{within: 60s}}
    """)
    thread, box = in_background(run_on_lab, session_lab, path, tmp_path / "reports")
    node = session_lab.host_container(worker)
    if observe == "paused":
        assert poll_until(lambda: host_state(session_lab, worker)["Paused"], 20)
    else:
        code, output = 1, ""

        def chain_present() -> bool:
            nonlocal code, output
            code, output = node.exec_run(["iptables", "-S", "INPUT"])
            return b"-j CD-" in output

        assert poll_until(chain_present, 20), output
    # the managers see the worker go: it misses its heartbeats
    assert poll_until(
        lambda: node_spec(session_lab, worker)["Status"]["State"] == "down", 25, interval=1
    ), f"the managers never saw {worker} down"
    thread.join(120)
    result = box["result"]
    assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
    assert not host_state(session_lab, worker)["Paused"]
    code, output = node.exec_run(["iptables", "-S"])
    assert b"CD-" not in output
    assert poll_until(
        lambda: node_spec(session_lab, worker)["Status"]["State"] == "ready", 60, interval=1
    ), f"{worker} did not come back ready"


def test_node_fault_on_a_node_without_control_is_refused_by_name(
    session_lab, experiment_file, tmp_path
):
    """An inventory node with no `control` cannot be stopped: the run errors, naming it."""
    inventory = session_lab.inventory
    worker = next(n for n in inventory.nodes if n.role == "worker")
    stripped = inventory.model_copy(
        update={
            "nodes": [
                n.model_copy(update={"control": {}}) if n.name == worker.name else n
                for n in inventory.nodes
            ]
        }
    )
    path = experiment_file(f"""
        version: 1
        title: stop a node nobody can stop
        targets:
          worker: {{kind: node, select: {{name: {worker.name}}}}}
        method:
          - {{name: f, fault: node.stop, target: worker, duration: 5s}}
    """)
    from chaos import api

    result = api.run(api.load(path), inventory=stripped, report_dir=tmp_path, handle_signals=False)
    assert result.verdict is Verdict.ERROR
    assert f"node {worker.name} has no `control` in the inventory" in result.reasons[0].message
    assert host_state(session_lab, worker.name)["Running"]


def test_swarm_lose_managers_refuses_more_than_there_are(session_lab, experiment_file, tmp_path):
    path = experiment_file("""
        version: 1
        title: lose five of three
        targets:
          cluster: {kind: swarm}
        method:
          - {name: f, fault: swarm.lose_managers, target: cluster, count: 5, duration: 5s}
    """)
    result = run_on_lab(session_lab, path, tmp_path)
    assert result.verdict is Verdict.ERROR
    assert "cannot lose 5 of 3 manager(s)" in result.reasons[0].message
    assert all(host_state(session_lab, n.name)["Running"] for n in session_lab.inventory.nodes)
    assert len(swarm_nodes(session_lab)) == len(session_lab.inventory.nodes)
