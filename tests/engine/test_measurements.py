"""Probe measurements against the journal's own record of each fault: an outage
is measured as long as the fault held, availability weighs time, and a failure
is tied to the faults its check overlapped."""

from __future__ import annotations

import itertools
import statistics
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from chaos import api
from chaos.journal.model import FaultRecord, OutageRecord, ProbeRecord
from tests.conftest import host_port, http_status, wait_for

pytestmark = pytest.mark.docker

INTERVAL = 0.1
SLACK = 0.02
"""Seconds a busy host may add to a measurement (a thread that wakes up late)."""


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def run(path: Path, tmp_path: Path) -> api.RunResult:
    return api.run(api.load(path), report_dir=tmp_path / "reports", handle_signals=False)


def held(fault: FaultRecord) -> float:
    """How long the fault was in effect: from inject returning to the revert done."""
    assert fault.applied_at is not None and fault.reverted_at is not None, fault
    return fault.reverted_at - fault.applied_at


def assert_measures(outage: OutageRecord, fault: FaultRecord) -> None:
    """The outage is the fault's, to within one interval at either end.

    The journal brackets both ends of the true outage: the fault took hold
    between ``injected_at`` and ``applied_at`` (inject returns once the pause
    is verified) and was lifted between ``revert_started`` and ``reverted_at``.
    The first failing check goes out within an interval of the one, the first
    passing answer comes within an interval of the other.
    """
    assert fault.injected_at is not None and fault.applied_at is not None, fault
    assert fault.revert_started is not None and fault.reverted_at is not None, fault
    margin = INTERVAL + SLACK
    assert fault.injected_at - margin <= outage.start <= fault.applied_at + margin, (outage, fault)
    assert fault.revert_started - SLACK <= outage.end <= fault.reverted_at + margin, (outage, fault)
    shortest = fault.revert_started - fault.applied_at
    longest = fault.reverted_at - fault.injected_at
    assert shortest - margin <= outage.end - outage.start <= longest + margin


def starts_within(probe: ProbeRecord, start: float, end: float) -> list[float]:
    return sorted(s.t for s in probe.samples if start <= s.t <= end)


def test_a_pause_is_measured_as_long_as_it_held(containers, experiment_file, tmp_path, group):
    """Checks sent into the pause fail at their timeout; the first answer after
    the unpause ends the outage. Stamped at their start alone, and sent only
    once the previous one had timed out, they measured the pause a timeout short."""
    web = containers.run(publish=True, labels={"grp": group, "n": "web"})
    containers.run("busybox", command=["sleep", "300"], labels={"grp": group, "n": "other"})
    path = experiment_file(f"""
        version: 1
        title: a measured pause
        targets:
          web: {{select: {{labels: {{grp: {group}, n: web}}}}}}
          other: {{select: {{labels: {{grp: {group}, n: other}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 500ms, duration: 2600ms}}
          # keeps the method (and the probe) going a while after the unpause
          - {{name: bystander, fault: container.pause, target: other, duration: 5s}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{host_port(web)}/",
             interval: 100ms, timeout: 400ms, tolerance: {{min_availability: 0}}}}
        recovery: {{within: 5s}}
    """)
    result = run(path, tmp_path)
    assert result.passed, result.describe()
    fault = next(f for f in result.journal.faults if f.step == "freeze")
    probe = result.probe("avail")
    assert probe.summary is not None
    [outage] = probe.summary.outages
    assert outage.recovered
    print(f"held {held(fault):.3f}s, measured {probe.longest_outage:.3f}s; outage {outage}")
    assert probe.longest_outage == pytest.approx(outage.end - outage.start, abs=1e-3)
    assert_measures(outage, fault)
    # every sample says what held when it was answered
    assert fault.applied_at is not None and fault.reverted_at is not None
    for sample in probe.samples:
        assert sample.end == pytest.approx(sample.t + sample.latency, abs=1e-3)
        if fault.applied_at < sample.t and sample.end < fault.revert_started:
            assert not sample.ok, sample
    # the grid held while checks waited for their timeout
    during = starts_within(probe, fault.applied_at, fault.revert_started)
    gaps = [b - a for a, b in itertools.pairwise(during)]
    print(f"{len(during)} checks sent during the pause, median gap {statistics.median(gaps):.3f}s")
    assert len(during) >= 0.6 * (fault.revert_started - fault.applied_at) / INTERVAL
    assert statistics.median(gaps) < 1.5 * INTERVAL


