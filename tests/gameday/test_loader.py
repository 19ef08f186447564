"""Loading game day files: every problem at its FILE:LINE:COL, never a traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chaos.errors import InvalidExperiment, UsageError
from chaos.gameday.kind import is_gameday
from chaos.gameday.loader import load_gameday

VALID = """\
version: 1
kind: gameday
title: Weekday resilience drills
timezone: Europe/Berlin
windows:
  - {days: [mon, tue, wed, thu, fri], from: "10:00", to: "16:00"}
  - {days: [sat], from: "22:00", to: "02:00"}
blackout:
  - 2026-12-24..2026-12-26
  - 2026-12-31
  - {holidays: DE}
defaults: {concurrency: forbid, min_gap: 30m, max_per_day: 4, catch_up: skip}
drills:
  - {name: web-crash, experiment: web.yaml, when: {cron: "*/15 * * * *", jitter: 60s}}
  - {name: quorum, experiment: web.yaml, lab: lab, when: {random: {mean_between: 2d, min_between: 1d}}}
  - {name: nightly-suite, suite: suite/, fail_under: 80, when: {every: 6h}}
  - {name: once, experiment: web.yaml, when: {at: "2026-12-07T10:30"}}
notify:
  - {webhook: {env: CHAOS_WEBHOOK}, announce: 10m, timeout: 5s}
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "web.yaml").write_text("version: 1\n")
    (tmp_path / "suite").mkdir(exist_ok=True)
    path = tmp_path / "day.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(InvalidExperiment) as caught:
        load_gameday(path)
    return [str(p).replace(f"{path}:", "") for p in caught.value.problems]


