"""Samples as spans of time: outages and availability from when checks were
sent and answered, attribution by overlap, and a sampler that keeps its grid
while checks wait for their timeout (pure logic, and probe plugins that sleep)."""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.engine.clock import RunClock
from chaos.engine.sampling import MAX_IN_FLIGHT, BoundProbe, Sample, Sampler, Series
from chaos.engine.summary import Outage, evidence, summarize, tolerance_violations
from chaos.experiment.model import Tolerance
from chaos.probe import Check, Probe


def test_a_sample_spans_its_start_to_its_answer():
    sample = Sample(1.5, False, 0.25, "timed out")
    assert (sample.start, sample.end) == (1.5, 1.75)


def test_a_check_answered_after_the_pause_counts_as_up_only_from_its_answer():
    """A pause from 1.0 to 3.6, probed every 0.1 s with a 2 s timeout: checks sent
    before 1.6 fail at their timeout, the later ones are answered at 3.6."""
    data = [Sample(round(i * 0.1, 1), True, 0.005, "") for i in range(10)]
    for i in range(10, 36):
        t = round(i * 0.1, 1)
        data.append(
            Sample(t, False, 2.0, "timed out") if t + 2.0 < 3.6 else Sample(t, True, 3.6 - t, "")
        )
    data += [Sample(round(i * 0.1, 1), True, 0.005, "") for i in range(36, 50)]
    summary = summarize(data, end=5.0)
    [outage] = summary.outages
    assert outage.start == 1.0 and outage.end == pytest.approx(3.6)
    assert summary.down == pytest.approx(2.6)
    assert summary.availability == pytest.approx(1 - 2.6 / 5.0)


def test_a_slow_failure_weighs_its_time_not_one_sample():
    """Eight quick passes, then one check that waits 2 s for its timeout: by count
    89 % available, by time the 2 s it spent failing."""
    data = [Sample(i * 0.25, True, 0.01, "") for i in range(8)]
    data.append(Sample(2.0, False, 2.0, "timed out"))
    data.append(Sample(4.0, True, 0.01, ""))
    summary = summarize(data, end=4.01)
    assert summary.outages == (Outage(2.0, 4.01, True),)
    assert (summary.samples, summary.ok, summary.failed) == (10, 9, 1)
    assert summary.probed == pytest.approx(4.01)
    assert summary.availability == pytest.approx(2.0 / 4.01)
    fast = [Sample(i * 0.25, i < 8 or i == 16, 0.01, "") for i in range(17)]
    assert summarize(fast, end=4.01).availability == pytest.approx(summary.availability)


def test_a_hung_check_overtaken_by_answers_is_down_only_until_the_first():
    data = [
        Sample(0.0, True, 0.01, ""),
        Sample(1.0, False, 2.0, "timed out"),  # a lost request, while the others pass
        Sample(1.1, True, 0.01, ""),
        Sample(1.2, True, 0.01, ""),
        Sample(3.1, True, 0.01, ""),
    ]
    summary = summarize(data, end=3.2)
    assert summary.outages == (Outage(1.0, pytest.approx(1.11), True),)


def test_a_failure_answered_after_a_pass_sent_later_does_not_reopen_the_outage():
    data = [
        Sample(0.0, False, 0.7, "timed out"),
        Sample(0.5, False, 0.7, "timed out"),
        Sample(0.6, True, 0.3, ""),  # answered at 0.9, before the one sent at 0.5 gave up
        Sample(1.0, True, 0.01, ""),
    ]
    summary = summarize(data, end=1.1)
    assert summary.outages == (Outage(0.0, pytest.approx(0.9), True),)


def test_the_probed_time_runs_from_the_first_check_to_the_end():
    data = [Sample(2.0, True, 0.01, ""), Sample(3.0, False, 0.01, "")]
    summary = summarize(data, end=5.0)
    assert summary.probed == 3.0
    assert summary.outages == (Outage(3.0, 5.0, False),)
    assert summary.availability == pytest.approx(1 / 3)


def test_strict_tolerance_fails_a_failure_with_no_time_to_weigh():
    data = [Sample(0.0, True, 0.0, ""), Sample(1.0, False, 0.0, "refused")]
    summary = summarize(data, end=1.0)
    assert summary.availability == 1.0
    assert tolerance_violations(summary, data, Tolerance(min_availability=1.0)) == [
        ("1 of 2 samples failed, against min_availability 100%", 1.0)
    ]


def test_evidence_is_the_outage_or_the_check_behind_a_violation():
    data = [
        Sample(0.0, True, 0.01, ""),
        Sample(1.0, False, 0.5, "timed out"),
        Sample(2.0, True, 0.01, ""),
        Sample(3.0, True, 0.4, ""),
    ]
    summary = summarize(data, end=4.0)
    assert evidence(summary, data, 1.0) == (1.0, pytest.approx(2.01))
    assert evidence(summary, data, 3.0) == (3.0, pytest.approx(3.4))
    assert evidence(summary, data, 9.0) == (9.0, 9.0)


