"""The dead man's switch and recover for swarm faults, with the runner SIGKILLed."""

from __future__ import annotations

import pytest

from chaos.ledger import Ledger
from tests.conftest import chaosdrill, wait_for
from tests.engine.test_safeguards import sigkill
from tests.swarm_support import (
    healthy_lab,  # noqa: F401
    node_spec,
    poll_until,
)

pytestmark = pytest.mark.usefixtures("healthy_lab")


def running(lab, node: str) -> bool:
    container = lab.host_container(node)
    return container.client.api.inspect_container(container.id)["State"]["Running"]


def test_sigkilled_runner_drain_and_stopped_manager_are_restored_by_watchdogs(
    session_lab, experiment_file, tmp_path, state_dir
):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(session_lab.inventory.to_json())
    worker = next(n for n in session_lab.inventory.nodes if n.role == "worker").name
    path = experiment_file(f"""
        version: 1
        title: drain and lose a manager, then the runner dies
        targets:
          worker: {{kind: node, select: {{name: {worker}}}}}
          cluster: {{kind: swarm}}
        method:
          - {{name: drain, fault: node.drain, target: worker, duration: 6s}}
          - {{name: lose, fault: swarm.lose_managers, target: cluster, count: 1, duration: 6s}}
    """)
    proc = _start_with_inventory(path, tmp_path, inventory)
    try:
        assert poll_until(
            lambda: node_spec(session_lab, worker)["Spec"]["Availability"] == "drain", 30
        ), "the drain did not take effect"
        ledger = Ledger(state_dir)
        wait_for(
            lambda: any(
                e.fault == "swarm.lose_managers" and e.state for e in ledger.open_entries()
            ),
            30,
            "a manager to be stopped",
        )
        stopped = next(e for e in ledger.open_entries() if e.fault == "swarm.lose_managers").state[
            "nodes"
        ][0]
        assert not running(session_lab, stopped)
        sigkill(proc)
        # deadline (6 s) + grace (1 s) + slack: the watchdogs restore both
        wait_for(lambda: running(session_lab, stopped), 40, f"{stopped} started by its watchdog")
        assert poll_until(
            lambda: node_spec(session_lab, worker)["Spec"]["Availability"] == "active", 40
        ), "the worker was not set active by its watchdog"
    finally:
        if proc.poll() is None:
            proc.kill()
    # the ledger still holds the dead run's entries; recover closes them, touching nothing twice
    done = chaosdrill("recover", "--inventory", str(inventory), "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    assert not Ledger(state_dir).open_entries()


def _start_with_inventory(path, tmp_path, inventory):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    return subprocess.Popen(
        [
            sys.executable, "-m", "chaos", "run", str(path), "--json",
            "--report-dir", str(tmp_path / "reports"), "--inventory", str(inventory),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CHAOSDRILL_WATCHDOG_GRACE": "1"},
    )  # fmt: skip


def test_run_with_a_missing_lab_or_broken_inventory_is_a_clear_usage_error(
    experiment_file, tmp_path
):
    path = experiment_file("""
        version: 1
        title: no such lab
        targets:
          cluster: {kind: swarm}
        method:
          - {name: f, fault: swarm.lose_managers, target: cluster, count: 1, duration: 5s}
    """)
    done = chaosdrill("run", str(path), "--lab", "nosuchlab")
    assert done.returncode == 2, done.stderr
    assert "no lab named nosuchlab" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "inv.yaml"
    broken.write_text("name: x\nnodes:\n  - {name: m1, role: boss, endpoint: tcp://127.0.0.1:1}\n")
    done = chaosdrill("run", str(path), "--inventory", str(broken))
    assert done.returncode == 2
    assert f"{broken}: inventory field nodes.0.role" in done.stderr
    done = chaosdrill("run", str(path), "--inventory", str(broken), "--lab", "x")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_a_manager_lost_by_one_run_may_not_be_faulted_by_another(
    session_lab, experiment_file, tmp_path, state_dir
):
    """swarm.lose_managers targets the swarm, but it holds the managers it takes."""
    from chaos import api
    from chaos.engine.result import Verdict

    inventory = tmp_path / "inventory.json"
    inventory.write_text(session_lab.inventory.to_json())
    first = experiment_file(
        """
        version: 1
        title: lose one manager for a while
        targets:
          cluster: {kind: swarm}
        method:
          - {name: lose, fault: swarm.lose_managers, target: cluster, count: 1, how: pause,
             duration: 15s}
        """,
        name="first.yaml",
    )
    proc = _start_with_inventory(first, tmp_path, inventory)
    try:
        ledger = Ledger(state_dir)
        assert poll_until(
            lambda: any(
                e.fault == "swarm.lose_managers" and e.state for e in ledger.open_entries()
            ),
            30,
        ), "the first run did not take a manager"
        held = next(e for e in ledger.open_entries() if e.fault == "swarm.lose_managers")
        node = held.state["nodes"][0]
        second = experiment_file(
            f"""
            version: 1
            title: stop that same manager
            targets:
              it: {{kind: node, select: {{name: {node}}}}}
            method:
              - {{name: stop, fault: node.stop, target: it, duration: 5s}}
            """,
            name="second.yaml",
        )
        result = api.run(
            api.load(second),
            inventory=session_lab.inventory,
            report_dir=tmp_path / "second",
            handle_signals=False,
        )
        assert result.verdict is Verdict.ERROR
        message = result.reasons[0].message
        assert f"{node} already carries fault swarm.lose_managers" in message, message
        assert running(session_lab, node), "the refused run touched the node anyway"
        assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
