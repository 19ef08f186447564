"""Judging what a run observed: back and stable, time-to-recover, and reasons' fields."""

from __future__ import annotations

import math

import pytest

from chaos.engine.judging import (
    Failing,
    Observed,
    RecoveryWatch,
    Stability,
    active_at,
    comeback,
    fault_windows,
    held_at,
    judge_series,
    phase_at,
    place,
    record_time_to_recover,
    time_to_recover,
)
from chaos.engine.sampling import Sample
from chaos.experiment.model import Experiment
from chaos.journal.model import (
    FaultRecord,
    PhaseRecord,
    ReasonRecord,
    RecoveryRecord,
    SampleRecord,
)


def samples(pattern: str, start: float = 0.0, step: float = 1.0) -> list[Sample]:
    """One sample per character, ``step`` seconds apart: ``+`` ok, ``-`` failed; each
    answered 0.1 s after it started."""
    return [Sample(start + i * step, c == "+", 0.1, c) for i, c in enumerate(pattern)]


def fault(step: str = "freeze", **times: float | str | None) -> FaultRecord:
    fields = {"outcome": "reverted", **times}
    return FaultRecord(
        step=step,
        fault="container.pause",
        target="web",
        container={"id": "x", "name": "web-1"},
        at=0.0,
        duration=1.0,
        reversible=True,
        **fields,
    )


def rounds(watch: RecoveryWatch, pattern: str, start: float = 10.0, step: float = 0.5):
    """Feed rounds (``+`` passing, ``-`` failing) and return the decision after each."""
    decisions = []
    for i, c in enumerate(pattern):
        t = start + i * step
        watch.add(t, t + 0.01, [] if c == "+" else [Failing("up", "status 503")])
        decisions.append(watch.decide({}))
    return decisions


# -- stability ------------------------------------------------------------------------------


def test_stable_by_default_after_three_passing_checks_in_a_row():
    rule = Stability()
    assert not rule.holds([], 0.0)
    assert not rule.holds([1.0, 1.5], 1.0)
    assert rule.holds([1.0, 1.5, 2.0], 1.0)
    assert rule.describe() == "3 checks in a row"


def test_stable_for_a_duration_counts_time_not_checks():
    rule = Stability(stable_for=2.0)
    assert not rule.holds([1.0, 1.5, 2.0, 2.5], 1.0)
    assert rule.holds([1.0, 3.0], 1.0)
    assert rule.describe() == "2s"
    assert Stability(stable_for=0.0).holds([1.0], 1.0), "0s takes the first passing check"


# -- the recovery phase ------------------------------------------------------------------------


def test_recovered_once_the_steady_state_held_three_checks_in_a_row():
    watch = RecoveryWatch(Stability(), deadline=20.0)
    decisions = rounds(watch, "--+-+++")
    assert [d.done for d in decisions] == [False] * 6 + [True]
    last = decisions[-1]
    assert last.recovered and last.stable_since == pytest.approx(12.01)
    assert watch.steady_back == pytest.approx(12.01)


def test_a_flapping_steady_state_never_recovers():
    watch = RecoveryWatch(Stability(), deadline=13.0)
    decisions = rounds(watch, "++-++-++-")
    assert not any(d.recovered for d in decisions)
    last = decisions[-1]
    assert last.done and not last.recovered
    message, source = watch.failure(last, within=3.0, started=10.0)
    assert source == "up"
    assert message == (
        "steady state not restored within 3s after the method: up: status 503 "
        "(it came back 2 times but never held: at most 2 passing checks in a row, 3 needed)"
    )


def test_the_first_passing_check_is_enough_with_stable_for_zero():
    watch = RecoveryWatch(Stability(stable_for=0.0), deadline=20.0)
    decisions = rounds(watch, "--+")
    assert decisions[-1].recovered and decisions[-1].stable_since == pytest.approx(11.01)


def test_a_stretch_begun_before_within_may_be_confirmed_after_it():
    watch = RecoveryWatch(Stability(stable_for=1.0), deadline=11.2)
    decisions = rounds(watch, "--+++")  # back at 11.0, stable at 12.0: after the deadline
    assert decisions[-1].recovered


