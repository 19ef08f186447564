"""Wall-clock times in a game day's zone, and the instants they stand for.

A game day names times as a clock on the wall shows them (``10:00``,
``2026-12-07T10:30``, a cron's ``30 2 * * *``). Twice a year in zones with
daylight saving time one such reading is not one instant:

- in the skipped hour (Europe/Berlin: 02:00-03:00 on the last Sunday of
  March) it names no instant; we take **the moment the clock jumps** (03:00
  new time), the first instant at which the wall clock has passed it;
- in the repeated hour (the last Sunday of October) it names two; we take
  **the first**, so a time fires once, never twice.

Every function here takes and returns aware datetimes; instants are in UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone, tzinfo

UTC = timezone.utc


def resolve(naive: datetime, zone: tzinfo) -> datetime:
    """The instant (UTC) the wall-clock reading ``naive`` in ``zone`` stands for."""
    earliest = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(earliest, zone) == naive:
        return earliest  # exists; fold=0 is the first of two occurrences
    return _gap_end(naive, zone)


def exists(naive: datetime, zone: tzinfo) -> bool:
    """Whether the clock in ``zone`` ever shows ``naive`` (False in a skipped hour)."""
    return _wall(naive.replace(tzinfo=zone, fold=0).astimezone(UTC), zone) == naive


def local(instant: datetime, zone: tzinfo) -> datetime:
    """``instant`` as the clock in ``zone`` shows it (aware, with its offset)."""
    return instant.astimezone(zone)


def wall(instant: datetime, zone: tzinfo) -> datetime:
    """``instant`` as a naive wall-clock reading in ``zone``."""
    return _wall(instant, zone)


def local_date(instant: datetime, zone: tzinfo) -> date:
    """The calendar day ``instant`` falls on in ``zone``."""
    return instant.astimezone(zone).date()


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone``."""
    return resolve(datetime.combine(day, time()), zone)


def _wall(instant: datetime, zone: tzinfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _gap_end(naive: datetime, zone: tzinfo) -> datetime:
    """The instant the clock jumps over ``naive``, which lies in a skipped span.

    With fold=1 zoneinfo reads the time with the offset after the jump, with
    fold=0 with the offset before: the jump lies between those two instants.
    Bisect to the second (a span is hours long at most: a dozen steps); zones
    jump on whole seconds.
    """
    low = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    high = int(naive.replace(tzinfo=zone, fold=0).timestamp())
    if low > high:
        low, high = high, low
    # invariant: the clock reads before `naive` at `low`, after it at `high`
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) < naive:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)
