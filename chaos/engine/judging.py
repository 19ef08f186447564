"""Judging what a run observed: tolerances, recovery, time-to-recover, and reasons.

The runner records (samples, fault windows, phases); this module judges, as
pure functions of those records, and writes the reasons that say why.
:mod:`chaos.engine.verdict` then turns the reasons into the verdict.

Times are seconds since the run started. A sample is *seen* when its answer
came (its start plus its latency): a passing answer to a check that started
while a container was paused shows the container back when it answered, not
when the check began.

**Back and stable.** After the method the recovery phase polls the steady
state every ``recovery.interval`` (:class:`RecoveryWatch`). The system counts
as restored once the steady state has held, with no failed check, for
``recovery.stable_for`` (default: :data:`~chaos.experiment.model.STABLE_CHECKS`
passing checks in a row), and every continuous probe that passed during that
stretch kept passing; the stretch must begin within ``recovery.within`` and
may be confirmed after it. Continuous probes sample until that decision, and
their records end at it: a probe that took part in the stretch never ends
failing while the run says recovered. A probe that has not passed since the
stretch began (it watches what a fault leaves behind, or something the
steady state does not) is not waited for; it ends not recovered.

**Time-to-recover** (the headline figure, per probe, per fault and for the
run) runs from a fault taking effect (its ``applied_at``) to the moment the
system was seen back for good (:func:`system_back`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from chaos.engine.sampling import Sample
from chaos.engine.summary import Summary, evidence, summarize, tolerance_violations
from chaos.experiment.model import STABLE_CHECKS, Experiment, Recovery
from chaos.journal.build import summary_record
from chaos.journal.model import (
    FaultRecord,
    PhaseRecord,
    ProbeRecord,
    ReasonRecord,
    RecoveryRecord,
    SampleRecord,
    ViolationRecord,
)

# -- faults in effect --------------------------------------------------------------------


@dataclass(frozen=True)
class FaultWindow:
    """When one fault step was in effect on one object."""

    step: str
    injected_at: float
    applied_at: float | None
    held_until: float
    """When its revert began (or its window closed): until then it was in effect as injected."""
    until: float
    """When it was reverted (or its window closed); infinite when the revert failed."""


def fault_windows(records: Iterable[tuple[FaultRecord, float]]) -> list[FaultWindow]:
    """The windows of the injected faults among ``(record, end of its step's window)``."""
    windows = []
    for rec, end in records:
        if rec.injected_at is None:
            continue
        held = next(e for e in (rec.revert_started, rec.reverted_at, end) if e is not None)
        if rec.outcome == "revert-failed":
            until = math.inf  # never reverted: in effect to the end of the run and beyond
        else:
            until = max(rec.reverted_at if rec.reverted_at is not None else end, rec.injected_at)
        windows.append(FaultWindow(rec.step, rec.injected_at, rec.applied_at, held, until))
    return windows


def active_at(windows: Sequence[FaultWindow], t: float) -> list[str]:
    """Names of the fault steps in effect at ``t`` (injecting, held or being reverted)."""
    return active_during(windows, t, t)


def active_during(windows: Sequence[FaultWindow], start: float, end: float) -> list[str]:
    """Names of the fault steps whose window overlaps ``start`` to ``end``: a check
    sent just before a crash and failed by it fails "during" that crash."""
    names: list[str] = []
    for window in windows:
        if window.injected_at <= end and start <= window.until and window.step not in names:
            names.append(window.step)
    return names


def held_at(windows: Sequence[FaultWindow], t: float) -> bool:
    """True when some fault was in effect at ``t`` and not yet being reverted."""
    return any(w.injected_at <= t <= w.held_until for w in windows)


def first_applied(windows: Sequence[FaultWindow]) -> FaultWindow | None:
    """The first fault to take effect, or None when none did."""
    applied = [w for w in windows if w.applied_at is not None]
    return min(applied, key=lambda w: w.applied_at or 0.0) if applied else None


# -- reasons -------------------------------------------------------------------------------


def phase_at(phases: Sequence[PhaseRecord], t: float) -> str | None:
    """The phase the run was in at ``t`` (phases in the order they started)."""
    current = phases[0].name if phases else None
    for phase in phases:
        if phase.t <= t:
            current = phase.name
    return current


def place(
    reason: ReasonRecord, phases: Sequence[PhaseRecord], windows: Sequence[FaultWindow]
) -> None:
    """Fill in the phase and the faults in effect at the moment of ``reason``,
    where whoever wrote it left them out."""
    if reason.phase is None:
        if reason.at is not None:
            reason.phase = phase_at(phases, reason.at)
        else:
            reason.phase = phases[-1].name if phases else None
    if not reason.faults and reason.at is not None:
        reason.faults = active_at(windows, reason.at)


# -- back and stable ---------------------------------------------------------------------


def seen(sample: Sample) -> float:
    """When the sample's answer came."""
    return sample.end


@dataclass(frozen=True)
class Stability:
    """When a stretch of passing observations counts as stable."""

    stable_for: float | None = None
    """Seconds the stretch must span; None: ``checks`` observations in a row."""
    checks: int = STABLE_CHECKS

    @classmethod
    def of(cls, recovery: Recovery) -> Stability:
        return cls(recovery.stable_for)

    def holds(self, seen_passing: Sequence[float], since: float) -> bool:
        """Whether passing observations seen at ``seen_passing`` (in order, none
        failed in between), over a stretch that began at ``since``, are enough."""
        if not seen_passing:
            return False
        if self.stable_for is None:
            return len(seen_passing) >= self.checks
        return seen_passing[-1] - since >= self.stable_for - 1e-9

    def describe(self) -> str:
        if self.stable_for is None:
            return f"{self.checks} checks in a row"
        return f"{self.stable_for:g}s"


@dataclass(frozen=True)
class Comeback:
    """How a probe's samples end: failing, or back since some moment."""

    samples: int
    failed: bool
    """It failed at least once."""
    ok: bool
    """Its last sample passed (True without samples)."""
    back_at: float | None
    """When it was seen back after its last failure; None if it never failed or is failing."""
    streak: tuple[Sample, ...]
    """The passing samples since its last failure (all of them if it never failed)."""
    last_failure: Sample | None


def comeback(samples: Sequence[Sample]) -> Comeback:
    ordered = sorted(samples, key=lambda s: s.t)
    failures = [i for i, s in enumerate(ordered) if not s.ok]
    if not failures:
        return Comeback(len(ordered), False, True, None, tuple(ordered), None)
    last = failures[-1]
    streak = tuple(ordered[last + 1 :])
    back = seen(streak[0]) if streak else None
    return Comeback(len(ordered), True, bool(streak), back, streak, ordered[last])


def probe_recovered(back: Comeback, stability: Stability, system_stable: bool) -> bool | None:
    """Whether a probe ended back and stable; None without samples.

    A probe that never failed is recovered. One that failed is recovered when
    its last sample passed and either the recovery phase found the whole
    system stable over a stretch this probe passed through (``system_stable``),
    or its own last passing streak is stable by itself."""
    if back.samples == 0:
        return None
    if not back.failed:
        return True
    if not back.ok or back.back_at is None:
        return False
    return system_stable or stability.holds([seen(s) for s in back.streak], back.back_at)


# -- the recovery phase ----------------------------------------------------------------


@dataclass(frozen=True)
class Failing:
    """Something not back when the recovery phase looked: a steady-state check
    or a continuous probe (``probe``), and what it said."""

    name: str
    said: str
    probe: bool = False

    def __str__(self) -> str:
        return f"{'probe ' if self.probe else ''}{self.name}: {self.said}"


@dataclass(frozen=True)
class Round:
    """One round of steady-state checks in the recovery phase."""

    started: float
    seen: float
    failing: tuple[Failing, ...]
    """Each check that failed."""


@dataclass(frozen=True)
class Decision:
    """What the recovery phase concluded after a round: wait for more rounds,
    or stop (recovered or not)."""

    done: bool
    recovered: bool = False
    stable_since: float | None = None
    failing: tuple[Failing, ...] = ()
    """What was not back when it stopped."""
    late: tuple[str, float] | None = None
    """(continuous probe, when) of one that failed again and came back only after ``within``."""


WAIT = Decision(done=False)


@dataclass
class RecoveryWatch:
    """Decides, round after round of steady-state checks, whether the system
    is back and stable (see the module's docstring)."""

    stability: Stability
    deadline: float
    observed: bool = True
    """False when nothing is watched (no steady state, no continuous probe):
    the first round decides."""
    checked: bool = True
    """False without steady-state checks: then every continuous probe must be back."""
    rounds: list[Round] = field(default_factory=list)
    limit: float | None = None
    """The start of the first round at or after the deadline, once it ran: a
    stretch beginning by then began within ``within``."""

    def add(self, started: float, seen_at: float, failing: Sequence[Failing]) -> None:
        self.rounds.append(Round(started, seen_at, tuple(failing)))
        if self.limit is None and started >= self.deadline:
            self.limit = started

    @property
    def streak(self) -> list[Round]:
        """The passing rounds since the last failing one."""
        streak: list[Round] = []
        for r in reversed(self.rounds):
            if r.failing:
                break
            streak.append(r)
        return streak[::-1]

    @property
    def steady_back(self) -> float | None:
        """When the steady state was seen back after its last failed round in
        this phase; None if no round failed (or it is still failing)."""
        if not any(r.failing for r in self.rounds):
            return None
        streak = self.streak
        return streak[0].seen if streak else None

    def passes(self) -> int:
        """How many times the steady state came back after failing."""
        return sum(
            1
            for before, after in zip(self.rounds, self.rounds[1:], strict=False)
            if before.failing and not after.failing
        )

    def runs(self) -> list[list[Round]]:
        """The steady state's runs of passing rounds, in order."""
        found: list[list[Round]] = []
        current: list[Round] = []
        for r in self.rounds:
            if r.failing:
                if current:
                    found.append(current)
                current = []
            else:
                current.append(r)
        if current:
            found.append(current)
        return found

    def longest_run(self) -> int:
        return max((len(run) for run in self.runs()), default=0)

    def held_alone(self) -> bool:
        """Whether some run of passing rounds was stable by itself: it was
        continuous probes that kept the system from counting as back."""
        return any(self.stability.holds([r.seen for r in run], run[0].seen) for run in self.runs())

    def decide(self, probes: Mapping[str, Sequence[Sample]]) -> Decision:
        """After a round: recovered, not recovered, or wait. ``probes`` are the
        continuous probes' samples so far, by name.

        The stretch begins with the steady state's current run of passing
        rounds. A continuous probe that passed during it is part of it: the
        stretch cannot hold while that probe fails, and restarts when it comes
        back. One that has not passed since the stretch began (it watches what
        a fault leaves behind, or something the steady state does not) is not
        waited for; without steady-state checks, every probe is waited for."""
        if not self.rounds:
            return WAIT
        if not self.observed:
            return Decision(done=True, recovered=True, stable_since=self.rounds[-1].seen)
        late = self.limit is not None
        streak = self.streak
        if not streak:  # the steady state is failing
            return Decision(done=True, failing=self.rounds[-1].failing) if late else WAIT
        begun = streak[0].started
        since, who = streak[0].seen, ""
        failing: list[Failing] = []
        for name, samples in probes.items():
            if self.checked and not any(s.ok and s.t >= begun for s in samples):
                continue  # down since before the stretch: not waited for
            back = comeback(samples)
            if not back.ok:
                said = back.last_failure.detail if back.last_failure else ""
                failing.append(Failing(name, said, probe=True))
            elif back.back_at is not None and back.back_at > since:
                since, who = back.back_at, name
        if failing:
            return Decision(done=True, failing=tuple(failing)) if late else WAIT
        if who and self.limit is not None and since > self.limit:
            return Decision(done=True, late=(who, since))  # back (again) only after within
        seen_passing = [r.seen for r in streak if r.seen >= since]
        if self.stability.holds(seen_passing, since):
            return Decision(done=True, recovered=True, stable_since=since)
        return WAIT

    def wait(self, now: float, interval: float) -> float:
        """How long to wait before the next round."""
        if now < self.deadline:
            return max(0.0, min(interval, self.deadline - now))
        return interval

    def failure(self, decision: Decision, within: float, started: float) -> tuple[str, str | None]:
        """The message of a ``not_recovered`` reason, and its source: the first
        steady-state check (or continuous probe) that was not back."""
        steady = [f for f in decision.failing if not f.probe]
        what = "steady state not restored" if steady else "system not back and stable"
        head = f"{what} within {within:g}s after the method: "
        if decision.late is not None:
            who, when = decision.late
            return (
                f"{head}probe {who} failed again and was back only {when - started:.1f}s "
                f"after the method (at t={when:.1f}s)",
                who,
            )
        body = "; ".join(str(f) for f in decision.failing)
        source = decision.failing[0].name if decision.failing else None
        comebacks = self.passes()
        if comebacks:
            times = "once" if comebacks == 1 else f"{comebacks} times"
            if self.held_alone():
                body += (
                    f" (the steady state came back {times}, but a continuous probe failed "
                    "while it held)"
                )
            elif self.stability.stable_for is None:
                longest = self.longest_run()
                body += (
                    f" (it came back {times} but never held: at most {longest} passing "
                    f"check{'s' if longest != 1 else ''} in a row, {self.stability.checks} needed)"
                )
            else:
                body += f" (it came back {times} but never held for {self.stability.describe()})"
        return head + body, source


# -- probes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """One continuous probe's (or guard's) samples as the run judges them."""

    section: str
    name: str
    probe: str
    interval: float
    started: float | None
    stopped: float | None
    samples: Sequence[Sample]
    """Up to the recovery phase's decision when it decided the system was back."""


@dataclass
class Judged:
    probes: list[ProbeRecord] = field(default_factory=list)
    guards: list[ProbeRecord] = field(default_factory=list)
    reasons: list[ReasonRecord] = field(default_factory=list)


def judge_series(
    experiment: Experiment,
    observed: Sequence[Observed],
    windows: Sequence[FaultWindow],
    recovery: RecoveryRecord | None,
    sample_record: Callable[[Sample], SampleRecord],
    now: float,
) -> Judged:
    """Each continuous probe's and guard's record, and a ``tolerance`` reason for
    each way a probe broke its tolerance."""
    tolerances = {p.name: p for p in experiment.probes}
    guards = {g.name: g for g in experiment.guards}
    stability = Stability.of(experiment.recovery)
    system_stable = bool(recovery is not None and recovery.recovered)
    fault = first_applied(windows)
    judged = Judged()
    for series in observed:
        samples = list(series.samples)
        end = series.stopped if series.stopped is not None else now
        summary = summarize(samples, end)
        back = comeback(samples)
        # the recovery phase watched the continuous probes, not the guards
        watched = system_stable and series.section == "probes"
        recovered = probe_recovered(back, stability, watched)
        record = ProbeRecord(
            section=series.section,
            name=series.name,
            probe=series.probe,
            interval=series.interval,
            started=series.started,
            stopped=series.stopped,
            samples=[sample_record(s) for s in sorted(samples, key=lambda s: s.t)],
            summary=summary_record(summary),
            recovered=recovered,
            back_at=round(back.back_at, 4) if recovered and back.back_at is not None else None,
            time_to_recover=_probe_ttr(back, recovered, fault),
        )
        if series.section == "guards":
            record.target = guards[series.name].target
            judged.guards.append(record)
            continue
        step = tolerances[series.name]
        record.target = step.target
        record.tolerance = step.tolerance.model_dump(exclude_none=True)
        for message, t in tolerance_violations(summary, samples, step.tolerance):
            record.violations.append(ViolationRecord(message=message, t=t))
            judged.reasons.append(
                ReasonRecord(
                    kind="tolerance",
                    message=_tolerance_message(series.name, message, t, summary, samples, windows),
                    source=series.name,
                    at=t,
                )
            )
        judged.probes.append(record)
    return judged


def _probe_ttr(back: Comeback, recovered: bool | None, fault: FaultWindow | None) -> float | None:
    if not recovered or fault is None or fault.applied_at is None:
        return None
    if back.back_at is None:
        return 0.0  # never failed
    return round(max(0.0, back.back_at - fault.applied_at), 4)


def _tolerance_message(
    name: str,
    message: str,
    t: float | None,
    summary: Summary,
    samples: Sequence[Sample],
    windows: Sequence[FaultWindow],
) -> str:
    when = ""
    if t is not None:
        active = active_during(windows, *evidence(summary, list(samples), t))
        during = f" during {', '.join(active)}" if active else ""
        when = f" (first at t={t:.1f}s{during})"
    failed = [s for s in samples if not s.ok and s.detail]
    # what it said under the fault, rather than while a revert was undoing it
    under_fault = [s for s in failed if held_at(windows, seen(s))]
    said = f"; it reported: {(under_fault or failed)[-1].detail}" if failed else ""
    return f"probe {name}: {message}{when}{said}"


# -- time-to-recover -------------------------------------------------------------------------


def system_back(probes: Sequence[ProbeRecord], steady_back: float | None) -> float | None:
    """When the system was seen back for good: the latest moment a continuous
    probe, or the steady state in the recovery phase, was seen passing again
    after its last failure. None when nothing was seen failing."""
    found = [p.back_at for p in probes if p.back_at is not None]
    if steady_back is not None:
        found.append(steady_back)
    return max(found) if found else None


def time_to_recover(
    applied_at: float | None,
    back_at: float | None,
    recovered: bool,
    watched: bool,
) -> float | None:
    """Seconds from ``applied_at`` until the system was back for good.

    0 when nothing was seen failing after ``applied_at``; None when the run
    did not recover, the fault never took effect, or nothing watched the
    system between the fault and the recovery phase (``watched``: a
    continuous probe took samples, or a steady-state check failed after the
    method)."""
    if not recovered or applied_at is None:
        return None
    if back_at is None:
        return 0.0 if watched else None
    return round(max(0.0, back_at - applied_at), 4)


def record_time_to_recover(
    recovery: RecoveryRecord,
    probes: Sequence[ProbeRecord],
    faults: Sequence[FaultRecord],
    steady_back: float | None,
) -> None:
    """Set the headline time-to-recover of the run (``recovery``) and of each fault."""
    recovered = bool(recovery.recovered)
    back = system_back(probes, steady_back) if recovered else None
    # a probe that never came back watched something else: it says nothing of when the system was
    watched = steady_back is not None or any(
        p.recovered and p.summary and p.summary.samples for p in probes
    )
    recovery.back_at = round(back, 4) if back is not None else None
    for fault in faults:
        fault.time_to_recover = time_to_recover(fault.applied_at, back, recovered, watched)
    applied = [f for f in faults if f.applied_at is not None]
    if applied:
        first = min(applied, key=lambda f: f.applied_at or 0.0)
        recovery.measured_from = first.step
        recovery.time_to_recover = time_to_recover(first.applied_at, back, recovered, watched)
