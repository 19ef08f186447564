"""Swarm probes against the real lab: each passes on a healthy swarm and fails,
with a message that says why, when the swarm is not what it should be."""

from __future__ import annotations

import pytest

from chaos.runtime import Runtime
from probes.swarm import SwarmNodesProbe, SwarmQuorumProbe, SwarmServiceProbe, SwarmSpreadProbe
from tests.swarm_support import (
    healthy_lab,  # noqa: F401
    lab_service,
    manager_client,
    node_spec,
    poll_until,
)

pytestmark = pytest.mark.usefixtures("healthy_lab")


@pytest.fixture
def lab_runtime(session_lab):
    runtime = Runtime(inventory=session_lab.inventory)
    yield runtime
    runtime.close()


def check(probe_cls, runtime, targets=(), **params):
    probe = probe_cls()
    return probe.check(runtime, probe_cls.Params(**params), targets)


def test_swarm_service_counts_running_tasks_against_desired(session_lab, lab_runtime, request):
    with lab_service(session_lab, request.node.name, name="probeweb", replicas=2) as service:
        passed = check(SwarmServiceProbe, lab_runtime, service=service)
        assert passed.ok and passed.detail == f"{service}: 2/2 running", passed.detail
        # ask for more replicas than can ever start: an image no node has
        svc = manager_client(session_lab).services.get(service)
        svc.update(image="chaosdrill/does-not-exist:1", force_update=1)
        assert poll_until(lambda: not check(SwarmServiceProbe, lab_runtime, service=service).ok, 30)
        failed = check(SwarmServiceProbe, lab_runtime, service=service)
        assert failed.detail.startswith(f"{service}: ") and "running" in failed.detail
    missing = check(SwarmServiceProbe, lab_runtime, service="no-such-service")
    assert not missing.ok and "no-such-service" in missing.detail


def test_swarm_quorum_reports_the_leader_and_reachable_managers(session_lab, lab_runtime):
    result = check(SwarmQuorumProbe, lab_runtime)
    assert result.ok, result.detail
    assert "3 of 3 managers reachable (majority 2)" in result.detail
    assert "leader changes: 0" in result.detail


def test_swarm_nodes_counts_and_limits(session_lab, lab_runtime):
    total = len(session_lab.inventory.nodes)
    result = check(SwarmNodesProbe, lab_runtime)
    assert result.ok and result.detail.startswith(f"{total} nodes: {total} ready, 0 not ready")
    too_many = check(SwarmNodesProbe, lab_runtime, min_ready=total + 1)
    assert not too_many.ok and f"fewer than {total + 1} ready" in too_many.detail
    worker = next(n for n in session_lab.inventory.nodes if n.role == "worker").name
    client = manager_client(session_lab)
    node = node_spec(session_lab, worker)
    spec = {**node["Spec"], "Availability": "drain"}
    client.api.update_node(node["ID"], node["Version"]["Index"], spec)
    try:
        drained = check(SwarmNodesProbe, lab_runtime, min_active=total)
        assert not drained.ok and "1 drain" in drained.detail
    finally:
        node = node_spec(session_lab, worker)
        client.api.update_node(
            node["ID"], node["Version"]["Index"], {**node["Spec"], "Availability": "active"}
        )


def test_swarm_spread_fails_when_a_node_runs_too_many(session_lab, lab_runtime, request):
    nodes = len(session_lab.inventory.nodes)
    with lab_service(session_lab, request.node.name, name="spreadweb", replicas=nodes) as service:
        spread = check(SwarmSpreadProbe, lab_runtime, service=service, max_per_node=2)
        assert spread.ok, spread.detail
    with lab_service(
        session_lab, request.node.name, name="crowdweb", replicas=nodes + 2
    ) as service:
        crowded = check(SwarmSpreadProbe, lab_runtime, service=service, max_per_node=1)
        assert not crowded.ok and "more than 1 on" in crowded.detail