def test_a_failure_after_within_ends_the_phase():
    watch = RecoveryWatch(Stability(), deadline=11.2)
    decisions = rounds(watch, "--++-")
    assert decisions[3].done is False  # past the deadline, but building a stretch begun in time
    assert decisions[-1].done and not decisions[-1].recovered


def test_nothing_to_watch_recovers_at_once():
    watch = RecoveryWatch(Stability(), deadline=20.0, observed=False)
    assert rounds(watch, "+")[0].recovered


def test_a_probe_failing_again_during_the_stretch_keeps_the_system_from_recovering():
    watch = RecoveryWatch(Stability(), deadline=11.0)
    probe = samples("-+-", start=9.7, step=0.4)  # back at 10.1, failing again at 10.5
    for i in range(4):
        t = 10.0 + i * 0.5
        watch.add(t, t + 0.01, [])
        decision = watch.decide({"avail": probe})
    assert decision.done and not decision.recovered
    message, source = watch.failure(decision, within=1.0, started=10.0)
    assert source == "avail"
    assert message == "system not back and stable within 1s after the method: probe avail: -"


def test_a_probe_down_since_before_the_stretch_is_not_waited_for():
    """It watches what a fault leaves behind, or something the steady state does not."""
    watch = RecoveryWatch(Stability(), deadline=20.0)
    probe = samples("++---------", start=8.0, step=0.2)  # passed only before the stretch
    decisions = []
    for i in range(3):
        t = 10.0 + i * 0.5
        watch.add(t, t + 0.01, [])
        decisions.append(watch.decide({"marker": probe}))
    assert decisions[-1].recovered


def test_without_a_steady_state_every_probe_is_waited_for():
    watch = RecoveryWatch(Stability(), deadline=11.0, checked=False)
    probe = samples("++---------", start=8.0, step=0.2)
    for i in range(4):
        t = 10.0 + i * 0.5
        watch.add(t, t + 0.01, [])
        decision = watch.decide({"avail": probe})
    assert decision.done and not decision.recovered
    assert [f.name for f in decision.failing] == ["avail"]


def test_a_probe_back_late_in_the_stretch_restarts_it():
    watch = RecoveryWatch(Stability(), deadline=20.0)
    probe = samples("---+", start=9.0)  # back when its answer came at 12.1
    decisions = []
    for i in range(8):
        t = 10.0 + i * 0.5
        watch.add(t, t + 0.01, [])
        decisions.append(watch.decide({"avail": probe}))
    first = next(d for d in decisions if d.done)
    assert first.recovered and first.stable_since == pytest.approx(12.1)
    assert decisions.index(first) == 7  # rounds seen at 12.51, 13.01, 13.51


def test_a_probe_back_only_after_within_is_late():
    watch = RecoveryWatch(Stability(), deadline=10.4)
    for i in range(3):
        t = 10.0 + i * 0.5
        watch.add(t, t + 0.01, [])
    decision = watch.decide({"avail": samples("+-+", start=10.0, step=0.3)})
    assert decision.done and decision.late == ("avail", pytest.approx(10.7))
    message, source = watch.failure(decision, within=0.4, started=10.0)
    assert source == "avail" and "was back only 0.7s after the method" in message


def test_steady_back_is_none_when_no_check_failed():
    watch = RecoveryWatch(Stability(), deadline=20.0)
    rounds(watch, "+++")
    assert watch.steady_back is None


# -- probes: back and stable ---------------------------------------------------------------


def test_comeback():
    back = comeback(samples("+--++"))
    assert back.failed and back.ok and back.back_at == pytest.approx(3.1)
    assert [s.t for s in back.streak] == [3.0, 4.0]
    assert comeback(samples("++-")).back_at is None and not comeback(samples("++-")).ok
    never = comeback(samples("+++"))
    assert not never.failed and never.back_at is None


def observed(pattern: str, name: str = "avail", section: str = "probes") -> Observed:
    found = samples(pattern)
    return Observed(section, name, "http", 1.0, 0.0, float(len(found)), found)


EXPERIMENT = Experiment.model_validate(
    {
        "version": 1,
        "title": "t",
        "method": [{"name": "freeze", "fault": "container.pause", "target": "web"}],
        "probes": [
            {"name": "avail", "probe": "http", "tolerance": {"max_outage": 1.5}},
            {"name": "other", "probe": "http"},
        ],
    }
)


