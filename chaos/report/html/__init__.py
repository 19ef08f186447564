"""HTML reports: a run page from one journal, an index page from many runs.

One self-contained file each (style inline, the timeline and sparklines as
inline SVG, no script but the embedded journal, nothing loaded from the
network), light and dark, for a screen, a phone or paper.

- :func:`run_page` renders a journal's run page (``chaosdrill report JOURNAL``,
  ``run --html``);
- :func:`index_page` an index of runs with their trends (``chaosdrill report
  DIR``, several journals);
- :func:`render` a suite (``suite --html``; ``chaos.report.write("html", ...)``);
- :func:`gameday_page` a game day's history (``gameday history --html``).

Jinja2 is imported only when a page is rendered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.errors import UsageError
from chaos.journal.model import READABLE_FORMATS, Journal

if TYPE_CHECKING:
    from chaos.gameday.history import Fire
    from chaos.report.html.render import Row
    from chaos.suite import SuiteResult

MAX_JOURNAL_BYTES = 256 * 1024 * 1024
"""A journal larger than this is refused rather than read."""


def read_journal(path: str | os.PathLike[str]) -> tuple[Journal, dict[str, Any]]:
    """A journal file (format version 2 or 3) as the model and as the JSON it holds;
    raises UsageError for what cannot be read."""
    source = Path(path)
    try:
        if source.stat().st_size > MAX_JOURNAL_BYTES:
            raise UsageError(f"{source}: larger than {MAX_JOURNAL_BYTES} bytes")
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{source}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{source}: not a JSON journal ({exc})") from None
    return parse_journal(data, str(source)), data


def parse_journal(data: Any, where: str = "journal") -> Journal:
    from pydantic import ValidationError

    if not isinstance(data, dict):
        raise UsageError(f"{where}: not a journal (expected a JSON object)")
    version = data.get("format")
    if version not in READABLE_FORMATS:
        raise UsageError(
            f"{where}: journal format {version!r} is not one this chaosdrill reads "
            f"({', '.join(READABLE_FORMATS)})"
        )
    try:
        return Journal.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{where}: not a valid {version} journal: {exc}") from None


def find_journals(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The journal files named, and each ``*/journal.json`` under the directories named."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.glob("*/journal.json"))
            if (path / "journal.json").is_file():
                found.append(path / "journal.json")
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def run_page(journal: Journal, data: dict[str, Any] | None = None) -> str:
    from chaos.report.html.render import render_run

    return render_run(journal, data)


def link(target: str | os.PathLike[str] | None, page: str | os.PathLike[str] | None) -> str | None:
    """A relative link from the page at ``page`` to a local file: never a URL, never a
    scheme (it starts with ``./`` or ``../``); None when no relative path exists."""
    if target is None or page is None:
        return None
    try:
        relative = os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)
    except ValueError:  # another drive
        return None
    relative = Path(relative).as_posix()
    return relative if relative.startswith("../") else f"./{relative}"


def journal_row(journal: Journal, link_to: str | None = None) -> Row:
    from chaos.report.html.render import Row

    experiment = journal.experiment
    first = journal.reasons[0].message if journal.reasons else ""
    return Row(
        title=str(experiment.get("title") or journal.run_id),
        key=str(experiment.get("file") or experiment.get("title") or ""),
        verdict=journal.verdict or "none",
        started=journal.started_at,
        duration=journal.duration,
        reason=first,
        journal=journal,
        link=link_to,
    )


def index_page(
    journals: Sequence[tuple[Journal, str | None]],
    *,
    title: str = "chaosdrill runs",
) -> str:
    """An index of runs (each with a link to its journal or None), newest first."""
    from chaos.report.html.render import render_index

    rows = [journal_row(j, href) for j, href in journals]
    rows.sort(key=lambda r: r.started, reverse=True)
    passed = sum(1 for r in rows if r.verdict == "passed")
    return render_index(rows, title=title, summary=f"{passed} of {len(rows)} runs passed.")


def render(suite: SuiteResult, page: str | os.PathLike[str] | None = None) -> str:
    """A suite's page: the resilience score, one row per experiment, trends when an
    experiment ran more than once (the report format ``html``)."""
    from chaos.report.html.render import Row, render_index

    rows = []
    for case in suite.cases:
        journal = case.run.journal if case.run is not None else None
        if journal is None and case.journal_path is not None and case.journal_path.is_file():
            try:
                journal = read_journal(case.journal_path)[0]
            except UsageError:
                journal = None
        rows.append(
            Row(
                title=case.title,
                key=str(case.path),
                verdict=case.verdict.value,
                started=journal.started_at if journal else "",
                duration=case.duration if case.started is not None else None,
                reason=case.first_reason,
                journal=journal,
                link=link(case.journal_path, page),
            )
        )
    return render_index(
        rows,
        title="chaosdrill resilience suite",
        score=suite.score,
        summary=f"The suite {'passed' if suite.passed else 'did not pass'}: {suite.message}.",
    )


def gameday_page(
    gameday_file: str | os.PathLike[str],
    fires: Sequence[Fire],
    page: str | os.PathLike[str] | None = None,
) -> str:
    """A game day's fires, newest first, with each run's figures when its journal exists."""
    from chaos.report.html.render import Row, render_index

    rows = []
    for fire in fires:
        journal = None
        if fire.journal and Path(fire.journal).is_file():
            try:
                journal = read_journal(fire.journal)[0]
            except UsageError:
                journal = None
        first = fire.reasons[0] if fire.reasons else None
        reason = fire.skip_reason or (
            first.get("message", "") if isinstance(first, dict) else str(first or "")
        )
        started = fire.started or fire.scheduled
        rows.append(
            Row(
                title=str(journal.experiment.get("title")) if journal else fire.drill,
                key=fire.drill,
                verdict=fire.state,
                started=started.isoformat(timespec="seconds") if started else "",
                duration=(fire.ended - fire.started).total_seconds()
                if fire.started and fire.ended
                else None,
                reason=reason,
                journal=journal,
                link=link(fire.journal, page) if fire.journal else None,
                extra={
                    "drill": fire.drill,
                    "scheduled": fire.scheduled.isoformat(timespec="seconds"),
                    "how": fire.how,
                },
            )
        )
    return render_index(
        rows,
        title=f"chaosdrill game day {Path(gameday_file).name}",
        summary=f"{len(rows)} fires recorded, newest first.",
        columns=("drill", "scheduled", "how"),
    )


def write_page(text: str, path: str | os.PathLike[str]) -> Path:
    """Write a page (parents created); raises OSError."""
    target = Path(path)
    if target.parent != Path():
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
