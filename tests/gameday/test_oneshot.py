"""``gameday run`` (one drill now) and ``gameday run-due`` (for cron and CI)
against real containers, and ``gameday history``."""

from __future__ import annotations

import json
import time

import pytest

from tests.gameday.test_serve import chaosdrill_env, gameday, history, pause_experiment, paused

pytestmark = pytest.mark.docker


@pytest.fixture
def box(containers):
    return containers.run("busybox", command=["sleep", "600"], wait_healthy=False)


def test_run_due_runs_the_latest_due_fire_once_and_records_the_older_as_superseded(tmp_path, box):
    experiment = pause_experiment(tmp_path, "freeze", box, 0.5)
    state = tmp_path / "state"
    file = gameday(
        tmp_path,
        f"""\
        drills:
          - {{name: tick, experiment: {experiment.name}, when: {{every: 1s}}}}
        """,
    )
    first = chaosdrill_env(state, "gameday", "run-due", str(file), "--report-dir", str(tmp_path))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "nothing was due" in first.stdout
    assert history(file, state) == []  # the first run-due only marks where counting starts

    time.sleep(3.2)
    second = chaosdrill_env(state, "gameday", "run-due", str(file), "--report-dir", str(tmp_path))
    assert second.returncode == 0, second.stdout + second.stderr
    rows = history(file, state)
    ran = [r for r in rows if r.state != "skipped"]
    superseded = [r for r in rows if r.state == "skipped"]
    assert [(r.state, r.how) for r in ran] == [("passed", "run_due")]
    assert len(superseded) >= 2
    assert all(r.skip_reason.startswith("superseded") for r in superseded)
    assert all(r.scheduled < ran[0].scheduled for r in superseded)
    assert not paused(box)

    third = chaosdrill_env(state, "gameday", "run-due", str(file), "--report-dir", str(tmp_path))
    assert third.returncode == 0
    again = history(file, state)
    # nothing recorded twice: each scheduled time once
    assert len({r.scheduled for r in again}) == len(again)
    assert len([r for r in again if r.state == "passed"]) <= 2


def test_run_by_hand_obeys_windows_the_kill_switch_and_reports_the_verdict(tmp_path, box):
    experiment = pause_experiment(tmp_path, "freeze", box, 0.5)
    state = tmp_path / "state"
    # a window that is not now: half an hour, two hours from now (UTC)
    later = time.gmtime(time.time() + 2 * 3600)
    start, end = f"{later.tm_hour:02d}:00", f"{later.tm_hour:02d}:30"
    file = gameday(
        tmp_path,
        f"""\
        windows:
          - {{days: [mon, tue, wed, thu, fri, sat, sun], from: "{start}", to: "{end}"}}
        drills:
          - {{name: freeze, experiment: {experiment.name}, when: {{every: 1h}}}}
        """,
    ).read_text()
    file_path = tmp_path / "gameday.yaml"
    file_path.write_text(file.replace("Europe/Berlin", "UTC"))
    report = ("--report-dir", str(tmp_path / "reports"))

    outside = chaosdrill_env(state, "gameday", "run", str(file_path), "freeze", *report)
    assert outside.returncode == 3, outside.stdout + outside.stderr
    assert "outside every window" in outside.stderr and "--ignore-windows" in outside.stderr

    forced = chaosdrill_env(
        state, "gameday", "run", str(file_path), "freeze", "--ignore-windows", *report
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "started freeze" in forced.stdout and "verdict passed" in forced.stdout

    assert chaosdrill_env(state, "halt", "--reason", "hands off").returncode == 0
    try:
        halted = chaosdrill_env(
            state, "gameday", "run", str(file_path), "freeze", "--ignore-windows", *report
        )
    finally:
        chaosdrill_env(state, "resume")
    assert halted.returncode == 3
    assert "halted: hands off" in halted.stderr

    unknown = chaosdrill_env(state, "gameday", "run", str(file_path), "frieze", *report)
    assert unknown.returncode == 2
    assert "no drill named 'frieze'" in unknown.stderr and "freeze" in unknown.stderr

    rows = history(file_path, state)
    assert [(r.how, r.state) for r in rows] == [
        ("manual", "skipped"),
        ("manual", "passed"),
        ("manual", "skipped"),
    ]
    assert rows[2].skip_reason.startswith("halted: hands off")

    shown = chaosdrill_env(state, "gameday", "history", str(file_path), "--json")
    assert shown.returncode == 0, shown.stderr
    fires = json.loads(shown.stdout)["fires"]
    assert [f["state"] for f in fires] == ["skipped", "passed", "skipped"]
    assert fires[1]["journal"].endswith("journal.json")
    table = chaosdrill_env(state, "gameday", "history", str(file_path), "--limit", "1")
    assert table.returncode == 0
    assert len(table.stdout.strip().splitlines()) == 2 and "halted: hands off" in table.stdout
