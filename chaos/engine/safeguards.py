"""What stands between an injection and a fault that outlives its run.

Around every injection the engine, in this order: (1) reads the object's
state before the fault (:meth:`Fault.before`) and works out the watchdog's
revert command, touching nothing; (2) writes a ledger entry with both, which
also refuses to stack on another live run's fault on the same target; (3)
arms the watchdog for a reversible fault, still before injecting it, so a
runner killed in the middle of an injection leaves no gap; (4) records the
fault's revert state; and after the revert (5) disarms the watchdog and
closes the entry. A fault whose revert failed keeps its entry open and its
watchdog armed. Secrets are redacted from the parameters, the step name and
the target's name and labels the ledger stores; what a revert works from
(the target's id, the state before and after the injection) is kept as is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chaos import liveness, watchdog
from chaos.errors import InjectionFailed
from chaos.fault import Fault, FaultContext, records_before
from chaos.ledger import Entry, FaultConflict, Ledger


@dataclass(frozen=True)
class Armed:
    """What :meth:`Safeguards.before_inject` set up for one injection."""

    watchdog: str | None
    """Id of the watchdog container, if one was armed."""
    before: dict[str, Any] | None
    """The object's state before the fault (:meth:`Fault.before`)."""


class Safeguards:
    def __init__(self, ledger: Ledger | None):
        """``ledger=None`` turns the ledger and watchdogs off (library use without a state dir)."""
        self.ledger = ledger

    def before_inject(self, ctx: FaultContext, fault: Fault, step: str, params: Any) -> Armed:
        """Record the injection and arm its dead man's switch.

        Raises InjectionFailed on a conflict with another run, when the state
        before cannot be read, or when the switch cannot be armed (a
        reversible fault is never injected without it); nothing is left open
        in the ledger then.
        """
        before = fault.before(ctx, params) if fault.reversible else None
        if self.ledger is None:
            return Armed(None, before)
        command = (
            fault.watchdog(ctx, params) if fault.reversible and ctx.revert_at is not None else None
        )
        redact = ctx.runtime.redactor.data
        process = liveness.this_process()
        target = ctx.target.to_json()
        entry = Entry(
            id=ctx.injection_id,
            run_id=ctx.runtime.run_id,
            pid=process.pid,
            host=process.host,
            fault=fault.name,
            step=redact(step),
            target={**redact(target), "id": target["id"]},
            params=redact(params.model_dump(mode="json", by_alias=True)),
            opened_at=time.time(),
            revert_at=ctx.revert_at,
            holds=fault.holds(ctx, params),
            boot_id=process.boot_id,
            started=process.started,
            before=before,
            needs_before=records_before(fault),
        )
        try:
            self.ledger.open(entry)
        except FaultConflict as exc:
            raise InjectionFailed(str(exc)) from None
        if command is None:
            return Armed(None, before)
        try:
            watchdog_id = watchdog.arm(
                ctx.runtime,
                ctx.injection_id,
                ctx.target.id,
                ctx.revert_at + watchdog.grace(),  # type: ignore[operator]
                command,
                self.ledger.identity,
            )
        except BaseException:
            self.ledger.close(ctx.injection_id, "not-injected")
            raise
        self.ledger.update(ctx.injection_id, watchdog=watchdog_id)
        return Armed(watchdog_id, before)

    def after_inject(
        self,
        ctx: FaultContext,
        fault: Fault,
        state: dict[str, Any],
        revert_at: float | None = None,
    ) -> None:
        """Record the fault's state, and when it will be reverted (``revert_at``,
        wall time: ``duration`` after it took effect)."""
        if self.ledger is None:
            return
        if fault.reversible:
            changes: dict[str, Any] = {"state": state}
            if revert_at is not None:
                changes["revert_at"] = revert_at
            self.ledger.update(ctx.injection_id, **changes)
        else:
            self.ledger.close(ctx.injection_id, "injected")

    def inject_failed(self, ctx: FaultContext, watchdog_id: str | None) -> None:
        if watchdog_id:
            watchdog.disarm(ctx.runtime, watchdog_id)
        if self.ledger is not None:
            self.ledger.close(ctx.injection_id, "inject-failed")

    def after_revert(self, ctx: FaultContext, watchdog_id: str | None) -> None:
        if watchdog_id:
            watchdog.disarm(ctx.runtime, watchdog_id)
        if self.ledger is not None:
            self.ledger.close(ctx.injection_id, "reverted")
