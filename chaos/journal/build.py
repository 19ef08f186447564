"""Journal records made from what the engine measured."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.journal.model import OutageRecord, SampleRecord, SummaryRecord

if TYPE_CHECKING:
    from chaos.engine.clock import RunClock
    from chaos.engine.sampling import Sample
    from chaos.engine.summary import Summary

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
