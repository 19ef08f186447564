"""One fault step on the timeline: wait for ``at``, inject, hold, revert.

Each step runs in its own thread so faults overlap as their ``at`` offsets
say. Every wait is on the run's abort event: a guard breach, a signal or an
error wakes the step at once and it reverts what it injected. Reverting is
the one thing a step always does, whatever happened before.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from chaos.engine.clock import RunClock
from chaos.engine.events import FaultFailed, FaultInjected, FaultReverted, Observer
from chaos.engine.plan import PlannedFault
from chaos.engine.safeguards import Safeguards
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
    def __init__(
        self,
        planned: PlannedFault,
        runtime: Runtime,
        clock: RunClock,
        method_start: float,
        abort: threading.Event,
        report: Callable[[ReasonRecord, bool], None],
        observer: Observer,
        safeguards: Safeguards,
        engine_back: Callable[[float], bool] | None = None,
    ):
        """``report(reason, abort_run)`` records a reason and optionally aborts the run;
        ``engine_back(timeout)`` waits while the engine is down (see EngineMonitor)."""
        self._engine_back = engine_back
        self.planned = planned
        self._safeguards = safeguards
        self._runtime = runtime
        self._clock = clock
        self._start = method_start + planned.step.at
        self._abort = abort
        self._report = report
        self._observer = observer
        step = planned.step
        self.records = fault_records(planned, runtime.run_id, self._start)
        self._thread = threading.Thread(target=self._run, name=f"fault-{step.name}", daemon=True)
        self.injected = threading.Event()
        """Set once the injection is over (done, failed or skipped): the step is
        now holding its fault, or has nothing to hold."""

    @property
    def end(self) -> float:
        """When this step's window closes (seconds since the run started)."""
        return self._start + (self.planned.step.duration or 0.0)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            if self._abort.wait(self._clock.until(self._start)):
                self._skip_rest()
                return
            self._inject_all()
            self.injected.set()
            self._abort.wait(self._clock.until(self.end))
        except BaseException as exc:  # a bug must still end in a revert
            self._report(
                ReasonRecord(
                    kind="internal_error",
                    message=f"fault step {self.planned.step.name}: {type(exc).__name__}: {exc}",
                    source=self.planned.step.name,
                    at=self._clock.now(),
                ),
                True,
            )
        finally:
            self.injected.set()
            self._revert_all()

    def _context(self, ref: TargetRef, record: FaultRecord) -> FaultContext:
        revert_at = None
        if self.planned.fault.reversible:
            revert_at = time.time() + self._clock.until(self.end)
        return FaultContext(
            self._runtime,
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

    def _inject_all(self) -> None:
        self._each_target(self._inject_one)
        self._skip_rest()

    def _inject_one(self, ref: TargetRef, record: FaultRecord) -> None:
        step, fault, params = self.planned.step, self.planned.fault, self.planned.params
        if self._abort.is_set():
            return
        t = self._clock.now()
        ctx = self._context(ref, record)
        try:
            armed = self._safeguards.before_inject(ctx, fault, step.name, params)
            record.watchdog, record.before = armed.watchdog, armed.before
            ctx = dataclasses.replace(ctx, watchdog=record.watchdog)
            try:
                state = fault.inject(ctx, params)
            except BaseException:
                self._safeguards.inject_failed(ctx, record.watchdog)
                record.watchdog = None
                raise
            record.injected_at = t
            record.applied_at = self._clock.now()
            record.outcome = "injected"
            record.state = dict(state or {})
            self._safeguards.after_inject(ctx, fault, record.state)
        except ChaosError as exc:
            if record.outcome == "injected":  # in, but not recorded: revert it now
                message = f"on {ref.name} could not be recorded in the ledger: {exc}"
            else:
                self._failed(record, "inject", self._runtime.redactor.text(str(exc)), t)
                message = f"could not be injected into {ref.name}: {record.error}"
            self._report(
                ReasonRecord(
                    kind="inject_failed",
                    message=f"fault {step.name} ({step.fault}) {message}",
                    source=step.name,
                    at=t,
                ),
                True,
            )
            return
        self._observer(
            FaultInjected(t, step.name, step.fault, ref.name, self.end, fault.reversible)
        )

    def _skip_rest(self) -> None:
        for record in self.records:
            if record.outcome == "scheduled":
                record.outcome = "skipped"

    def _revert_all(self) -> None:
        if self.planned.fault.reversible:
            self._each_target(self._revert_one)

    def _revert_one(self, ref: TargetRef, record: FaultRecord) -> None:
        step, fault = self.planned.step, self.planned.fault
        if record.outcome != "injected":
            return
        error = ""
        ctx = self._context(ref, record)
        record.revert_started = self._clock.now()
        for attempt in range(REVERT_ATTEMPTS):
            try:
                observed = fault.revert(
                    ctx, self.planned.params, {**(record.before or {}), **record.state}
                )
                record.revert_state = dict(observed or {})
                error = ""
                break
            except Exception as exc:  # retried, then reported: never hidden
                error = self._runtime.redactor.text(str(exc) or type(exc).__name__)
                if attempt + 1 < REVERT_ATTEMPTS:
                    time.sleep(REVERT_BACKOFF * (attempt + 1))
                    if self._engine_back is not None:  # an engine restart: wait for it
                        self._engine_back(ENGINE_WAIT)
        t = self._clock.now()
        if error:
            self._failed(record, "revert", error, t)
            self._report(
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
        self._safeguards.after_revert(ctx, record.watchdog)
        self._observer(FaultReverted(t, step.name, step.fault, ref.name))

    def _failed(self, record: FaultRecord, action: str, error: str, t: float) -> None:
        record.outcome = f"{action}-failed"
        record.error = error
        step = self.planned.step
        self._observer(
            FaultFailed(t, step.name, step.fault, record.container["name"], action, error)
        )
