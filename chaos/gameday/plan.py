"""The next fires of a game day, simulated with admission: ``chaosdrill gameday plan``.

Drills are taken in time order (ties in file order). Each fire is admitted
against the plan's own history, as the daemon admits against its records;
the plan assumes every drill takes no time (it ends as it starts), so
``min_gap`` counts from the start of the previous fire and ``concurrency``
never refuses in a plan. A real run takes time, so the daemon may skip
fires the plan shows as firing, never the other way round for these two.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from chaos.gameday.admission import History, Run, admit
from chaos.gameday.clock import UTC
from chaos.gameday.fires import Fire, next_fire
from chaos.gameday.model import GameDay

ASSUMPTION = "every drill is assumed to take no time (it ends as it starts)"

MAX_SKIPPED = 10_000
"""Most skipped fires the plan looks through per drill before it gives up on it
(``every: 1s`` outside its window skips 86,400 times a day)."""


@dataclass(frozen=True)
class PlannedFire:
    """One fire of the plan and its fate."""

    fire: Fire
    skipped: str | None
    """Why it would not fire, or None when it would."""

    @property
    def status(self) -> str:
        return "fired" if self.skipped is None else "skipped"


@dataclass(frozen=True)
class Plan:
    """The planned fires in the order they fall due, and notes on drills the plan
    could not follow to ``count`` fires."""

    fires: list[PlannedFire]
    notes: dict[str, str]


def plan(gameday: GameDay, start: datetime, count: int, history: History | None = None) -> Plan:
    """The next ``count`` fires of every drill after ``start`` (aware) that would
    go ahead, with the fires skipped on the way and their reasons.

    ``history`` holds runs before ``start`` that should count (the daemon's
    records); the plan adds its own fires to it as it goes.
    """
    start = start.astimezone(UTC)
    simulated = history or History()
    queue: list[tuple[datetime, int, Fire]] = []
    notes: dict[str, str] = {}
    for order, drill in enumerate(gameday.drills):
        fire = next_fire(gameday, drill, start) if count > 0 else None
        if fire is not None:
            queue.append((fire.at, order, fire))
        elif count > 0:
            notes[drill.name] = f"no fire after {start.isoformat()}"
    heapq.heapify(queue)
    planned: list[PlannedFire] = []
    fired = dict.fromkeys((d.name for d in gameday.drills), 0)
    skipped = dict.fromkeys(fired, 0)
    while queue:
        at, order, fire = heapq.heappop(queue)
        drill = gameday.drills[order]
        reason = admit(gameday, drill, at, simulated)
        if reason is None:
            simulated = simulated.add(Run(drill.name, at, at))
            fired[drill.name] += 1
        else:
            skipped[drill.name] += 1
        planned.append(PlannedFire(fire, reason))
        if fired[drill.name] >= count:
            continue
        if skipped[drill.name] >= MAX_SKIPPED:
            notes[drill.name] = f"stopped looking after {MAX_SKIPPED} skipped fires"
            continue
        following = next_fire(gameday, drill, fire.scheduled)
        if following is not None:
            heapq.heappush(queue, (following.at, order, following))
        elif fired[drill.name] < count:
            notes[drill.name] = f"fires no more after {fire.at.isoformat()}"
    return Plan(planned, notes)
