"""``chaosdrill gameday ...``: game day commands. ``plan`` is pure: it reads the
file, simulates the schedule and prints it, and never reaches an engine."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from chaos.gameday.loader import LoadedGameDay
    from chaos.gameday.plan import Plan, PlannedFire


def cmd_gameday_plan(args: argparse.Namespace) -> int:
    from chaos.gameday.clock import UTC
    from chaos.gameday.loader import load_gameday
    from chaos.gameday.plan import plan

    loaded = load_gameday(args.file)
    start = parse_start(args.start, loaded.gameday.zone) if args.start else datetime.now(UTC)
    result = plan(loaded.gameday, start, args.next)
    if args.json:
        json.dump(plan_json(loaded, start, args.next, result), sys.stdout, indent=2)
        print()
    else:
        print_plan(loaded, start, args.next, result)
    return 0


def parse_start(text: str, zone: ZoneInfo) -> datetime:
    """``--from``: an ISO date (midnight) or date and time; naive is in ``zone``."""
    from chaos.errors import InvalidArgument
    from chaos.gameday.clock import resolve

    written = text.strip()
    if written[-1:] in ("Z", "z"):
        written = written[:-1] + "+00:00"
    try:
        start = datetime.fromisoformat(written)
    except ValueError:
        raise InvalidArgument(
            "from", f"expected a date and time such as 2026-12-07T09:00, got {text!r}"
        ) from None
    return resolve(start, zone) if start.tzinfo is None else start


def plan_json(loaded: LoadedGameDay, start: datetime, count: int, result: Plan) -> dict[str, Any]:
    from chaos.gameday.plan import ASSUMPTION

    zone = loaded.gameday.zone
    return {
        "file": loaded.path,
        "title": loaded.gameday.title,
        "timezone": loaded.gameday.timezone,
        "from": start.astimezone(zone).isoformat(),
        "next": count,
        "assumption": ASSUMPTION,
        "fires": [_fire_json(p, zone) for p in result.fires],
        "notes": result.notes,
    }


def _fire_json(planned: PlannedFire, zone: ZoneInfo) -> dict[str, Any]:
    fire = planned.fire
    return {
        "drill": fire.drill,
        "local": fire.at.astimezone(zone).isoformat(),
        "utc": _utc_text(fire.at),
        "scheduled_local": fire.scheduled.astimezone(zone).isoformat(),
        "scheduled_utc": _utc_text(fire.scheduled),
        "status": planned.status,
        "reason": planned.skipped,
        "seed": fire.seed,
    }


def _utc_text(instant: datetime) -> str:
    from chaos.gameday.clock import UTC

    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Row:
    """One line of the table: a fire, or a run of a drill's fires skipped alike."""

    first: PlannedFire
    last: PlannedFire
    count: int = 1


def print_plan(loaded: LoadedGameDay, start: datetime, count: int, result: Plan) -> None:
    from chaos.gameday.plan import ASSUMPTION

    gameday = loaded.gameday
    zone = gameday.zone
    print(f"{gameday.title} ({gameday.timezone})")
    print(f"from {_local(start, zone)}, the next {count} fires of each drill")
    rows = _rows(result.fires)
    table = [("DRILL", "LOCAL", "UTC", "STATUS")]
    reasons = [""]
    for row in rows:
        at = row.first.fire.at
        table.append((row.first.fire.drill, _local(at, zone), _utc(at), row.first.status))
        reason = row.first.skipped or ""
        if row.count > 1:
            reason += f" (x{row.count}, the last at {_local(row.last.fire.at, zone)})"
        if row.first.fire.seed is not None:
            reason = f"{reason} seed {row.first.fire.seed}".strip()
        reasons.append(reason)
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line, reason in zip(table, reasons, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=True)]
        print("  ".join([*cells, reason]).rstrip())
    if not rows:
        print("(no fires)")
    for drill, note in result.notes.items():
        print(f"note: {drill}: {note}")
    print(f"note: {ASSUMPTION}")


def _rows(fires: list[PlannedFire]) -> list[_Row]:
    """Fold each drill's consecutive fires skipped for the same reason into one row."""
    rows: list[_Row] = []
    open_runs: dict[str, _Row] = {}
    for planned in fires:
        drill = planned.fire.drill
        run = open_runs.get(drill)
        if planned.skipped is not None and run is not None and run.first.skipped == planned.skipped:
            run.last = planned
            run.count += 1
            continue
        row = _Row(planned, planned)
        rows.append(row)
        if planned.skipped is not None:
            open_runs[drill] = row
        else:
            open_runs.pop(drill, None)
    return rows


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def _utc(instant: datetime) -> str:
    from chaos.gameday.clock import UTC

    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- the commands that run drills ----------------------------------------------------


