"""Safety nets are armed before the method: at a fault's ``at`` only the injection runs.

What is checked here against the engine's own record: when each watchdog
container was created, against when the method began; what a pre-armed
watchdog does with no deadline, with a deadline written later, and with a
half-written one; and a runner killed before its method leaves nothing.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from datetime import datetime
from typing import Any

import pytest

from chaos import api, watchdog
from chaos.engine.result import Verdict
from chaos.helper_containers import HelperCommand
from chaos.ledger import Ledger
from chaos.watchdog import LABEL_TARGET
from tests.conftest import wait_for
from tests.engine.test_safeguards import sigkill, start_run, state

pytestmark = pytest.mark.docker


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_watchdogs_exist_before_the_method_and_the_fault_holds_its_duration(
    containers, experiment_file, tmp_path, docker_client
):
    group = f"g{uuid.uuid4().hex[:10]}"
    webs = [
        containers.run("busybox", command=["sleep", "600"], labels={"grp": group}) for _ in range(3)
    ]
    path = experiment_file(f"""
        version: 1
        title: armed ahead
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, mode: all}}
        steady_state:
          - {{name: up, probe: exec, target: web, command: [sh, -c, "sleep 0.3"]}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 1500ms}}
    """)
    since = time.time() - 1
    result = api.run(api.load(path), report_dir=tmp_path, handle_signals=False)
    until = time.time() + 1
    assert result.verdict is Verdict.PASSED, result.reasons
    journal = result.journal
    method = next(p for p in journal.phases if p.name == "method")
    method_began = _epoch(method.at)
    created = [
        event["timeNano"] / 1e9
        for event in docker_client.api.events(
            since=since,
            until=until,
            decode=True,
            filters={"type": "container", "event": "create", "label": watchdog.LABEL_WATCHDOG},
        )
        if event["Actor"]["Attributes"].get(LABEL_TARGET) in {w.id for w in webs}
    ]
    assert len(created) == 3, "one watchdog per paused container"
    assert max(created) < method_began, "every watchdog was up before the method began"
    for fault in journal.faults:
        assert fault.outcome == "reverted"
        assert fault.injected_at - fault.at < 0.25, "nothing but the injection at its at"
        assert abs(fault.in_effect - 1.5) <= 0.1, fault
    wait_for(
        lambda: (
            not [
                c
                for w in webs
                for c in docker_client.api.containers(
                    all=True, filters={"label": f"{LABEL_TARGET}={w.id}"}
                )
            ]
        ),
        10,
        "the watchdogs to be disarmed",
    )


def test_a_run_that_stops_before_the_method_disarms_what_it_armed(
    containers, experiment_file, tmp_path, docker_client, state_dir
):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: not steady
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: never, probe: exec, target: web, command: [sh, -c, "sleep 1; exit 1"]}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 5s}}
    """)
    result = api.run(api.load(path), report_dir=tmp_path, handle_signals=False)
    assert result.verdict is Verdict.FAILED
    (fault,) = result.journal.faults
    assert fault.outcome == "not_injected" and fault.injected_at is None
    assert Ledger(state_dir).open_entries() == []
    assert not docker_client.api.containers(all=True, filters={"label": f"{LABEL_TARGET}={web.id}"})
    assert not state(web)["Paused"]


def test_a_runner_killed_before_its_method_leaves_no_fault(
    containers, experiment_file, tmp_path, docker_client, state_dir
):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: killed while the steady state is checked
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: slow, probe: exec, target: web, command: [sh, -c, "sleep 20"], timeout: 30s}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 5s}}
    """)
    proc = start_run(path, tmp_path)
    try:
        wait_for(
            lambda: docker_client.api.containers(filters={"label": f"{LABEL_TARGET}={web.id}"}),
            20,
            "the watchdog to be armed",
        )
        sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not state(web)["Paused"], "nothing was injected"
    from tests.conftest import chaosdrill

    done = chaosdrill("recover", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(json.loads(done.stdout)["recovered"]) == 1
    assert Ledger(state_dir).open_entries() == []
    wait_for(
        lambda: (
            not docker_client.api.containers(
                all=True, filters={"label": f"{LABEL_TARGET}={web.id}"}
            )
        ),
        10,
        "the watchdog to be disarmed",
    )
    assert state(web)["Running"] and not state(web)["Paused"]


# -- the watchdog's own program, on the engine ---------------------------------

EXIT_CODE = 42


@pytest.fixture
def armed(runtime: Any, docker_client: Any, monkeypatch: Any) -> Any:
    made: list[str] = []

    def arm(fire_at: float | None = None, idle: int = 60) -> str:
        monkeypatch.setattr(watchdog, "IDLE_LIMIT", idle)
        command = HelperCommand(("sh", "-c", f"exit {EXIT_CODE}"))
        made.append(
            watchdog.arm(runtime, f"t{uuid.uuid4().hex[:10]}", "none", command, fire_at=fire_at)
        )
        return made[-1]

    yield arm
    for container_id in made:
        watchdog.disarm(runtime, container_id)


def _exit_code(docker_client: Any, container_id: str, timeout: float) -> int | None:
    """The watchdog's exit code once it ends; None if it is still waiting."""
    try:
        return int(docker_client.api.wait(container_id, timeout=timeout)["StatusCode"])
    except Exception:
        return None


def test_a_watchdog_without_a_deadline_leaves_by_itself_untouched(armed, docker_client):
    container_id = armed(idle=1)
    assert _exit_code(docker_client, container_id, 15) == 0, "it never ran the revert"


def test_a_watchdog_fires_at_a_deadline_written_later(armed, docker_client, runtime):
    container_id = armed()
    assert _exit_code(docker_client, container_id, 2.5) is None, "no deadline, no revert"
    fire_at = time.time() + 2
    assert watchdog.set_deadline(runtime, container_id, fire_at)
    assert _exit_code(docker_client, container_id, 10) == EXIT_CODE
    assert time.time() >= fire_at - 0.01, "never before its deadline"


def test_a_deadline_moved_later_holds_the_watchdog_back(armed, docker_client, runtime):
    container_id = armed(fire_at=time.time() + 2)
    assert watchdog.set_deadline(runtime, container_id, time.time() + 6)
    assert _exit_code(docker_client, container_id, 4.5) is None, "the later deadline holds"
    assert _exit_code(docker_client, container_id, 10) == EXIT_CODE


def test_a_half_written_deadline_is_never_taken_for_one(armed, docker_client):
    container_id = armed()
    line = b"17"  # a deadline long past, without its tag: a write caught halfway
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(watchdog.DEADLINE_FILE)
        info.size = len(line)
        archive.addfile(info, io.BytesIO(line))
    assert docker_client.api.put_archive(container_id, watchdog.DEADLINE_DIR, buffer.getvalue())
    assert _exit_code(docker_client, container_id, 4) is None


def test_set_deadline_on_a_watchdog_that_is_gone_says_so(runtime):
    assert watchdog.set_deadline(runtime, "0" * 64, time.time() + 5) is False


def test_engine_time_stamps_parse_to_epoch_seconds():
    assert watchdog._parse_engine_time("2026-12-02T07:50:00.123456789Z") == pytest.approx(
        datetime.fromisoformat("2026-12-02T07:50:00.123456+00:00").timestamp()
    )
    assert watchdog._parse_engine_time("2026-12-02T08:50:00+01:00") == pytest.approx(
        datetime.fromisoformat("2026-12-02T07:50:00+00:00").timestamp()
    )


def test_a_local_engine_shares_our_clock(runtime):
    assert watchdog.engine_clock_offset(runtime) == 0.0
