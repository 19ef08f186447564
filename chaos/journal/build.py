"""Building the journal: its records from what the engine measured, and the
journal itself, opened when a run (or a fault session) starts and closed with
its verdict. Runs and sessions build theirs here alike."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chaos import __version__
from chaos.journal.model import (
    Journal,
    OutageRecord,
    ReasonRecord,
    SampleRecord,
    SummaryRecord,
    TargetRecord,
    WhereCheckRecord,
    WhereRecord,
)

if TYPE_CHECKING:
    from chaos.engine.clock import RunClock
    from chaos.engine.result import Verdict
    from chaos.engine.sampling import Sample
    from chaos.engine.summary import Summary
    from chaos.redaction import Redactor
    from chaos.targets.selection import Selection, WhereResult

PLACES = 4
"""Decimals kept for times in seconds (a tenth of a millisecond)."""


def sample_record(sample: Sample, clock: RunClock) -> SampleRecord:
    """One check: when it started (``t``, ``at``), when it answered (``end``), and what it said."""
    return SampleRecord(
        t=round(sample.t, PLACES),
        end=round(sample.end, PLACES),
        at=clock.wall(sample.t),
        ok=sample.ok,
        latency=round(sample.latency, PLACES),
        detail=sample.detail,
    )


def sample_records(samples: list[Sample], clock: RunClock) -> list[SampleRecord]:
    """The samples in the order they started."""
    return [sample_record(s, clock) for s in sorted(samples, key=lambda s: s.t)]


def summary_record(summary: Summary) -> SummaryRecord:
    return SummaryRecord(
        samples=summary.samples,
        ok=summary.ok,
        failed=summary.failed,
        availability=summary.availability,
        probed=round(summary.probed, PLACES),
        down=round(summary.down, PLACES),
        longest_outage=round(summary.longest_outage, PLACES),
        outages=[
            OutageRecord(
                start=round(o.start, PLACES), end=round(o.end, PLACES), recovered=o.recovered
            )
            for o in summary.outages
        ],
        max_latency=summary.max_latency,
        time_to_recover=(
            round(summary.time_to_recover, PLACES) if summary.time_to_recover is not None else None
        ),
    )


def target_records(selections: Mapping[str, Selection]) -> list[TargetRecord]:
    """How each target was resolved, as the journal records it."""
    return [
        TargetRecord(
            name=name,
            kind=sel.spec.kind,
            mode=sel.spec.describe_mode(),
            seed=sel.seed,
            candidates=sel.candidates,
            chosen=len(sel.chosen),
            selected=[ref.to_json() for ref in sel.chosen],
            where=where_record(sel.where) if sel.where is not None else None,
        )
        for name, sel in selections.items()
    ]


def where_record(where: WhereResult) -> WhereRecord:
    """Each candidate a target's ``where`` probe looked at: kept or dropped, and what it said."""
    checks = [
        WhereCheckRecord(id=e.ref.id, name=e.ref.name, ok=e.ok, detail=e.detail)
        for e in where.examined
    ]
    return WhereRecord(
        probe=where.probe,
        matched=len(checks),
        kept=[c for c in checks if c.ok],
        dropped=[c for c in checks if not c.ok],
    )


def open_journal(
    run_id: str, clock: RunClock, experiment: dict[str, Any], seed: int | None
) -> Journal:
    """The journal of a run that starts now: who ran what, with which versions."""
    return Journal(
        run_id=run_id,
        versions={"chaosdrill": __version__, "python": sys.version.split()[0]},
        experiment=experiment,
        started_at=clock.started_at.isoformat(timespec="milliseconds"),
        seed=seed,
    )


def close_journal(
    journal: Journal,
    verdict: Verdict,
    reasons: Sequence[ReasonRecord],
    end: float,
    clock: RunClock,
    redactor: Redactor,
) -> Journal:
    """The journal with its end, verdict and reasons, every string redacted.

    Redacted whole, once: titles, step and target names, details and states
    may all carry a secret value.
    """
    journal.ended_at = clock.wall(end)
    journal.duration = round(end, PLACES)
    journal.verdict = verdict.value
    journal.reasons = list(reasons)
    journal.exit_code = int(verdict.exit_code)
    return Journal.model_validate(redactor.data(journal.model_dump(mode="json")))