# --- the sampler ------------------------------------------------------------------------


class _Sleeps(Probe):
    """A probe plugin whose checks take ``seconds[i]`` (the last repeats)."""

    name = "test.sleeps"

    def __init__(self, seconds: list[float], deadline: float = 5.0, ok: bool | None = None):
        """Checks pass when they take under 0.2 s, unless ``ok`` says otherwise."""
        self.seconds = seconds
        self.ok = ok
        self.calls = 0
        self.running = 0
        self.peak = 0
        self._limit = deadline
        self._lock = threading.Lock()
        self.release = threading.Event()

    def deadline(self, params: Any, targets: tuple = ()) -> float:
        return self._limit

    def check(self, runtime: Any, params: Any, targets: tuple) -> Check:
        with self._lock:
            index = self.calls
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        wait = self.seconds[min(index, len(self.seconds) - 1)]
        self.release.wait(wait)
        with self._lock:
            self.running -= 1
        return Check(wait < 0.2 if self.ok is None else self.ok, f"call {index}")


RUNTIME: Any = SimpleNamespace(redactor=SimpleNamespace(text=lambda t: t))
QUICK = [0.005] * 3
"""Three quick passes: the probe's usual answer time, after which a check out long is late."""


def sample_for(probe: Probe, seconds: float, interval: float = 0.05) -> Series:
    seen: list[Sample] = []
    sampler = Sampler(
        BoundProbe("probes", "p", probe, None),
        interval,
        RUNTIME,
        RunClock(),
        lambda series, sample: seen.append(sample),
    )
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    sampler.join(10)
    assert seen == sampler.series.samples
    return sampler.series


def test_the_grid_holds_while_checks_hang():
    """Checks that pass in 5 ms, then hang 0.6 s: a new one goes out on every tick.

    Without overlap a hanging check would hold the next one back 0.6 s: about
    6 checks in 2 s instead of 14 (the 20 ticks less those still out at the
    stop, which say nothing). The margins leave room for a loaded machine
    waking the sampler late (a tick is never bunched up, only delayed)."""
    probe = _Sleeps([*QUICK, 0.6])
    series = sample_for(probe, 2.0, interval=0.1)
    starts = sorted(s.t for s in series.samples)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 12, starts  # the last 0.6 s of checks are cut short by the stop
    assert max(gaps) < 0.25, gaps
    assert probe.peak >= 4


def test_a_check_merely_slower_than_the_interval_is_not_overlapped():
    """0.12 s checks every 0.05 s, always that slow: one at a time, as many engine
    calls as before, the ticks in between skipped."""
    probe = _Sleeps([0.12], ok=True)
    series = sample_for(probe, 1.0)
    assert probe.peak == 1
    assert 5 <= probe.calls <= 9
    assert series.skipped >= 8


def test_answers_arrive_in_answer_order():
    """A check that hangs is overtaken by quick ones: they are seen first."""
    series = sample_for(_Sleeps([*QUICK, 0.5, 0.005]), 0.8)
    ends = [s.end for s in series.samples]
    assert ends == sorted(ends)
    slow = next(i for i, s in enumerate(series.samples) if s.detail == "call 3")
    assert not series.samples[slow].ok
    assert series.samples[slow - 1].t > series.samples[slow].t  # a later one came first


def test_checks_that_never_return_hold_a_bounded_number_of_threads():
    probe = _Sleeps([*QUICK, 30.0], deadline=0.2)
    before = threading.active_count()
    try:
        series = sample_for(probe, 1.5, interval=0.02)
        assert probe.calls == len(QUICK) + MAX_IN_FLIGHT
        assert threading.active_count() - before <= MAX_IN_FLIGHT
        failed = [s for s in series.samples if not s.ok]
        given_up = [s for s in failed if s.detail.startswith("no answer within 0.2s")]
        assert len(given_up) == MAX_IN_FLIGHT
        assert all(s.latency == pytest.approx(0.2) for s in given_up)
        # once every place is held by a check past its deadline, each tick fails at once
        assert any("still running, past their deadline" in s.detail for s in failed)
    finally:
        probe.release.set()


def test_a_tick_with_every_place_taken_is_skipped():
    """Checks that hang 1 s, every 0.05 s: eight go out, then ticks are skipped."""
    probe = _Sleeps([*QUICK, 1.0], deadline=2.0)
    series = sample_for(probe, 0.9)
    assert probe.peak == MAX_IN_FLIGHT
    assert probe.calls == len(QUICK) + MAX_IN_FLIGHT
    assert series.skipped > 0
