"""Faults never outlive their run: the ledger, dead man's switches, recover, per-target locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.result import Verdict
from chaos.ledger import Ledger
from chaos.runtime import LABEL_HELPER
from chaos.watchdog import LABEL_TARGET
from tests.conftest import ROOT, chaosdrill, wait_for

pytestmark = pytest.mark.docker


def state(container: Any) -> dict[str, Any]:
    container.reload()
    return container.attrs["State"]


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def start_run(path: Path, report_dir: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos",
            "run",
            str(path),
            "--json",
            "--report-dir",
            str(report_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def watchdogs(client: Any, target: Any) -> list[Any]:
    """The watchdogs guarding faults on ``target`` (other tests' are not ours to count)."""
    # summaries, not Container objects: a watchdog that removes itself between
    # the list and an inspect must not fail the test
    return client.api.containers(all=True, filters={"label": f"{LABEL_TARGET}={target.id}"})


def fault_file(experiment_file, group: str, fault: str, duration: str, extra: str = "") -> Path:
    return experiment_file(f"""
        version: 1
        title: {fault} then the runner dies
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: f, fault: {fault}, target: web, duration: {duration}{extra}}}
    """)


@pytest.mark.parametrize(
    ("fault", "extra", "is_faulted"),
    [
        ("container.pause", "", lambda s: s["Paused"]),
        ("container.stop", ", timeout: 1s", lambda s: not s["Running"]),
    ],
)
def test_sigkilled_runner_fault_is_reverted_by_its_deadline(
    containers, experiment_file, tmp_path, group, docker_client, fault, extra, is_faulted
):
    web = containers.run(labels={"grp": group})
    path = fault_file(experiment_file, group, fault, "4s", extra)
    proc = start_run(path, tmp_path, CHAOSDRILL_WATCHDOG_GRACE="1")
    try:
        wait_for(lambda: is_faulted(state(web)), 20, f"{fault} to take effect")
        sigkill(proc)
        killed_at = time.monotonic()
        time.sleep(0.5)
        assert is_faulted(state(web)), "the runner is dead and nobody reverted yet"
        # deadline (4 s from injection) + grace (1 s) + slack for a loaded machine
        wait_for(lambda: not is_faulted(state(web)), 15, f"{fault} reverted by its watchdog")
        assert time.monotonic() - killed_at < 15
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_for(lambda: not watchdogs(docker_client, web), 10, "the watchdog to remove itself")
    assert state(web)["Running"] and not state(web)["Paused"]


def test_recover_after_sigkill_reverts_and_leaves_nothing(
    containers, experiment_file, tmp_path, group, docker_client, state_dir
):
    web = containers.run(labels={"grp": group})
    path = fault_file(experiment_file, group, "container.pause", "120s")
    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: state(web)["Paused"], 20, "pause to take effect")
        wait_for(lambda: watchdogs(docker_client, web), 10, "the watchdog to be armed")
        assert [e.fault for e in Ledger(state_dir).open_entries()] == ["container.pause"]
        sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert state(web)["Paused"]

    done = chaosdrill("recover", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert len(report["recovered"]) == 1 and report["failed"] == []
    assert "container.pause" in report["recovered"][0]
    assert not state(web)["Paused"]
    assert Ledger(state_dir).open_entries() == []
    helpers = docker_client.api.containers(all=True, filters={"label": LABEL_HELPER})
    assert not [h for h in helpers if (h.get("Labels") or {}).get(LABEL_TARGET) == web.id]

    again = chaosdrill("recover")
    assert again.returncode == 0 and "nothing to recover" in again.stdout


def test_a_second_run_may_not_stack_on_a_live_runs_fault(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(labels={"grp": group})
    first = start_run(fault_file(experiment_file, group, "container.pause", "30s"), tmp_path)
    try:
        wait_for(lambda: state(web)["Paused"], 20, "first run's pause")
        web.unpause()  # the second run must refuse on the ledger, not on the paused state
        second = experiment_file(
            f"""
            version: 1
            title: second run
            targets:
              web: {{select: {{labels: {{grp: {group}}}}}}}
            method:
              - {{name: again, fault: container.stop, target: web, duration: 2s}}
            """,
            "second.yaml",
        )
        result = api.run(api.load(second), report_dir=tmp_path, handle_signals=False)
        assert result.verdict is Verdict.ERROR
        message = result.reasons[0].message
        assert "already carries fault container.pause" in message
        assert "refusing to stack" in message
        assert state(web)["Running"], "the second run did not stop it"
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 3


def test_run_reverts_a_dead_runs_leftovers_before_starting(
    containers, experiment_file, tmp_path, group, docker_client
):
    victim = containers.run(labels={"grp": group, "role": "victim"})
    other = containers.run(labels={"grp": group, "role": "other"})
    path = experiment_file(f"""
        version: 1
        title: dies
        targets:
          web: {{select: {{labels: {{grp: {group}, role: victim}}}}}}
        method:
          - {{name: f, fault: container.pause, target: web, duration: 120s}}
    """)
    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: state(victim)["Paused"], 20, "pause")
        sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    next_run = experiment_file(
        f"""
        version: 1
        title: next
        targets:
          web: {{select: {{labels: {{grp: {group}, role: other}}}}}}
        method:
          - {{name: f, fault: container.pause, target: web, duration: 500ms}}
        """,
        "next.yaml",
    )
    proc = chaosdrill("run", str(next_run), "--plain", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "left by an earlier run: reverted: container.pause" in proc.stdout
    assert not state(victim)["Paused"] and not state(other)["Paused"]


def test_normal_revert_disarms_the_watchdog(
    containers, experiment_file, tmp_path, group, docker_client, state_dir
):
    web = containers.run(labels={"grp": group})
    result = api.run(
        api.load(fault_file(experiment_file, group, "container.pause", "1s")),
        report_dir=tmp_path,
        handle_signals=False,
    )
    assert result.verdict is Verdict.PASSED
    record = result.journal.faults[0]
    assert record.injection_id and record.watchdog
    assert not watchdogs(docker_client, web)
    assert Ledger(state_dir).open_entries() == []
    assert not state(web)["Paused"]


def _net_pair(docker_client: Any, containers: Any, group: str, request: Any) -> tuple[Any, ...]:
    from tests.conftest import labels_for_test

    network = docker_client.networks.create(
        f"cdtest-{uuid.uuid4().hex[:8]}", labels=labels_for_test(request.node.name[:60])
    )
    web, db = (
        containers.run(
            name=f"{network.name}-{role}", network=network.name, labels={"grp": group, "role": role}
        )
        for role in ("web", "db")
    )
    return network, web, db


def _reaches(client: Any, peer: Any) -> bool:
    from tests.faults.test_network import fetch

    return fetch(client, f"http://{peer.name}/")


@pytest.mark.parametrize(
    "method",
    [
        "{name: cut, fault: network.partition, target: web, from: [db], duration: 4s}",
        "{name: nodns, fault: network.dns, target: web, duration: 4s}",
        "{name: unplug, fault: network.disconnect, target: db, network: NET, duration: 4s}",
    ],
)
def test_sigkilled_runner_network_fault_is_reverted_by_its_deadline(
    containers, experiment_file, tmp_path, group, docker_client, request, method
):
    network, web, db = _net_pair(docker_client, containers, group, request)
    try:
        assert _reaches(web, db)
        path = experiment_file(f"""
            version: 1
            title: network fault then the runner dies
            targets:
              web: {{select: {{labels: {{grp: {group}, role: web}}}}}}
              db: {{select: {{labels: {{grp: {group}, role: db}}}}}}
            method:
              - {method.replace("NET", network.name)}
        """)
        proc = start_run(path, tmp_path, CHAOSDRILL_WATCHDOG_GRACE="1")
        try:
            wait_for(lambda: not _reaches(web, db), 30, "the fault to take effect")
            sigkill(proc)
            wait_for(lambda: _reaches(web, db), 20, "the watchdog to revert the fault")
        finally:
            if proc.poll() is None:
                proc.kill()
        wait_for(lambda: not watchdogs(docker_client, web), 10, "the watchdog to remove itself")
        from chaos.runtime import Runtime
        from tests.faults.test_network import chains

        assert "CD-" not in chains(Runtime(), web)
    finally:
        for container in (web, db):
            container.remove(force=True)
        network.remove()


def test_recover_after_sigkill_of_a_partition_leaves_no_chain(
    containers, experiment_file, tmp_path, group, docker_client, request, state_dir
):
    network, web, db = _net_pair(docker_client, containers, group, request)
    try:
        path = experiment_file(f"""
            version: 1
            title: partition then the runner dies
            targets:
              web: {{select: {{labels: {{grp: {group}, role: web}}}}}}
              db: {{select: {{labels: {{grp: {group}, role: db}}}}}}
            method:
              - {{name: cut, fault: network.partition, target: web, from: [db], duration: 120s}}
        """)
        proc = start_run(path, tmp_path)
        try:
            wait_for(lambda: not _reaches(web, db), 30, "the partition to take effect")
            sigkill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert not _reaches(web, db)
        done = chaosdrill("recover")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "reverted: network.partition (cut)" in done.stdout
        assert _reaches(web, db)
        from chaos.runtime import Runtime
        from tests.faults.test_network import chains

        assert "CD-" not in chains(Runtime(), web)
        assert not watchdogs(docker_client, web)
        assert Ledger(state_dir).open_entries() == []
    finally:
        for container in (web, db):
            container.remove(force=True)
        network.remove()


def test_recover_after_sigkill_of_a_bandwidth_limit_leaves_no_qdisc(
    containers, experiment_file, tmp_path, group, docker_client, state_dir
):
    from chaos.runtime import Runtime
    from tests.faults.test_network import CHAOS_QDISC, qdiscs

    web = containers.run(labels={"grp": group})
    path = fault_file(experiment_file, group, "network.bandwidth", "120s", ", rate: 1mbit")
    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: CHAOS_QDISC.search(qdiscs(Runtime(), web)), 30, "the qdisc in place")
        sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = chaosdrill("recover")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reverted: network.bandwidth" in done.stdout
    assert not CHAOS_QDISC.search(qdiscs(Runtime(), web))
    assert not watchdogs(docker_client, web)
    assert Ledger(state_dir).open_entries() == []
