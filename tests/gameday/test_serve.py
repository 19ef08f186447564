"""``chaosdrill gameday serve`` end to end: a real daemon process firing drills
at real containers, read back from its history, its log, the engine and a
webhook receiver on 127.0.0.1."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, wait_for
from tests.gameday.receivers import receiver

pytestmark = pytest.mark.docker


class Serve:
    """A ``gameday serve`` process whose output lines are collected as they come."""

    def __init__(self, file: Path, state_dir: Path, reports: Path, **env: str):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chaos",
                "gameday",
                "serve",
                str(file),
                "--report-dir",
                str(reports),
            ],
            cwd=ROOT,
            env={**os.environ, "CHAOSDRILL_STATE_DIR": str(state_dir), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(5)


@pytest.fixture
def serves():
    started: list[Serve] = []

    def start(*args: Any, **env: str) -> Serve:
        started.append(Serve(*args, **env))
        return started[-1]

    yield start
    for serve in started:
        with contextlib.suppress(Exception):
            serve.kill()


@pytest.fixture
def sleeper(containers):
    def make() -> Any:
        return containers.run("busybox", command=["sleep", "600"], wait_healthy=False)

    return make


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def pause_experiment(folder: Path, name: str, container: Any, seconds: float) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(f"""\
            version: 1
            title: {name}
            targets:
              box: {{select: {{name: {container.name}}}}}
            method:
              - {{name: freeze, fault: container.pause, target: box, duration: {seconds}s}}
        """)
    )
    return path


def gameday(folder: Path, body: str) -> Path:
    path = folder / "gameday.yaml"
    path.write_text(
        "version: 1\nkind: gameday\ntitle: drills under test\ntimezone: Europe/Berlin\n"
        + textwrap.dedent(body)
    )
    return path


def history(file: Path, state_dir: Path) -> list[Any]:
    from chaos.gameday.history import History

    with History(file, state_dir) as h:
        return list(reversed(h.rows(500)))  # oldest first


def chaosdrill_env(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        cwd=ROOT,
        env={**os.environ, "CHAOSDRILL_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def finished_before_the_stop(runs: list[Any]) -> list[Any]:
    """The runs less the last one when SIGTERM aborted it (checked: reverted, so
    it says ``interrupted``)."""
    if runs and runs[-1].state == "aborted":
        assert runs[-1].reasons[0]["kind"] == "interrupted", runs[-1].reasons
        assert runs[-1].ended is not None
        return runs[:-1]
    return runs


def test_every_fire_runs_once_a_long_drill_is_never_overlapped_and_a_webhook_hears_it(
    tmp_path, sleeper, serves
):
    quick_box, long_box = sleeper(), sleeper()
    quick = pause_experiment(tmp_path, "quick", quick_box, 1)
    slow = pause_experiment(tmp_path, "slow", long_box, 4)
    state = tmp_path / "state"
    with receiver() as hook:
        file = gameday(
            tmp_path,
            f"""\
            defaults: {{concurrency: allow}}
            drills:
              - {{name: quick, experiment: {quick.name}, when: {{every: 3s}}}}
              - {{name: slow, experiment: {slow.name}, when: {{every: 2s}}}}
            notify:
              - {{webhook: "{hook.url}", announce: 1s, events: [announce, started, finished]}}
            """,
        )
        serve = serves(file, state, tmp_path / "reports")
        wait_for(lambda: serve.said("serving"), 30, "the daemon to start")
        wait_for(
            lambda: (
                len([r for r in history(file, state) if r.drill == "quick" and r.state == "passed"])
                >= 5
            ),
            40,
            "five passed fires of the quick drill",
        )
        assert serve.stop() == 0, serve.output()
        received = [r.body for r in hook.requests]
    rows = history(file, state)
    assert not paused(quick_box) and not paused(long_box)

    quick_rows = finished_before_the_stop([r for r in rows if r.drill == "quick"])
    assert all(r.state == "passed" for r in quick_rows), [(r.state, r.reasons) for r in rows]
    scheduled = [r.scheduled for r in quick_rows]
    # every fire from the first to the last, once each: none dropped, none doubled
    assert [b - a for a, b in itertools.pairwise(scheduled)] == [timedelta(seconds=3)] * (
        len(scheduled) - 1
    )
    for row in quick_rows:
        assert row.started is not None and row.fire_at is not None
        assert timedelta(0) <= row.started - row.fire_at < timedelta(seconds=1)

    slow_rows = [r for r in rows if r.drill == "slow"]
    slow_runs = [r for r in slow_rows if r.state != "skipped"]
    ran = finished_before_the_stop(slow_runs)
    skipped = [r for r in slow_rows if r.state == "skipped"]
    assert len(ran) >= 2 and skipped, [(r.state, r.skip_reason) for r in slow_rows]
    assert all(r.state == "passed" for r in ran), [(r.state, r.reasons) for r in ran]
    for before, after in itertools.pairwise(slow_runs):
        assert after.started >= before.ended, "two runs of one drill overlapped"
    assert all(r.skip_reason.startswith("previous still running") for r in skipped)
    for row in skipped:  # skipped while one of its runs really was running
        assert any(r.started <= row.scheduled <= r.ended for r in slow_runs), (row, slow_runs)

    assert all(event["schema"] == "chaosdrill.gameday-event/1" for event in received)
    by_fire: dict[tuple[str, str], list[str]] = {}
    for event in received:
        by_fire.setdefault((event["drill"], event["scheduled"]), []).append(event["kind"])
    quick_fires = [kinds for (drill, _), kinds in by_fire.items() if drill == "quick"]
    assert ["announce", "started", "finished"] in quick_fires, by_fire
    finished = [e for e in received if e["kind"] == "finished" and e["drill"] == "quick"]
    assert finished and all(e["verdict"] == "passed" and e["journal"] for e in finished)
    assert all(Path(e["journal"]).is_file() for e in finished)


def test_a_daemon_killed_mid_drill_leaves_the_revert_to_the_watchdog_and_never_reruns_it(
    tmp_path, sleeper, serves
):
    box = sleeper()
    experiment = pause_experiment(tmp_path, "freeze", box, 4)
    state = tmp_path / "state"
    soon = datetime.now(timezone.utc) + timedelta(seconds=4)
    file = gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: once, experiment: {experiment.name}, when: {{at: "{soon:%Y-%m-%dT%H:%M:%S}Z"}}}}
          - {{name: later, experiment: {experiment.name}, when: {{every: 1h}}}}
        """,
    )
    serve = serves(file, state, tmp_path / "reports", CHAOSDRILL_WATCHDOG_GRACE="1")
    wait_for(lambda: paused(box), 30, "the drill to pause the container")
    serve.kill()
    killed = time.monotonic()
    [row] = history(file, state)
    assert (row.drill, row.state) == ("once", "running")
    # nobody unpauses it but the watchdog: at the fault's planned end (4 s after the
    # method starts) plus the scheduling lead and its grace (1 s), not before
    from chaos.engine.activity import SCHEDULE_LEAD

    time.sleep(2)
    assert paused(box), "unpaused long before its watchdog's deadline"
    wait_for(lambda: not paused(box), 20, "the watchdog to unpause the container")
    assert time.monotonic() - killed < 4 + SCHEDULE_LEAD + 1 + 3

    again = serves(file, state, tmp_path / "reports")
    wait_for(lambda: again.said("interrupted once"), 30, "the restart to see the dead fire")
    time.sleep(2)  # room for a wrong second run of the fire to start
    assert again.stop() == 0, again.output()
    rows = history(file, state)
    assert [(r.drill, r.state, r.scheduled) for r in rows] == [
        ("once", "interrupted", row.scheduled)
    ]
    assert not again.said("started once")
    assert not paused(box)


