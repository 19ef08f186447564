"""Turning a probe's samples into availability, outages and time-to-recover."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.engine.sampling import Sample
from chaos.experiment.model import Tolerance


@dataclass(frozen=True)
class Outage:
    """A stretch of time the probe saw its target down: from the start of the
    first failing check (the request was sent into the failure) to the answer
    of the first passing check after that."""

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
    """The share of the probed time outside outages (0 to 1); None without samples."""
    longest_outage: float
    outages: tuple[Outage, ...]
    max_latency: float | None
    time_to_recover: float | None
    """From the start of the first outage to the end of the last; 0 if it never
    failed, None if it had not recovered at the end."""
    probed: float = 0.0
    """Seconds probed: from the first check's start to the end of sampling."""
    down: float = 0.0
    """Seconds of them inside outages."""

    @property
    def failed(self) -> int:
        return self.samples - self.ok


def outages(samples: list[Sample], end: float) -> list[Outage]:
    """The outages the samples show, until ``end`` (seconds since the run started).

    A failing check says the target was down when the check was sent; a
    passing one says it was up when it answered, not before: a request that
    waited out a pause and was answered after it shows the pause's end, not
    that the target was up when the request went out. So an outage runs from
    the start of a failing check to the next passing answer, and a check that
    timed out while later ones were answered is an outage only until the
    first of those answers.
    """
    events = sorted(
        [(s.t, 1) for s in samples if not s.ok] + [(s.end, 0) for s in samples if s.ok]
    )  # at the same instant an answer comes before a request sent then
    found: list[Outage] = []
    start: float | None = None
    for at, down in events:
        if down and start is None:
            start = at
        elif not down and start is not None:
            found.append(Outage(start, at, True))
            start = None
    if start is not None:
        found.append(Outage(start, max(end, start), False))
    return found


def summarize(samples: list[Sample], end: float) -> Summary:
    """Summarise samples taken until ``end`` (seconds since the run started).

    Availability is by time, not by count: the probed time runs from the first
    check's start to ``end`` (or the last answer, if later), and the target
    counts as up for all of it but its outages. A check that waits two seconds
    for its timeout is two seconds down, however many quick answers the same
    two seconds would have held.
    """
    if not samples:
        return Summary(0, 0, None, 0.0, (), None, 0.0, 0.0, 0.0)
    until = max(end, max(s.end for s in samples))
    first = min(s.t for s in samples)
    found = outages(samples, until)
    ok = sum(1 for s in samples if s.ok)
    probed = until - first
    down = sum(o.length for o in found)
    # when every check answered the instant it started there is no time to weigh by
    availability = max(0.0, 1.0 - down / probed) if probed > 0 else ok / len(samples)
    if not found:
        ttr: float | None = 0.0
    elif not found[-1].recovered:
        ttr = None
    else:
        ttr = found[-1].end - found[0].start
    return Summary(
        samples=len(samples),
        ok=ok,
        availability=availability,
        longest_outage=max((o.length for o in found), default=0.0),
        outages=tuple(found),
        max_latency=max((s.latency for s in samples if s.ok), default=None),
        time_to_recover=ttr,
        probed=probed,
        down=down,
    )


def evidence(summary: Summary, samples: list[Sample], t: float) -> tuple[float, float]:
    """The stretch of time behind a violation first seen at ``t``: the outage that
    began then, else the check that started then (from its start to its answer).

    A fault is to blame when its window overlaps this stretch, not only when it
    holds ``t``: a check sent 2 ms before a crash fails because of the crash.
    """
    for outage in summary.outages:
        if outage.start == t:
            return outage.start, outage.end
    started = [s for s in samples if s.t == t]
    if started:
        return t, max(s.end for s in started)
    return t, t


def tolerance_violations(
    summary: Summary, samples: list[Sample], tolerance: Tolerance
) -> list[tuple[str, float | None]]:
    """Each way the samples break the tolerance, with when it first happened."""
    found: list[tuple[str, float | None]] = []
    if summary.samples == 0:
        return [("took no samples, so nothing shows the tolerance was met", None)]
    ordered = sorted(samples, key=lambda s: s.t)
    limit = tolerance.min_availability
    if limit is not None and summary.availability is not None:
        first_fail = next((s.t for s in ordered if not s.ok), None)
        counts = f"{summary.failed} of {summary.samples} samples failed"
        if summary.availability + 1e-9 < limit:
            shown = _beyond(summary.availability * 100, limit * 100)
            found.append(
                (
                    f"availability {shown}% is below min_availability {limit * 100:g}% "
                    f"(down {summary.down:.1f}s of {summary.probed:.1f}s probed; {counts})",
                    first_fail,
                )
            )
        elif limit >= 1.0 and summary.failed:
            # a failure answered at the very end of sampling has no time to weigh
            found.append((f"{counts}, against min_availability 100%", first_fail))
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
