"""Cron expressions, evaluated by APScheduler 3 on the wall clock.

APScheduler's :class:`~apscheduler.triggers.cron.CronTrigger` does the field
arithmetic, but it is given **wall-clock readings** (naive times dressed as
UTC, a zone without daylight saving time) rather than the game day's zone:
with a zoneinfo zone, APScheduler 3.11 returns a reading in the skipped
hour that does not exist and, in the repeated hour, returns the same fire
time again and again (or an earlier one), which would loop a scheduler.
:mod:`chaos.gameday.clock` then turns each reading into an instant, once.

Five fields are standard cron (``minute hour day month day-of-week``); six
put seconds first. Day-of-week numbers mean what they mean in cron (0 and 7
are Sunday, 1 is Monday): they are rewritten into names, because
APScheduler 3 counts from Monday (its documented historical mismatch).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from chaos.gameday.clock import UTC

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


def parse_cron(expression: str) -> CronTrigger:
    """A trigger over wall-clock readings; ValueError with APScheduler's message."""
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"cron {expression!r} has {len(fields)} fields: give five "
            "(minute hour day month day-of-week) or six (seconds first)"
        )
    if len(fields) == 5:
        fields = ["0", *fields]
    second, minute, hour, day, month, day_of_week = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_cron_days(day_of_week),
            timezone=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"cron {expression!r}: {exc}") from None


def next_reading(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first wall-clock reading (naive) the expression names after ``after`` (naive)."""
    found = trigger.get_next_fire_time(
        None, (after + timedelta(microseconds=1)).replace(tzinfo=UTC)
    )
    return None if found is None else found.replace(tzinfo=None)


def _cron_days(field: str) -> str:
    """Day-of-week numbers as cron means them, rewritten as names for APScheduler."""
    parts = []
    for part in field.split(","):
        match = _NUMERIC.match(part.strip())
        if match is None or (match.group(1) == "*" and match.group(2) is None):
            parts.append(part)  # names, `*`, or something APScheduler will reject
            continue
        span, step = match.group(1), int(match.group(2) or 1)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first, last = (int(n) for n in span.split("-"))
        else:
            first = last = int(span)
        if not (0 <= first <= 7 and 0 <= last <= 7) or first > last or step < 1:
            raise ValueError(f"invalid day-of-week {part!r}: use 0-7 (0 and 7 are Sunday) or names")
        parts.extend(_DAY_NAMES[n % 7] for n in range(first, last + 1, step))
    return ",".join(dict.fromkeys(parts))