def record(sample: Sample) -> SampleRecord:
    return SampleRecord(t=sample.t, at="", ok=sample.ok, latency=sample.latency, detail="")


def test_probe_time_to_recover_runs_from_the_fault_taking_effect():
    windows = fault_windows([(fault(injected_at=0.5, applied_at=1.0, reverted_at=3.0), 3.0)])
    recovery = RecoveryRecord(within=10.0, recovered=True)
    judged = judge_series(EXPERIMENT, [observed("+---++++")], windows, recovery, record, now=9.0)
    [probe] = judged.probes
    assert probe.recovered is True
    assert probe.back_at == pytest.approx(4.1)
    assert probe.time_to_recover == pytest.approx(3.1)  # 4.1 - applied_at 1.0
    # the other figure: from the first failed check to the answer of the last comeback
    assert probe.summary.time_to_recover == pytest.approx(3.1)
    # a tolerance reason carries its fields
    [reason] = judged.reasons
    assert (reason.kind, reason.source, reason.at) == ("tolerance", "avail", 1.0)
    assert "during freeze" in reason.message


def test_a_probe_with_a_short_last_streak_is_recovered_only_if_the_system_was():
    windows = fault_windows([(fault(injected_at=0.5, applied_at=1.0, reverted_at=3.0), 3.0)])
    for system, expected in ((True, True), (False, False)):
        recovery = RecoveryRecord(within=10.0, recovered=system)
        judged = judge_series(EXPERIMENT, [observed("+--+-+")], windows, recovery, record, 9.0)
        assert judged.probes[0].recovered is expected
        assert (judged.probes[0].time_to_recover is not None) is expected
    # without a recovery phase (aborted) its own streak decides
    judged = judge_series(EXPERIMENT, [observed("+-+++")], windows, None, record, 9.0)
    assert judged.probes[0].recovered is True


def test_a_probe_that_never_failed_recovers_in_no_time():
    windows = fault_windows([(fault(injected_at=0.5, applied_at=1.0, reverted_at=3.0), 3.0)])
    judged = judge_series(EXPERIMENT, [observed("++++", name="other")], windows, None, record, 9.0)
    assert judged.probes[0].recovered is True and judged.probes[0].time_to_recover == 0.0
    none = judge_series(EXPERIMENT, [observed("++++", name="other")], [], None, record, 9.0)
    assert none.probes[0].time_to_recover is None, "no fault took effect: nothing to recover from"


# -- the run's and each fault's time-to-recover ---------------------------------------------


def test_time_to_recover_cases():
    assert time_to_recover(1.0, 4.0, recovered=True, watched=True) == 3.0
    assert time_to_recover(5.0, 4.0, recovered=True, watched=True) == 0.0  # back before it
    assert time_to_recover(1.0, None, recovered=True, watched=True) == 0.0  # never seen down
    assert time_to_recover(1.0, None, recovered=True, watched=False) is None  # nobody looked
    assert time_to_recover(1.0, 4.0, recovered=False, watched=True) is None
    assert time_to_recover(None, 4.0, recovered=True, watched=True) is None


def test_run_and_faults_measure_from_their_own_taking_effect():
    windows = fault_windows(
        [
            (fault("a", injected_at=0.5, applied_at=1.0, reverted_at=3.0), 3.0),
            (fault("b", injected_at=1.5, applied_at=2.0, reverted_at=3.0), 3.0),
        ]
    )
    recovery = RecoveryRecord(within=10.0, recovered=True)
    judged = judge_series(EXPERIMENT, [observed("++---+++")], windows, recovery, record, 9.0)
    faults = [
        fault("a", injected_at=0.5, applied_at=1.0, reverted_at=3.0),
        fault("b", injected_at=1.5, applied_at=2.0, reverted_at=3.0),
        fault("c", outcome="skipped"),
    ]
    record_time_to_recover(recovery, judged.probes, faults, steady_back=None)
    assert recovery.back_at == pytest.approx(5.1)
    assert recovery.measured_from == "a"
    assert recovery.time_to_recover == pytest.approx(4.1)
    assert [f.time_to_recover for f in faults] == [pytest.approx(4.1), pytest.approx(3.1), None]
    # the steady state failing later in the recovery phase moves the moment it was back
    record_time_to_recover(recovery, judged.probes, faults, steady_back=7.0)
    assert recovery.time_to_recover == pytest.approx(6.0)


