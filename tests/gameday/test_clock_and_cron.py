"""Wall-clock times across the DST changes of Europe/Berlin, and cron on top of them.

2026-03-29 02:00-03:00 does not exist (spring forward); 2026-10-25 02:00-03:00
happens twice (fall back).
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice, pairwise

import pytest

from chaos.gameday.clock import exists, resolve
from chaos.gameday.cron import parse_cron
from chaos.gameday.fires import fires

from .support import BERLIN, berlin, drill, gameday, utc, wall_clock


def test_a_time_in_the_skipped_hour_is_the_moment_the_clock_jumps():
    assert not exists(datetime(2026, 3, 29, 2, 30), BERLIN)
    assert resolve(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert resolve(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)


def test_a_time_in_the_repeated_hour_is_its_first_occurrence():
    assert exists(datetime(2026, 10, 25, 2, 30), BERLIN)
    assert resolve(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_ordinary_times_resolve_with_their_offset():
    assert resolve(datetime(2026, 12, 1, 10, 0), BERLIN) == utc(2026, 12, 1, 9, 0)
    assert resolve(datetime(2026, 7, 1, 10, 0), BERLIN) == utc(2026, 7, 1, 8, 0)


def _cron_fires(expression: str, start: datetime, count: int) -> list[str]:
    day = gameday(drill("c", cron=expression))
    return [wall_clock(f.at) for f in islice(fires(day, day.drills[0], start), count)]


def test_a_daily_cron_in_the_skipped_hour_fires_once_when_the_clock_jumps():
    assert _cron_fires("30 2 * * *", berlin(2026, 3, 28, 12), 3) == [
        "2026-03-29 03:00:00+0200",
        "2026-03-30 02:30:00+0200",
        "2026-03-31 02:30:00+0200",
    ]


def test_a_daily_cron_in_the_repeated_hour_fires_once_the_first_time():
    assert _cron_fires("30 2 * * *", berlin(2026, 10, 24, 12), 3) == [
        "2026-10-25 02:30:00+0200",
        "2026-10-26 02:30:00+0100",
        "2026-10-27 02:30:00+0100",
    ]


def test_a_frequent_cron_never_repeats_or_goes_back_across_the_autumn_change():
    day = gameday(drill("c", cron="*/30 * * * *"))
    times = list(islice(fires(day, day.drills[0], berlin(2026, 10, 25, 1)), 6))
    assert [wall_clock(f.at) for f in times] == [
        "2026-10-25 01:30:00+0200",
        "2026-10-25 02:00:00+0200",
        "2026-10-25 02:30:00+0200",
        "2026-10-25 03:00:00+0100",  # 02:00 and 02:30 of the second pass fired already
        "2026-10-25 03:30:00+0100",
        "2026-10-25 04:00:00+0100",
    ]
    assert all(a.at < b.at for a, b in pairwise(times))


def test_a_frequent_cron_fires_once_for_all_of_the_skipped_hour():
    assert _cron_fires("*/30 * * * *", berlin(2026, 3, 29, 1), 4) == [
        "2026-03-29 01:30:00+0100",
        "2026-03-29 03:00:00+0200",  # 02:00, 02:30 and 03:00 are one instant
        "2026-03-29 03:30:00+0200",
        "2026-03-29 04:00:00+0200",
    ]


def test_cron_day_of_week_numbers_mean_what_they_mean_in_cron():
    # 0 and 7 are Sunday, 1-5 Monday to Friday; 2026-12-05 is a Saturday
    assert _cron_fires("0 9 * * 0", berlin(2026, 12, 5), 1) == ["2026-12-06 09:00:00+0100"]
    assert _cron_fires("0 9 * * 7", berlin(2026, 12, 5), 1) == ["2026-12-06 09:00:00+0100"]
    assert _cron_fires("0 9 * * 1-5", berlin(2026, 12, 5), 1) == ["2026-12-07 09:00:00+0100"]
    assert _cron_fires("0 9 * * sat", berlin(2026, 12, 5, 10), 1) == ["2026-12-12 09:00:00+0100"]


def test_six_fields_put_seconds_first():
    assert _cron_fires("15 0 9 * * *", berlin(2026, 12, 5), 1) == ["2026-12-05 09:00:15+0100"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * *", "has 3 fields: give five"),
        ("61 * * * *", "the last value (61) is higher than the maximum value (59)"),
        ("0 9 * * 8", "invalid day-of-week '8'"),
    ],
)
def test_bad_cron_expressions_say_why(expression, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_cron(expression)
