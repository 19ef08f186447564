"""Runs a plan: steady state, method, recovery, verdict, journal.

The phases, in order (see the README's "Engine semantics"):

1. targets were resolved by the plan; nothing has been touched yet;
2. steady state and guards are checked once: if either does not hold,
   nothing is injected;
3. the method: every fault step runs on its own thread at its ``at`` offset,
   while continuous probes and guards sample on their own threads;
4. whatever happens (end of duration, guard breach, SIGINT/SIGTERM, an
   exception) every injected fault is reverted before the run goes on;
5. recovery: the steady state is polled until it holds or ``recovery.within``
   passes;
6. the verdict is decided from the recorded reasons (:mod:`chaos.engine.verdict`).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chaos import __version__
from chaos.engine.activity import NOT_INJECTED, FaultActivity, StepContext, fault_records
from chaos.engine.events import (
    Aborting,
    Event,
    Notice,
    PhaseStarted,
    ProbeSampled,
)
from chaos.engine.monitor import EngineMonitor
from chaos.engine.plan import Plan, make_plan
from chaos.engine.result import RunResult
from chaos.engine.sampling import BoundProbe, Sample, Sampler, Series
from chaos.engine.scope import RunScope, target_records
from chaos.engine.summary import evidence, summarize, tolerance_violations
from chaos.engine.verdict import decide, ordered
from chaos.errors import ChaosError, EngineUnreachable, TargetError
from chaos.experiment.loader import LoadedExperiment
from chaos.journal.build import sample_record, sample_records, summary_record
from chaos.journal.model import (
    Journal,
    PhaseRecord,
    ProbeRecord,
    ReasonRecord,
    RecoveryRecord,
    ViolationRecord,
)
from chaos.journal.writer import DEFAULT_REPORT_DIR, run_directory, write_journal

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
        self._arming: threading.Thread | None = None
        self._samplers: list[Sampler] = []
        self._guard_failures: dict[str, int] = {}
        self.plan: Plan | None = None
        experiment = loaded.experiment
        self.journal = Journal(
            run_id=runtime.run_id,
            versions={"chaosdrill": __version__, "python": sys.version.split()[0]},
            experiment={
                "file": loaded.path,
                "title": experiment.title,
                "tags": list(experiment.tags),
                "document": runtime.redactor.data(loaded.document),
            },
            started_at=self.clock.started_at.isoformat(timespec="milliseconds"),
            seed=seed,
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
        with self.scope.interrupts(self._interrupted):
            try:
                self._run_phases()
            except ChaosError as exc:
                kind = "engine" if isinstance(exc, EngineUnreachable) else "target"
                if not isinstance(exc, (EngineUnreachable, TargetError)):
                    kind = "bug"
                self.report(ReasonRecord(kind=kind, message=str(exc), t=self.clock.now()), True)
            except KeyboardInterrupt:
                self._interrupted("SIGINT")
            except Exception as exc:
                self.report(
                    ReasonRecord(
                        kind="bug",
                        message=f"{type(exc).__name__}: {exc}",
                        t=self.clock.now(),
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
        self.journal.versions["engine"] = self.runtime.engine_versions()
        self.scope.recover_orphans()
        self.plan = make_plan(self.loaded, self.plugins, self.runtime, self.seed)
        self._record_targets(self.plan)
        if self.abort.is_set():
            return

        self._activities = [
            FaultActivity(planned, self._step_context()) for planned in self.plan.faults
        ]
        arming = threading.Thread(target=self._arm_all, name="arm-safety-nets", daemon=True)
        arming.start()  # the safety nets are armed while the steady state is checked
        self._arming = arming

        self._phase("steady-state")
        before = [self._check_once(b) for b in self.plan.steady_state]
        self.journal.steady_state_before = [rec for rec, _ in before]
        failing = [f"{rec.name}: {s.detail}" for rec, s in before if not s.ok]
        if failing:
            self.report(
                ReasonRecord(
                    kind="steady-state",
                    message="system not steady before the method: " + "; ".join(failing),
                    t=self.clock.now(),
                )
            )
            return
        for bound in self.plan.guards:
            _rec, sample = self._check_once(bound)
            if not sample.ok:
                self.report(
                    ReasonRecord(
                        kind="guard",
                        message=f"guard {bound.name} does not hold before the method: "
                        f"{sample.detail}; nothing was injected",
                        source=bound.name,
                        t=sample.t,
                    ),
                    True,
                )
                return
        self._join_arming()
        if self.abort.is_set():
            return

        self._phase("method", f"{len(self.plan.faults)} fault step(s)")
        self._schedule_all()
        method_start = self.clock.now()
        self._monitor.start()
        self._start_samplers(self.plan)
        for activity in self._activities:
            activity.start(method_start)
        self._wait_for_activities()
        if self.abort.is_set():
            return

        self._phase("recovery", f"within {experiment.recovery.within:g}s")
        self._recover()

    def _step_context(self) -> StepContext:
        return StepContext(
            self.runtime,
            self.clock,
            self.abort,
            self.report,
            self.emit,
            self._safeguards,
            self._monitor.wait_until_up,
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
            self.report(ReasonRecord(kind="inject", message=problem, t=self.clock.now()), True)

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
        for activity in self._activities:
            while activity.is_alive():
                activity.join(JOIN_POLL)

    def _wind_down(self) -> None:
        """Always: stop every fault (reverting it), every sampler and the engine monitor."""
        if any(a.is_alive() for a in self._activities):
            self.abort.set()
            self._wait_for_activities()
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
                    kind="engine",
                    message=f"the Docker engine did not answer from t={outage.start:.1f}s to "
                    f"{until} (restarted or down): what the run saw meanwhile cannot be trusted",
                    t=outage.start,
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
                    kind="guard",
                    message=f"guard {bound.name} breached at t={sample.t:.1f}s: {sample.detail}; "
                    "every active fault was reverted",
                    source=bound.name,
                    t=sample.t,
                ),
                True,
            )

    def _recover(self) -> None:
        assert self.plan is not None
        recovery = self.loaded.experiment.recovery
        started = self.clock.now()
        record = RecoveryRecord(within=recovery.within, started=started)
        self.journal.recovery = record
        deadline = started + recovery.within
        while not self.abort.is_set():
            checks = [b.sample(self.runtime, self.clock) for b in self.plan.steady_state]
            record.checks += 1
            failing = [
                f"{b.name}: {s.detail}"
                for b, s in zip(self.plan.steady_state, checks, strict=True)
                if not s.ok
            ]
            if not failing:
                record.recovered = True
                record.time_to_recover = self.clock.now() - started
                record.last_failures = []
                return
            record.last_failures = failing
            if self.clock.now() >= deadline:
                break
            self.abort.wait(min(recovery.interval, self.clock.until(deadline)))
        if self.abort.is_set():
            return
        record.recovered = False
        self.report(
            ReasonRecord(
                kind="recovery",
                message=f"steady state not restored within {recovery.within:g}s after the "
                f"method: " + "; ".join(record.last_failures),
                t=self.clock.now(),
            )
        )

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
                t=self.clock.now(),
            ),
            True,
        )

    # -- the record ----------------------------------------------------------

    def _record_targets(self, plan: Plan) -> None:
        self.journal.targets = target_records(plan.selections)

    def _active_faults_at(self, start: float, end: float | None = None) -> list[str]:
        """Fault steps whose window overlaps ``start`` to ``end``: from the injection
        to the revert, or to the planned end while not reverted."""
        end = start if end is None else end
        names = []
        for activity in self._activities:
            for rec in activity.records:
                if rec.injected_at is None:
                    continue
                planned_end = rec.due if rec.due is not None else activity.end
                until = rec.reverted_at if rec.reverted_at is not None else planned_end
                if rec.injected_at <= end and start <= max(until, rec.injected_at):
                    names.append(rec.step)
                    break
        return names

    def _held_at(self, t: float) -> bool:
        """True when some fault was in effect at ``t`` and not yet being reverted."""
        for activity in self._activities:
            for rec in activity.records:
                if rec.injected_at is None:
                    continue
                end = next(
                    e for e in (rec.revert_started, rec.reverted_at, activity.end) if e is not None
                )
                if rec.injected_at <= t <= end:
                    return True
        return False

    def _judge_series(self) -> None:
        experiment = self.loaded.experiment
        tolerances = {p.name: p for p in experiment.probes}
        guards = {g.name: g for g in experiment.guards}
        for sampler in self._samplers:
            series = sampler.series
            bound = series.bound
            end = series.stopped if series.stopped is not None else self.clock.now()
            summary = summarize(series.samples, end)
            record = ProbeRecord(
                section=bound.section,
                name=bound.name,
                probe=bound.probe.name,
                interval=series.interval,
                started=series.started,
                stopped=series.stopped,
                samples=sample_records(series.samples, self.clock),
                summary=summary_record(summary),
            )
            if bound.section == "guards":
                record.target = guards[bound.name].target
                self.journal.guards.append(record)
                continue
            step = tolerances[bound.name]
            record.target = step.target
            record.tolerance = step.tolerance.model_dump(exclude_none=True)
            for message, t in tolerance_violations(summary, series.samples, step.tolerance):
                record.violations.append(ViolationRecord(message=message, t=t))
                during = ""
                if t is not None:
                    active = self._active_faults_at(*evidence(summary, series.samples, t))
                    during = f" during {', '.join(active)}" if active else ""
                    when = f" (first at t={t:.1f}s{during})"
                else:
                    when = ""
                failed = [s for s in series.samples if not s.ok and s.detail]
                # what it said under the fault, rather than while a revert was undoing it
                under_fault = [s for s in failed if self._held_at(s.end)]
                said = f"; it reported: {(under_fault or failed)[-1].detail}" if failed else ""
                self.report(
                    ReasonRecord(
                        kind="tolerance",
                        message=f"probe {bound.name}: {message}{when}{said}",
                        source=bound.name,
                        t=t,
                    )
                )
            self.journal.probes.append(record)

    def _finish(self) -> RunResult:
        self._judge_series()
        self.journal.faults = [rec for a in self._activities for rec in a.records]
        if not self._activities and self.plan is not None:
            # stopped before the method (not steady, a guard, a signal): the plan still counts
            self.journal.faults = [
                rec
                for planned in self.plan.faults
                for rec in fault_records(
                    planned, self.runtime.run_id, planned.step.at, NOT_INJECTED
                )
            ]
        verdict = decide(self._reasons)
        reasons = ordered(self._reasons, verdict)
        end = self.clock.now()
        self._phase("done", verdict.value)
        self.journal.ended_at = self.clock.wall(end)
        self.journal.duration = round(end, 4)
        self.journal.verdict = verdict.value
        self.journal.reasons = reasons
        self.journal.exit_code = int(verdict.exit_code)
        # the whole record, once: titles, step and target names, details and
        # states may all carry a secret value
        self.journal = Journal.model_validate(
            self.runtime.redactor.data(self.journal.model_dump(mode="json"))
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
