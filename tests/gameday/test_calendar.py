"""Windows (across midnight, across DST) and blackout (ranges, public holidays)."""

from __future__ import annotations

from datetime import date, timedelta

from chaos.gameday.calendar import blackout_reason, in_window, open_spans, open_time_between

from .support import berlin, gameday, wall_clock

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "10:00", "to": "16:00"}
SATURDAY_NIGHT = {"days": ["sat"], "from": "22:00", "to": "02:00"}


def test_a_window_is_open_from_its_start_until_just_before_its_end():
    day = gameday(windows=[WEEKDAYS])
    tuesday = (2026, 12, 1)
    assert not in_window(day, berlin(*tuesday, 9, 59))
    assert in_window(day, berlin(*tuesday, 10, 0))
    assert in_window(day, berlin(*tuesday, 15, 59))
    assert not in_window(day, berlin(*tuesday, 16, 0))
    assert not in_window(day, berlin(2026, 12, 5, 12, 0))  # a Saturday


def test_a_window_across_midnight_belongs_to_the_day_it_opens():
    day = gameday(windows=[SATURDAY_NIGHT])
    assert in_window(day, berlin(2026, 12, 5, 23, 0))  # Saturday night
    assert in_window(day, berlin(2026, 12, 6, 1, 59))  # early Sunday, same window
    assert not in_window(day, berlin(2026, 12, 6, 2, 0))
    assert not in_window(day, berlin(2026, 12, 6, 23, 0))  # Sunday night opens nothing
    assert not in_window(day, berlin(2026, 12, 5, 1, 0))  # early Saturday: Friday's night


def test_no_windows_means_always():
    assert in_window(gameday(), berlin(2026, 12, 6, 3, 0))


def test_a_window_is_shorter_on_the_spring_day_and_longer_on_the_autumn_day():
    night = {"days": ["sun"], "from": "01:00", "to": "04:00"}
    day = gameday(windows=[night])
    spring = open_time_between(day, berlin(2026, 3, 29), berlin(2026, 3, 30))
    autumn = open_time_between(day, berlin(2026, 10, 25), berlin(2026, 10, 26))
    ordinary = open_time_between(day, berlin(2026, 11, 1), berlin(2026, 11, 2))
    assert (spring, autumn, ordinary) == (
        timedelta(hours=2),
        timedelta(hours=4),
        timedelta(hours=3),
    )
    # 02:30 of the autumn day is inside, both times
    assert in_window(day, berlin(2026, 10, 25, 2, 30, fold=0))
    assert in_window(day, berlin(2026, 10, 25, 2, 30, fold=1))


def test_a_window_inside_the_skipped_hour_is_empty_that_day():
    day = gameday(windows=[{"days": ["sun"], "from": "02:00", "to": "02:45"}])
    assert open_time_between(day, berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta()
    assert open_time_between(day, berlin(2026, 4, 5), berlin(2026, 4, 6)) == timedelta(minutes=45)


def test_a_window_closing_in_the_skipped_hour_closes_when_the_clock_jumps():
    day = gameday(windows=[{"days": ["sun"], "from": "01:00", "to": "02:30"}])
    spans = list(open_spans(day, berlin(2026, 3, 29)))[:1]
    assert [(wall_clock(a), wall_clock(b)) for a, b in spans] == [
        ("2026-03-29 01:00:00+0100", "2026-03-29 03:00:00+0200")
    ]


def test_a_whole_day_window_runs_to_24_00():
    day = gameday(windows=[{"days": ["mon"], "from": "00:00", "to": "24:00"}])
    assert open_time_between(day, berlin(2026, 12, 7), berlin(2026, 12, 9)) == timedelta(days=1)


def test_blackout_days_and_ranges_name_themselves():
    day = gameday(blackout=["2026-12-24..2026-12-26", date(2026, 12, 31)])
    assert blackout_reason(day, date(2026, 12, 23)) is None
    assert blackout_reason(day, date(2026, 12, 24)) == "blackout 2026-12-24..2026-12-26"
    assert blackout_reason(day, date(2026, 12, 26)) == "blackout 2026-12-24..2026-12-26"
    assert blackout_reason(day, date(2026, 12, 27)) is None
    assert blackout_reason(day, date(2026, 12, 31)) == "blackout 2026-12-31"


def test_public_holidays_name_the_holiday():
    day = gameday(blackout=[{"holidays": "DE"}])
    assert blackout_reason(day, date(2026, 12, 25)) == (
        "blackout: Christmas Day (public holiday DE)"
    )
    assert blackout_reason(day, date(2026, 12, 26)) == (
        "blackout: Second Day of Christmas (public holiday DE)"
    )
    assert blackout_reason(day, date(2026, 10, 3)) == (
        "blackout: German Unity Day (public holiday DE)"
    )
    assert blackout_reason(day, date(2026, 12, 24)) is None


def test_a_subdivision_adds_its_own_holidays():
    # Epiphany is a holiday in Bavaria, not in Germany as a whole
    assert blackout_reason(gameday(blackout=[{"holidays": "DE"}]), date(2026, 1, 6)) is None
    bavaria = gameday(blackout=[{"holidays": "DE", "subdiv": "BY"}])
    assert "(public holiday DE-BY)" in str(blackout_reason(bavaria, date(2026, 1, 6)))


def test_open_time_leaves_out_blackout_days_even_inside_a_window():
    day = gameday(windows=[SATURDAY_NIGHT], blackout=["2026-12-06"])
    # Saturday 22:00 to midnight counts; Sunday's part of the window is blacked out
    spans = list(open_spans(day, berlin(2026, 12, 5)))[:1]
    assert [(wall_clock(a), wall_clock(b)) for a, b in spans] == [
        ("2026-12-05 22:00:00+0100", "2026-12-06 00:00:00+0100")
    ]