def test_without_a_continuous_probe_an_unseen_outage_has_no_time_to_recover():
    recovery = RecoveryRecord(within=10.0, recovered=True)
    faults = [fault(injected_at=0.5, applied_at=1.0, reverted_at=3.0)]
    record_time_to_recover(recovery, [], faults, steady_back=None)
    assert recovery.time_to_recover is None and faults[0].time_to_recover is None
    record_time_to_recover(recovery, [], faults, steady_back=3.5)
    assert recovery.time_to_recover == pytest.approx(2.5)


# -- faults in effect, and where a reason happened ------------------------------------------


def test_windows_and_the_faults_active_at_a_moment():
    windows = fault_windows(
        [
            (fault("a", injected_at=1.0, applied_at=1.2, revert_started=3.0, reverted_at=3.2), 3.0),
            (fault("b", injected_at=2.0, applied_at=2.1, outcome="revert-failed"), 4.0),
            (fault("c", outcome="skipped"), 5.0),
        ]
    )
    assert [w.step for w in windows] == ["a", "b"]
    assert active_at(windows, 0.5) == []
    assert active_at(windows, 2.5) == ["a", "b"]
    assert active_at(windows, 3.1) == ["a", "b"]  # a is being reverted
    assert active_at(windows, 100.0) == ["b"]  # never reverted
    assert windows[1].until == math.inf
    assert held_at(windows, 2.9) and held_at(windows, 3.1)  # b still holds at 3.1
    assert not held_at(fault_windows([(fault(injected_at=1.0, revert_started=3.0), 3.0)]), 3.1)


def test_place_fills_in_phase_and_faults():
    phases = [
        PhaseRecord(name=name, t=t, at="")
        for name, t in (("targets", 0.0), ("steady-state", 0.2), ("method", 0.5), ("recovery", 4.0))
    ]
    windows = fault_windows([(fault("a", injected_at=1.0, applied_at=1.2, reverted_at=3.0), 3.0)])
    reason = ReasonRecord(kind="guard_breach", message="m", source="g", at=2.0)
    place(reason, phases, windows)
    assert (reason.phase, reason.faults) == ("method", ["a"])
    late = ReasonRecord(kind="not_recovered", message="m", at=9.0)
    place(late, phases, windows)
    assert (late.phase, late.faults) == ("recovery", [])
    timeless = ReasonRecord(kind="tolerance", message="m")
    place(timeless, phases, windows)
    assert (timeless.phase, timeless.faults, timeless.t) == ("recovery", [], None)
    assert phase_at(phases, 0.3) == "steady-state"
    kept = ReasonRecord(kind="inject_failed", message="m", phase="method", faults=["x"], at=0.1)
    place(kept, phases, windows)
    assert (kept.phase, kept.faults) == ("method", ["x"]), "what the writer set is kept"


def test_the_message_says_whether_the_steady_state_or_a_probe_never_held():
    # flapping, and a probe watching the same server was down at the end
    watch = RecoveryWatch(Stability(stable_for=1.0), deadline=11.0)
    for i, c in enumerate("-+-+-"):
        t = 10.0 + i * 0.25
        watch.add(t, t + 0.01, [] if c == "+" else [Failing("up", "503")])
    watch.add(11.25, 11.26, [])
    decision = watch.decide({"avail": samples("+-", start=11.25, step=0.1)})
    assert decision.done and not decision.recovered
    message, source = watch.failure(decision, within=1.0, started=10.0)
    assert source == "avail"
    assert message == (
        "system not back and stable within 1s after the method: probe avail: - "
        "(it came back 3 times but never held for 1s)"
    )
    # the steady state held, but a probe kept failing with it
    watch = RecoveryWatch(Stability(), deadline=11.0)
    rounds(watch, "-+++", start=9.5)
    watch.add(11.5, 11.51, [])
    decision = watch.decide({"avail": samples("+-", start=10.5, step=0.5)})
    message, _ = watch.failure(decision, within=1.0, started=9.5)
    assert message.endswith(
        "probe avail: - (the steady state came back once, but a continuous probe failed "
        "while it held)"
    )
