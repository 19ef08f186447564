"""Swarm target kinds resolved on the real lab, and without any swarm."""

from __future__ import annotations

import pytest

from chaos.errors import TargetError, UsageError
from chaos.runtime import Runtime
from chaos.targets.swarm import NodeKind, NodeSelector, ServiceKind, ServiceSelector, SwarmKind
from tests.swarm_support import (
    healthy_lab,  # noqa: F401
    lab_service,
    leader_name,
)


@pytest.fixture
def lab_runtime(session_lab):
    runtime = Runtime(inventory=session_lab.inventory)
    yield runtime
    runtime.close()


@pytest.mark.usefixtures("healthy_lab")
def test_nodes_by_role_leader_and_name(session_lab, lab_runtime):
    kind = NodeKind()
    managers = kind.candidates(lab_runtime, NodeSelector(role="manager"))
    assert [r.name for r in managers] == sorted(n.name for n in session_lab.inventory.managers)
    assert all(r.kind == "node" and r.meta["role"] == "manager" for r in managers)
    leader = kind.candidates(lab_runtime, NodeSelector(leader=True))
    assert [r.name for r in leader] == [leader_name(session_lab)]
    followers = kind.candidates(lab_runtime, NodeSelector(role="manager", leader=False))
    assert len(followers) == len(managers) - 1
    workers = kind.candidates(lab_runtime, NodeSelector(role="worker"))
    assert {r.name for r in workers} == {
        n.name for n in session_lab.inventory.nodes if n.role == "worker"
    }
    assert kind.candidates(lab_runtime, NodeSelector(name="no-such-node")) == []


@pytest.mark.usefixtures("healthy_lab")
def test_services_by_name_and_label(session_lab, lab_runtime, request):
    with lab_service(session_lab, request.node.name, name="selweb", replicas=1):
        kind = ServiceKind()
        found = kind.candidates(lab_runtime, ServiceSelector(name="selweb"))
        assert [r.name for r in found] == ["selweb"] and found[0].kind == "service"
        by_label = kind.candidates(
            lab_runtime, ServiceSelector(labels={"chaosdrill.test": request.node.name[:60]})
        )
        assert [r.name for r in by_label] == ["selweb"]
    swarm = SwarmKind().candidates(lab_runtime, SwarmKind.Selector())
    assert len(swarm) == 1 and swarm[0].kind == "swarm"


def test_swarm_targets_without_a_swarm_say_how_to_get_one(docker_client):
    """The local engine of the tests is not a swarm manager."""
    assert docker_client.info()["Swarm"].get("LocalNodeState") != "active"
    runtime = Runtime()
    try:
        with pytest.raises(UsageError, match=r"not a swarm manager.*chaosdrill lab up"):
            NodeKind().candidates(runtime, NodeSelector())
    finally:
        runtime.close()


def test_no_manager_answering_is_a_target_error():
    from chaos.swarm.inventory import Inventory, InventoryNode

    inventory = Inventory(
        nodes=[InventoryNode(name="m1", role="manager", endpoint="tcp://127.0.0.1:9")]
    )
    runtime = Runtime(inventory=inventory)
    try:
        with pytest.raises(TargetError, match=r"listing swarm nodes: .*no manager answered.*m1"):
            NodeKind().candidates(runtime, NodeSelector())
    finally:
        runtime.close()
