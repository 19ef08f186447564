"""Probes sampled on their own intervals, each probe on its own thread.

A sample is one check: a request sent at its start (``t``) and answered at its
``end``. A sampler keeps a fixed grid (start, start + interval, ...) and runs
each check on a thread of its own, so a check that waits for its timeout
delays neither the other probes nor its own next tick: while a target hangs,
requests still go out every ``interval`` and each fails at its timeout, and
the first one sent after the target is back is answered at once.

Checks overlap only when those out are late: out longer than
:data:`LATE_FACTOR` times the probe's slow answer (the 90th percentile of the
latencies of its last :data:`RECENT` passing answers), and never before it
has passed once. So a check that is
merely slower than a short interval, or slowed by a busy engine (an ``exec``
every 20 ms), is not multiplied into a pile of calls on the engine, while
checks that hang do not hold up the grid. A tick that sends nothing is
skipped: the checks out answer for its time.

At most :data:`MAX_IN_FLIGHT` checks of one probe run at a time (a timeout
under eight intervals keeps the grid whole while checks wait for it). A tick
that finds that many still out is skipped, rather than piling up threads. A
check still running at its deadline (see :meth:`BoundProbe.sample`) keeps its
place until it ends, so a probe whose checks never return holds at most
:data:`MAX_IN_FLIGHT` threads; once every place is held by such a check, each
tick records a failed sample at once. A probe may allow fewer
(:attr:`chaos.probe.Probe.max_in_flight`; ``exec`` runs one at a time).

Answers reach ``on_sample`` in the order they came (by ``end``), which is
what a guard that counts consecutive failures must see.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chaos.engine.clock import RunClock
from chaos.probe import Check, Probe
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from chaos.text import printable

MAX_IN_FLIGHT = 8
"""Checks of one continuous probe that may run at once."""
LATE_FACTOR = 2.0
"""A check out this many times the probe's slow answer is late: the next may overlap it."""
RECENT = 16
"""How many of the last passing answers set how late is late."""


@dataclass(frozen=True)
class Sample:
    t: float
    """When the check started (seconds since the run started): the request went out."""
    ok: bool
    latency: float
    """Seconds from the start to the answer (the deadline, for a check that gave none)."""
    detail: str
    error: bool = False
    """The check could not be made (:attr:`chaos.probe.Check.error`)."""

    @property
    def start(self) -> float:
        """When the check started (the same as ``t``)."""
        return self.t

    @property
    def end(self) -> float:
        """When the check answered, or was given up at its deadline: what the
        sample says (up or down) was true then."""
        return self.t + self.latency


class InFlight:
    """One check running on its own thread, from its start to its answer."""

    def __init__(
        self,
        bound: BoundProbe,
        runtime: Runtime,
        clock: RunClock,
        on_answer: Callable[[], None] | None = None,
    ):
        self.t = clock.now()
        self.started = time.monotonic()
        self.limit = bound.probe.deadline(bound.params, bound.targets)
        self.deadline = self.started + self.limit
        """When the check is given up (``time.monotonic()``)."""
        self.reported = False
        """Its sample was taken (answered, or given up at the deadline)."""
        self._runtime = runtime
        self._answered: float | None = None
        self._check: Check | None = None

        def work() -> None:
            try:
                check = bound.probe.check(runtime, bound.params, bound.targets)
                if not isinstance(check, Check):
                    check = Check(False, f"probe returned {type(check).__name__}, expected Check")
            except Exception as exc:  # a probe that raises has failed this sample
                check = Check(False, f"{type(exc).__name__}: {exc}")
            self._answered = time.monotonic()
            self._check = check
            if on_answer is not None:
                on_answer()

        self.thread = threading.Thread(target=work, name=f"check-{bound.name}", daemon=True)
        self.thread.start()

    def answered(self) -> bool:
        return self._check is not None

    def due(self) -> bool:
        """Answered, or past its deadline: its sample can be taken."""
        return self._check is not None or time.monotonic() >= self.deadline

    def sample(self) -> Sample:
        """The sample: the check's answer, or a failure at the deadline."""
        self.reported = True
        check, answered = self._check, self._answered
        if check is not None and answered is not None and answered <= self.deadline:
            latency = answered - self.started
        else:
            latency = self.limit
            check = Check(False, f"no answer within {self.limit:g}s (the probe's deadline)")
        # the one place a detail enters the run: what a target wrote is escaped here
        detail = printable(self._runtime.redactor.text(str(check.detail)))
        return Sample(self.t, check.ok, latency, detail, check.error and not check.ok)


