"""The method's steps that are not faults, each on the timeline at its ``at``.

An action step (:class:`ActionActivity`) does something on purpose (a
command in a container, a request) and must succeed: its failure ends the
run ``error`` (``action_failed``) and every fault is reverted at once, as
when a fault cannot be injected, for the experiment could not do what it
said. A probe step (:class:`CheckActivity`) is checked once: its failure
makes the run ``failed`` (``probe_failed``), as a steady state that does not
hold would, and the run goes on to recovery.

Like fault steps, each runs on its own thread and waits on the run's abort
event, so a guard breach or a signal skips what has not started. What has
started ends within its deadline: the step's ``timeout`` plus
:data:`GRACE`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chaos.engine.actions import ActionOutcome, run_exec, run_http
from chaos.engine.activity import StepContext
from chaos.engine.events import ActionRan, ProbeSampled
from chaos.engine.plan import PlannedAction, PlannedCheck
from chaos.experiment.actions import ExecActionParams, HttpActionParams
from chaos.journal.build import sample_record
from chaos.journal.model import ActionRecord, ProbeRecord, ReasonRecord
from chaos.redaction import mask_credentials

GRACE = 2.0
"""Seconds an action may take beyond its ``timeout`` (looking the container up,
reading the answer) before it is given up."""

NOT_RUN = "not_run"
"""The outcome of an action the run never got to (it stopped before the method)."""


def within(limit: float, work: Callable[[], ActionOutcome]) -> ActionOutcome | None:
    """``work()`` on a thread of its own, or None when it has not returned
    after ``limit`` seconds (it is left to finish on its own). An exception
    is a failed outcome that names it."""
    box: list[ActionOutcome] = []

    def run() -> None:
        try:
            box.append(work())
        except Exception as exc:
            box.append(ActionOutcome(False, f"{type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=run, daemon=True, name="step")
    thread.start()
    thread.join(limit)
    return box[0] if box else None


def action_records(
    planned: PlannedAction, at: float, outcome: str = "scheduled"
) -> list[ActionRecord]:
    """The journal's records of an action step: one per container an ``exec``
    runs in (its target's chosen ones, or its ``container``), one for a request."""
    step, params = planned.step, planned.params
    if isinstance(params, HttpActionParams):
        request: dict[str, object] = {
            "method": params.method,
            "url": mask_credentials(params.url),
        }
        return [
            ActionRecord(
                step=step.name, action=step.action, request=request, at=at, outcome=outcome
            )
        ]
    assert isinstance(params, ExecActionParams)
    request = {"command": list(params.command)}
    if params.user:
        request["user"] = params.user
    containers = (
        [{"id": ref.id, "name": ref.name} for ref in planned.targets]
        if params.container is None
        else [{"id": params.container, "name": params.container}]
    )
    return [
        ActionRecord(
            step=step.name,
            action=step.action,
            target=step.target,
            container=container,
            request=request,
            at=at,
            outcome=outcome,
        )
        for container in containers
    ]


class _Timed:
    """A step's thread, started at the method's start, acting at its ``at``."""

    def __init__(self, name: str, at: float, context: StepContext):
        self._ctx = context
        self._at = at
        self.start_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"step-{name}", daemon=True)

    def start(self, method_start: float) -> None:
        self.start_at = method_start + self._at
        self._began()
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _began(self) -> None:
        """Called once the step knows when it starts."""

    def _run(self) -> None:
        ctx = self._ctx
        assert self.start_at is not None
        try:
            if ctx.abort.wait(ctx.clock.until(self.start_at)):
                self._skip()
                return
            self._act()
        except Exception as exc:  # a bug: the run ends, with the faults reverted
            ctx.report(
                ReasonRecord(
                    kind="internal_error",
                    message=f"step {self._thread.name[5:]}: {type(exc).__name__}: {exc}",
                    at=ctx.clock.now(),
                ),
                True,
            )

    def _skip(self) -> None: ...

    def _act(self) -> None: ...


class ActionActivity(_Timed):
    """One action step: at its ``at``, run it on each of its objects in turn."""

    def __init__(self, planned: PlannedAction, context: StepContext):
        super().__init__(planned.step.name, planned.step.at, context)
        self.planned = planned
        self.records = action_records(planned, planned.step.at)

    def _began(self) -> None:
        for record in self.records:
            record.at = self.start_at if self.start_at is not None else record.at

    def release(self) -> None:
        """Mark the records of a step that never started (the run stopped before the method)."""
        if self.start_at is None:
            for record in self.records:
                record.outcome = NOT_RUN

    def _skip(self) -> None:
        for record in self.records:
            if record.outcome == "scheduled":
                record.outcome = "skipped"

    def _act(self) -> None:
        ctx, step, params = self._ctx, self.planned.step, self.planned.params
        for record in self.records:
            if ctx.abort.is_set():
                break
            record.started = ctx.clock.now()
            record.started_at = ctx.clock.wall(record.started)
            limit = params.timeout + GRACE
            if isinstance(params, HttpActionParams):
                outcome = within(limit, lambda: run_http(ctx.runtime, params))
                what = f"{params.method} {mask_credentials(params.url)}"
            else:
                container = record.container or {}
                label = container.get("name", "?")
                outcome = within(
                    limit,
                    lambda c=container, n=label: run_exec(ctx.runtime, c.get("id", n), n, params),
                )
                what = label
            if outcome is None:
                outcome = ActionOutcome(False, f"{what}: no answer within {limit:g}s")
            record.ended = ctx.clock.now()
            record.outcome = "ok" if outcome.ok else "failed"
            record.exit_code, record.status = outcome.exit_code, outcome.status
            record.stdout, record.stderr = outcome.stdout, outcome.stderr
            record.detail = ctx.runtime.redactor.text(outcome.detail)
            ctx.observer(
                ActionRan(record.started, step.name, step.action, what, outcome.ok, record.detail)
            )
            if not outcome.ok:
                ctx.report(
                    ReasonRecord(
                        kind="action_failed",
                        message=f"action {step.name} ({step.action}) failed at "
                        f"t={record.started:.1f}s: {record.detail}; every active fault was "
                        "reverted",
                        source=step.name,
                        at=record.started,
                    ),
                    True,
                )
                break
        self._skip()


class CheckActivity(_Timed):
    """One probe step of the method: checked once at its ``at``."""

    def __init__(self, planned: PlannedCheck, context: StepContext):
        super().__init__(planned.step.name, planned.step.at, context)
        self.planned = planned
        bound = planned.bound
        self.record = ProbeRecord(
            section="method", name=bound.name, probe=bound.probe.name, target=planned.step.target
        )

    def _act(self) -> None:
        ctx, bound = self._ctx, self.planned.bound
        sample = bound.sample(ctx.runtime, ctx.clock)
        self.record.started, self.record.stopped = sample.t, sample.end
        self.record.samples = [sample_record(sample, ctx.clock)]
        ctx.observer(
            ProbeSampled(sample.t, "method", bound.name, sample.ok, sample.latency, sample.detail)
        )
        if not sample.ok:
            ctx.report(
                ReasonRecord(
                    kind="probe_failed",
                    message=f"probe step {bound.name} failed at t={sample.t:.1f}s: {sample.detail}",
                    source=bound.name,
                    at=sample.t,
                ),
                False,
            )
