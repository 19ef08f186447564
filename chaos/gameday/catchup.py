"""Fires missed while no scheduler ran, and what to do about them.

A scheduler that starts asks, per drill, what fell due between the drill's
last recorded fire (fired or skipped: its ``scheduled`` instant) and now.
With ``catch_up: skip`` every missed fire is recorded as skipped
(:data:`~chaos.gameday.admission.MISSED`); with ``once`` the latest of them
runs now, the others are recorded as skipped. The one that runs now is still
subject to admission at the moment it runs (window, blackout, limits).

A drill with no recorded fire missed nothing: it starts from now. A
scheduler that was down for long lists at most ``limit`` missed fires (the
latest); ``older`` says that there were more before them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chaos.gameday.clock import UTC
from chaos.gameday.fires import Fire, fires
from chaos.gameday.model import Drill, GameDay

LIMIT = 100
"""Most missed fires listed per drill."""


@dataclass(frozen=True)
class CatchUp:
    """What to do about one drill's missed fires."""

    drill: str
    skipped: tuple[Fire, ...] = ()
    """To record as skipped, reason :data:`~chaos.gameday.admission.MISSED`; oldest first."""
    run_now: Fire | None = None
    """The one missed fire to run now (``catch_up: once``)."""
    older: bool = False
    """More fires were missed before those listed."""


def catch_up(
    gameday: GameDay, drill: Drill, last: datetime | None, now: datetime, *, limit: int = LIMIT
) -> CatchUp:
    """The drill's fires due in ``(last, now]`` (by their jittered time), and their fate."""
    if last is None:
        return CatchUp(drill.name)
    missed, older = _missed(gameday, drill, last.astimezone(UTC), now.astimezone(UTC), limit)
    if not missed or gameday.policy(drill).catch_up == "skip":
        return CatchUp(drill.name, tuple(missed), None, older)
    return CatchUp(drill.name, tuple(missed[:-1]), missed[-1], older)


def catch_up_all(
    gameday: GameDay, last: Mapping[str, datetime], now: datetime, *, limit: int = LIMIT
) -> dict[str, CatchUp]:
    """:func:`catch_up` for every drill, given the last recorded fire of each by name."""
    return {
        d.name: catch_up(gameday, d, last.get(d.name), now, limit=limit) for d in gameday.drills
    }


def _missed(
    gameday: GameDay, drill: Drill, last: datetime, now: datetime, limit: int
) -> tuple[list[Fire], bool]:
    """The latest ``limit`` fires due in ``(last, now]``, and whether there were more.

    Calendar schedules (cron, every) do not depend on their previous fire, so
    the search starts shortly before ``now`` and reaches back only as far as
    it must; a random drill's draws form a chain that is walked from ``last``.
    """
    reach = timedelta(hours=1)
    while True:
        start = last if drill.when.kind in ("at", "random") else max(last, now - reach)
        found: deque[Fire] = deque(maxlen=limit)
        count = 0
        for fire in fires(gameday, drill, start):
            if fire.scheduled > now:
                break
            if fire.at <= now:
                found.append(fire)
                count += 1
        if count > limit or start == last:
            return list(found), count > limit
        reach *= 4