@dataclass
class BoundProbe:
    """A probe step ready to run: its type, validated parameters and targets."""

    section: str
    name: str
    probe: Probe
    params: Any
    targets: tuple[TargetRef, ...] = ()
    _overrunning: threading.Thread | None = field(default=None, init=False, repr=False)

    def launch(
        self, runtime: Runtime, clock: RunClock, on_answer: Callable[[], None] | None = None
    ) -> InFlight:
        """Start one check on its own thread; ``on_answer`` is called from it when it returns."""
        return InFlight(self, runtime, clock, on_answer)

    def sample(self, runtime: Runtime, clock: RunClock) -> Sample:
        """Run the check once, within its deadline (:meth:`Probe.deadline`).

        A check that has not returned by then fails the sample ("no answer
        within ...") and is left to finish on its own; until it does, further
        samples fail at once rather than pile up threads. So a server that
        answers one byte at a time, or a probe that hangs, can never stretch a
        sample, and with it a run, past its deadline.
        """
        overrunning = self._overrunning
        if overrunning is not None and overrunning.is_alive():
            return Sample(
                clock.now(), False, 0.0, "the previous check is still running, past its deadline"
            )
        self._overrunning = None
        check = self.launch(runtime, clock)
        check.thread.join(check.limit)
        if not check.answered():
            self._overrunning = check.thread
        return check.sample()

    def implements(self, hook: str) -> bool:
        """Whether the probe overrides one of :class:`Probe`'s optional hooks
        (``baseline``, ``evaluate_window``, ``preview``)."""
        return getattr(type(self.probe), hook, None) is not getattr(Probe, hook)

    def call(
        self, runtime: Runtime, what: Callable[[], Check | None]
    ) -> tuple[Check | None, float]:
        """Call one of the probe's other hooks (a baseline, a window, a preview)
        within the probe's deadline, on a thread of its own; returns its
        check (details redacted and escaped, None when the hook has nothing to
        say) and how long it took. A hook that raises or overruns is a failed
        check with ``error`` set."""
        limit = self.probe.deadline(self.params, self.targets)
        box: list[Check | None] = []

        def work() -> None:
            try:
                box.append(what())
            except Exception as exc:
                box.append(Check(False, f"{type(exc).__name__}: {exc}", error=True))

        started = time.monotonic()
        thread = threading.Thread(target=work, name=f"call-{self.name}", daemon=True)
        thread.start()
        thread.join(limit)
        elapsed = time.monotonic() - started
        if not box:
            return Check(
                False, f"no answer within {limit:g}s (the probe's deadline)", True
            ), elapsed
        check = box[0]
        if check is None:
            return None, elapsed
        if not isinstance(check, Check):
            return Check(
                False, f"probe returned {type(check).__name__}, expected Check", True
            ), elapsed
        detail = printable(runtime.redactor.text(str(check.detail)))
        data = runtime.redactor.data(dict(check.data)) if check.data is not None else None
        return Check(check.ok, detail, check.error and not check.ok, data), elapsed


