"""One fault step on the timeline: arm, wait for ``at``, inject, hold, revert.

A run arms every step's safety net before its method begins
(:meth:`FaultActivity.arm`, see :mod:`chaos.engine.safeguards`); at the
step's ``at`` only the injection happens, and the fault holds for its
``duration`` from the moment the injection began. Each step runs in its own
thread so faults overlap as their ``at`` offsets say. Every wait is on the
run's abort event: a guard breach, a signal or an error wakes the step at
once and it reverts what it injected. Reverting is the one thing a step
always does, whatever happened before.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chaos.engine.clock import RunClock
from chaos.engine.events import FaultFailed, FaultInjected, FaultReverted, Observer
from chaos.engine.plan import PlannedFault
from chaos.engine.safeguards import Armed, Safeguards
from chaos.errors import ChaosError
from chaos.fault import FaultContext
from chaos.journal.model import FaultRecord, ReasonRecord
from chaos.runtime import Runtime
from chaos.targets import TargetRef

NOT_INJECTED = "not_injected"
"""The outcome of a planned fault the run never got to (it stopped before the method)."""
REVERT_ATTEMPTS = 3
ENGINE_WAIT = 60.0
"""How long a revert waits for an engine that stopped answering before giving up."""
PARALLEL_TARGETS = 16
"""Objects of one step injected (and reverted) at the same time."""
REVERT_BACKOFF = 0.5
SCHEDULE_LEAD = 2.0
"""Seconds allowed between giving the watchdogs their deadlines and the method's
start; a step that still starts later moves its watchdog's deadline after it."""


@dataclass(frozen=True)
class StepContext:
    """What every fault step of one run (or one injection from code) shares."""

    runtime: Runtime
    clock: RunClock
    abort: threading.Event
    """Set to stop every step at once: each reverts what it injected."""
    report: Callable[[ReasonRecord, bool], None]
    """``report(reason, abort_run)`` records a reason and optionally aborts the run."""
    observer: Observer
    safeguards: Safeguards
    engine_back: Callable[[float], bool] | None = None
    """``engine_back(timeout)`` waits while the engine is down (see EngineMonitor)."""
    before_inject: Callable[[], object] | None = None
    """Called just before each object is injected; it sets ``abort`` when the run
    may not inject any more (the kill switch was thrown), and nothing goes in."""


def fault_records(
    planned: PlannedFault, run_id: str, at: float, outcome: str = "scheduled"
) -> list[FaultRecord]:
    """The journal's record of a fault step, one per chosen object."""
    step = planned.step
    return [
        FaultRecord(
            step=step.name,
            fault=step.fault,
            target=step.target,
            container={"id": ref.id, "name": ref.name},
            at=at,
            duration=step.duration,
            reversible=planned.fault.reversible,
            injection_id=f"{run_id[:8]}{secrets.token_hex(4)}",
            outcome=outcome,
        )
        for ref in planned.selection.chosen
    ]


