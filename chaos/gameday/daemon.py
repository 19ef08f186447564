"""``chaosdrill gameday serve``: the game day scheduler.

APScheduler (3.x, :class:`~apscheduler.schedulers.background.BackgroundScheduler`)
keeps the time and runs each fire on its thread pool. Its jobs are not kept in
a job store: each fire is one date job, computed from the file by
:func:`chaos.gameday.fires.next_fire` (the function ``gameday plan`` uses, so
plan and daemon agree), and when a fire comes the drill's next one is added.
What happened is kept in the game day's history (SQLite,
:mod:`chaos.gameday.history`) instead, which is what a restart reads:

* fires a dead daemon left ``running`` become ``interrupted`` (their faults
  were reverted by their watchdogs), and are never run again;
* fires missed while no daemon ran are recorded as skipped, or the latest
  one run at once, as ``catch_up`` says (:mod:`chaos.gameday.catchup`);
* the schedule continues from now.

A persistent APScheduler job store would remember the next run time of each
job, but a job removed and added again on a reload, or a job store written
just before a crash, can run a fire twice or drop it; the history's claim on
each (drill, scheduled time) cannot.

The main thread only waits: SIGTERM and SIGINT abort a running drill (its
faults are reverted, verdict ``aborted``) and stop the daemon; SIGHUP, or a
change to the file seen within :data:`WATCH_INTERVAL`, reloads the schedule.
The kill switch is watched too, and its changes announced.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.gameday.admission import MISSED
from chaos.gameday.catchup import catch_up
from chaos.gameday.fires import Fire, next_fire
from chaos.gameday.service import GameDayService, halted_message, now_utc

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from chaos.gameday.loader import LoadedGameDay
    from chaos.gameday.model import Drill

__all__ = ["Daemon"]

WATCH_INTERVAL = 0.5
"""Seconds between looks at the file, the kill switch and the stop request."""
WORKERS = 4
"""Threads running fires: a fire that finds its drill still running is skipped
at once, so a few are enough."""
MISFIRE_GRACE = 60
"""Seconds a fire may start late (a busy or suspended machine) before it is
recorded as missed instead of run."""


class Daemon:
    """One ``serve`` of one game day file (see the module's description)."""

    def __init__(self, service: GameDayService, *, log: logging.Logger):
        self.service = service
        self.log = log
        self.scheduler = _scheduler()
        self._stop = threading.Event()
        self._stop_cause: str | None = None
        self._reload = threading.Event()
        self._fires: dict[str, Fire] = {}
        self._jobs_lock = threading.Lock()
        self._mtime = _mtime(service.file)
        self.on_schedule: Callable[[], None] | None = None
        """Called once the schedule is made or made again (a live view redraws)."""

    # -- what a live view shows ---------------------------------------------------

    def next_fires(self, count: int = 8) -> list[Fire]:
        """The fires waiting for their time, soonest first."""
        with self._jobs_lock:
            waiting = list(self._fires.values())
        return sorted(waiting, key=lambda fire: fire.at)[:count]

    # -- life cycle ---------------------------------------------------------------

    def serve(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit code (0)."""
        from apscheduler.events import EVENT_JOB_MISSED

        previous = self._install_signals()
        try:
            self.log.info("serving")
            for fire in self.service.history.mark_interrupted():
                self.service.event(
                    "interrupted",
                    fire.drill,
                    scheduled=fire.scheduled,
                    reason="the process running it died; its faults were left to their watchdogs",
                )
            self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
            self.scheduler.start()
            self._catch_up()
            self._schedule_all(now_utc())
            self._watch()
        finally:
            self._shutdown()
            _restore_signals(previous)
        return 0

    def stop(self, cause: str) -> None:
        """Stop serving: a running drill is aborted and reverted."""
        self._stop_cause = self._stop_cause or cause
        self._stop.set()

    def _watch(self) -> None:
        halted = halted_message(self.service.state_dir)
        if halted is not None:
            self.service.event("halted", reason=halted)
        while not self._stop.wait(WATCH_INTERVAL):
            now_halted = halted_message(self.service.state_dir)
            if now_halted != halted:
                if now_halted is None:
                    self.service.event("resumed", reason="the kill switch was lifted")
                else:
                    self.service.event("halted", reason=now_halted)
                halted = now_halted
            mtime = _mtime(self.service.file)
            if self._reload.is_set() or mtime != self._mtime:
                self._reload.clear()
                self._mtime = mtime
                self._reload_file()

    def _shutdown(self) -> None:
        cause = self._stop_cause or "shutdown"
        if self.scheduler.running:
            self.scheduler.pause()
            self.service.interrupt.trigger(cause)
            self.scheduler.shutdown(wait=True)  # running drills revert, then end
        self.log.info(f"stopped ({cause})")

    # -- signals ------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for sig, handler in (
            (signal.SIGTERM, lambda *_: self.stop("SIGTERM")),
            (signal.SIGINT, lambda *_: self.stop("SIGINT")),
            (signal.SIGHUP, lambda *_: self._reload.set()),
        ):
            previous[sig] = signal.signal(sig, handler)
        return previous

    # -- the schedule -------------------------------------------------------------

    def _reload_file(self) -> None:
        from chaos.errors import ChaosError, InvalidExperiment
        from chaos.gameday.loader import load_gameday

        try:
            loaded = load_gameday(self.service.file)
        except InvalidExperiment as exc:
            for problem in exc.problems:
                self.log.error("%s", problem)
            self.log.info("the file is invalid: the schedule stays as it was")
            return
        except ChaosError as exc:
            self.log.error("%s", exc)
            self.log.info("the file cannot be read: the schedule stays as it was")
            return
        with self._jobs_lock:
            for job_id in list(self._fires):
                _remove(self.scheduler, job_id)
            self._fires.clear()
            for job in self.scheduler.get_jobs():
                if job.id.startswith("announce:"):
                    _remove(self.scheduler, job.id)
        self.service.reload(loaded)
        self.log.info(f"reloaded {len(loaded.gameday.drills)} drills")
        self._schedule_all(now_utc())

    def _loaded(self) -> LoadedGameDay:
        return self.service.loaded

    def _catch_up(self) -> None:
        """Fires missed while no daemon ran: skipped, or the latest run now."""
        now = now_utc()
        for drill in self._loaded().gameday.drills:
            last = self.service.history.last_fire(drill.name)
            plan = catch_up(self._loaded().gameday, drill, last, now)
            if plan.older:
                self.log.info("%s: more fires were missed than are recorded", drill.name)
            for fire in plan.skipped:
                self.service.skip(drill.name, fire, "catch_up", MISSED)
            if plan.run_now is not None:
                self.scheduler.add_job(
                    self._run_fire,
                    args=(drill.name, plan.run_now, "catch_up"),
                    id=f"catch-up:{drill.name}",
                    misfire_grace_time=None,
                )

    def _schedule_all(self, after: datetime) -> None:
        for drill in self._loaded().gameday.drills:
            start = after
            if drill.when.kind == "random":
                # a random draw goes on from the last fire the history knows (the
                # missed ones were recorded by the catch-up), as `plan` draws
                start = self.service.history.last_fire(drill.name) or after
            self._schedule_next(drill, start)
        if self.on_schedule is not None:
            with contextlib.suppress(Exception):  # a view never stops the schedule
                self.on_schedule()

    def _schedule_next(self, drill: Drill, after: datetime) -> None:
        """Add the drill's first fire after ``after``. Fires already too late to
        run (the machine slept, the daemon was stuck) are recorded as missed."""
        gameday = self._loaded().gameday
        fire = next_fire(gameday, drill, after)
        now = now_utc()
        while fire is not None and (now - fire.at).total_seconds() > MISFIRE_GRACE:
            self.service.skip(drill.name, fire, "scheduled", _late(now, fire))
            fire = next_fire(gameday, drill, fire.scheduled)
        if fire is None:
            return
        job_id = f"fire:{drill.name}:{fire.scheduled.isoformat()}"
        with self._jobs_lock:
            if job_id in self._fires:
                return
            self._fires[job_id] = fire
        self.scheduler.add_job(
            self._on_fire,
            "date",
            run_date=fire.at,
            args=(drill.name, job_id),
            id=job_id,
            misfire_grace_time=MISFIRE_GRACE,
        )
        for lead in self.service.announce_leads():
            when = fire.at - timedelta(seconds=lead)
            if when > now_utc():
                self.scheduler.add_job(
                    self._announce,
                    "date",
                    run_date=when,
                    args=(drill.name, fire, lead),
                    id=f"announce:{lead:g}:{job_id}",
                    misfire_grace_time=MISFIRE_GRACE,
                )

    def _on_fire(self, name: str, job_id: str) -> None:
        with self._jobs_lock:
            fire = self._fires.pop(job_id, None)
        if fire is None:
            return  # removed by a reload while it was being submitted
        drill = self._drill(name)
        if drill is None:
            return
        # the next fire first: a drill longer than its interval finds its next
        # fire skipped "previous still running", never overlapped or delayed
        self._schedule_next(drill, fire.scheduled)
        self._run_fire(name, fire, "scheduled")

    def _run_fire(self, name: str, fire: Fire, how: str) -> None:
        drill = self._drill(name)
        if drill is None or self._stop.is_set():
            return
        try:
            self.service.attempt(drill, fire, how)
        except Exception as exc:  # the daemon outlives a broken fire (a history it
            # cannot write, for one): said in one line, as every other event
            self.log.error("%s: the fire failed: %s: %s", name, type(exc).__name__, exc)

    def _announce(self, name: str, fire: Fire, lead: float) -> None:
        if self._drill(name) is not None:
            self.service.event("announce", name, scheduled=fire.scheduled, lead=lead)

    def _missed(self, event: Any) -> None:
        """APScheduler ran a fire too late (past :data:`MISFIRE_GRACE`): record it."""
        with self._jobs_lock:
            fire = self._fires.pop(event.job_id, None)
        if fire is None:
            return
        self.service.skip(fire.drill, fire, "scheduled", _late(now_utc(), fire))
        drill = self._drill(fire.drill)
        if drill is not None:
            self._schedule_next(drill, fire.scheduled)

    def _drill(self, name: str) -> Drill | None:
        try:
            return self._loaded().gameday.drill(name)
        except KeyError:
            return None  # removed from the file by a reload


def _late(now: datetime, fire: Fire) -> str:
    seconds = (now - fire.at).total_seconds()
    return f"missed: the scheduler was {seconds:.0f}s late (more than {MISFIRE_GRACE}s)"


def _scheduler() -> BackgroundScheduler:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(WORKERS)},
        job_defaults={"coalesce": False, "max_instances": WORKERS},
        timezone="UTC",
    )


def _remove(scheduler: BackgroundScheduler, job_id: str) -> None:
    from apscheduler.jobstores.base import JobLookupError

    with contextlib.suppress(JobLookupError):  # it ran or is running
        scheduler.remove_job(job_id)


def _mtime(path: str) -> float | None:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return None


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