@dataclass
class Series:
    """The samples one probe took, and when sampling ran."""

    bound: BoundProbe
    interval: float
    samples: list[Sample] = field(default_factory=list)
    """In the order they were answered."""
    started: float | None = None
    stopped: float | None = None
    skipped: int = 0
    """Ticks with no check sent: the checks out were not late yet, or
    :data:`MAX_IN_FLIGHT` of them were out."""


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
        max_in_flight: int = MAX_IN_FLIGHT,
    ):
        """``offset`` delays the first tick (a fraction of the interval) so that
        probes started together do not all hit their targets at the same instant."""
        self.series = Series(bound, interval)
        self._offset = offset
        self._runtime = runtime
        self._clock = clock
        self._on_sample = on_sample
        own = bound.probe.max_in_flight
        self._max_in_flight = max(1, min(max_in_flight, own if own is not None else max_in_flight))
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._wake = threading.Event()
        self._usual: deque[float] = deque(maxlen=RECENT)
        """Latencies of the last passing answers."""
        self._thread = threading.Thread(
            target=self._loop, name=f"probe-{bound.section}-{bound.name}", daemon=True
        )

    def start(self) -> None:
        self.series.started = self._clock.now()
        self._thread.start()

    def stop(self) -> None:
        """Send no more checks; the ones out are waited for (each to its deadline)."""
        if self._stop_at is None:
            self._stop_at = self._clock.now()
        self._stop.set()
        self._wake.set()

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
        checks: list[InFlight] = []
        while True:
            self._wake.clear()  # before looking: an answer from now on wakes the wait below
            stopping = self._stop.is_set()
            taken: list[Sample] = []
            now = self._clock.now()
            if not stopping and now >= next_tick:
                taken.extend(self._tick(checks))
                next_tick += interval
                if next_tick <= now:  # the thread woke up late: skip the ticks it missed
                    next_tick += interval * ((now - next_tick) // interval + 1)
            for check in sorted((c for c in checks if not c.reported and c.due()), key=_by_t):
                taken.append(check.sample())
            checks = [c for c in checks if not c.reported or c.thread.is_alive()]
            for sample in sorted(taken, key=lambda s: (s.end, s.t)):
                stop_at = self._stop_at
                if stop_at is not None and sample.end > stop_at and not sample.ok:
                    continue  # a check cut short by the end of sampling says nothing
                self.series.samples.append(sample)
                if sample.ok:
                    self._usual.append(sample.latency)
                self._on_sample(self.series, sample)
            pending = [c for c in checks if not c.reported]
            if stopping and not pending:
                break
            wait = min((c.deadline for c in pending), default=None)
            timeout = None if stopping else max(0.0, next_tick - self._clock.now())
            if wait is not None:
                left = max(0.0, wait - time.monotonic())
                timeout = left if timeout is None else min(timeout, left)
            self._wake.wait(timeout)
        # sampling ended when it was told to stop, not when the last check out came back
        self.series.stopped = self._stop_at if self._stop_at is not None else self._clock.now()

    def _tick(self, checks: list[InFlight]) -> list[Sample]:
        """Send a check, unless too many are out; returns a sample taken at once, if any."""
        bound = self.series.bound
        live = [c for c in checks if c.thread.is_alive()]
        if len(live) < self._max_in_flight:
            if self._late([c for c in live if not c.reported]):
                checks.append(bound.launch(self._runtime, self._clock, self._wake.set))
            else:
                self.series.skipped += 1
            return []
        if all(c.reported for c in live):  # every place is held by a check past its deadline
            said = (
                "the previous check is still running, past its deadline"
                if len(live) == 1
                else f"{len(live)} earlier checks are still running, past their deadline"
            )
            return [Sample(self._clock.now(), False, 0.0, said)]
        self.series.skipped += 1
        return []

    def _late(self, out: list[InFlight]) -> bool:
        """Every check out (answer pending) has been out longer than late for this probe."""
        if not out:
            return True
        if not self._usual:
            return False  # it has not passed yet: nothing says how long an answer takes
        recent = sorted(self._usual)
        late = LATE_FACTOR * recent[int(0.9 * (len(recent) - 1))]
        now = time.monotonic()
        return all(now - c.started >= late for c in out)


def _by_t(check: InFlight) -> float:
    return check.t