class FaultActivity:
    def __init__(self, planned: PlannedFault, context: StepContext):
        self.planned = planned
        self._ctx = context
        self._start: float | None = None
        self.records = fault_records(planned, context.runtime.run_id, planned.step.at)
        self._armed: dict[str, Armed] = {}
        """Safety nets armed ahead of the injection, by injection id."""
        self._thread = threading.Thread(
            target=self._run, name=f"fault-{planned.step.name}", daemon=True
        )
        self.injected = threading.Event()
        """Set once the injection is over (done, failed or skipped): the step is
        now holding its fault, or has nothing to hold."""

    @property
    def end(self) -> float:
        """When this step's window closes as planned (seconds since the run started)."""
        start = self._start if self._start is not None else self.planned.step.at
        return start + (self.planned.step.duration or 0.0)

    @property
    def due(self) -> float:
        """When the step's last fault ends: ``duration`` after it took effect."""
        dues = [r.due for r in self.records if r.due is not None]
        return max(dues, default=self.end)

    # -- before the method ----------------------------------------------------

    def arm(self) -> list[str]:
        """Arm every object's safety net now, before the method (a run does
        this while it checks the steady state). Returns the problems, one per
        object that could not be armed; the others stay armed either way."""
        problems: list[str] = []

        def arm_one(ref: TargetRef, record: FaultRecord) -> None:
            ctx = self._context(ref, record)
            try:
                armed = self._ctx.safeguards.arm(
                    ctx, self.planned.fault, self.planned.step.name, self.planned.params
                )
            except ChaosError as exc:
                step = self.planned.step
                problems.append(
                    f"fault {step.name} ({step.fault}) could not be armed on {ref.name}: "
                    + self._ctx.runtime.redactor.text(str(exc))
                )
                return
            self._armed[record.injection_id] = armed
            record.watchdog, record.before = armed.watchdog, armed.before

        self._each_target(arm_one)
        return problems

    def schedule(self, method_start: float) -> None:
        """Give the watchdogs armed ahead their deadlines (a small write into
        each, in parallel): for this step's planned end if the method starts
        at ``method_start``, plus :data:`SCHEDULE_LEAD`. Called just before
        the method starts, so the step's injection is all that happens at its ``at``."""
        if not self._armed or not self.planned.fault.reversible:
            return
        step = self.planned.step
        planned_end = method_start + step.at + (step.duration or 0.0) + SCHEDULE_LEAD
        revert_at = self._ctx.clock.epoch(planned_end)
        self._each_target(lambda ref, rec: self._schedule(ref, rec, revert_at))

    def start(self, method_start: float) -> None:
        """Begin the step's timeline: it injects at ``method_start + at``."""
        self._start = method_start + self.planned.step.at
        for record in self.records:
            record.at = self._start
        self._thread.start()

    def release(self) -> None:
        """Disarm what was armed for objects never injected (the run stopped
        before the method, or before this step); call after the step is over."""
        never_started = self._start is None
        for ref, record in zip(self.planned.selection.chosen, self.records, strict=True):
            armed = self._armed.pop(record.injection_id, None)
            if never_started and record.outcome == "scheduled":
                record.outcome = NOT_INJECTED
            if armed is None or record.outcome not in ("scheduled", "skipped", NOT_INJECTED):
                continue
            self._ctx.safeguards.not_injected(self._context(ref, record), armed.watchdog)
            record.watchdog = None

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- the timeline -----------------------------------------------------------

    def _run(self) -> None:
        ctx = self._ctx
        assert self._start is not None, "start() sets the step's start"
        try:
            if ctx.abort.wait(ctx.clock.until(self._start)):
                self._skip_rest()
                return
            self._inject_all()
            self.injected.set()
            if not self.planned.fault.reversible:  # the method goes on that long after it
                ctx.abort.wait(ctx.clock.until(self.due))
        except BaseException as exc:  # a bug must still end in a revert
            ctx.report(
                ReasonRecord(
                    kind="internal_error",
                    message=f"fault step {self.planned.step.name}: {type(exc).__name__}: {exc}",
                    source=self.planned.step.name,
                    at=ctx.clock.now(),
                ),
                True,
            )
        finally:
            self.injected.set()
            self._revert_all()
            self.release()

    def _context(self, ref: TargetRef, record: FaultRecord) -> FaultContext:
        revert_at = None
        if self.planned.fault.reversible and self._start is not None:
            due = record.due if record.due is not None else self.end
            revert_at = self._ctx.clock.epoch(due)
        return FaultContext(
            self._ctx.runtime,
            ref,
            record.injection_id,
            revert_at,
            self.planned.selections,
            record.watchdog,
        )

    def _each_target(self, work: Callable[[TargetRef, FaultRecord], None]) -> None:
        """Run ``work`` for every chosen object, in parallel: a step on 20
        containers takes about as long as a step on one."""
        pairs = list(zip(self.planned.selection.chosen, self.records, strict=True))
        if len(pairs) <= 1:
            for ref, record in pairs:
                work(ref, record)
            return
        with ThreadPoolExecutor(
            max_workers=min(PARALLEL_TARGETS, len(pairs)),
            thread_name_prefix=f"fault-{self.planned.step.name}",
        ) as pool:
            for future in [pool.submit(work, ref, record) for ref, record in pairs]:
                future.result()

    def _schedule(self, ref: TargetRef, record: FaultRecord, revert_at: float) -> None:
        """Set (or move later) an armed fault's revert time; a failure ends the run."""
        armed = self._armed.get(record.injection_id)
        if armed is None:
            return
        step = self.planned.step
        try:
            armed = self._ctx.safeguards.schedule(
                self._context(ref, record),
                self.planned.fault,
                self.planned.params,
                armed,
                revert_at,
            )
        except ChaosError as exc:
            self._ctx.report(
                ReasonRecord(
                    kind="inject_failed",
                    message=f"fault {step.name} ({step.fault}): the watchdog on {ref.name} "
                    f"could not be given its deadline: {self._ctx.runtime.redactor.text(str(exc))}",
                    source=step.name,
                    at=self._ctx.clock.now(),
                ),
                True,
            )
            return
        self._armed[record.injection_id] = armed
        record.watchdog = armed.watchdog

    def _inject_all(self) -> None:
        self._each_target(self._inject_one)
        self._skip_rest()

    def _inject_one(self, ref: TargetRef, record: FaultRecord) -> None:
        step, fault, params = self.planned.step, self.planned.fault, self.planned.params
        clock, safeguards = self._ctx.clock, self._ctx.safeguards
        if self._ctx.before_inject is not None and not self._ctx.abort.is_set():
            self._ctx.before_inject()
        if self._ctx.abort.is_set():
            return
        t = clock.now()
        ctx = self._context(ref, record)
        try:
            armed = self._armed.get(record.injection_id)
            if armed is None:  # injected from code: arm it now, for its end from now
                armed = safeguards.arm(ctx, fault, step.name, params, ctx.revert_at)
                self._armed[record.injection_id] = armed
                record.watchdog, record.before = armed.watchdog, armed.before
                ctx = dataclasses.replace(ctx, watchdog=record.watchdog)
            began = clock.now()  # the safety net is armed: only the fault itself now
            try:
                state = fault.inject(ctx, params)
            except BaseException:
                self._armed.pop(record.injection_id, None)
                safeguards.inject_failed(ctx, record.watchdog)
                record.watchdog = None
                raise
            record.injected_at = began
            record.applied_at = clock.now()
            record.outcome = "injected"
            record.state = dict(state or {})
            record.due = self._due(began, record.applied_at)
            revert_at = clock.epoch(record.due) if fault.reversible else None
            safeguards.after_inject(ctx, fault, record.state)
            if revert_at is not None:  # records it, and moves the watchdog if it ran late
                self._schedule(ref, record, revert_at)
                latest = self._armed[record.injection_id].latest_revert()
                if latest is not None and revert_at > latest:  # its watchdog fires first
                    record.due = max(record.applied_at, record.due - (revert_at - latest))
        except ChaosError as exc:
            if record.outcome == "injected":  # in, but not recorded: revert it now
                message = f"on {ref.name} could not be recorded in the ledger: {exc}"
            else:
                self._failed(record, "inject", self._ctx.runtime.redactor.text(str(exc)), t)
                message = f"could not be injected into {ref.name}: {record.error}"
            self._ctx.report(
                ReasonRecord(
                    kind="inject_failed",
                    message=f"fault {step.name} ({step.fault}) {message}",
                    source=step.name,
                    at=t,
                ),
                True,
            )
            return
        self._ctx.observer(
            FaultInjected(
                t, step.name, step.fault, ref.name, record.due or self.end, fault.reversible
            )
        )

    def _skip_rest(self) -> None:
        for record in self.records:
            if record.outcome == "scheduled":
                record.outcome = "skipped"

    def _due(self, began: float, applied_at: float) -> float:
        """When to revert: ``duration`` after the injection call began. The
        call's start rather than its return (``applied_at``): the effect begins
        inside the call and the revert's effect inside the revert call, after
        about the same delay, so the fault holds for ``duration``."""
        return max(began + (self.planned.step.duration or 0.0), applied_at)

    def _revert_all(self) -> None:
        """Revert every object at its due time, then disarm their watchdogs and
        close their entries: removing watchdog containers is engine work that
        would slow the other objects' reverts if done between them (a watchdog
        that fires meanwhile finds the fault already gone: its revert is harmless)."""
        if self.planned.fault.reversible:
            self._each_target(self._revert_when_due)
            self._each_target(self._close_reverted)

    def _close_reverted(self, ref: TargetRef, record: FaultRecord) -> None:
        if record.outcome == "reverted":
            self._ctx.safeguards.after_revert(self._context(ref, record), record.watchdog)

    def _revert_when_due(self, ref: TargetRef, record: FaultRecord) -> None:
        if record.outcome == "injected" and record.due is not None:
            self._ctx.abort.wait(self._ctx.clock.until(record.due))
        self._revert_one(ref, record)

    def _revert_one(self, ref: TargetRef, record: FaultRecord) -> None:
        step, fault = self.planned.step, self.planned.fault
        if record.outcome != "injected":
            return
        error = ""
        ctx = self._context(ref, record)
        clock = self._ctx.clock
        record.revert_started = clock.now()
        for attempt in range(REVERT_ATTEMPTS):
            try:
                observed = fault.revert(
                    ctx, self.planned.params, {**(record.before or {}), **record.state}
                )
                record.revert_state = dict(observed or {})
                error = ""
                break
            except Exception as exc:  # retried, then reported: never hidden
                error = self._ctx.runtime.redactor.text(str(exc) or type(exc).__name__)
                if attempt + 1 < REVERT_ATTEMPTS:
                    time.sleep(REVERT_BACKOFF * (attempt + 1))
                    if self._ctx.engine_back is not None:  # an engine restart: wait for it
                        self._ctx.engine_back(ENGINE_WAIT)
        t = clock.now()
        self._armed.pop(record.injection_id, None)
        if error:
            self._failed(record, "revert", error, t)
            self._ctx.report(
                ReasonRecord(
                    kind="revert_failed",
                    message=f"fault {step.name} ({step.fault}) could not be reverted on "
                    f"{ref.name} after {REVERT_ATTEMPTS} attempts: {error}",
                    source=step.name,
                    at=t,
                ),
                False,
            )
            return
        record.reverted_at = t
        record.outcome = "reverted"
        if record.applied_at is not None:
            record.in_effect = round(t - record.applied_at, 4)
        self._ctx.observer(FaultReverted(t, step.name, step.fault, ref.name))

    def _failed(self, record: FaultRecord, action: str, error: str, t: float) -> None:
        record.outcome = f"{action}-failed"
        record.error = error
        step = self.planned.step
        self._ctx.observer(
            FaultFailed(t, step.name, step.fault, record.container["name"], action, error)
        )
