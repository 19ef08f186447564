"""Turning a probe's samples into availability, outages and time-to-recover."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.engine.sampling import Sample
from chaos.experiment.model import Tolerance


@dataclass(frozen=True)
class Outage:
    start: float
    end: float
    recovered: bool
    """False when the probe was still failing when sampling stopped."""

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Summary:
    samples: int
    ok: int
    availability: float | None
    longest_outage: float
    outages: tuple[Outage, ...]
    max_latency: float | None
    time_to_recover: float | None
    """From the first failed sample to the first passing one after the last
    failure; 0 if it never failed, None if it had not recovered at the end."""


def summarize(samples: list[Sample], end: float) -> Summary:
    """Summarise samples taken until ``end`` (seconds since the run started)."""
    ordered = sorted(samples, key=lambda s: s.t)
    outages: list[Outage] = []
    outage_start: float | None = None
    for sample in ordered:
        if not sample.ok and outage_start is None:
            outage_start = sample.t
        elif sample.ok and outage_start is not None:
            outages.append(Outage(outage_start, sample.t, True))
            outage_start = None
    if outage_start is not None:
        outages.append(Outage(outage_start, max(end, outage_start), False))
    ok = sum(1 for s in ordered if s.ok)
    ok_latencies = [s.latency for s in ordered if s.ok]
    if not outages:
        ttr: float | None = 0.0
    elif not outages[-1].recovered:
        ttr = None
    else:
        ttr = outages[-1].end - outages[0].start
    return Summary(
        samples=len(ordered),
        ok=ok,
        availability=(ok / len(ordered)) if ordered else None,
        longest_outage=max((o.length for o in outages), default=0.0),
        outages=tuple(outages),
        max_latency=max(ok_latencies, default=None),
        time_to_recover=ttr,
    )


def tolerance_violations(
    summary: Summary, samples: list[Sample], tolerance: Tolerance
) -> list[tuple[str, float | None]]:
    """Each way the samples break the tolerance, with when it first happened."""
    found: list[tuple[str, float | None]] = []
    if summary.samples == 0:
        return [("took no samples, so nothing shows the tolerance was met", None)]
    ordered = sorted(samples, key=lambda s: s.t)
    if (
        tolerance.min_availability is not None
        and summary.availability is not None
        and summary.availability + 1e-9 < tolerance.min_availability
    ):
        first_fail = next((s.t for s in ordered if not s.ok), None)
        shown = _beyond(summary.availability * 100, tolerance.min_availability * 100)
        found.append(
            (
                f"availability {shown}% is below min_availability {tolerance.min_availability * 100:g}% "
                f"({summary.samples - summary.ok} of {summary.samples} samples failed)",
                first_fail,
            )
        )
    if tolerance.max_outage is not None:
        for outage in summary.outages:
            if outage.length > tolerance.max_outage:
                still = "" if outage.recovered else " and had not ended"
                found.append(
                    (
                        f"outage of {_beyond(outage.length, tolerance.max_outage)}s{still} "
                        f"exceeds max_outage {tolerance.max_outage:g}s",
                        outage.start,
                    )
                )
                break
    if tolerance.max_latency is not None:
        slow = [s for s in ordered if s.ok and s.latency > tolerance.max_latency]
        if slow:
            slowest = max(s.latency for s in slow)
            found.append(
                (
                    f"{len(slow)} sample(s) slower than max_latency "
                    f"{tolerance.max_latency * 1000:g}ms (slowest "
                    f"{_beyond(slowest * 1000, tolerance.max_latency * 1000, decimals=0)}ms)",
                    slow[0].t,
                )
            )
    return found


def _beyond(value: float, limit: float, decimals: int = 1) -> str:
    """``value`` with as few decimals as show it is on the far side of ``limit``.

    A 3.04s outage against a 3s limit reads "3.04", never "3.0 exceeds 3".
    """
    for places in range(decimals, decimals + 4):
        text = f"{value:.{places}f}"
        if float(text) != limit and (float(text) > limit) == (value > limit):
            return text
    return f"{value:.{decimals + 3}f}"
