"""Runs a plan: steady state, method, recovery, verdict, journal.

The phases, in order (see the README's "Engine semantics"):

1. targets were resolved by the plan; nothing has been touched yet;
2. baselines are measured (probes that compare with one), then steady state
   and guards are checked once: if either does not hold, nothing is
   injected (``probe_error`` when a check could not be made at all);
3. the method: every fault step runs on its own thread at its ``at`` offset,
   while continuous probes and guards sample on their own threads;
4. whatever happens (end of duration, guard breach, SIGINT/SIGTERM, a halt,
   an exception) every injected fault is reverted before the run goes on;
5. recovery: the steady state is polled until it is back and stable (and every
   continuous probe with it) or ``recovery.within`` passes; continuous probes
   sample until that is decided;
   then continuous probes with a window evaluation judge the whole window;
6. what was observed is judged (:mod:`chaos.engine.judging`: tolerances,
   time-to-recover, reasons) and the verdict is decided from the reasons
   (:mod:`chaos.engine.verdict`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chaos.engine.activity import NOT_INJECTED, FaultActivity, StepContext, fault_records
from chaos.engine.events import (
    Aborting,
    Event,
    Notice,
    PhaseStarted,
    ProbeSampled,
)
from chaos.engine.judging import (
    WAIT,
    Failing,
    FaultWindow,
    Observed,
    RecoveryWatch,
    Stability,
    fault_windows,
    judge_series,
    place,
    record_time_to_recover,
)
from chaos.engine.monitor import EngineMonitor
from chaos.engine.plan import Plan, make_plan
from chaos.engine.result import RunResult
from chaos.engine.sampling import BoundProbe, Sample, Sampler, Series
from chaos.engine.scope import RunScope
from chaos.engine.steps import ActionActivity, CheckActivity, action_records
from chaos.engine.verdict import decide, ordered
from chaos.errors import ChaosError, EngineUnreachable, InvalidTarget, TargetError
from chaos.experiment.loader import LoadedExperiment
from chaos.experiment.model import STABLE_CHECKS
from chaos.halt import HaltState
from chaos.journal.build import close_journal, open_journal, sample_record, target_records
from chaos.journal.model import (
    PhaseRecord,
    ProbeRecord,
    ReasonKind,
    ReasonRecord,
    RecoveryRecord,
    RecoveryRoundRecord,
)
from chaos.journal.writer import DEFAULT_REPORT_DIR, run_directory, write_journal
from chaos.probe import Check
from chaos.targets.selection import NoneKept

JOIN_POLL = 0.1
PARALLEL_STEPS = 8
"""Fault steps whose safety nets are armed at the same time (each arms its
objects in parallel too)."""


class Runner:
    """Runs one experiment. Create one per run; call :meth:`run` once."""

    def __init__(
        self,
        loaded: LoadedExperiment,
        scope: RunScope,
        *,
        seed: int,
        report_dir: str | Path | None = DEFAULT_REPORT_DIR,
    ):
        """``scope`` holds what the run stands on (see :mod:`chaos.engine.scope`):
        plugins, runtime, the ledger and safeguards (so faults never outlive the
        run), the clock, the observer, signals and the interrupt."""
        self.loaded = loaded
        self.scope = scope
        self.plugins = scope.plugins
        self.runtime = runtime = scope.runtime
        self.seed = seed
        self.report_dir = report_dir
        self.ledger = scope.ledger
        self._safeguards = scope.safeguards
        self.clock = scope.clock
        self._monitor = EngineMonitor(runtime, self.clock)
        self.abort = threading.Event()
        self._reasons: list[ReasonRecord] = []
        self._lock = threading.RLock()
        self._activities: list[FaultActivity] = []
        self._actions: list[ActionActivity] = []
        self._checks: list[CheckActivity] = []
        self._arming: threading.Thread | None = None
        self._samplers: list[Sampler] = []
        self._guard_failures: dict[str, int] = {}
        self._cut: dict[Sampler, int] = {}
        """Continuous probes' samples up to the recovery phase's decision (when it found
        the system back): what that decision saw is what their records hold."""
        self._decided_at: float | None = None
        self._method_start: float | None = None
        self._measured: dict[tuple[str, str], dict[str, dict]] = {}
        """(section, name) -> {"baseline"/"window": what the probe measured}, for its record."""
        self._steady_back: float | None = None
        self.plan: Plan | None = None
        experiment = loaded.experiment
        self.journal = open_journal(
            runtime.run_id,
            self.clock,
            {
                "file": loaded.path,
                "title": experiment.title,
                "tags": list(experiment.tags),
                "document": runtime.redactor.data(loaded.document),
            },
            seed,
        )

    # -- reporting -------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.scope.emit(event)

    def report(self, reason: ReasonRecord, abort_run: bool = False) -> None:
        with self._lock:
            reason.message = self.runtime.redactor.text(reason.message)
            self._reasons.append(reason)
            if abort_run and not self.abort.is_set():
                self.abort.set()
                self.emit(Aborting(self.clock.now(), reason.message))

    def _phase(self, name: str, detail: str = "") -> None:
        t = self.clock.now()
        self.journal.phases.append(PhaseRecord(name=name, t=round(t, 4), at=self.clock.wall(t)))
        self.emit(PhaseStarted(t, name, detail))

    # -- the run -----------------------------------------------------------

    def run(self) -> RunResult:
        with self.scope.interrupts(self._interrupted, on_halt=self._halted):
            try:
                self._run_phases()
            except ChaosError as exc:
                kind: ReasonKind = "internal_error"
                if isinstance(exc, EngineUnreachable):
                    kind = "engine_error"
                elif isinstance(exc, (TargetError, InvalidTarget)):
                    kind = "target_error"
                self.report(ReasonRecord(kind=kind, message=str(exc), at=self.clock.now()), True)
            except KeyboardInterrupt:
                self._interrupted("SIGINT")
            except Exception as exc:
                self.report(
                    ReasonRecord(
                        kind="internal_error",
                        message=f"{type(exc).__name__}: {exc}",
                        at=self.clock.now(),
                    ),
                    True,
                )
            finally:
                self._wind_down()
            # still under the handlers: a signal now (a second SIGTERM, say) must not
            # kill the process before the journal is written and the verdict returned
            return self._finish()

    def _run_phases(self) -> None:
        experiment = self.loaded.experiment
        self._phase("targets")
        if self._check_halt():  # halted: nothing is touched, not even recovery
            return
        self.journal.versions["engine"] = self.runtime.engine_versions()
        self.scope.recover_orphans()
        try:
            self.plan = make_plan(self.loaded, self.plugins, self.runtime, self.seed)
        except NoneKept as exc:  # the journal still says what each candidate answered
            self.journal.targets = target_records({exc.selection.name: exc.selection})
            raise
        self._record_targets(self.plan)
        if self.abort.is_set():
            return

        self._activities = [
            FaultActivity(planned, self._step_context()) for planned in self.plan.faults
        ]
        self._actions = [
            ActionActivity(planned, self._step_context()) for planned in self.plan.actions
        ]
        self._checks = [
            CheckActivity(planned, self._step_context()) for planned in self.plan.checks
        ]
        arming = threading.Thread(target=self._arm_all, name="arm-safety-nets", daemon=True)
        arming.start()  # the safety nets are armed while the steady state is checked
        self._arming = arming

        self._phase("steady-state")
        if not self._measure_baselines():
            return
        before = [self._check_once(b) for b in self.plan.steady_state]
        self.journal.steady_state_before = [rec for rec, _ in before]
        failing = [(rec.name, s) for rec, s in before if not s.ok]
        unanswered = [(name, s) for name, s in failing if s.error]
        if unanswered:  # the check could not be made: not a verdict on the system
            self.report(
                ReasonRecord(
                    kind="probe_error",
                    message="the steady state could not be checked before the method: "
                    + "; ".join(f"{name}: {s.detail}" for name, s in unanswered)
                    + "; nothing was injected",
                    source=unanswered[0][0],
                    at=unanswered[0][1].t,
                )
            )
            return
        if failing:
            self.report(
                ReasonRecord(
                    kind="not_steady_before",
                    message="system not steady before the method: "
                    + "; ".join(f"{name}: {s.detail}" for name, s in failing),
                    source=failing[0][0],
                    at=failing[0][1].t,
                )
            )
            return
        for bound in self.plan.guards:
            _rec, sample = self._check_once(bound)
            if not sample.ok:
                self.report(
                    ReasonRecord(
                        kind="probe_error" if sample.error else "guard_breach",
                        message=f"guard {bound.name} does not hold before the method: "
                        f"{sample.detail}; nothing was injected",
                        source=bound.name,
                        at=sample.t,
                    ),
                    True,
                )
                return
        self._join_arming()
        if self.abort.is_set():
            return

        self._phase("method", _method_detail(self.plan))
        self._schedule_all()
        method_start = self.clock.now()
        self._monitor.start()
        self._start_samplers(self.plan)
        for activity in self._activities:
            activity.start(method_start)
        for step in (*self._actions, *self._checks):
            step.start(method_start)
        self._wait_for_activities()
        if self.abort.is_set():
            return

        self._phase("recovery", f"within {experiment.recovery.within:g}s")
        self._recover()
        if self._decided_at is not None and not self.abort.is_set():
            self._evaluate_windows(method_start, self._decided_at)

    def _step_context(self) -> StepContext:
        return StepContext(
            self.runtime,
            self.clock,
            self.abort,
            self.report,
            self.emit,
            self._safeguards,
            self._monitor.wait_until_up,
            before_inject=self._check_halt,
        )

    def _arm_all(self) -> None:
        """Arm every fault's safety net (ledger entry, watchdog), steps in parallel.
        A fault that cannot be armed ends the run before its method."""
        try:
            with ThreadPoolExecutor(
                max_workers=max(1, min(PARALLEL_STEPS, len(self._activities))),
                thread_name_prefix="arm",
            ) as pool:
                problems = [
                    p for found in pool.map(lambda a: a.arm(), self._activities) for p in found
                ]
        except Exception as exc:  # a bug: nothing may be injected without its safety net
            problems = [f"arming the safety nets failed: {type(exc).__name__}: {exc}"]
        for problem in problems:
            self.report(
                ReasonRecord(kind="inject_failed", message=problem, at=self.clock.now()), True
            )

    def _join_arming(self) -> None:
        """Wait for the safety nets, in short steps so signal handlers run promptly."""
        if self._arming is None:
            return
        while self._arming.is_alive():
            self._arming.join(JOIN_POLL)

    def _schedule_all(self) -> None:
        """Give every armed watchdog its deadline, all at once, before the method
        starts: at a fault's ``at`` only the injection happens."""
        estimate = self.clock.now()
        with ThreadPoolExecutor(
            max_workers=max(1, min(PARALLEL_STEPS, len(self._activities))),
            thread_name_prefix="schedule",
        ) as pool:
            list(pool.map(lambda a: a.schedule(estimate), self._activities))

    def _wait_for_activities(self) -> None:
        """Wait in short steps so signal handlers run promptly in this thread."""
        for activity in (*self._activities, *self._actions, *self._checks):
            while activity.is_alive():
                activity.join(JOIN_POLL)

    def _wind_down(self) -> None:
        """Always: stop every fault (reverting it), every step, every sampler and the
        engine monitor."""
        if any(a.is_alive() for a in (*self._activities, *self._actions, *self._checks)):
            self.abort.set()
            self._wait_for_activities()
        for action in self._actions:
            action.release()
        self._join_arming()
        for activity in self._activities:
            activity.release()  # what was armed and never injected
        for sampler in self._samplers:
            sampler.stop()
        for sampler in self._samplers:
            # a sample ends by its deadline, so this never waits long; never forever
            bound = sampler.series.bound
            sampler.join(bound.probe.deadline(bound.params, bound.targets) + 1.0)
        if self._monitor.started:
            self._monitor.stop()
        for outage in self._monitor.outages:
            until = f"t={outage.end:.1f}s" if outage.end is not None else "the end of the run"
            self.report(
                ReasonRecord(
                    kind="engine_error",
                    message=f"the Docker engine did not answer from t={outage.start:.1f}s to "
                    f"{until} (restarted or down): what the run saw meanwhile cannot be trusted",
                    at=outage.start,
                )
            )

    # -- probes ----------------------------------------------------------

    def _check_once(self, bound: BoundProbe) -> tuple[ProbeRecord, Sample]:
        sample = bound.sample(self.runtime, self.clock)
        self.emit(
            ProbeSampled(
                sample.t, bound.section, bound.name, sample.ok, sample.latency, sample.detail
            )
        )
        record = ProbeRecord(
            section=bound.section,
            name=bound.name,
            probe=bound.probe.name,
            samples=[sample_record(sample, self.clock)],
        )
        return record, sample

    def _measure_baselines(self) -> bool:
        """Every probe step's baseline (:meth:`chaos.probe.Probe.baseline`), once,
        before the steady state is checked and before anything is injected.
        False (and a reason) when one could not be measured."""
        assert self.plan is not None
        for bound in (*self.plan.steady_state, *self.plan.probes, *self.plan.guards):
            if not bound.implements("baseline"):
                continue
            at = self.clock.now()
            measured = self._measure(
                bound,
                "baseline",
                lambda b=bound: b.probe.baseline(self.runtime, b.params, b.targets),
                fields={"t": round(at, 4)},
                failure=("not_steady_before", at),
                says=(f"{bound.name}: no baseline before the method", "; nothing was injected"),
            )
            if not measured:
                return False
        return True

    def _evaluate_windows(self, start: float, end: float) -> None:
        """After recovery, each continuous probe that can judges the whole
        method-to-recovery window at once (:meth:`chaos.probe.Probe.evaluate_window`)."""
        assert self.plan is not None
        intervals = {p.name: p.interval for p in self.loaded.experiment.probes}
        for bound in self.plan.probes:
            if not bound.implements("evaluate_window"):
                continue
            self._measure(
                bound,
                "window",
                lambda b=bound: b.probe.evaluate_window(
                    self.runtime,
                    b.params,
                    b.targets,
                    self.clock.epoch(start),
                    self.clock.epoch(end),
                    intervals[b.name],
                ),
                fields={"start": round(start, 4), "end": round(end, 4)},
                failure=("tolerance", end),
                says=(f"probe {bound.name} over the window t={start:.1f}s to t={end:.1f}s", ""),
            )

    def _measure(
        self,
        bound: BoundProbe,
        what: str,
        call: Callable[[], Check | None],
        *,
        fields: dict[str, float],
        failure: tuple[str, float],
        says: tuple[str, str],
    ) -> bool:
        """One measurement a probe makes apart from its samples (``what``: its
        ``baseline`` or its ``window``): kept, with ``fields``, for the probe's
        record; when it fails, a reason of kind ``failure[0]`` at ``failure[1]``
        (``probe_error`` when the probe could not tell) whose message is the
        check's detail between ``says``. False when it failed."""
        check, _ = bound.call(self.runtime, call)
        if check is None:
            return True
        record = {**fields, "ok": check.ok, "detail": check.detail, **(check.data or {})}
        self._measured.setdefault((bound.section, bound.name), {})[what] = record
        if check.ok:
            return True
        kind, at = failure
        before, after = says
        self.report(
            ReasonRecord(
                kind="probe_error" if check.error else kind,
                message=f"{before}: {check.detail}{after}",
                source=bound.name,
                at=at,
            )
        )
        return False

    def _start_samplers(self, plan: Plan) -> None:
        experiment = plan.experiment
        steps = [
            *zip(plan.probes, (p.interval for p in experiment.probes), strict=True),
            *zip(plan.guards, (g.interval for g in experiment.guards), strict=True),
        ]
        for index, (bound, interval) in enumerate(steps):
            # spread first ticks over the interval: 20 probes at 100ms do not fire at once
            offset = interval * index / len(steps)
            self._samplers.append(
                Sampler(bound, interval, self.runtime, self.clock, self._on_sample, offset)
            )
        for sampler in self._samplers:
            sampler.start()

    def _on_sample(self, series: Series, sample: Sample) -> None:
        bound = series.bound
        self.emit(
            ProbeSampled(
                sample.t, bound.section, bound.name, sample.ok, sample.latency, sample.detail
            )
        )
        if bound.section != "guards":
            return
        with self._lock:
            count = 0 if sample.ok else self._guard_failures.get(bound.name, 0) + 1
            self._guard_failures[bound.name] = count
        guard = next(g for g in self.loaded.experiment.guards if g.name == bound.name)
        if count >= guard.breach_after and not self.abort.is_set():
            self.report(
                ReasonRecord(
                    kind="guard_breach",
                    # breached when the failing answer came, which is when the run knew
                    message=f"guard {bound.name} breached at t={sample.end:.1f}s: "
                    f"{sample.detail}; every active fault was reverted",
                    source=bound.name,
                    at=sample.end,
                ),
                True,
            )

    def _recover(self) -> None:
        """Poll the steady state until the system is back and stable, or it is
        not by ``recovery.within`` (see :class:`~chaos.engine.judging.RecoveryWatch`).

        Continuous probes sample until this decides; when it finds the system
        back, it stops them at once and their records end with what it saw."""
        assert self.plan is not None
        recovery = self.loaded.experiment.recovery
        steady = self.plan.steady_state
        probes = [s for s in self._samplers if s.series.bound.section == "probes"]
        started = self.clock.now()
        record = RecoveryRecord(
            within=recovery.within,
            stable_for=recovery.stable_for,
            stable_checks=STABLE_CHECKS if recovery.stable_for is None else None,
            started=started,
        )
        self.journal.recovery = record
        watch = RecoveryWatch(
            Stability.of(recovery),
            started + recovery.within,
            observed=bool(steady or probes),
            checked=bool(steady),
        )
        decision = WAIT
        while not self.abort.is_set():
            round_started = self.clock.now()
            checks = [b.sample(self.runtime, self.clock) for b in steady]
            failing = [
                Failing(b.name, s.detail) for b, s in zip(steady, checks, strict=True) if not s.ok
            ]
            round_ended = self.clock.now()
            watch.add(round_started, round_ended, failing)
            record.rounds.append(
                RecoveryRoundRecord(
                    t=round(round_started, 4),
                    end=round(round_ended, 4),
                    ok=not failing,
                    failing=[str(f) for f in failing],
                )
            )
            record.checks += 1
            record.passed_checks += int(not failing)
            # what the decision sees is what the probes' records will hold
            seen = {sampler: len(sampler.series.samples) for sampler in probes}
            decision = watch.decide(
                {s.series.bound.name: s.series.samples[: seen[s]] for s in probes}
            )
            if decision.done:
                break
            self.abort.wait(watch.wait(self.clock.now(), recovery.interval))
        if self.abort.is_set() or not decision.done:
            return  # aborted: a guard, a signal or an error decides the run
        decided = self.clock.now()
        record.decided_at = round(decided, 4)
        self._decided_at = decided
        self._steady_back = watch.steady_back
        if decision.recovered:
            for sampler in probes:
                sampler.stop()
            self._cut = seen
            since = decision.stable_since if decision.stable_since is not None else decided
            record.recovered = True
            record.stable_since = round(since, 4)
            record.after_method = round(max(0.0, since - started), 4)
            record.last_failures = []
            return
        record.recovered = False
        record.last_failures = [str(f) for f in decision.failing]
        message, source = watch.failure(decision, recovery.within, started)
        self.report(ReasonRecord(kind="not_recovered", message=message, source=source, at=decided))

    # -- signals -----------------------------------------------------------

    def _interrupted(self, name: str) -> None:
        """A signal (or the suite's interrupt): revert everything at once. Only
        the first is a reason; later ones change nothing (reverts finish)."""
        if any(r.kind == "interrupted" for r in self._reasons):
            self.emit(Notice(self.clock.now(), f"{name} again: reverting every fault first"))
            return
        self.report(
            ReasonRecord(
                kind="interrupted",
                message=f"run interrupted by {name}; every active fault was reverted",
                source=name,
                at=self.clock.now(),
            ),
            True,
        )

    def _halted(self, state: HaltState) -> None:
        """The kill switch (``chaosdrill halt``): revert everything at once, as on
        a signal, with a reason of its own. Only the first is a reason."""
        with self._lock:
            if any(r.kind == "halted" for r in self._reasons):
                return
            self.report(
                ReasonRecord(
                    kind="halted",
                    message=state.message,
                    at=self.clock.now(),
                ),
                True,
            )

    def _check_halt(self) -> bool:
        """Is a halt in force? Asked at the start and before each injection (the
        watcher may not have looked yet); if so the run ends as :meth:`_halted` says."""
        state = self.scope.halted()
        if state is not None:
            self._halted(state)
        return state is not None

    # -- the record ----------------------------------------------------------

    def _record_targets(self, plan: Plan) -> None:
        self.journal.targets = target_records(plan.selections)

    def _judge_series(self, windows: list[FaultWindow]) -> None:
        """Each continuous probe's and guard's record, and the reasons of broken
        tolerances (:func:`chaos.engine.judging.judge_series`)."""
        observed = []
        for sampler in self._samplers:
            series = sampler.series
            bound = series.bound
            cut = self._cut.get(sampler)
            observed.append(
                Observed(
                    section=bound.section,
                    name=bound.name,
                    probe=bound.probe.name,
                    interval=series.interval,
                    started=series.started,
                    stopped=series.stopped if cut is None else self._decided_at,
                    samples=list(series.samples if cut is None else series.samples[:cut]),
                )
            )
        judged = judge_series(
            self.loaded.experiment,
            observed,
            windows,
            self.journal.recovery,
            lambda sample: sample_record(sample, self.clock),
            self.clock.now(),
        )
        self.journal.probes.extend(judged.probes)
        self.journal.guards.extend(judged.guards)
        for reason in judged.reasons:
            self.report(reason)

    def _finish(self) -> RunResult:
        windows = fault_windows(
            (rec, rec.due if rec.due is not None else a.end)
            for a in self._activities
            for rec in a.records
        )
        self._judge_series(windows)
        self.journal.faults = [rec for a in self._activities for rec in a.records]
        self.journal.actions = [rec for a in self._actions for rec in a.records]
        self.journal.checks = [c.record for c in self._checks]
        for record in (
            *self.journal.steady_state_before,
            *self.journal.probes,
            *self.journal.guards,
        ):
            measured = self._measured.get((record.section, record.name), {})
            record.baseline = measured.get("baseline", record.baseline)
            record.window = measured.get("window", record.window)
        if self.journal.recovery is not None:
            record_time_to_recover(
                self.journal.recovery, self.journal.probes, self.journal.faults, self._steady_back
            )
        if not self._activities and self.plan is not None:
            # stopped before the method (not steady, a guard, a signal): the plan still counts
            self.journal.faults = [
                rec
                for planned in self.plan.faults
                for rec in fault_records(
                    planned, self.runtime.run_id, planned.step.at, NOT_INJECTED
                )
            ]
        if not self._actions and self.plan is not None:
            self.journal.actions = [
                rec
                for planned in self.plan.actions
                for rec in action_records(planned, planned.step.at, "not_run")
            ]
        for reason in self._reasons:
            place(reason, self.journal.phases, windows)
        verdict = decide(self._reasons)
        reasons = ordered(self._reasons, verdict)
        end = self.clock.now()
        self._phase("done", verdict.value)
        self.journal = close_journal(
            self.journal, verdict, reasons, end, self.clock, self.runtime.redactor
        )
        reasons = list(self.journal.reasons)
        path = None
        if self.report_dir is not None:
            directory = run_directory(
                self.report_dir,
                self.clock.started_at,
                self.runtime.redactor.text(self.loaded.experiment.title),
            )
            path = write_journal(self.journal, directory)
        return self.scope.finished(RunResult(verdict, tuple(reasons), self.journal, path))


def _method_detail(plan: Plan) -> str:
    """``2 fault step(s), 1 action(s), 1 probe step(s)``: what the method holds."""
    parts = [f"{len(plan.faults)} fault step(s)"]
    if plan.actions:
        parts.append(f"{len(plan.actions)} action(s)")
    if plan.checks:
        parts.append(f"{len(plan.checks)} probe step(s)")
    return ", ".join(parts)
