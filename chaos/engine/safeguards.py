"""What stands between an injection and a fault that outlives its run.

Around every injection the engine (1) writes a ledger entry before touching
anything, which also refuses to stack on another live run's fault on the same
target, (2) arms a watchdog container for a reversible fault, still before
injecting it, so a runner killed in the middle of an injection leaves no gap,
(3) records the fault's revert state, and after the revert (4) disarms the
watchdog and closes the entry. A fault whose revert failed keeps its entry
open and its watchdog armed.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from chaos import watchdog
from chaos.errors import InjectionFailed
from chaos.fault import Fault, FaultContext
from chaos.ledger import Entry, FaultConflict, Ledger


class Safeguards:
    def __init__(self, ledger: Ledger | None):
        """``ledger=None`` turns the ledger and watchdogs off (library use without a state dir)."""
        self.ledger = ledger

    def before_inject(self, ctx: FaultContext, fault: Fault, step: str, params: Any) -> str | None:
        """Record the injection and arm its dead man's switch; return the watchdog id.

        Raises InjectionFailed on a conflict with another run, or when the
        switch cannot be armed (a reversible fault is never injected without it).
        """
        if self.ledger is None:
            return None
        entry = Entry(
            id=ctx.injection_id,
            run_id=ctx.runtime.run_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            fault=fault.name,
            step=step,
            target=ctx.target.to_json(),
            params=params.model_dump(mode="json"),
            opened_at=time.time(),
            revert_at=ctx.revert_at,
            holds=fault.holds(ctx, params),
        )
        try:
            self.ledger.open(entry)
        except FaultConflict as exc:
            raise InjectionFailed(str(exc)) from None
        command = fault.watchdog(ctx, params) if fault.reversible else None
        if command is None or ctx.revert_at is None:
            return None
        try:
            watchdog_id = watchdog.arm(
                ctx.runtime,
                ctx.injection_id,
                ctx.target.id,
                ctx.revert_at + watchdog.grace(),
                command,
            )
        except InjectionFailed:
            self.ledger.close(ctx.injection_id, "not-injected")
            raise
        self.ledger.update(ctx.injection_id, watchdog=watchdog_id)
        return watchdog_id

    def after_inject(self, ctx: FaultContext, fault: Fault, state: dict[str, Any]) -> None:
        if self.ledger is None:
            return
        if fault.reversible:
            self.ledger.update(ctx.injection_id, state=state)
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
