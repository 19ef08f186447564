"""Catch-up of fires missed while no scheduler ran, and the plan's simulation."""

from __future__ import annotations

from datetime import timedelta

from chaos.gameday.admission import History, Run
from chaos.gameday.catchup import catch_up, catch_up_all
from chaos.gameday.plan import plan

from .support import berlin, drill, gameday, wall_clock

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "16:00"}


def _hourly(catch: str):
    return gameday(drill("h", cron="0 * * * *"), defaults={"catch_up": catch})


def test_skip_records_every_missed_fire_and_runs_none():
    day = _hourly("skip")
    result = catch_up(day, day.drills[0], berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 12, 30))
    assert [wall_clock(f.at) for f in result.skipped] == [
        "2026-12-01 10:00:00+0100",
        "2026-12-01 11:00:00+0100",
        "2026-12-01 12:00:00+0100",
    ]
    assert result.run_now is None
    assert not result.older


def test_once_runs_the_latest_missed_fire_and_skips_the_rest():
    day = _hourly("once")
    result = catch_up(day, day.drills[0], berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 12, 30))
    assert [wall_clock(f.at) for f in result.skipped] == [
        "2026-12-01 10:00:00+0100",
        "2026-12-01 11:00:00+0100",
    ]
    assert result.run_now is not None
    assert wall_clock(result.run_now.at) == "2026-12-01 12:00:00+0100"


def test_nothing_missed_means_nothing_to_do():
    day = _hourly("once")
    result = catch_up(day, day.drills[0], berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 9, 59))
    assert (result.skipped, result.run_now) == ((), None)
    assert catch_up(day, day.drills[0], None, berlin(2026, 12, 1, 12)).run_now is None


def test_a_drill_may_override_catch_up():
    day = gameday(
        drill("a", cron="0 * * * *"),
        {**drill("b", cron="0 * * * *"), "catch_up": "once"},
        defaults={"catch_up": "skip"},
    )
    last = {"a": berlin(2026, 12, 1, 9), "b": berlin(2026, 12, 1, 9)}
    result = catch_up_all(day, last, berlin(2026, 12, 1, 11, 30))
    assert result["a"].run_now is None and len(result["a"].skipped) == 2
    assert result["b"].run_now is not None and len(result["b"].skipped) == 1


def test_a_long_outage_lists_only_the_latest_missed_fires():
    day = gameday(drill("s", every="1s"), defaults={"catch_up": "once"})
    last, now = berlin(2026, 12, 1), berlin(2026, 12, 8)
    result = catch_up(day, day.drills[0], last, now, limit=10)
    assert result.older
    assert result.run_now is not None and result.run_now.at == now
    assert [f.at for f in result.skipped] == [now - timedelta(seconds=n) for n in range(9, 0, -1)]


def test_missed_means_due_by_its_jittered_time():
    day = gameday(drill("j", cron="0 * * * *", jitter="10m"))
    result = catch_up(day, day.drills[0], berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 12))
    assert all(f.at <= berlin(2026, 12, 1, 12) for f in result.skipped)
    assert [f.scheduled for f in result.skipped][:2] == [
        berlin(2026, 12, 1, 10),
        berlin(2026, 12, 1, 11),
    ]


def _statuses(result):
    return [(p.fire.drill, wall_clock(p.fire.at)[11:16], p.skipped) for p in result.fires]


def test_the_plan_lists_each_skipped_fire_with_its_reason():
    day = gameday(
        drill("web", cron="0 * * * *"),
        windows=[WEEKDAYS],
        blackout=["2026-12-02"],
        defaults={"max_per_day": 2, "min_gap": "90m"},
    )
    result = plan(day, berlin(2026, 12, 1, 8, 30), 3)
    window = "outside every window (mon,tue,wed,thu,fri 10:00-16:00)"
    gap = "min_gap 1h30m00s not elapsed since web ended (1h00m00s ago)"
    got = _statuses(result)
    assert got[:7] == [
        ("web", "09:00", window),
        ("web", "10:00", None),
        ("web", "11:00", gap),
        ("web", "12:00", None),
        ("web", "13:00", "max_per_day 2 reached on 2026-12-01"),
        ("web", "14:00", "max_per_day 2 reached on 2026-12-01"),
        ("web", "15:00", "max_per_day 2 reached on 2026-12-01"),
    ]
    # the 2nd is blacked out, the 3rd fires at 10:00 again
    assert ("web", "10:00", "blackout 2026-12-02") in got
    assert got[-1] == ("web", "10:00", None)
    assert sum(p.skipped is None for p in result.fires) == 3


def test_min_gap_in_the_plan_spans_drills():
    day = gameday(
        drill("a", cron="0 10 * * *"), drill("b", cron="10 10 * * *"), defaults={"min_gap": "30m"}
    )
    result = plan(day, berlin(2026, 12, 1), 1)
    assert _statuses(result)[:2] == [
        ("a", "10:00", None),
        ("b", "10:10", "min_gap 30m00s not elapsed since a ended (10m00s ago)"),
    ]


def test_the_plan_weighs_the_history_it_is_given():
    day = gameday(drill("a", cron="0 10 * * *"), defaults={"max_per_day": 1})
    history = History.of([Run("a", berlin(2026, 12, 1, 9), berlin(2026, 12, 1, 9, 5))])
    result = plan(day, berlin(2026, 12, 1), 1, history)
    assert _statuses(result)[0] == ("a", "10:00", "max_per_day 1 reached on 2026-12-01")


def test_ties_go_in_file_order_and_a_past_at_is_noted():
    day = gameday(
        drill("second", cron="0 10 * * *"),
        drill("first", cron="0 10 * * *"),
        drill("gone", at="2026-01-01T10:00"),
        defaults={"concurrency": "allow"},
    )
    result = plan(day, berlin(2026, 12, 1), 1)
    assert [p.fire.drill for p in result.fires] == ["second", "first"]
    assert "gone" in result.notes


def test_a_drill_that_is_always_skipped_does_not_stall_the_plan():
    day = gameday(
        drill("s", every="1s"),
        windows=[{"days": ["mon"], "from": "10:00", "to": "10:01"}],
        blackout=[{"holidays": "DE"}],
    )
    result = plan(day, berlin(2026, 12, 1), 1)
    assert "stopped looking after" in result.notes["s"]