def test_halt_aborts_the_running_drill_skips_later_fires_and_resume_lets_them_run(
    tmp_path, sleeper, serves
):
    box = sleeper()
    experiment = pause_experiment(tmp_path, "freeze", box, 30)
    state = tmp_path / "state"
    file = gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: freeze, experiment: {experiment.name}, when: {{every: 2s}}}}
        """,
    )
    serve = serves(file, state, tmp_path / "reports")
    try:
        wait_for(lambda: paused(box), 30, "the drill to pause the container")
        halted = chaosdrill_env(state, "halt", "--reason", "game day under test")
        asked = time.monotonic()
        assert halted.returncode == 0, halted.stderr
        wait_for(lambda: not paused(box), 5, "the halt to unpause the container")
        assert time.monotonic() - asked < 2
        wait_for(
            lambda: any(r.state == "aborted" for r in history(file, state)),
            10,
            "the drill to end aborted",
        )
        wait_for(
            lambda: any(
                r.state == "skipped" and r.skip_reason.startswith("halted: game day under test")
                for r in history(file, state)
            ),
            10,
            "a later fire skipped as halted",
        )
        assert not paused(box)
    finally:
        resumed = chaosdrill_env(state, "resume")
    assert resumed.returncode == 0, resumed.stderr
    since = datetime.now(timezone.utc)
    wait_for(
        lambda: any(r.started and r.started >= since for r in history(file, state)),
        10,
        "a fire to run again after resume",
    )
    wait_for(lambda: paused(box), 10, "the drill to pause the container again")
    assert serve.stop() == 0, serve.output()
    assert not paused(box)  # SIGTERM aborted the running drill and reverted it

    rows = history(file, state)
    aborted = [r for r in rows if r.state == "aborted"]
    assert aborted[0].reasons[0]["kind"] == "halted"
    assert "game day under test" in aborted[0].reasons[0]["message"]
    assert aborted[-1].reasons[0]["kind"] == "interrupted"
    assert serve.said("halted - halted: game day under test")
    assert serve.said("resumed")


def test_a_second_serve_of_the_file_refuses_and_names_the_first(tmp_path, sleeper, serves):
    state = tmp_path / "state"
    experiment = pause_experiment(tmp_path, "freeze", sleeper(), 1)
    file = gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: freeze, experiment: {experiment.name}, when: {{every: 1h}}}}
        """,
    )
    first = serves(file, state, tmp_path / "reports")
    wait_for(lambda: first.said("serving"), 30, "the first daemon to start")
    second = chaosdrill_env(state, "gameday", "serve", str(file))
    assert second.returncode == 4, second.stdout + second.stderr
    assert f"pid {first.process.pid}" in second.stderr
    assert "refusing to start a second one" in second.stderr
    assert "Traceback" not in second.stderr
    assert first.process.poll() is None
    assert first.stop() == 0


