"""The raw schedule: every, at, jitter."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.gameday.fires import Fire, fires, jitter, next_fire

from .support import berlin, drill, gameday, utc, wall_clock


def _first(day, start, count):
    return list(islice(fires(day, day.drills[0], start), count))


def test_every_second_fires_every_second():
    day = gameday(drill("d", every="1s"))
    found = _first(day, utc(2026, 12, 1, 10, 0, 0), 5)
    assert [f.at for f in found] == [utc(2026, 12, 1, 10, 0, s) for s in range(1, 6)]


def test_every_counts_elapsed_time_from_its_start_across_dst():
    day = gameday(drill("d", every="6h"))
    found = _first(day, berlin(2026, 3, 28, 23), 4)
    # 2000-01-01T00:00 Berlin is 23:00 UTC: 6h steps fall on 05, 11, 17, 23 UTC
    assert [wall_clock(f.at) for f in found] == [
        "2026-03-29 00:00:00+0100",
        "2026-03-29 07:00:00+0200",
        "2026-03-29 13:00:00+0200",
        "2026-03-29 19:00:00+0200",
    ]


def test_every_with_a_start_fires_first_at_the_start_then_every_step():
    day = gameday(drill("d", every="1h", start="2026-12-01T10:20"))
    assert [wall_clock(f.at) for f in _first(day, berlin(2026, 12, 1, 9), 2)] == [
        "2026-12-01 10:20:00+0100",
        "2026-12-01 11:20:00+0100",
    ]
    assert wall_clock(_first(day, berlin(2026, 12, 2, 12), 1)[0].at) == "2026-12-02 12:20:00+0100"


def test_at_in_the_future_fires_once_and_in_the_past_never():
    day = gameday(drill("d", at="2026-12-07T10:30"))
    assert [f.at for f in _first(day, berlin(2026, 12, 1), 5)] == [berlin(2026, 12, 7, 10, 30)]
    assert next_fire(day, day.drills[0], berlin(2026, 12, 7, 10, 30)) is None
    assert next_fire(day, day.drills[0], berlin(2026, 12, 8)) is None


def test_at_with_an_offset_is_that_instant():
    day = gameday(drill("d", at="2026-12-07T10:30:00Z"))
    assert next_fire(day, day.drills[0], berlin(2026, 12, 1)) == Fire(
        "d", utc(2026, 12, 7, 10, 30), utc(2026, 12, 7, 10, 30)
    )


def test_jitter_is_deterministic_and_differs_between_fires():
    day = gameday(drill("d", cron="*/15 * * * *", jitter="60s"))
    first = _first(day, berlin(2026, 12, 1), 20)
    again = _first(day, berlin(2026, 12, 1), 20)
    assert first == again
    delays = {f.at - f.scheduled for f in first}
    assert len(delays) == 20  # each scheduled time has its own delay


def test_a_seed_changes_the_jitter():
    named = gameday(drill("d", cron="*/15 * * * *", jitter="60s"))
    seeded = gameday(drill("d", cron="*/15 * * * *", jitter="60s", seed=7))
    start = berlin(2026, 12, 1)
    assert _first(named, start, 5) != _first(seeded, start, 5)
    assert [f.scheduled for f in _first(named, start, 5)] == [
        f.scheduled for f in _first(seeded, start, 5)
    ]


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=10**9),
    spread=st.floats(min_value=0.001, max_value=3 * 86400),
    seed=st.none() | st.integers(),
)
def test_jitter_is_always_within_zero_and_the_jitter(seconds, spread, seed):
    day = gameday(drill("d", every="1h", jitter=spread, seed=seed))
    scheduled = utc(2000, 1, 1) + timedelta(seconds=seconds)
    delay = jitter(day.drills[0], scheduled)
    assert timedelta() <= delay <= timedelta(seconds=spread)
    assert delay == jitter(day.drills[0], scheduled)
