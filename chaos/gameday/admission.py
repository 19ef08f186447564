"""Whether a fire may go ahead: the game day's rules against what already ran.

Pure: the caller passes the history in (the daemon its records, the plan its
own simulation). The checks, in order; the first that fails is the reason:

1. blackout: the calendar day (file's zone) the fire falls on;
2. windows: the fire must be inside one (when the file has any);
3. ``max_per_day``: the drill's own fires that started on the same calendar
   day of the file's zone;
4. ``concurrency``: with ``forbid`` no two drills run at once, across all
   drills. A drill is refused while another runs if either of them forbids
   (a running drill no longer in the file counts as forbidding);
5. ``min_gap``: the drill's ``min_gap`` from the latest end of **any**
   drill (a drill that has not ended yet is a concurrency matter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from chaos.durations import format_duration
from chaos.gameday.calendar import blackout_reason, in_window
from chaos.gameday.clock import UTC, local_date
from chaos.gameday.model import Drill, GameDay

MISSED = "missed: no scheduler was running"


@dataclass(frozen=True)
class Run:
    """One drill that started: when, and when it ended (None while it runs)."""

    drill: str
    started: datetime
    ended: datetime | None = None


@dataclass(frozen=True)
class History:
    """The runs admission weighs (those long past may be left out: the checks
    look at the fire's own day and at runs that have not ended or ended last)."""

    runs: tuple[Run, ...] = ()

    def add(self, run: Run) -> History:
        return History((*self.runs, run))

    @classmethod
    def of(cls, runs: Iterable[Run]) -> History:
        return cls(tuple(runs))


DAY_REACH = timedelta(hours=26)
"""How far before a fire the first run of its local day can have started (a local
day lasts 25 hours at most): the history older than that is not weighed."""


def calendar_refusal(gameday: GameDay, at: datetime) -> str | None:
    """The calendar's checks alone (blackout, then windows): None when a fire at
    ``at`` (aware) falls on an allowed day inside a window; otherwise why not."""
    at = at.astimezone(UTC)
    blackout = blackout_reason(gameday, local_date(at, gameday.zone))
    if blackout is not None:
        return blackout
    if not in_window(gameday, at):
        windows = "; ".join(w.describe() for w in gameday.windows)
        return f"outside every window ({windows})"
    return None


def admit(gameday: GameDay, drill: Drill, at: datetime, history: History) -> str | None:
    """None when ``drill`` may fire at ``at`` (aware); otherwise why not."""
    at = at.astimezone(UTC)
    zone = gameday.zone
    day = local_date(at, zone)
    refused = calendar_refusal(gameday, at)
    if refused is not None:
        return refused
    policy = gameday.policy(drill)
    if policy.max_per_day is not None:
        today = [
            r for r in history.runs if r.drill == drill.name and local_date(r.started, zone) == day
        ]
        if len(today) >= policy.max_per_day:
            return f"max_per_day {policy.max_per_day} reached on {day}"
    for run in history.runs:
        running = run.started <= at and (run.ended is None or run.ended > at)
        if running and (policy.concurrency == "forbid" or _forbids(gameday, run.drill)):
            return f"concurrency forbid: {run.drill} is running (since {_clock(run, zone)})"
    ends = [r.ended for r in history.runs if r.ended is not None and r.ended <= at]
    if policy.min_gap and ends:
        last = max(ends)
        since = (at - last).total_seconds()
        if since < policy.min_gap:
            ended_drill = next(r.drill for r in history.runs if r.ended == last)
            return (
                f"min_gap {format_duration(policy.min_gap)} not elapsed since {ended_drill} "
                f"ended ({format_duration(since)} ago)"
            )
    return None


def _forbids(gameday: GameDay, name: str) -> bool:
    """Whether the drill ``name`` forbids company; one no longer in the file does."""
    for drill in gameday.drills:
        if drill.name == name:
            return gameday.policy(drill).concurrency == "forbid"
    return True


def _clock(run: Run, zone: tzinfo) -> str:
    return run.started.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
