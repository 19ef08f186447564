"""Service faults on the real lab swarm: kill tasks on another node, scale,
bad updates with and without rollback, rebalance."""

from __future__ import annotations

import threading

import pytest

from chaos.engine.result import Verdict
from chaos.faults.swarm_service import MARKER
from tests.swarm_support import (
    converged,
    healthy_lab,  # noqa: F401
    lab_service,
    manager_client,
    node_spec,
    poll_until,
    run_on_lab,
    running_tasks,
)

pytestmark = pytest.mark.usefixtures("healthy_lab")


def in_background(target, *args, **kwargs):
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(result=target(*args, **kwargs)), daemon=True
    )
    thread.start()
    return thread, box


def test_kill_tasks_on_a_worker_through_its_engine_and_swarm_replaces_them(
    session_lab, experiment_file, tmp_path, request
):
    worker = next(n for n in session_lab.inventory.nodes if n.role == "worker").name
    replicas = len(session_lab.inventory.nodes)
    with lab_service(session_lab, request.node.name, name="killweb", replicas=replicas) as service:
        worker_id = node_spec(session_lab, worker)["ID"]
        on_worker = [t for t in running_tasks(session_lab, service) if t["NodeID"] == worker_id]
        assert on_worker, "spread put no task on the worker"
        path = experiment_file(f"""
            version: 1
            title: kill tasks on a worker
            targets:
              svc: {{kind: service, select: {{name: {service}}}}}
            steady_state:
              - {{name: converged, probe: swarm.service, target: svc}}
            method:
              - {{name: kill, fault: service.kill_tasks, target: svc, node: {worker}, count: all,
                  duration: 12s}}
            probes:
              - {{name: tasks, probe: swarm.service, target: svc, interval: 500ms,
                  tolerance: {{max_outage: 11s}}}}
            recovery: {{within: 60s, interval: 1s}}
        """)
        result = run_on_lab(session_lab, path, tmp_path)
        assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
        killed = result.journal.faults[0].state["killed"]
        assert {k["node"] for k in killed} == {worker}
        assert {k["task"] for k in killed} == {t["ID"] for t in on_worker}
        # the killed task is dead on the worker's own engine, and replaced
        worker_engine = session_lab.client(worker)
        for k in killed:
            state = worker_engine.api.inspect_container(k["container"])["State"]
            assert not state["Running"] and state["ExitCode"] == 137
        now = {t["ID"] for t in running_tasks(session_lab, service)}
        assert not now & {k["task"] for k in killed}
        assert converged(session_lab, service)
        # the convergence time is in the journal: the probe's outage and time to recover
        summary = result.journal.probes[0].summary
        assert summary is not None and summary.longest_outage > 0
        assert summary.time_to_recover is not None and 0 < summary.time_to_recover <= 11


def test_kill_tasks_wanting_more_than_run_there_is_an_error(
    session_lab, experiment_file, tmp_path, request
):
    with lab_service(session_lab, request.node.name, name="fewweb", replicas=1) as service:
        path = experiment_file(f"""
            version: 1
            title: too many
            targets:
              svc: {{kind: service, select: {{name: {service}}}}}
            method:
              - {{name: kill, fault: service.kill_tasks, target: svc, count: 3}}
        """)
        result = run_on_lab(session_lab, path, tmp_path)
        assert result.verdict is Verdict.ERROR
        assert "3 task(s) wanted, 1 running" in result.reasons[0].message
        assert len(running_tasks(session_lab, service)) == 1


def test_scale_down_then_restored(session_lab, experiment_file, tmp_path, request):
    with lab_service(session_lab, request.node.name, name="scaleweb", replicas=3) as service:
        path = experiment_file(f"""
            version: 1
            title: scale
            targets:
              svc: {{kind: service, select: {{name: {service}}}}}
            method:
              - {{name: scale, fault: service.scale, target: svc, replicas: 1, duration: 10s}}
            steady_state:
              - {{name: converged, probe: swarm.service, target: svc}}
            recovery: {{within: 60s, interval: 1s}}
        """)
        thread, box = in_background(run_on_lab, session_lab, path, tmp_path)
        assert poll_until(lambda: len(running_tasks(session_lab, service)) == 1, 30)
        thread.join(120)
        result = box["result"]
        assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
        assert result.journal.faults[0].state == {"replicas_before": 3}
        spec = manager_client(session_lab).api.inspect_service(service)["Spec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 3
        assert converged(session_lab, service)


@pytest.mark.parametrize(
    ("failure_action", "verdict", "rolled_back_by"),
    [("rollback", Verdict.PASSED, "swarm"), ("pause", Verdict.FAILED, "chaosdrill")],
)
def test_bad_update_is_rolled_back_by_swarm_only_when_configured(
    session_lab, experiment_file, tmp_path, request, failure_action, verdict, rolled_back_by
):
    name = f"upd{failure_action}"
    with lab_service(
        session_lab, request.node.name, name=name, replicas=2, failure_action=failure_action
    ) as service:
        original = manager_client(session_lab).api.inspect_service(service)["Spec"]
        path = experiment_file(f"""
            version: 1
            title: bad update with {failure_action}
            targets:
              svc: {{kind: service, select: {{name: {service}}}}}
            steady_state:
              - {{name: converged, probe: swarm.service, target: svc}}
            method:
              - {{name: bad, fault: service.bad_update, target: svc, duration: 30s}}
            probes:
              - {{name: tasks, probe: swarm.service, target: svc, interval: 1s,
                  tolerance: {{max_outage: 20s}}}}
            recovery: {{within: 60s, interval: 1s}}
        """)
        result = run_on_lab(session_lab, path, tmp_path)
        reasons = [r.message for r in result.reasons]
        assert result.verdict is verdict, reasons
        fault = result.journal.faults[0]
        assert fault.state["failure_action"] == failure_action
        assert fault.revert_state["rolled_back_by"] == rolled_back_by
        if verdict is Verdict.FAILED:
            text = " ".join(reasons)
            assert "update paused" in text and "exceeds max_outage 20s" in text
        else:
            assert fault.revert_state["update_state"] == "rollback_completed"
        # either way the service runs its original command again, without our marker
        spec = manager_client(session_lab).api.inspect_service(service)["Spec"]
        command = spec["TaskTemplate"]["ContainerSpec"]["Command"]
        assert command == original["TaskTemplate"]["ContainerSpec"]["Command"]
        assert MARKER not in (spec.get("Labels") or {})
        assert poll_until(lambda: converged(session_lab, service), 60)


def test_rebalance_replaces_every_task(session_lab, experiment_file, tmp_path, request):
    with lab_service(session_lab, request.node.name, name="rebweb", replicas=2) as service:
        before = {t["ID"] for t in running_tasks(session_lab, service)}
        path = experiment_file(f"""
            version: 1
            title: rebalance
            targets:
              svc: {{kind: service, select: {{name: {service}}}}}
            method:
              - {{name: rebalance, fault: service.rebalance, target: svc, duration: 1s}}
            steady_state:
              - {{name: converged, probe: swarm.service, target: svc}}
            recovery: {{within: 60s, interval: 1s}}
        """)
        result = run_on_lab(session_lab, path, tmp_path)
        assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]

        def replaced() -> bool:
            now = {t["ID"] for t in running_tasks(session_lab, service)}
            return len(now) == 2 and not now & before

        assert poll_until(replaced, 60)
