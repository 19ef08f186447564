"""Building game days and instants for the tests: everything in Europe/Berlin."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chaos.gameday.clock import UTC
from chaos.gameday.model import GameDay

BERLIN = ZoneInfo("Europe/Berlin")


def gameday(*drills: dict[str, Any], **fields: Any) -> GameDay:
    """A valid game day in Europe/Berlin with ``drills`` (one hourly drill by default)."""
    document: dict[str, Any] = {
        "version": 1,
        "kind": "gameday",
        "title": "test",
        "timezone": "Europe/Berlin",
        "drills": list(drills) or [drill("d", every="1h")],
    }
    document.update(fields)
    return GameDay.model_validate(document)


def drill(name: str, **when: Any) -> dict[str, Any]:
    policy = {k: when.pop(k) for k in ("concurrency", "min_gap", "max_per_day") if k in when}
    return {"name": name, "experiment": "x.yaml", "when": when, **policy}


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0):
    """The instant (UTC) a wall-clock reading in Berlin names (``fold=1``: the repeat)."""
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=BERLIN).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def wall_clock(instant: datetime) -> str:
    """How the clock in Berlin shows ``instant``, with its offset: ``03:00+02:00``."""
    return instant.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S%z")
