"""Windows and blackout: when a game day lets drills fire.

A window is a span of wall-clock time opening on the days it names; one
whose ``to`` is not after its ``from`` closes on the next day. Its bounds
are read as :mod:`chaos.gameday.clock` reads any wall-clock time: a bound in
the skipped hour is the moment the clock jumps, a bound in the repeated hour
its first occurrence. So ``01:00-04:00`` is two hours long on the day the
clocks spring forward and four on the day they fall back; ``02:00-02:45``
is empty on the spring day.

Blackout days are calendar days of the file's zone; an instant is blacked
out by the day it falls on (02:00 on Sunday by Sunday, even in a window
that opened on Saturday).

*Open time* is window time outside blackout days (all time outside blackout
days without windows): random drills count their gaps in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import lru_cache

from chaos.gameday.clock import day_start, local_date, resolve
from chaos.gameday.model import DateRange, GameDay, Holidays, Window

HORIZON_DAYS = 3660
"""How far ahead open time is searched (about ten years) before giving up."""


def blackout_reason(gameday: GameDay, day: date) -> str | None:
    """Why ``day`` is blacked out (``blackout 2026-12-24..2026-12-26``,
    ``blackout: Christmas Day (public holiday DE)``), or None."""
    for entry in gameday.blackout:
        if isinstance(entry, DateRange):
            if entry.first <= day <= entry.last:
                return f"blackout {entry.describe()}"
        else:
            name = holiday_name(entry, day)
            if name is not None:
                return f"blackout: {name} (public holiday {entry.describe()})"
    return None


def holiday_name(entry: Holidays, day: date) -> str | None:
    return _holidays(entry.holidays, entry.subdiv, day.year).get(day)


@lru_cache(maxsize=256)
def _holidays(country: str, subdiv: str | None, year: int) -> dict[date, str]:
    import holidays  # slow to import: only when a blackout names holidays

    return dict(holidays.country_holidays(country, subdiv=subdiv, years=year).items())


def in_window(gameday: GameDay, instant: datetime) -> bool:
    """Whether ``instant`` is inside a window (always, when there are none)."""
    if not gameday.windows:
        return True
    today = local_date(instant, gameday.zone)
    for day in (today - timedelta(days=1), today):
        for window in gameday.windows:
            span = window_span(gameday, window, day)
            if span is not None and span[0] <= instant < span[1]:
                return True
    return False


def window_span(gameday: GameDay, window: Window, day: date) -> tuple[datetime, datetime] | None:
    """The instants ``window`` opens and closes when it opens on ``day``; None
    when it does not open that day, or is empty (inside a skipped hour)."""
    if day.weekday() not in window.weekdays:
        return None
    zone = gameday.zone
    midnight = datetime(day.year, day.month, day.day)
    opens = resolve(midnight + timedelta(seconds=window.start), zone)
    close_day = midnight + timedelta(days=1 if window.crosses_midnight else 0)
    closes = resolve(close_day + timedelta(seconds=window.end), zone)
    return (opens, closes) if opens < closes else None


def open_spans(gameday: GameDay, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open time from ``start`` on, as disjoint ``(from, to)`` instants in order
    (one may end where the next begins: spans are cut at midnight).

    Stops after :data:`HORIZON_DAYS`.
    """
    zone = gameday.zone
    first_day = local_date(start, zone) - timedelta(days=1)
    pending: list[tuple[datetime, datetime]] = []
    current: tuple[datetime, datetime] | None = None
    for offset in range(HORIZON_DAYS + 2):
        day = first_day + timedelta(days=offset)
        pending.extend(_day_pieces(gameday, day))
        pending.sort()
        # nothing that opens on a later day starts before the next midnight
        settled_before = day_start(day + timedelta(days=1), zone)
        while pending and pending[0][0] < settled_before:
            piece_from, piece_to = pending.pop(0)
            piece_from = max(piece_from, start)
            if piece_to <= piece_from:
                continue
            # pieces that only touch stay apart: merging every day of a file
            # without windows would walk the whole horizon before the first span
            if current is not None and piece_from < current[1]:
                current = (current[0], max(current[1], piece_to))
                continue
            if current is not None:
                yield current
            current = (piece_from, piece_to)
    if current is not None:
        yield current


def _day_pieces(gameday: GameDay, day: date) -> list[tuple[datetime, datetime]]:
    """The spans of windows opening on ``day`` (all of ``day`` without windows),
    cut at midnight and without the blacked-out days."""
    zone = gameday.zone
    if not gameday.windows:
        spans = [(day_start(day, zone), day_start(day + timedelta(days=1), zone))]
    else:
        spans = [s for w in gameday.windows if (s := window_span(gameday, w, day)) is not None]
    pieces = []
    for opens, closes in spans:
        midnight = day_start(day + timedelta(days=1), zone)
        for part_day, part in (
            (day, (opens, min(closes, midnight))),
            (day + timedelta(days=1), (max(opens, midnight), closes)),
        ):
            if part[0] < part[1] and blackout_reason(gameday, part_day) is None:
                pieces.append(part)
    return pieces


def advance(gameday: GameDay, start: datetime, seconds: float) -> datetime | None:
    """The instant ``seconds`` of open time after ``start`` (None past the horizon).

    An instant exactly at the end of a span belongs to the next one: the
    result is always inside open time.
    """
    remaining = timedelta(seconds=seconds)
    for opens, closes in open_spans(gameday, start):
        if closes - opens > remaining:
            return opens + remaining
        remaining -= closes - opens
    return None


def open_time_between(gameday: GameDay, start: datetime, end: datetime) -> timedelta:
    """How much open time lies between ``start`` and ``end``."""
    total = timedelta()
    for opens, closes in open_spans(gameday, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total
