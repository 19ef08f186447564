"""chaos.pausing: no exec starts in a container that a pause holds or is being applied to."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from chaos import pausing
from chaos.ledger import Entry, Ledger, default_state_dir


@pytest.fixture
def cid() -> Iterator[str]:
    """A container id of the test's own, released whatever the test did."""
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    yield container_id
    for run_id in pausing.held(container_id):
        pausing.release(container_id, run_id)


def can_exec(container_id: str, label: str = "web-1") -> str:
    try:
        with pausing.exec_slot(container_id, label):
            return "started"
    except pausing.ContainerPaused as exc:
        return str(exc)


def test_a_held_container_refuses_execs_until_released(cid):
    assert can_exec(cid) == "started"
    pausing.hold(cid, "run-a")
    assert can_exec(cid) == "web-1: paused (by chaosdrill run run-a)"
    assert can_exec(cid[:12]) == "web-1: paused (by chaosdrill run run-a)", "a short id too"
    assert pausing.paused_by(cid) == "run-a"
    pausing.release(cid, "run-a")
    assert can_exec(cid) == "started"
    assert pausing.paused_by(cid) is None


def test_each_run_releases_only_its_own_hold(cid):
    pausing.hold(cid, "run-a")
    pausing.hold(cid, "run-b")
    pausing.release(cid, "run-a")
    assert can_exec(cid) == "web-1: paused (by chaosdrill run run-b)"
    pausing.release(cid, "run-a")  # a second release of the same run changes nothing
    assert can_exec(cid).startswith("web-1: paused")
    pausing.release(cid, "run-b")
    assert can_exec(cid) == "started"


def test_a_pause_waits_for_an_exec_that_is_starting(cid):
    entered, leave = threading.Event(), threading.Event()
    left_at: list[float] = []

    def exec_under_way() -> None:
        with pausing.exec_slot(cid, "web-1"):
            entered.set()
            leave.wait(5)
            left_at.append(time.monotonic())

    worker = threading.Thread(target=exec_under_way)
    worker.start()
    assert entered.wait(5)
    threading.Timer(0.4, leave.set).start()
    started = time.monotonic()
    pausing.hold(cid, "run-a", wait=3.0)
    held_at = time.monotonic()
    worker.join(5)
    assert left_at and held_at >= left_at[0], "the pause went ahead only after the exec"
    assert 0.3 < held_at - started < 2.5


def test_a_pause_does_not_wait_forever_for_a_long_exec(cid):
    entered, leave = threading.Event(), threading.Event()

    def long_exec() -> None:
        with pausing.exec_slot(cid, "web-1"):
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=long_exec)
    worker.start()
    try:
        assert entered.wait(5)
        started = time.monotonic()
        pausing.hold(cid, "run-a", wait=0.3)
        assert 0.2 < time.monotonic() - started < 2.0
    finally:
        leave.set()
        worker.join(5)


def _entry(fault: str, target_id: str, pid: int, **extra: object) -> Entry:
    return Entry(
        id=uuid.uuid4().hex[:16],
        run_id=f"other-{pid}",
        pid=pid,
        host=socket.gethostname(),
        fault=fault,
        step="freeze",
        target={"id": target_id, "name": "web-1"},
        params={},
        opened_at=time.time(),
        **extra,  # type: ignore[arg-type]
    )


def dead_pid() -> int:
    done = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_another_live_runs_pause_in_the_ledger_refuses_execs(cid, state_dir):
    assert default_state_dir() == state_dir
    ledger = Ledger(state_dir)
    live_other = 1  # init: alive, and not this process
    ledger.open(_entry("container.pause", cid, live_other))
    assert can_exec(cid) == f"web-1: paused (by chaosdrill run other-{live_other})"
    assert pausing.paused_by(cid) == f"other-{live_other}"


@pytest.mark.parametrize(
    "case", ["runner gone", "not a pause", "another container", "this process's own"]
)
def test_ledger_entries_that_do_not_pause_this_container_are_ignored(cid, state_dir, case):
    entry = {
        "runner gone": lambda: _entry("container.pause", cid, dead_pid()),
        "not a pause": lambda: _entry("container.stop", cid, 1),
        "another container": lambda: _entry("container.pause", uuid.uuid4().hex, 1),
        # this process's pauses are in the registry, which alone decides for them
        "this process's own": lambda: _entry("container.pause", cid, os.getpid()),
    }[case]()
    Ledger(state_dir).open(entry)
    assert can_exec(cid) == "started"


def test_a_lab_node_pause_in_the_ledger_refuses_execs_into_the_nodes_container(cid, state_dir):
    ledger = Ledger(state_dir)
    ledger.open(_entry("node.pause", "swarmnodeid", 1, state={"container": cid}))
    assert can_exec(cid) == "web-1: paused (by chaosdrill run other-1)"
