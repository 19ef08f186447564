"""Rendering the pages: a run page from one journal, an index page from many runs.

Jinja2 with autoescaping on renders the templates (package data under
``templates/``); the SVG comes from :mod:`chaos.report.html.timeline`, which
escapes every string it draws. Every page is one self-contained file: its
style inline, no script but the embedded journal (JSON), nothing loaded from
anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from chaos.journal.model import REASON_KINDS, Journal, ProbeRecord, ReasonRecord
from chaos.report.html import timeline
from chaos.report.html.timeline import clean, seconds

if TYPE_CHECKING:
    import jinja2


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("chaos.report.html", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clean"] = clean
    env.filters["seconds"] = seconds
    env.filters["pct"] = _pct
    return env


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def embedded_json(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&``
    (so ``</script>`` or ``<!--`` in a value cannot end or change it), nor the two
    line separators JavaScript once rejected."""
    text = json.dumps(data, ensure_ascii=False, indent=None, separators=(",", ":"))
    for raw, safe in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, safe)
    return Markup(text)


# -- the run page ---------------------------------------------------------------


def reason_words(reason: ReasonRecord) -> str:
    """A reason in plain words: what, about which probe or step, when, during which fault."""
    parts = [reason.message]
    where = []
    if reason.at is not None:
        where.append(f"at {seconds(reason.at)} into the run")
    if reason.phase:
        where.append(f"in the {reason.phase} phase")
    if reason.faults:
        where.append(
            f"while {', '.join(reason.faults)} {'was' if len(reason.faults) == 1 else 'were'} in effect"
        )
    elif reason.at is not None:
        where.append("with no fault in effect")
    if where:
        parts.append("(" + ", ".join(where) + ")")
    return " ".join(parts)


@dataclass(frozen=True)
class Limit:
    name: str
    measured: str
    limit: str
    ok: bool | None
    """None: no limit set."""


def limits(record: ProbeRecord) -> list[Limit]:
    """Each of a probe's figures against its tolerance."""
    tolerance = record.tolerance or {}
    summary = record.summary
    rows = []
    availability = record.availability
    wanted = tolerance.get("min_availability")
    rows.append(
        Limit(
            "availability",
            _pct(availability),
            f"at least {_pct(wanted)}" if wanted is not None else "-",
            None if wanted is None or availability is None else availability >= wanted,
        )
    )
    longest = summary.longest_outage if summary else None
    wanted = tolerance.get("max_outage")
    rows.append(
        Limit(
            "longest outage",
            seconds(longest),
            f"at most {seconds(wanted)}" if wanted is not None else "-",
            None if wanted is None or longest is None else longest <= wanted,
        )
    )
    latency = summary.max_latency if summary else None
    wanted = tolerance.get("max_latency")
    rows.append(
        Limit(
            "latency (max)",
            seconds(latency),
            f"at most {seconds(wanted)}" if wanted is not None else "-",
            None if wanted is None or latency is None else latency <= wanted,
        )
    )
    return rows


def render_run(journal: Journal, data: dict[str, Any] | None = None) -> str:
    """The run page of ``journal`` (``data``: the journal as read, embedded as is;
    by default the journal's own JSON)."""
    experiment = journal.experiment
    document = experiment.get("document") if isinstance(experiment.get("document"), dict) else {}
    context = {
        "journal": journal,
        "title": str(experiment.get("title") or document.get("title") or journal.run_id),
        "description": str(document.get("description") or ""),
        "tags": [str(t) for t in (experiment.get("tags") or document.get("tags") or [])],
        "file": str(experiment.get("file") or ""),
        "reasons": [
            {"record": r, "words": reason_words(r), "about": REASON_KINDS.get(r.kind, "")}
            for r in journal.reasons
        ],
        "timeline": timeline.timeline(journal),
        "continuous": [(r, limits(r)) for r in (*journal.probes, *journal.guards)],
        "as_run": _as_yaml(document or experiment),
        "embedded": embedded_json(data if data is not None else journal.model_dump(mode="json")),
        "ttr": journal.recovery.time_to_recover if journal.recovery else None,
    }
    return _environment().get_template("run.html.j2").render(**context)


def _as_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# -- the index page -------------------------------------------------------------


@dataclass
class Row:
    """One run on an index page."""

    title: str
    verdict: str
    """A verdict, or a game day fire's state (skipped, running, interrupted)."""
    key: str = ""
    """Which experiment (runs of one key make a trend); the title when empty."""
    started: str = ""
    duration: float | None = None
    reason: str = ""
    journal: Journal | None = None
    link: str | None = None
    """A relative path to the journal (or its page), shown as a link."""
    extra: dict[str, str] = field(default_factory=dict)
    """Further columns (a game day's drill, scheduled time, how)."""

    @property
    def time_to_recover(self) -> float | None:
        recovery = self.journal.recovery if self.journal else None
        return recovery.time_to_recover if recovery else None

    @property
    def availability(self) -> float | None:
        """The lowest availability of the run's continuous probes."""
        if self.journal is None:
            return None
        values = [r.availability for r in self.journal.probes if r.availability is not None]
        return min(values) if values else None


def _trends(rows: Sequence[Row]) -> list[dict[str, Any]]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.key or row.title, []).append(row)
    trends = []
    for key, runs in groups.items():
        if len(runs) < 2:
            continue
        runs = sorted(runs, key=lambda r: r.started)
        trends.append(
            {
                "key": key,
                "title": runs[-1].title,
                "runs": runs,
                "availability": timeline.trend_spark(
                    "availability", [r.availability for r in runs], "lowest probe availability"
                ),
                "ttr": timeline.trend_spark(
                    "time-to-recover", [r.time_to_recover for r in runs], "time to recover"
                ),
            }
        )
    return trends


def render_index(
    rows: Sequence[Row],
    *,
    title: str = "chaosdrill runs",
    score: float | None = None,
    summary: str = "",
    columns: Sequence[str] = (),
) -> str:
    """An index page: the score (a suite's), one row per run, trends across runs."""
    context = {
        "title": title,
        "score": score,
        "summary": summary,
        "columns": list(columns),
        "rows": [
            {
                "row": row,
                "spark": timeline.availability_spark(row.journal) if row.journal else None,
            }
            for row in rows
        ],
        "trends": _trends(rows),
    }
    return _environment().get_template("index.html.j2").render(**context)
