"""The kill switch against real containers: a halt reverts at once and nothing starts.

Each test halts its own state directory (the autouse ``state_dir`` fixture sets
``CHAOSDRILL_STATE_DIR`` for it and the processes it starts), never the default
one: other sessions on this machine keep running. Containers are the test's
own (labels) and are removed by the ``containers`` fixture, even on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.events import PhaseStarted
from chaos.engine.result import Verdict
from chaos.errors import Halted
from chaos.halt import HaltFlag, HaltWatcher, current_user
from chaos.ledger import Ledger
from tests.conftest import ROOT, chaosdrill, wait_for
from tests.halt_support import pause_experiment

pytestmark = pytest.mark.docker

HALT_WITHIN = 2.0
"""Seconds from the halt command to the run's end (the switch promises 1 s for the
revert; the rest is the run writing its journal and exiting)."""


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def pauses_since(client: Any, container: Any, since: datetime) -> int:
    """How many times the engine paused ``container`` since ``since`` (its events)."""
    until = datetime.now(timezone.utc)
    events = client.api.events(
        since=since,
        until=until,
        filters={"container": container.id, "event": "pause"},
        decode=True,
    )
    return sum(1 for _ in events)


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def start(args: list[str], **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "chaos", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        **kw,
    )


def halt(reason: str) -> float:
    """``chaosdrill halt --reason REASON``; returns when it was called (monotonic)."""
    called = time.monotonic()
    proc = chaosdrill("halt", "--reason", reason)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return called


def halted_while_paused(
    args: list[str], container: Any, reason: str
) -> tuple[int, str, str, float]:
    """Start ``chaosdrill ARGS``, wait until it has paused ``container``, halt with
    ``reason`` and wait for the process to end (killed if it outlives the test);
    return its exit code, its output and how long after the halt it ended."""
    proc = start(args)
    try:
        wait_for(lambda: paused(container) or proc.poll() is not None, 60, "the pause")
        assert proc.poll() is None, proc.communicate()
        called = halt(reason)
        out, err = proc.communicate(timeout=30)
        ended = time.monotonic() - called
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err, ended


def test_halt_during_a_run_reverts_at_once_and_aborts(
    containers, docker_client, tmp_path, group, state_dir
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    path = tmp_path / "pause.yaml"
    path.write_text(pause_experiment("a long pause", group, "30s"))
    args = ["run", str(path), "--json", "--report-dir", str(tmp_path / "reports")]
    code, out, err, ended = halted_while_paused(args, web, "stop the drill")
    assert code == 3, out + err
    assert ended < HALT_WITHIN, f"the run ended {ended:.2f}s after the halt"
    print(f"halt to the run's end: {ended:.3f}s")
    assert not paused(web)
    data = json.loads(out)
    assert data["verdict"] == "aborted" and data["exit_code"] == 3
    first = data["reasons"][0]
    assert first["kind"] == "halted"
    assert first["message"].startswith(f"halted: stop the drill (by {current_user()} at ")
    assert first["phase"] == "method" and first["faults"] == ["freeze"]
    journal = json.loads(Path(data["journal"]).read_text())
    assert journal["verdict"] == "aborted"
    assert journal["reasons"][0]["kind"] == "halted"
    assert journal["reasons"][0]["message"] == first["message"]
    fault = journal["faults"][0]
    assert fault["outcome"] == "reverted"
    assert fault["in_effect"] < 10, "reverted long before its 30 s"
    assert Ledger(state_dir).open_entries() == []


def test_while_halted_nothing_starts_and_resume_lets_it(
    containers, docker_client, tmp_path, group, state_dir
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    path = tmp_path / "pause.yaml"
    path.write_text(pause_experiment("a short pause", group, "1s"))
    since = datetime.now(timezone.utc)
    halt("change freeze")
    refused = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path / "reports"))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert refused.stderr.startswith(
        f"chaosdrill: halted: change freeze (by {current_user()} at "
    ), refused.stderr
    assert "lift it with `chaosdrill resume`" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
    assert not (tmp_path / "reports").exists()
    assert pauses_since(docker_client, web, since) == 0 and not paused(web)
    assert Ledger(state_dir).open_entries() == []

    resumed = chaosdrill("resume")
    assert resumed.returncode == 0 and resumed.stdout.startswith("resumed:")
    ran = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path / "reports"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    data = json.loads(ran.stdout)
    assert data["verdict"] == "passed"
    assert pauses_since(docker_client, web, since) == 1, "the run after resume paused it"
    assert not paused(web)


def test_api_fault_refuses_while_halted(containers, docker_client, state_dir):
    web = containers.run("busybox", command=["sleep", "300"])
    since = datetime.now(timezone.utc)
    HaltFlag(state_dir).halt("hands off", user="tester")
    target = {"select": {"name": web.name}}
    with (
        pytest.raises(Halted, match=r"^halted: hands off \(by tester at "),
        api.fault("container.pause", target=target, duration="5s"),
    ):
        pytest.fail("the block must not run while halted")
    assert pauses_since(docker_client, web, since) == 0 and not paused(web)
    assert Ledger(state_dir).open_entries() == []


@pytest.fixture
def sigint(request: Any) -> Any:
    """SIGINT as the test asks (``default`` or ``ignored``), whatever this process
    inherited: started in the background by a shell, or under ``nohup``, a
    process begins with SIGINT ignored, and the session then leaves it alone."""
    wanted = signal.default_int_handler if request.param == "default" else signal.SIG_IGN
    previous = signal.signal(signal.SIGINT, wanted)
    yield request.param
    signal.signal(signal.SIGINT, previous)


def _sigint_default() -> None:
    """For a child process: SIGINT back to its default, so Python installs its
    KeyboardInterrupt (a background shell starts children with it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sigint", ["default"], indirect=True)
def test_halt_during_api_fault_reverts_and_leaves_the_block(
    containers, docker_client, state_dir, sigint
):
    """On the main thread the block is left at once, even from a sleep."""
    web = containers.run("busybox", command=["sleep", "300"])
    flag = HaltFlag(state_dir)
    left_at = None
    target = {"select": {"name": web.name}}
    with api.session() as session:
        with (
            pytest.raises(Halted, match=r"^halted: in a block \(by tester at .*reverted"),
            session.fault("container.pause", target=target, duration="30s"),
        ):
            assert paused(web)
            flag.halt("in a block", user="tester")
            thrown = time.monotonic()
            try:
                time.sleep(20)
            finally:
                left_at = time.monotonic() - thrown
        assert left_at is not None and left_at < 1.0, left_at
        assert not paused(web)
    result = session.result
    assert result is not None and result.verdict is Verdict.ABORTED
    assert [r.kind for r in result.reasons] == ["halted"]
    assert result.reasons[0].message.startswith("halted: in a block (by tester at ")
    assert [f.outcome for f in result.journal.faults] == ["reverted"]
    assert Ledger(state_dir).open_entries() == []


@pytest.mark.parametrize("sigint", ["ignored"], indirect=True)
def test_with_sigint_ignored_a_halt_still_reverts_at_once_and_the_block_learns_at_its_end(
    containers, docker_client, state_dir, sigint
):
    """A program that ignores SIGINT (``nohup``, a background job) keeps it: the
    halt cannot cut its sleep short, but the fault goes at once all the same."""
    web = containers.run("busybox", command=["sleep", "300"])
    flag = HaltFlag(state_dir)
    target = {"select": {"name": web.name}}
    with api.session() as session:
        with (
            pytest.raises(Halted, match=r"^halted: ignored sigint \(by tester at "),
            session.fault("container.pause", target=target, duration="30s"),
        ):
            assert paused(web)
            flag.halt("ignored sigint", user="tester")
            halted_at = time.monotonic()
            wait_for(lambda: not paused(web), 2, "the revert after the halt")
            reverted_in = time.monotonic() - halted_at
            time.sleep(1)  # the block runs to its end
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert reverted_in < 2
    result = session.result
    assert result is not None and result.verdict is Verdict.ABORTED
    assert [r.kind for r in result.reasons] == ["halted"]
    assert Ledger(state_dir).open_entries() == []


def test_no_fault_goes_in_after_a_halt_even_before_the_watcher_looks(
    containers, docker_client, tmp_path, group, state_dir, monkeypatch
):
    """With the watcher blind, the look just before the injection is what stops it."""
    monkeypatch.setattr(HaltWatcher, "_watch", lambda self: None)
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    path = tmp_path / "late.yaml"
    path.write_text(
        pause_experiment("late", group, "5s").replace("duration: 5s}", "duration: 5s, at: 300ms}")
    )
    flag = HaltFlag(state_dir)

    def observer(event: Any) -> None:
        if isinstance(event, PhaseStarted) and event.phase == "method":
            flag.halt("just in time", user="tester")

    since = datetime.now(timezone.utc)
    result = api.run(
        api.load(path), report_dir=tmp_path / "r", handle_signals=False, observer=observer
    )
    assert result.verdict is Verdict.ABORTED, result.describe()
    assert result.reasons[0].kind == "halted"
    assert result.reasons[0].message.startswith("halted: just in time (by tester at ")
    assert [f.injected_at for f in result.journal.faults] == [None]
    assert pauses_since(docker_client, web, since) == 0 and not paused(web)
    assert Ledger(state_dir).open_entries() == []


HALTED_TEST = """\
import time
from pathlib import Path


def test_holds_a_pause(chaos):
    with chaos.fault("container.pause", target={{"select": {{"name": "{name}"}}}}, duration="30s"):
        Path("{mark}").write_text("in")
        time.sleep(60)
"""


def test_halt_during_a_pytest_chaos_fault(containers, tmp_path, state_dir):
    web = containers.run("busybox", command=["sleep", "300"])
    mark = tmp_path / "injected"
    test = tmp_path / "test_hold.py"
    test.write_text(HALTED_TEST.format(name=web.name, mark=mark))
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_sigint_default,
    )
    try:
        wait_for(lambda: mark.exists() or inner.poll() is not None, 60, "the fault injected")
        assert inner.poll() is None, inner.communicate()
        assert paused(web)
        called = halt("pytest halted")
        wait_for(lambda: not paused(web), HALT_WITHIN, "the unpause after the halt")
        unpaused = time.monotonic() - called
        output, _ = inner.communicate(timeout=30)
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.communicate()
    print(f"halt to unpaused: {unpaused:.3f}s")
    assert inner.returncode == 1, output  # the test failed; the session went on to its end
    assert "1 failed" in output
    assert "Halted: halted: pytest halted (by " in output, output
    assert "every active fault was reverted" in output
    assert not paused(web)
    assert Ledger(state_dir).open_entries() == []