def test_the_example_loads(tmp_path):
    loaded = load_gameday(_write(tmp_path, VALID))
    day = loaded.gameday
    assert [d.name for d in day.drills] == ["web-crash", "quorum", "nightly-suite", "once"]
    assert loaded.target(day.drills[2]) == tmp_path / "suite/"
    assert day.policy(day.drills[0]).min_gap == 1800
    assert day.drills[1].when.random is not None
    assert day.drills[1].when.random.mean_between == 2 * 86400
    assert is_gameday(tmp_path / "day.yaml")
    assert not is_gameday(tmp_path / "web.yaml")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "timezone: Europe/Berlin",
            "timezone: Europe/Berln",
            "4:11: timezone: unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        ),
        (
            "[mon, tue, wed, thu, fri]",
            "[mon, tue, wed, thr, fri]",
            "6:28: windows[0].days[3]: unknown day 'thr' (did you mean 'thu'?)",
        ),
        (
            'from: "10:00", to: "16:00"',
            'from: "10:00", to: "10:00"',
            "6:5: windows[0]: window opens and closes at 10:00: it would be empty",
        ),
        (
            'from: "10:00", to: "16:00"',
            'from: 10:00, to: "16:00"',
            '6:45: windows[0].from: write times in quotes ("10:00")',
        ),
        (
            "2026-12-24..2026-12-26",
            "2026-12-26..2026-12-24",
            "9:5: blackout[0]: range 2026-12-26..2026-12-24 ends before it starts",
        ),
        (
            "- 2026-12-31",
            "- 31.12.2026",
            "10:5: blackout[1]: expected a day (2026-12-31), a range of days",
        ),
        (
            "{holidays: DE}",
            "{holidays: XY}",
            "11:16: blackout[2].holidays: unknown holiday country 'XY'",
        ),
        (
            "{holidays: DE}",
            "{holidays: DE, subdiv: XX}",
            "11:16: blackout[2].holidays: DE has no subdivision 'XX'",
        ),
        (
            '{cron: "*/15 * * * *"',
            '{cron: "*/15 * * *"',
            "14:58: drills[0].when.cron: cron '*/15 * * *' has 4 fields",
        ),
        (
            '{cron: "*/15 * * * *"',
            '{cron: "61 * * * *"',
            "14:58: drills[0].when.cron: cron '61 * * * *': Error validating expression '61'",
        ),
        (
            "name: quorum",
            "name: web-crash",
            "15:12: drills[1].name: duplicate drill name 'web-crash' (also drills[0])",
        ),
        (
            "name: once, experiment: web.yaml",
            "name: once, experiment: missing.yaml",
            "17:30: drills[3].experiment: experiment file missing.yaml does not exist",
        ),
        (
            "suite: suite/",
            "suite: nowhere/",
            "16:34: drills[2].suite: suite path nowhere/ does not exist",
        ),
        (
            "name: once, experiment: web.yaml,",
            "name: once, experiment: web.yaml, fail_under: 50,",
            "17:5: drills[3]: fail_under is a suite's threshold: it needs suite",
        ),
        (
            "lab: lab,",
            "lab: lab, inventory: web.yaml,",
            "15:5: drills[1]: give lab or inventory, not both",
        ),
        (
            "name: once, experiment: web.yaml,",
            "name: once, experiment: web.yaml, suite: suite/,",
            "17:5: drills[3]: give exactly one of experiment (a file) or suite",
        ),
        (
            '{at: "2026-12-07T10:30"}',
            '{at: "2026-12-07T10:30", every: 1h}',
            "17:46: drills[3].when: give exactly one of cron, every, at, random (found every, at)",
        ),
        (
            '{at: "2026-12-07T10:30"}',
            '{at: "2026-03-29T02:30"}',
            "17:51: drills[3].when.at: 2026-03-29T02:30 does not exist in Europe/Berlin",
        ),
        (
            '{at: "2026-12-07T10:30"}',
            '{at: "next monday"}',
            "17:51: drills[3].when.at: expected a date and time such as 2026-12-07T10:30",
        ),
        (
            "{every: 6h}",
            "{every: 500ms}",
            "16:72: drills[2].when.every: must be at least 1s, got 0.5s",
        ),
        (
            "min_between: 1d",
            "min_between: 3d",
            "15:67: drills[1].when.random: min_between must not be more than mean_between",
        ),
        (
            "catch_up: skip",
            "catch_up: twice",
            "12:73: defaults.catch_up: Input should be 'skip' or 'once'",
        ),
        (
            "min_gap: 30m",
            "min_gap: soon",
            "12:42: defaults.min_gap: invalid duration 'soon'",
        ),
        (
            "announce: 10m",
            "announce: 10m, slak: true",
            "19:52: unknown key 'slak' (did you mean 'slack'?)",
        ),
        (
            "announce: 10m",
            "announce: 10m, events: [finished, skiped]",
            "19:71: notify[0].events[1]: unknown event kind 'skiped' (did you mean 'skipped'?)",
        ),
        ("kind: gameday\n", "kind: gameday\nwindow: []\n", "3:1: unknown key 'window'"),
    ],
)
def test_each_problem_is_reported_at_its_place(tmp_path, old, new, expected):
    assert old in VALID
    problems = _problems(tmp_path, VALID.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_every_problem_is_reported_in_one_pass(tmp_path):
    text = (
        VALID.replace("Europe/Berlin", "Mars/Olympus")
        .replace("name: quorum", "name: web-crash")
        .replace("experiment: web.yaml, when: {at", "experiment: gone.yaml, when: {at")
    )
    problems = _problems(tmp_path, text)
    assert [p.split(":", 2)[:2] for p in problems] == [["4", "11"], ["15", "12"], ["17", "30"]]


def test_yaml_syntax_errors_and_non_mappings_are_problems_too(tmp_path):
    assert _problems(tmp_path, "kind: gameday\nwindows: [\n")[0].startswith("3:1: ")
    assert _problems(tmp_path, "- kind\n") == [
        "1:1: a game day must be a mapping of keys, this file is a list"
    ]


def test_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_gameday(tmp_path / "nope.yaml")


def test_missing_required_keys_name_the_game_day(tmp_path):
    text = textwrap.dedent(
        """\
        version: 1
        kind: gameday
        timezone: UTC
        drills: []
        """
    )
    problems = _problems(tmp_path, text)
    assert "1:1: the game day: missing required key 'title'" in problems
    assert any(p.startswith("4:9: drills: ") for p in problems)