def test_slow_and_fast_failures_weigh_the_same(containers, experiment_file, tmp_path, group):
    """One outage (a paused container behind a published port) seen by checks
    that hang until a long timeout and by checks that give up quickly: by time,
    they read the same availability (counted by samples, with one sample per
    timeout while it hung, the slow failures read far healthier). Refused
    connections (a stopped container) count from when they were sent too."""
    web = containers.run(publish=True, labels={"grp": group, "n": "paused"})
    down = containers.run(publish=True, labels={"grp": group, "n": "stopped"})
    url, refused = (f"http://127.0.0.1:{host_port(c)}/" for c in (web, down))
    path = experiment_file(f"""
        version: 1
        title: slow and fast failures
        targets:
          paused: {{select: {{labels: {{grp: {group}, n: paused}}}}}}
          stopped: {{select: {{labels: {{grp: {group}, n: stopped}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: paused, at: 500ms, duration: 3s}}
          - {{name: halt, fault: container.stop, target: stopped, timeout: 0s, at: 500ms,
             duration: 3s}}
        probes:
          - {{name: hangs, probe: http, url: "{url}", interval: 100ms, timeout: 700ms,
             tolerance: {{min_availability: 0}}}}
          - {{name: quick, probe: http, url: "{url}", interval: 100ms, timeout: 150ms,
             tolerance: {{min_availability: 0}}}}
          - {{name: refused, probe: http, url: "{refused}", interval: 100ms, timeout: 700ms,
             tolerance: {{min_availability: 0}}}}
        recovery: {{within: 10s}}
    """)
    result = run(path, tmp_path)
    assert result.passed, result.describe()
    faults = {f.step: f for f in result.journal.faults}
    summaries = {}
    for name in ("hangs", "quick", "refused"):
        summary = result.probe(name).summary
        assert summary is not None and summary.availability is not None
        assert summary.probed is not None and summary.down is not None
        assert summary.failed == summary.samples - summary.ok > 0
        # availability is what the outages leave of the probed time
        assert summary.availability == pytest.approx(1 - summary.down / summary.probed, abs=1e-4)
        print(f"{name}: {summary}")
        summaries[name] = summary
    hangs, quick = summaries["hangs"], summaries["quick"]
    freeze = held(faults["freeze"])
    print(f"freeze held {freeze:.3f}s")
    # the same outage, measured as it was by both, so the same share of the probed time
    for summary in (hangs, quick):
        [outage] = summary.outages
        assert_measures(outage, faults["freeze"])
    assert hangs.down == pytest.approx(quick.down, abs=2 * INTERVAL + SLACK)
    # refused: down from the moment of the kill (the engine's own record) on
    began = datetime.fromisoformat(result.journal.started_at)
    down.reload()
    killed, restarted = (
        (engine_time(down.attrs["State"][key]) - began).total_seconds()
        for key in ("FinishedAt", "StartedAt")
    )
    [outage] = summaries["refused"].outages
    print(f"stopped from {killed:.3f} to {restarted:.3f}: {outage}")
    assert outage.start == pytest.approx(killed, abs=INTERVAL)
    assert outage.end >= restarted


def engine_time(text: str) -> datetime:
    """An engine timestamp (nanoseconds, ``Z``) as a datetime."""
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")


SLOW_PAGE = (
    "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\nsleep 1.5\\n"
    'printf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\nok\\\\n"\\n\' > /www/cgi-bin/slow'
    " && chmod 755 /www/cgi-bin/slow && exec httpd -f -p 80 -h /www"
)
"""busybox httpd with a page that takes 1.5 s to make."""


def test_a_failure_is_tied_to_the_fault_its_check_overlapped(
    containers, experiment_file, tmp_path, group
):
    """The first check goes out as the method starts, 50 ms before the pause is
    injected; the pause lands while the page is being made, so that check fails
    at its timeout. Its reason names the pause, though the check started before it."""
    web = containers.run(
        "busybox", command=["sh", "-c", SLOW_PAGE], publish=True, labels={"grp": group}
    )
    url = f"http://127.0.0.1:{host_port(web)}/cgi-bin/slow"
    wait_for(lambda: http_status(url, timeout=3) == 200, 15, "the slow page")
    path = experiment_file(f"""
        version: 1
        title: overlap
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 50ms, duration: 3s}}
        probes:
          - {{name: page, probe: http, url: "{url}", interval: 5s, timeout: 2s}}
        recovery: {{within: 5s}}
    """)
    result = run(path, tmp_path)
    fault = result.journal.faults[0]
    first = result.probe("page").samples[0]
    assert fault.injected_at is not None
    assert not first.ok and first.t < fault.injected_at, (first, fault)
    message = result.reasons[0].message
    assert f"(first at t={first.t:.1f}s during freeze)" in message, message