def test_halt_during_a_suite_stops_it_and_starts_nothing_more(
    containers, docker_client, tmp_path, state_dir
):
    first_group, second_group = f"g{uuid.uuid4().hex[:10]}", f"g{uuid.uuid4().hex[:10]}"
    first = containers.run("busybox", command=["sleep", "300"], labels={"grp": first_group})
    second = containers.run("busybox", command=["sleep", "300"], labels={"grp": second_group})
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "a-first.yaml").write_text(pause_experiment("first", first_group, "30s"))
    (folder / "b-second.yaml").write_text(pause_experiment("second", second_group, "1s"))
    since = datetime.now(timezone.utc)
    args = ["suite", str(folder), "--report-dir", str(tmp_path / "reports")]
    code, out, err, ended = halted_while_paused(args, first, "suite halted")
    assert code == 3, out + err
    assert ended < HALT_WITHIN + 1, ended
    assert not paused(first)
    lines = out.splitlines()
    assert any(
        line.startswith("aborted  first") and ": halted: suite halted (by " in line
        for line in lines
    ), out
    assert any(
        line.startswith("aborted  second") and ": not run: halted: suite halted (by " in line
        for line in lines
    ), out
    assert "suite FAILED (exit 3): halted: suite halted (by " in out
    assert pauses_since(docker_client, second, since) == 0, "the second never started"
    assert not paused(second)
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["suite.a-first"]
    assert Ledger(state_dir).open_entries() == []


def test_an_experiment_item_fails_unrun_while_halted(
    containers, docker_client, tmp_path, group, state_dir
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    (tmp_path / "pause.chaos.yaml").write_text(pause_experiment("item", group, "1s"))
    since = datetime.now(timezone.utc)
    HaltFlag(state_dir).halt("no items", user="tester")
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "pause.chaos.yaml"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = inner.stdout + inner.stderr
    assert inner.returncode == 1, output
    assert "aborted: halted: no items (by tester at " in output
    assert "Traceback" not in output
    assert pauses_since(docker_client, web, since) == 0 and not paused(web)
