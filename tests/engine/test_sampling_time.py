"""Samples as spans of time: outages and availability from when checks were
sent and answered, attribution by overlap, and a sampler that keeps its grid
while checks wait for their timeout (pure logic, and probe plugins that sleep)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
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


def sample_for(probe: Probe, seconds: float, interval: float = 0.05, name: str = "p") -> Series:
    seen: list[Sample] = []
    sampler = Sampler(
        BoundProbe("probes", name, probe, None),
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


@dataclass
class Sampled:
    """One sampler scenario, run to its end: its probe, what it sampled, and the
    threads it had left when sampling ended (every thread started while the
    scenarios ran, except the other scenarios' own, named after their probes)."""

    probe: _Sleeps
    series: Series
    threads_left: int


SCENARIOS: dict[str, tuple[Callable[[], _Sleeps], float, float]] = {
    # name: (the probe, seconds sampled, interval)
    "grid": (lambda: _Sleeps([*QUICK, 0.6]), 2.0, 0.1),
    "slower": (lambda: _Sleeps([0.12], ok=True), 1.0, 0.05),
    "order": (lambda: _Sleeps([*QUICK, 0.5, 0.005]), 0.8, 0.05),
    "never": (lambda: _Sleeps([*QUICK, 30.0], deadline=0.2), 1.5, 0.02),
    "full": (lambda: _Sleeps([*QUICK, 1.0], deadline=2.0), 0.9, 0.05),
}
"""The sampler tests below wait on real time and share nothing (each has a probe and
a sampler of its own, and its threads carry its probe's name), so they run at once."""


def _scenario_of(thread: threading.Thread) -> str | None:
    """The scenario a thread belongs to, by the names a sampler gives its threads."""
    for name in SCENARIOS:
        own = (f"scenario-{name}", f"probe-probes-{name}", f"check-{name}", f"call-{name}")
        if thread.name in own:
            return name
    return None


@pytest.fixture(scope="module")
def sampled() -> Iterator[dict[str, Future[Sampled]]]:
    before = set(threading.enumerate())
    probes = {name: make() for name, (make, _, _) in SCENARIOS.items()}

    def run(name: str) -> Sampled:
        _, seconds, interval = SCENARIOS[name]
        series = sample_for(probes[name], seconds, interval=interval, name=name)
        left = [
            t
            for t in threading.enumerate()
            if t not in before and _scenario_of(t) in (None, name) and t.name != f"scenario-{name}"
        ]
        return Sampled(probes[name], series, len(left))

    futures: dict[str, Future[Sampled]] = {}
    threads = []
    for name in SCENARIOS:
        future: Future[Sampled] = Future()
        futures[name] = future

        def work(name: str = name, future: Future[Sampled] = future) -> None:
            try:
                future.set_result(run(name))
            except BaseException as exc:
                future.set_exception(exc)

        threads.append(threading.Thread(target=work, name=f"scenario-{name}", daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield futures
    finally:
        for thread in threads:
            thread.join(15)
        for probe in probes.values():
            probe.release.set()


def test_the_grid_holds_while_checks_hang(sampled):
    """Checks that pass in 5 ms, then hang 0.6 s, sampled for 2 s every 0.1 s: a
    new one goes out on every tick.

    Without overlap a hanging check would hold the next one back 0.6 s: about
    6 checks in 2 s instead of 14 (the 20 ticks less those still out at the
    stop, which say nothing). The margins leave room for a loaded machine
    waking the sampler late (a tick is never bunched up, only delayed)."""
    run = sampled["grid"].result(30)
    starts = sorted(s.t for s in run.series.samples)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 12, starts  # the last 0.6 s of checks are cut short by the stop
    assert max(gaps) < 0.25, gaps
    assert run.probe.peak >= 4


def test_a_check_merely_slower_than_the_interval_is_not_overlapped(sampled):
    """0.12 s checks every 0.05 s for 1 s, always that slow: one at a time, as many
    engine calls as before, the ticks in between skipped."""
    run = sampled["slower"].result(30)
    assert run.probe.peak == 1
    assert 5 <= run.probe.calls <= 9
    assert run.series.skipped >= 8


def test_answers_arrive_in_answer_order(sampled):
    """A check that hangs is overtaken by quick ones (0.8 s every 0.05 s): they are
    seen first."""
    series = sampled["order"].result(30).series
    ends = [s.end for s in series.samples]
    assert ends == sorted(ends)
    slow = next(i for i, s in enumerate(series.samples) if s.detail == "call 3")
    assert not series.samples[slow].ok
    assert series.samples[slow - 1].t > series.samples[slow].t  # a later one came first


def test_checks_that_never_return_hold_a_bounded_number_of_threads(sampled):
    """Checks that never return (until the module's scenarios end), given up at
    0.2 s, sampled for 1.5 s every 0.02 s."""
    run = sampled["never"].result(30)
    assert run.probe.calls == len(QUICK) + MAX_IN_FLIGHT
    assert run.threads_left <= MAX_IN_FLIGHT
    failed = [s for s in run.series.samples if not s.ok]
    given_up = [s for s in failed if s.detail.startswith("no answer within 0.2s")]
    assert len(given_up) == MAX_IN_FLIGHT
    assert all(s.latency == pytest.approx(0.2) for s in given_up)
    # once every place is held by a check past its deadline, each tick fails at once
    assert any("still running, past their deadline" in s.detail for s in failed)


def test_a_tick_with_every_place_taken_is_skipped(sampled):
    """Checks that hang 1 s, every 0.05 s for 0.9 s: eight go out, then ticks are skipped."""
    run = sampled["full"].result(30)
    assert run.probe.peak == MAX_IN_FLIGHT
    assert run.probe.calls == len(QUICK) + MAX_IN_FLIGHT
    assert run.series.skipped > 0
