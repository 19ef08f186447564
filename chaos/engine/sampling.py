"""Probes sampled on their own intervals, each in its own thread.

A sampler keeps a fixed grid (start, start + interval, ...): a slow check
delays neither the other probes nor its own next tick beyond what it used,
and ticks missed while a check hung are skipped rather than bunched up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.engine.clock import RunClock
from chaos.probe import Check, Probe
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from chaos.text import printable


@dataclass(frozen=True)
class Sample:
    t: float
    ok: bool
    latency: float
    detail: str


@dataclass
class BoundProbe:
    """A probe step ready to run: its type, validated parameters and targets."""

    section: str
    name: str
    probe: Probe
    params: Any
    targets: tuple[TargetRef, ...] = ()
    _overrunning: threading.Thread | None = field(default=None, init=False, repr=False)

    def sample(self, runtime: Runtime, clock: RunClock) -> Sample:
        """Run the check once, within its deadline (:meth:`Probe.deadline`).

        A check that has not returned by then fails the sample ("no answer
        within ...") and is left to finish on its own; until it does, further
        samples fail at once rather than pile up threads. So a server that
        answers one byte at a time, or a probe that hangs, can never stretch a
        sample, and with it a run, past its deadline.
        """
        t = clock.now()
        started = time.monotonic()
        overrunning = self._overrunning
        if overrunning is not None and overrunning.is_alive():
            return Sample(t, False, 0.0, "the previous check is still running, past its deadline")
        self._overrunning = None
        limit = self.probe.deadline(self.params, self.targets)
        outcome: list[Check] = []

        def work() -> None:
            try:
                check = self.probe.check(runtime, self.params, self.targets)
                if not isinstance(check, Check):
                    check = Check(False, f"probe returned {type(check).__name__}, expected Check")
            except Exception as exc:  # a probe that raises has failed this sample
                check = Check(False, f"{type(exc).__name__}: {exc}")
            outcome.append(check)

        worker = threading.Thread(target=work, name=f"check-{self.name}", daemon=True)
        worker.start()
        worker.join(limit)
        if outcome:
            check = outcome[0]
        else:
            self._overrunning = worker
            check = Check(False, f"no answer within {limit:g}s (the probe's deadline)")
        latency = time.monotonic() - started
        # the one place a detail enters the run: what a target wrote is escaped here
        return Sample(t, check.ok, latency, printable(runtime.redactor.text(str(check.detail))))


@dataclass
class Series:
    """The samples one probe took, and when sampling ran."""

    bound: BoundProbe
    interval: float
    samples: list[Sample] = field(default_factory=list)
    started: float | None = None
    stopped: float | None = None


class Sampler:
    """Samples one probe every ``interval`` until stopped."""

    def __init__(
        self,
        bound: BoundProbe,
        interval: float,
        runtime: Runtime,
        clock: RunClock,
        on_sample: Callable[[Series, Sample], None],
        offset: float = 0.0,
    ):
        """``offset`` delays the first tick (a fraction of the interval) so that
        probes started together do not all hit their targets at the same instant."""
        self.series = Series(bound, interval)
        self._offset = offset
        self._runtime = runtime
        self._clock = clock
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"probe-{bound.section}-{bound.name}", daemon=True
        )

    def start(self) -> None:
        self.series.started = self._clock.now()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
        if self.series.stopped is None:
            self.series.stopped = self._clock.now()

    def _loop(self) -> None:
        interval = self.series.interval
        next_tick = self._clock.now() + self._offset
        if self._stop.wait(self._offset):
            self.series.stopped = self._clock.now()
            return
        while not self._stop.is_set():
            sample = self.series.bound.sample(self._runtime, self._clock)
            if self._stop.is_set() and not sample.ok:
                break  # a check cut short by the end of sampling says nothing
            self.series.samples.append(sample)
            self._on_sample(self.series, sample)
            next_tick += interval
            now = self._clock.now()
            if next_tick < now:  # the check overran: skip the ticks it used
                next_tick += interval * ((now - next_tick) // interval + 1)
            self._stop.wait(next_tick - now)
        self.series.stopped = self._clock.now()
