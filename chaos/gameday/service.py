"""One game day file at work: its history, its notifications, and the one way a
fire is attempted, whoever asks (the ``serve`` daemon, ``gameday run``,
``gameday run-due``).

Attempting a fire decides, in this order, and records every outcome in the
history (a skip with its reason, a run with its verdict):

1. the kill switch: while halted, the fire is skipped ``halted: ...``;
2. the same drill still running (in any process): ``previous still running``;
3. the schedule's rules (:func:`chaos.gameday.admission.admit`): blackout,
   windows, ``max_per_day``, concurrency, ``min_gap``; a fire run by hand
   obeys the calendar only, and not even that with ``ignore_windows``;
4. ``concurrency: forbid``: the host-wide drill lock
   (:class:`~chaos.gameday.locks.DrillLock`), so two processes never overlap;
5. the claim (:meth:`~chaos.gameday.history.History.claim`): a fire that another
   process claimed or skipped already is left alone, so nothing runs twice.

Then the drill runs (:func:`chaos.gameday.drill.run_drill`), announced as
``started`` and ``finished`` to every ``chaosdrill_gameday_event`` hook.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.engine.interrupt import Interrupt
from chaos.gameday.admission import DAY_REACH, Run, admit, calendar_refusal
from chaos.gameday.admission import History as AdmissionHistory
from chaos.gameday.drill import DrillTarget, Outcome, run_drill
from chaos.gameday.events import GameDayEvent
from chaos.gameday.fires import Fire
from chaos.gameday.history import History
from chaos.gameday.locks import DrillLock
from chaos.gameday.notify import Dispatcher
from chaos.gameday.webhook import register_webhooks, webhooks_from_notify
from chaos.halt import HaltFlag

if TYPE_CHECKING:
    from chaos.gameday.loader import LoadedGameDay
    from chaos.gameday.model import Drill
    from chaos.plugins import Plugins

__all__ = ["Attempt", "GameDayService"]


@dataclass(frozen=True)
class Attempt:
    """What became of one fire: ``outcome`` when it ran, ``skipped`` when not
    (``claimed`` when another process had it already)."""

    drill: str
    fire: Fire
    outcome: Outcome | None = None
    skipped: str | None = None
    claimed: bool = False


class GameDayService:
    """A loaded game day file with its history, its notifiers and the state
    directory they live in. ``log`` gets one line per thing that happens."""

    def __init__(
        self,
        loaded: LoadedGameDay,
        *,
        report_dir: Path,
        state_dir: Path | None = None,
        plugins: Plugins | None = None,
        log: logging.Logger | None = None,
    ):
        from chaos.plugins import default_plugins

        self.loaded = loaded
        self.file = str(Path(loaded.path).resolve())
        self.report_dir = report_dir
        self.state_dir = state_dir
        self.log = log or logging.getLogger("chaosdrill.gameday")
        self.history = History(self.file, state_dir)
        self.plugins = plugins or default_plugins()
        self.interrupt = Interrupt()
        """Triggered by the daemon's main thread on SIGTERM or SIGINT: a running
        drill reverts its faults and ends ``aborted``."""
        self._lock = threading.Lock()
        self.notifiers = register_webhooks(
            self.plugins,
            webhooks_from_notify(_plain(loaded.gameday.notify), loaded.base_dir),
            logger=self.log,
        )
        self.dispatcher = Dispatcher(self.plugins, logger=self.log)

    @property
    def title(self) -> str:
        return self.loaded.gameday.title

    def reload(self, loaded: LoadedGameDay) -> None:
        """Take a new version of the file (its history stays)."""
        with self._lock:
            self.loaded = loaded
            self.notifiers = register_webhooks(
                self.plugins,
                webhooks_from_notify(_plain(loaded.gameday.notify), loaded.base_dir),
                logger=self.log,
            )

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within ``timeout``) and close the history."""
        self.dispatcher.close(timeout)
        self.history.close()

    # -- events -------------------------------------------------------------------

    def event(self, kind: str, drill: str | None = None, **fields: Any) -> None:
        """Log it and hand it to every ``chaosdrill_gameday_event`` hook (never blocks)."""
        event = GameDayEvent(kind, self.title, self.file, drill, **fields)
        self.log.info(_line(event, self.loaded.gameday.zone))
        self.dispatcher.emit(event)

    def announce_leads(self) -> list[float]:
        """The distinct ``announce`` leads (seconds) of the file's webhooks."""
        return sorted({n.config.announce for n in self.notifiers if n.config.announce})

    # -- attempting a fire ------------------------------------------------------------

    def attempt(
        self,
        drill: Drill,
        fire: Fire,
        how: str,
        *,
        ignore_windows: bool = False,
        handle_signals: bool = False,
    ) -> Attempt:
        """Decide whether ``fire`` of ``drill`` goes ahead, run it if so, and record it."""
        reason = self._refusal(drill, fire, how, ignore_windows)
        if reason is not None:
            return self.skip(drill.name, fire, how, reason)
        lock = DrillLock(self.state_dir) if self._forbids(drill) else None
        if lock is not None:
            holder = lock.try_acquire(drill.name, self.file)
            if holder is not None:
                reason = holder.skip_reason(drill.name, self.file)
                return self.skip(drill.name, fire, how, reason)
        try:
            claimed = self.history.claim(drill.name, fire.scheduled, fire.at, how)
            if claimed is None:
                self.log.info(
                    "%s: the fire scheduled %s was claimed already (by another process)",
                    drill.name,
                    _utc(fire.scheduled),
                )
                return Attempt(drill.name, fire, claimed=True)
            self.event("started", drill.name, scheduled=fire.scheduled)
            outcome = run_drill(
                self._target(drill),
                report_dir=self.report_dir,
                interrupt=self.interrupt,
                handle_signals=handle_signals,
                state_dir=self.state_dir,
            )
            self.history.finish(
                claimed, outcome.state, outcome.state, list(outcome.reasons), outcome.journal
            )
            self.event(
                "finished",
                drill.name,
                scheduled=fire.scheduled,
                verdict=outcome.state,
                reasons=outcome.reasons,
                journal=outcome.journal,
                reason=outcome.detail,
            )
            return Attempt(drill.name, fire, outcome=outcome)
        finally:
            if lock is not None:
                lock.release()

    def skip(self, drill: str, fire: Fire, how: str, reason: str) -> Attempt:
        """Record ``fire`` of the drill named ``drill`` as skipped for ``reason``
        (refused, missed, superseded...) and announce it."""
        recorded = self.history.skip(drill, fire.scheduled, reason, how)
        if recorded is None:  # another process ran or skipped this fire already
            return Attempt(drill, fire, claimed=True)
        self.event("skipped", drill, scheduled=fire.scheduled, reason=reason)
        return Attempt(drill, fire, skipped=reason)

    def _refusal(self, drill: Drill, fire: Fire, how: str, ignore_windows: bool) -> str | None:
        halted = halted_message(self.state_dir)
        if halted is not None:
            return halted
        runs = self._weighed_runs(fire.at)
        mine = [r for r in runs if r.drill == drill.name and r.ended is None]
        if mine:
            since = mine[-1].started.astimezone(self.loaded.gameday.zone)
            return f"previous still running (since {since:%Y-%m-%d %H:%M:%S})"
        gameday = self.loaded.gameday
        if how != "manual":
            return admit(gameday, drill, fire.at, AdmissionHistory.of(runs))
        if ignore_windows:
            return None
        refused = calendar_refusal(gameday, fire.at)
        return None if refused is None else f"{refused} (--ignore-windows runs it anyway)"

    def _weighed_runs(self, at: datetime) -> list[Run]:
        """The runs admission weighs for a fire at ``at``, oldest first."""
        return [
            Run(row.drill, row.started, row.ended if row.state != "running" else None)
            for row in self.history.weighed_by_admission(at - DAY_REACH, at)
            if row.started is not None
        ]

    def _forbids(self, drill: Drill) -> bool:
        return self.loaded.gameday.policy(drill).concurrency == "forbid"

    def _target(self, drill: Drill) -> DrillTarget:
        loaded = self.loaded
        path = loaded.target(drill)
        return DrillTarget(
            name=drill.name,
            experiment=path if drill.experiment is not None else None,
            suite=path if drill.suite is not None else None,
            fail_under=drill.fail_under,
            lab=drill.lab,
            inventory=loaded.inventory(drill),
            seed=drill.seed,
        )


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line(event: GameDayEvent, zone: Any) -> str:
    """One log line: what, which drill, the fire's time in the file's zone, and why."""
    parts = [event.kind]
    if event.drill:
        parts.append(event.drill)
    if event.scheduled is not None:
        local = event.scheduled.astimezone(zone)
        parts.append(f"(scheduled {local:%Y-%m-%d %H:%M:%S %Z})")
    if event.lead is not None:
        parts.append(f"in {timedelta(seconds=round(event.lead))}")
    if event.verdict:
        parts.append(f"verdict {event.verdict}")
    if event.reason:
        parts.append(f"- {event.reason}")
    if event.journal:
        parts.append(f"journal {event.journal}")
    return " ".join(parts)


def halted_message(state_dir: Path | None) -> str | None:
    """The kill switch's ``halted: ...`` message, or None when runs may go."""
    state = HaltFlag(state_dir).status()
    return None if state is None else state.message


def _plain(entries: Any) -> list[dict[str, Any]]:
    """``notify`` entries as the data the webhook notifier reads (as in the file)."""
    return [entry.model_dump(mode="json", exclude_none=True) for entry in entries]
