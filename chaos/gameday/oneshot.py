"""The game day commands that run and exit: ``gameday run`` (one drill now, by
hand) and ``gameday run-due`` (for people who schedule with cron, systemd
timers or CI). Both attempt their fires exactly as the daemon does
(:meth:`~chaos.gameday.service.GameDayService.attempt`), so the history, the
kill switch and concurrency work the same, and a fire the daemon already
claimed is never run a second time.
"""

from __future__ import annotations

from datetime import datetime

from chaos.errors import UsageError
from chaos.gameday.fires import Fire, fires
from chaos.gameday.service import Attempt, GameDayService, now_utc

__all__ = ["RUN_DUE_SINCE", "SUPERSEDED", "run_due", "run_now"]

RUN_DUE_SINCE = "run_due.since"
"""History state: when ``run-due`` last looked; where a drill never recorded counts from."""
SUPERSEDED = "superseded: a later fire of the drill was due when run-due ran"
LIMIT = 100
"""Most due fires of one drill looked at in one run-due (the rest are not recorded)."""


def run_now(service: GameDayService, name: str, *, ignore_windows: bool = False) -> Attempt:
    """Run drill ``name`` now, in the foreground (SIGINT and SIGTERM revert it)."""
    try:
        drill = service.loaded.gameday.drill(name)
    except KeyError:
        from chaos.experiment.validate import did_you_mean

        known = [d.name for d in service.loaded.gameday.drills]
        raise UsageError(
            f"{service.loaded.path}: no drill named {name!r}{did_you_mean(name, known)}"
        ) from None
    now = now_utc()
    return service.attempt(
        drill, Fire(name, now, now), "manual", ignore_windows=ignore_windows, handle_signals=True
    )


def run_due(service: GameDayService, now: datetime | None = None) -> list[Attempt]:
    """For each drill, the fires due since its last recorded fire (or since the
    last run-due): the latest is attempted, the older ones recorded as skipped."""
    now = now or now_utc()
    history = service.history
    since_text = history.get_state(RUN_DUE_SINCE)
    since_all = datetime.fromisoformat(since_text) if since_text else None
    attempts: list[Attempt] = []
    for drill in service.loaded.gameday.drills:
        since = max(filter(None, (history.last_fire(drill.name), since_all)), default=None)
        if since is None:
            continue  # the first run-due: the drill counts from now
        due: list[Fire] = []
        for fire in fires(service.loaded.gameday, drill, since):
            if fire.at > now:
                break
            due = [*due[-(LIMIT - 1) :], fire]
        for fire in due[:-1]:
            attempts.append(service.skip(drill.name, fire, "run_due", SUPERSEDED))
        if due:
            attempts.append(service.attempt(drill, due[-1], "run_due"))
    history.set_state(RUN_DUE_SINCE, now.isoformat())
    return attempts