def _service(args: argparse.Namespace, *, plain: bool = True) -> Any:
    """The game day file at work, logging one line per event to stdout (unless
    not ``plain``: a live view then shows them)."""
    from pathlib import Path

    from chaos.cli.log_lines import UtcFormatter
    from chaos.gameday.loader import load_gameday
    from chaos.gameday.service import GameDayService

    loaded = load_gameday(args.file)
    log = logging.getLogger("chaosdrill.gameday")
    log.setLevel(logging.INFO)
    log.propagate = False
    if plain and not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(UtcFormatter())
        log.addHandler(handler)
    return GameDayService(loaded, report_dir=Path(args.report_dir), log=log)


def cmd_gameday_serve(args: argparse.Namespace) -> int:
    from chaos.gameday.daemon import Daemon
    from chaos.gameday.locks import ServeLock

    live = sys.stdout.isatty() and not args.plain
    service = _service(args, plain=not live)
    log = logging.getLogger("chaosdrill.gameday")
    try:
        with ServeLock(service.file, service.state_dir):
            daemon = Daemon(service, log=log)
            if not live:
                return daemon.serve()
            from chaos.cli.gameday_view import live_view

            with live_view(daemon, log):
                return daemon.serve()
    finally:
        service.close()


def cmd_gameday_run(args: argparse.Namespace) -> int:
    from chaos.exitcodes import ExitCode
    from chaos.gameday.oneshot import run_now
    from chaos.signals import ignore_interrupts

    service = _service(args)
    try:
        attempt = run_now(service, args.drill, ignore_windows=args.ignore_windows)
        ignore_interrupts()  # the drill handled its signals; the verdict still gets out
    finally:
        service.close()
    if attempt.outcome is not None:
        return int(attempt.outcome.exit_code)
    print(f"chaosdrill: {args.drill} did not run: {attempt.skipped}", file=sys.stderr)
    return int(ExitCode.ABORTED)


def cmd_gameday_run_due(args: argparse.Namespace) -> int:
    from chaos.gameday.oneshot import run_due

    service = _service(args)
    try:
        attempts = run_due(service)
    finally:
        service.close()
    codes = [int(a.outcome.exit_code) for a in attempts if a.outcome is not None]
    if not any(a.outcome is not None or a.skipped for a in attempts):
        print("nothing was due")
    return max(codes, default=0)


def cmd_gameday_history(args: argparse.Namespace) -> int:
    from pathlib import Path

    from chaos.errors import UsageError
    from chaos.gameday.history import History, history_path

    if not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file")
    path = history_path(args.file)
    if not path.exists():
        rows: list[Any] = []
    else:
        with History(args.file) as history:
            rows = history.rows(args.limit, drill=args.drill)
    if args.html:
        from chaos.report.html import gameday_page, write_page

        try:
            write_page(gameday_page(args.file, rows, page=args.html), args.html)
        except OSError as exc:
            raise UsageError(f"cannot write {args.html}: {exc.strerror or exc}") from None
        print(f"html: {args.html}")
        return 0
    if args.json:
        json.dump(
            {"file": str(Path(args.file).resolve()), "fires": [_history_json(r) for r in rows]},
            sys.stdout,
            indent=2,
        )
        print()
        return 0
    if not rows:
        print("(no fires recorded)")
        return 0
    table = [("DRILL", "SCHEDULED", "STARTED", "ENDED", "HOW", "OUTCOME", "WHY / JOURNAL")]
    for row in rows:
        table.append(
            (
                row.drill,
                _utc(row.scheduled),
                _utc(row.started) if row.started else "-",
                _utc(row.ended) if row.ended else "-",
                row.how,
                row.state,
                _why(row),
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(6)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line[:6], widths, strict=True)]
        print("  ".join([*cells, line[6]]).rstrip())
    return 0


def _why(row: Any) -> str:
    if row.skip_reason:
        return row.skip_reason
    first = row.reasons[0] if row.reasons else None
    message = first.get("message", "") if isinstance(first, dict) else (first or "")
    return "  ".join(part for part in (message, row.journal or "") if part)


def _history_json(row: Any) -> dict[str, Any]:
    def text(moment: datetime | None) -> str | None:
        return _utc_text(moment) if moment is not None else None

    return {
        "drill": row.drill,
        "scheduled": text(row.scheduled),
        "fire_at": text(row.fire_at),
        "started": text(row.started),
        "ended": text(row.ended),
        "how": row.how,
        "state": row.state,
        "verdict": row.verdict,
        "reasons": row.reasons,
        "skip_reason": row.skip_reason,
        "journal": row.journal,
        "pid": row.pid,
        "host": row.host,
    }
