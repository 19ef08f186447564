"""Reverting faults that outlived their run, from the ledger alone.

Used by ``chaosdrill recover`` and at the start of every ``chaosdrill run``.
An entry whose runner is still alive on this machine belongs to a run in
progress and is left alone (unless ``include_live``). Helper and watchdog
containers of runs that no longer hold any live entry are removed too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos import watchdog
from chaos.fault import FaultContext
from chaos.ledger import Entry, Ledger
from chaos.runtime import LABEL_HELPER, LABEL_RUN
from chaos.targets import TargetRef

if TYPE_CHECKING:
    from chaos.plugins import Plugins
    from chaos.runtime import Runtime

HELPER_MIN_AGE = 60.0


@dataclass(frozen=True)
class Recovered:
    entry: Entry
    ok: bool
    detail: str

    def describe(self) -> str:
        target = self.entry.target.get("name", self.entry.target.get("id", "?"))
        state = "reverted" if self.ok else "FAILED"
        return (
            f"{state}: {self.entry.fault} ({self.entry.step}) on {target}, "
            f"run {self.entry.run_id}: {self.detail}"
        )


def recover(
    plugins: Plugins, runtime: Runtime, ledger: Ledger, *, include_live: bool = False
) -> tuple[list[Recovered], list[str]]:
    """Revert every orphaned entry; return what happened and the helpers removed."""
    runtime.node_controllers = plugins.registry.node_controllers
    outcomes = []
    live_runs = set()
    for entry in ledger.open_entries():
        if entry.runner_alive() and not include_live:
            live_runs.add(entry.run_id)
            continue
        outcomes.append(_revert(plugins, runtime, ledger, entry))
    removed = _remove_helpers(runtime, live_runs)
    return outcomes, removed


def recover_orphans(
    plugins: Plugins, runtime: Runtime, ledger: Ledger, notice: Callable[[str], None]
) -> None:
    """Before a run or a fault session adds faults of its own: revert what dead runs
    left in the ledger, and say what was found through ``notice``."""
    outcomes, removed = recover(plugins, runtime, ledger)
    for outcome in outcomes:
        notice(f"left by an earlier run: {outcome.describe()}")
    if removed:
        notice(f"removed leftover helpers: {', '.join(removed)}")


def _revert(plugins: Plugins, runtime: Runtime, ledger: Ledger, entry: Entry) -> Recovered:
    registered = plugins.registry.faults.get(entry.fault)
    if registered is None:
        return Recovered(entry, False, f"fault type {entry.fault} is not installed here")
    fault = registered.cls()
    try:
        params = fault.Params.model_validate(entry.params)
        ctx = FaultContext(
            runtime, TargetRef(**entry.target), entry.id, entry.revert_at, watchdog=entry.watchdog
        )
        if fault.reversible:
            fault.revert(ctx, params, entry.state)
    except Exception as exc:
        return Recovered(entry, False, str(exc) or type(exc).__name__)
    if entry.watchdog:
        watchdog.disarm(runtime, entry.watchdog)
    ledger.close(entry.id, "recovered")
    return Recovered(entry, True, "reverted" if fault.reversible else "nothing to revert")


def _remove_helpers(runtime: Runtime, live_runs: set[str]) -> list[str]:
    """Remove helpers of runs that hold no live entry.

    Helpers younger than a minute are spared: a live run between two faults
    holds no entry, yet may be running a one-shot helper right now. The list
    comes from the engine's summaries (no inspect per container), so a helper
    that removes itself meanwhile cannot fail the sweep.
    """
    removed = []
    now = time.time()
    for summary in runtime.docker.api.containers(all=True, filters={"label": LABEL_HELPER}):
        labels = summary.get("Labels") or {}
        run_id = labels.get(LABEL_RUN)
        if run_id in live_runs or run_id == runtime.run_id:
            continue
        if now - float(summary.get("Created") or 0) < HELPER_MIN_AGE:
            continue
        with contextlib.suppress(Exception):
            runtime.docker.api.remove_container(summary["Id"], force=True)
            removed.append((summary.get("Names") or [summary["Id"][:12]])[0].lstrip("/"))
    return removed
