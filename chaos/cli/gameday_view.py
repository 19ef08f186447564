"""The live view of ``gameday serve`` on a terminal: the next fires, the drills
running now and the last outcomes, refreshed every second and as soon as the
schedule is made, with the event log printed above it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from chaos.cli.log_lines import UtcFormatter

if TYPE_CHECKING:
    from chaos.gameday.daemon import Daemon

RECENT = 6
"""Outcomes shown."""
STYLE = {"passed": "green", "failed": "red", "error": "red", "aborted": "yellow"}


class _ToLive(logging.Handler):
    """Event log lines printed above the live view."""

    def __init__(self, console: Console):
        super().__init__()
        self.console = console
        self.setFormatter(UtcFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.console.print(self.format(record), markup=False, highlight=False)


@contextlib.contextmanager
def live_view(daemon: Daemon, log: logging.Logger) -> Iterator[None]:
    console = Console()
    handler = _ToLive(console)
    log.addHandler(handler)
    try:
        with Live(
            get_renderable=lambda: _render(daemon),
            console=console,
            refresh_per_second=1,
            transient=True,
        ) as live:
            daemon.on_schedule = live.refresh  # a new schedule is shown at once
            try:
                yield
            finally:
                daemon.on_schedule = None
    finally:
        log.removeHandler(handler)


def _render(daemon: Daemon) -> Group:
    service = daemon.service
    zone = service.loaded.gameday.zone
    now = datetime.now(timezone.utc)

    upcoming = Table(title=f"{service.title}: next fires", title_justify="left", expand=False)
    upcoming.add_column("drill")
    upcoming.add_column("at")
    upcoming.add_column("in", justify="right")
    for fire in daemon.next_fires():
        wait = max(0, round((fire.at - now).total_seconds()))
        upcoming.add_row(Text(fire.drill), f"{fire.at.astimezone(zone):%a %H:%M:%S %Z}", f"{wait}s")

    rows = service.history.rows(RECENT + 4)
    running = [r for r in rows if r.state == "running"]
    done = [r for r in rows if r.state != "running"][:RECENT]
    recent = Table(title="running and last outcomes", title_justify="left", expand=False)
    recent.add_column("drill")
    recent.add_column("scheduled")
    recent.add_column("outcome")
    recent.add_column("why")
    for row in running:
        recent.add_row(Text(row.drill), _local(row.scheduled, zone), Text("running", "cyan"), "")
    for row in done:
        why = row.skip_reason or _first_reason(row.reasons)
        recent.add_row(
            Text(row.drill),
            _local(row.scheduled, zone),
            Text(row.state, STYLE.get(row.state, "dim")),
            Text(why[:80]),
        )
    return Group(upcoming, recent)


def _local(moment: datetime, zone: object) -> str:
    return f"{moment.astimezone(zone):%a %H:%M:%S}"  # type: ignore[arg-type]


def _first_reason(reasons: list[object]) -> str:
    first = reasons[0] if reasons else ""
    return str(first.get("message", "")) if isinstance(first, dict) else str(first)
