"""Admission: a fire's fate given the game day and what already ran."""

from __future__ import annotations

from chaos.gameday.admission import History, Run, admit

from .support import berlin, drill, gameday

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "16:00"}


def _two(**defaults):
    return gameday(drill("a", every="1h"), drill("b", every="1h"), defaults=defaults)


def test_a_fire_in_a_window_on_an_open_day_is_admitted():
    day = gameday(windows=[WEEKDAYS])
    assert admit(day, day.drills[0], berlin(2026, 12, 1, 11), History()) is None


def test_outside_every_window_is_a_reason():
    day = gameday(windows=[WEEKDAYS])
    reason = admit(day, day.drills[0], berlin(2026, 12, 1, 17), History())
    assert reason == "outside every window (mon,tue,wed,thu,fri 10:00-16:00)"


def test_blackout_comes_first_and_is_named():
    day = gameday(windows=[WEEKDAYS], blackout=["2026-12-24..2026-12-26", {"holidays": "DE"}])
    assert admit(day, day.drills[0], berlin(2026, 12, 24, 11), History()) == (
        "blackout 2026-12-24..2026-12-26"
    )
    assert admit(day, day.drills[0], berlin(2026, 10, 3, 11), History()) == (
        "blackout: German Unity Day (public holiday DE)"
    )


def test_blackout_is_the_day_the_fire_falls_on_in_the_files_zone():
    day = gameday(blackout=["2026-12-02"])
    # 23:30 UTC on the 1st is 00:30 on the 2nd in Berlin
    assert admit(day, day.drills[0], berlin(2026, 12, 1, 23, 30), History()) is None
    assert admit(day, day.drills[0], berlin(2026, 12, 2, 0, 30), History()) == "blackout 2026-12-02"


def test_max_per_day_counts_the_drills_own_fires_of_the_local_day():
    day = _two(max_per_day=2)
    a, b = day.drills
    runs = History.of(
        [
            Run("a", berlin(2026, 12, 1, 0, 10), berlin(2026, 12, 1, 0, 20)),
            Run("b", berlin(2026, 12, 1, 1, 0), berlin(2026, 12, 1, 1, 10)),
            Run("a", berlin(2026, 11, 30, 23, 50), berlin(2026, 11, 30, 23, 55)),  # yesterday
        ]
    )
    assert admit(day, a, berlin(2026, 12, 1, 9), runs) is None
    runs = runs.add(Run("a", berlin(2026, 12, 1, 2), berlin(2026, 12, 1, 2, 5)))
    assert admit(day, a, berlin(2026, 12, 1, 9), runs) == "max_per_day 2 reached on 2026-12-01"
    assert admit(day, b, berlin(2026, 12, 1, 9), runs) is None
    assert admit(day, a, berlin(2026, 12, 2, 0, 1), runs) is None  # a new local day


def test_min_gap_counts_from_the_end_of_any_drill():
    day = _two(min_gap="30m")
    a = day.drills[0]
    runs = History.of([Run("b", berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 10, 15))])
    assert admit(day, a, berlin(2026, 12, 1, 10, 44), runs) == (
        "min_gap 30m00s not elapsed since b ended (29m00s ago)"
    )
    assert admit(day, a, berlin(2026, 12, 1, 10, 45), runs) is None


def test_a_drill_may_override_min_gap():
    day = gameday(
        drill("a", every="1h", min_gap="5m"), drill("b", every="1h"), defaults={"min_gap": "1h"}
    )
    runs = History.of([Run("b", berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 10))])
    assert admit(day, day.drills[0], berlin(2026, 12, 1, 10, 5), runs) is None
    assert admit(day, day.drills[1], berlin(2026, 12, 1, 10, 5), runs) is not None


def test_concurrency_forbid_refuses_while_another_drill_runs():
    day = _two()
    running = History.of([Run("b", berlin(2026, 12, 1, 10), None)])
    reason = admit(day, day.drills[0], berlin(2026, 12, 1, 10, 30), running)
    assert reason == "concurrency forbid: b is running (since 2026-12-01 10:00:00)"
    ended = History.of([Run("b", berlin(2026, 12, 1, 10), berlin(2026, 12, 1, 10, 20))])
    assert admit(day, day.drills[0], berlin(2026, 12, 1, 10, 30), ended) is None


def test_allow_runs_alongside_only_drills_that_allow_too():
    day = gameday(
        drill("a", every="1h", concurrency="allow"),
        drill("b", every="1h", concurrency="allow"),
        drill("c", every="1h"),
    )
    a, _, c = day.drills
    at = berlin(2026, 12, 1, 10, 30)
    assert admit(day, a, at, History.of([Run("b", berlin(2026, 12, 1, 10))])) is None
    assert admit(day, a, at, History.of([Run("c", berlin(2026, 12, 1, 10))])) is not None
    assert admit(day, c, at, History.of([Run("a", berlin(2026, 12, 1, 10))])) is not None
    gone = History.of([Run("renamed", berlin(2026, 12, 1, 10))])
    assert admit(day, a, at, gone) is not None  # a drill no longer in the file forbids