def test_an_edited_file_is_reloaded_and_a_broken_one_leaves_the_schedule_as_it_was(
    tmp_path, sleeper, serves
):
    experiment = pause_experiment(tmp_path, "freeze", sleeper(), 0.5)
    state = tmp_path / "state"
    file = gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: hourly, experiment: {experiment.name}, when: {{every: 1h}}}}
        """,
    )
    serve = serves(file, state, tmp_path / "reports")
    wait_for(lambda: serve.said("serving"), 30, "the daemon to start")
    gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: often, experiment: {experiment.name}, when: {{every: 2s}}}}
        """,
    )
    wait_for(lambda: serve.said("reloaded 1 drills"), 10, "the edited file to be reloaded")
    wait_for(
        lambda: any(r.drill == "often" and r.state == "passed" for r in history(file, state)),
        15,
        "the new drill to run",
    )
    file.write_text(file.read_text().replace("every: 2s", "every: soon"))
    serve.process.send_signal(signal.SIGHUP)
    wait_for(lambda: serve.said("the schedule stays as it was"), 10, "the broken file refused")
    assert serve.said(f"{file}:") and serve.said("every")  # FILE:LINE:COL of the problem
    ran = len([r for r in history(file, state) if r.state == "passed"])
    wait_for(
        lambda: len([r for r in history(file, state) if r.state == "passed"]) > ran,
        15,
        "the old schedule to go on",
    )
    assert serve.stop() == 0, serve.output()
    assert not serve.said("Traceback")


@pytest.mark.parametrize("catch_up", ["skip", "once"])
def test_fires_missed_while_no_daemon_ran_are_recorded_or_the_latest_caught_up(
    tmp_path, sleeper, serves, catch_up
):
    experiment = pause_experiment(tmp_path, "freeze", sleeper(), 0.3)
    state = tmp_path / "state"
    file = gameday(
        tmp_path,
        f"""\
        defaults: {{catch_up: {catch_up}}}
        drills:
          - {{name: tick, experiment: {experiment.name}, when: {{every: 2s}}}}
        """,
    )
    first = serves(file, state, tmp_path / "reports")
    wait_for(lambda: any(r.state == "passed" for r in history(file, state)), 30, "a first fire")
    assert first.stop() == 0
    stopped = datetime.now(timezone.utc)
    time.sleep(5)
    again = serves(file, state, tmp_path / "reports")
    wait_for(lambda: again.said("serving"), 30, "the restart")
    restarted = datetime.now(timezone.utc)
    wait_for(
        lambda: any(r.started and r.started > restarted for r in history(file, state)),
        15,
        "a fire after the restart",
    )
    assert again.stop() == 0, again.output()
    rows = history(file, state)
    assert len({r.scheduled for r in rows}) == len(rows)  # no fire twice
    gap = [r for r in rows if stopped < r.scheduled < restarted]
    missed = [r for r in gap if r.skip_reason == "missed: no scheduler was running"]
    caught = [r for r in gap if r.how == "catch_up" and r.state != "skipped"]
    seen = [(r.scheduled.time(), r.how, r.state, r.skip_reason) for r in rows]
    if catch_up == "skip":
        assert len(missed) >= 2 and not caught, seen
    else:
        assert len(caught) == 1 and caught[0].state in ("passed", "aborted"), seen
        assert caught[0].scheduled == max(r.scheduled for r in gap), seen
        assert len(missed) >= 1, seen
