"""When each drill fires, before admission: the raw schedule of its ``when``.

- ``cron``: each wall-clock reading the expression names, once (see
  :mod:`chaos.gameday.cron` and :mod:`chaos.gameday.clock`: in the skipped
  hour at the moment the clock jumps, in the repeated hour the first time).
- ``every``: elapsed time, ``start + k * every`` for k >= 0 (APScheduler's
  :class:`~apscheduler.triggers.interval.IntervalTrigger`); ``start`` is
  2000-01-01T00:00 in the file's zone unless given, so every scheduler and
  every plan agree on the phase. Across a DST change the wall-clock times
  shift by the hour, the gaps do not.
- ``at``: that one instant (a naive time is in the file's zone).
- ``random``: the gap from one draw to the next is ``min_between`` plus an
  exponential amount of mean ``mean_between - min_between``, counted in open
  time (:mod:`chaos.gameday.calendar`), so draws never land outside a window
  or on a blackout day. A draw depends on the instant the previous one was
  made from (the previous draw, or where scheduling started) and the seed.

A ``jitter`` delays a fire by ``jitter * u``, ``u`` in [0, 1) drawn from the
seed and the scheduled instant: plan and serve delay it alike.

The seed is ``when.seed`` or, without one, the drill's name; each draw's own
seed is a hash of it with the instant the draw starts from, reported with the
fire so any draw can be reproduced alone.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from chaos.gameday.calendar import advance
from chaos.gameday.clock import UTC, resolve, wall
from chaos.gameday.model import Drill, GameDay

EPOCH = datetime(2000, 1, 1)
"""Where ``every`` counts from, in the file's zone, unless ``start`` says otherwise."""


@dataclass(frozen=True)
class Fire:
    """One fire of a drill, as the schedule has it (admission decides later)."""

    drill: str
    scheduled: datetime
    """The instant the schedule names (UTC), before jitter: what the next fire is
    computed from, and what history should record as the fire's schedule."""
    at: datetime
    """When it fires (UTC): ``scheduled`` plus the jitter."""
    seed: int | None = None
    """The seed of the random draw behind ``scheduled`` (random drills)."""


def next_fire(gameday: GameDay, drill: Drill, after: datetime) -> Fire | None:
    """The drill's first fire scheduled after ``after`` (aware), or None (never again).

    For a random drill ``after`` is where the draw starts: the previous fire's
    ``scheduled`` or, with none, when scheduling began.
    """
    after = after.astimezone(UTC)
    when = drill.when
    seed: int | None = None
    if when.cron is not None:
        scheduled = _next_cron(gameday, when.cron, after)
    elif when.every is not None:
        scheduled = _next_every(gameday, drill, after)
    elif when.at is not None:
        instant = at_instant(gameday, when.at)
        scheduled = instant if instant > after else None
    else:
        seed = draw_seed(drill, after)
        scheduled = _next_random(gameday, drill, after, seed)
    if scheduled is None:
        return None
    return Fire(drill.name, scheduled, scheduled + jitter(drill, scheduled), seed)


def fires(gameday: GameDay, drill: Drill, after: datetime) -> Iterator[Fire]:
    """Every fire scheduled after ``after``, in order (endless for most drills)."""
    fire = next_fire(gameday, drill, after)
    while fire is not None:
        yield fire
        fire = next_fire(gameday, drill, fire.scheduled)


def at_instant(gameday: GameDay, at: datetime) -> datetime:
    """An ``at`` time as an instant; a naive one is in the file's zone."""
    if at.tzinfo is not None:
        return at.astimezone(UTC)
    return resolve(at, gameday.zone)


def every_start(gameday: GameDay, drill: Drill) -> datetime:
    """The instant an ``every`` drill counts from."""
    start = drill.when.start or EPOCH
    return at_instant(gameday, start)


def jitter(drill: Drill, scheduled: datetime) -> timedelta:
    """The delay of the fire scheduled at ``scheduled``: in [0, jitter), from the seed."""
    if drill.when.jitter is None:
        return timedelta()
    fraction = _unit(_digest(_seed_base(drill), "jitter", scheduled))
    return timedelta(seconds=drill.when.jitter * fraction)


def draw_seed(drill: Drill, start: datetime) -> int:
    """The seed of the random draw made from ``start``."""
    return int.from_bytes(_digest(_seed_base(drill), "random", start)[:8], "big")


def _seed_base(drill: Drill) -> str:
    return f"seed:{drill.when.seed}" if drill.when.seed is not None else f"name:{drill.name}"


def _digest(base: str, purpose: str, instant: datetime) -> bytes:
    text = f"{base}|{purpose}|{instant.astimezone(UTC).isoformat()}"
    return hashlib.sha256(text.encode()).digest()


def _unit(digest: bytes) -> float:
    """A number in [0, 1) from a digest."""
    return int.from_bytes(digest[:8], "big") / 2**64


def _next_cron(gameday: GameDay, expression: str, after: datetime) -> datetime | None:
    from chaos.gameday.cron import next_reading, parse_cron

    trigger = parse_cron(expression)
    zone = gameday.zone
    reading = wall(after, zone)
    while True:
        found = next_reading(trigger, reading)
        if found is None:
            return None
        instant = resolve(found, zone)
        if instant > after:  # a reading in the repeated or skipped hour may resolve earlier
            return instant
        reading = found


def _next_every(gameday: GameDay, drill: Drill, after: datetime) -> datetime | None:
    from apscheduler.triggers.interval import IntervalTrigger

    assert drill.when.every is not None
    trigger = IntervalTrigger(
        seconds=drill.when.every, start_date=every_start(gameday, drill), timezone=UTC
    )
    found = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if found is None else found.astimezone(UTC)


def _next_random(gameday: GameDay, drill: Drill, after: datetime, seed: int) -> datetime | None:
    spec = drill.when.random
    assert spec is not None
    spread = spec.mean_between - spec.min_between
    rng = random.Random(seed)
    gap = spec.min_between + (rng.expovariate(1.0 / spread) if spread > 0 else 0.0)
    return advance(gameday, after, max(math.ceil(gap), 1))  # whole seconds, never below min
