"""An APScheduler 3 trigger that fires a drill when :mod:`chaos.gameday.fires` says.

A scheduler built on APScheduler should use this rather than APScheduler's
own cron trigger: it fires at the same instants ``chaosdrill gameday plan``
shows (wall-clock times across DST, deterministic jitter and random draws),
where APScheduler 3.11's ``CronTrigger`` repeats fire times in the autumn
hour. Admission is not the trigger's business: the job calls
:func:`chaos.gameday.admission.admit` when it runs.
"""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from chaos.gameday.fires import Fire, next_fire
from chaos.gameday.model import Drill, GameDay


class DrillTrigger(BaseTrigger):
    """Fires ``drill`` of ``gameday``; ``start`` is where a first random draw starts
    (the drill's last recorded ``scheduled`` instant, or None for "now")."""

    def __init__(self, gameday: GameDay, drill: Drill, start: datetime | None = None):
        self.gameday = gameday
        self.drill = drill
        self.start = start
        self.last: Fire | None = None
        """The fire last returned: its ``scheduled`` instant is where the next is
        computed from (APScheduler hands back only the jittered time)."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is not None and self.last is not None:
            after = self.last.scheduled
        else:
            after = self.start or now
        fire = next_fire(self.gameday, self.drill, after)
        self.last = fire
        return None if fire is None else fire.at

    def __str__(self) -> str:
        return f"gameday[{self.drill.name}]"
