"""What stands between an injection and a fault that outlives its run.

For every injection the engine, in this order: (1) reads the object's state
before the fault (:meth:`Fault.before`) and works out the watchdog's revert
command, touching nothing; (2) writes a ledger entry with both, which also
refuses to stack on another live run's fault on the same target; (3) arms the
watchdog of a reversible fault, still before injecting it, so a runner killed
in the middle of an injection leaves no gap. A run does (1) to (3) for every
fault of its method before the method begins (:meth:`Safeguards.arm` without
a revert time), then gives each watchdog its deadline when the method starts
(:meth:`Safeguards.schedule`), so at a fault's ``at`` only the injection runs.
After the injection it (4) records the fault's state and exact revert time,
moving the watchdog's deadline later if the injection ran late; after the
revert it (5) disarms the watchdog and closes the entry. A fault whose revert
failed keeps its entry open and its watchdog armed; an armed fault that was
never injected has its watchdog disarmed and its entry closed. Secrets are
redacted from the parameters, the step name and the target's name and labels
the ledger stores; what a revert works from (the target's id, the state
before and after the injection) is kept as is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from chaos import liveness, watchdog
from chaos.errors import InjectionFailed
from chaos.fault import Fault, FaultContext, records_before
from chaos.ledger import Entry, FaultConflict, Ledger


@dataclass(frozen=True)
class Armed:
    """What :meth:`Safeguards.arm` set up for one injection."""

    watchdog: str | None
    """Id of the watchdog container, if one was armed."""
    before: dict[str, Any] | None
    """The object's state before the fault (:meth:`Fault.before`)."""
    fires_at: float | None = None
    """Wall time the watchdog fires at; None while it waits for a deadline."""

    def latest_revert(self) -> float | None:
        """The latest wall time the run may revert at and still come first: a
        second before the watchdog fires."""
        return None if self.fires_at is None else self.fires_at - 1.0


class Safeguards:
    def __init__(self, ledger: Ledger | None):
        """``ledger=None`` turns the ledger and watchdogs off (library use without a state dir)."""
        self.ledger = ledger

    def arm(
        self,
        ctx: FaultContext,
        fault: Fault,
        step: str,
        params: Any,
        revert_at: float | None = None,
    ) -> Armed:
        """Record the injection and arm its dead man's switch.

        ``revert_at`` (wall time) is when the fault will be reverted, if known;
        without it the watchdog waits for :meth:`schedule`. Raises
        InjectionFailed on a conflict with another run, when the state before
        cannot be read, or when the switch cannot be armed (a reversible fault
        is never injected without it); nothing is left open in the ledger then.
        """
        before = fault.before(ctx, params) if fault.reversible else None
        if self.ledger is None:
            return Armed(None, before)
        command = fault.watchdog(ctx, params) if fault.reversible else None
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
            revert_at=revert_at,
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
        fires_at = None if revert_at is None else revert_at + watchdog.grace()
        try:
            watchdog_id = watchdog.arm(
                ctx.runtime,
                ctx.injection_id,
                ctx.target.id,
                command,
                self.ledger.identity,
                fires_at,
            )
        except BaseException:
            self.ledger.close(ctx.injection_id, "not-injected")
            raise
        self.ledger.update(ctx.injection_id, watchdog=watchdog_id)
        return Armed(watchdog_id, before, fires_at)

    def schedule(
        self, ctx: FaultContext, fault: Fault, params: Any, armed: Armed, revert_at: float
    ) -> Armed:
        """Make ``revert_at`` (wall time) the fault's revert time in the ledger,
        and its watchdog's deadline ``revert_at`` plus the grace when that is
        later than the one it has. A watchdog that is gone (it waited for a
        deadline too long) is armed again. Raises InjectionFailed when the
        switch cannot be set: the fault must not be injected then."""
        if self.ledger is None:
            return armed
        self.ledger.update(ctx.injection_id, revert_at=revert_at)
        fires_at = revert_at + watchdog.grace()
        if armed.watchdog is None or (armed.fires_at is not None and fires_at <= armed.fires_at):
            return armed
        if watchdog.set_deadline(ctx.runtime, armed.watchdog, fires_at):
            return replace(armed, fires_at=fires_at)
        command = fault.watchdog(ctx, params)
        if command is None:  # pragma: no cover - it had one when armed
            return armed
        watchdog_id = watchdog.arm(
            ctx.runtime, ctx.injection_id, ctx.target.id, command, self.ledger.identity, fires_at
        )
        self.ledger.update(ctx.injection_id, watchdog=watchdog_id)
        return Armed(watchdog_id, armed.before, fires_at)

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

    def not_injected(self, ctx: FaultContext, watchdog_id: str | None) -> None:
        """An armed fault the run never injected: disarm it and close its entry."""
        if watchdog_id:
            watchdog.disarm(ctx.runtime, watchdog_id)
        if self.ledger is not None:
            self.ledger.close(ctx.injection_id, "not-injected")

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
