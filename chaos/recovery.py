"""Reverting faults that outlived their run, from the ledger alone.

Used by ``chaosdrill recover`` and at the start of every run. An entry whose
runner is still alive belongs to a run in progress and is left alone (unless
``include_live``). A revert never re-applies a fault: it works from the
state recorded before the injection, and an entry of a fault that needs
such a state but has none is left open and reported for a human, never
guessed. Damaged ledger lines are skipped and reported; every good entry is
still reverted. Helper containers are removed only when the process that
started them is known to be gone; a watchdog only when its entry in this
ledger is closed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chaos import liveness, watchdog
from chaos.fault import FaultContext
from chaos.labels import LABEL_CARRIES, LABEL_INJECTION
from chaos.ledger import Entry, Ledger
from chaos.runtime import LABEL_HELPER, LABEL_OWNER, LABEL_RUN, parse_owner
from chaos.targets import TargetRef

if TYPE_CHECKING:
    from chaos.plugins import Plugins
    from chaos.runtime import Runtime

HELPER_MIN_AGE = 60.0
"""Helpers of unknown owner (started by an older version) younger than this are spared."""


@dataclass(frozen=True)
class Recovered:
    entry: Entry
    ok: bool
    detail: str
    needs_human: bool = False
    """Left open on purpose: reverting it would mean guessing."""

    def describe(self) -> str:
        target = self.entry.target.get("name", self.entry.target.get("id", "?"))
        state = "reverted" if self.ok else "NEEDS A HUMAN" if self.needs_human else "FAILED"
        return (
            f"{state}: {self.entry.fault} ({self.entry.step}) on {target}, "
            f"run {self.entry.run_id}, entry {self.entry.id}: {self.detail}"
        )


@dataclass
class RecoveryReport:
    """What ``recover`` did. Unpacks as ``outcomes, removed`` too."""

    outcomes: list[Recovered] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    """Names of helper containers removed."""
    ledger_problems: list[str] = field(default_factory=list)
    """Damaged ledger lines that were skipped (``PATH:LINE: why``)."""

    def __iter__(self) -> Iterator[Any]:
        yield self.outcomes
        yield self.removed

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes)


def recover(
    plugins: Plugins, runtime: Runtime, ledger: Ledger, *, include_live: bool = False
) -> RecoveryReport:
    """Revert every orphaned entry; report what happened and the helpers removed.

    ``runtime`` is made with ``plugins``' node controllers (see
    :func:`chaos.engine.scope.runtime_for_run`): swarm node faults need them."""
    report = RecoveryReport()
    live_runs = set()
    entries = ledger.open_entries()
    report.ledger_problems = ledger.problems()
    for entry in entries:
        if entry.runner_alive() and not include_live:
            live_runs.add(entry.run_id)
            continue
        report.outcomes.append(_revert(plugins, runtime, ledger, entry))
    still_open = {e.id for e in entries} - {o.entry.id for o in report.outcomes if o.ok}
    report.removed = _remove_helpers(runtime, live_runs, still_open, ledger.identity)
    with contextlib.suppress(Exception):  # a full disk must not turn recovery into a failure
        ledger.compact()
    return report


def forget(ledger: Ledger, entry_id: str) -> Entry | None:
    """Close an entry a human has dealt with (``chaosdrill recover --forget ID``);
    return it, or None when no open entry has that id."""
    for entry in ledger.open_entries():
        if entry.id == entry_id:
            ledger.close(entry.id, "forgotten")
            return entry
    return None


def recover_orphans(
    plugins: Plugins, runtime: Runtime, ledger: Ledger, notice: Callable[[str], None]
) -> None:
    """Before a run or a fault session adds faults of its own: revert what dead runs
    left in the ledger, and say what was found through ``notice``."""
    report = recover(plugins, runtime, ledger)
    for problem in report.ledger_problems:
        notice(problem)
    for outcome in report.outcomes:
        notice(f"left by an earlier run: {outcome.describe()}")
    if report.removed:
        notice(f"removed leftover helpers: {', '.join(report.removed)}")


def _revert(plugins: Plugins, runtime: Runtime, ledger: Ledger, entry: Entry) -> Recovered:
    registered = plugins.registry.faults.get(entry.fault)
    if registered is None:
        return Recovered(entry, False, f"fault type {entry.fault} is not installed here")
    fault = registered.cls()
    if fault.reversible and entry.needs_before and entry.before is None:
        return Recovered(
            entry,
            False,
            "no state was recorded before the injection, so there is nothing known to "
            "restore; check the object by hand, then run "
            f"`chaosdrill recover --forget {entry.id}`",
            needs_human=True,
        )
    try:
        if fault.reversible:
            params = _params(fault.Params, entry.params)
            ctx = FaultContext(
                runtime,
                TargetRef(**_target_fields(entry.target)),
                entry.id,
                entry.revert_at,
                watchdog=entry.watchdog,
            )
            fault.revert(ctx, params, entry.revert_state())
    except Exception as exc:
        return Recovered(entry, False, runtime.redactor.text(str(exc) or type(exc).__name__))
    if entry.watchdog:
        watchdog.disarm(runtime, entry.watchdog)
    ledger.close(entry.id, "recovered")
    return Recovered(entry, True, "reverted" if fault.reversible else "nothing to revert")


def _params(model: Any, values: dict[str, Any]) -> Any:
    """The fault's parameters from the ledger. Secrets in them were redacted, so
    they may no longer validate; a revert works from the recorded state, and
    gets the values as recorded."""
    try:
        return model.model_validate(values)
    except Exception:
        return model.model_construct(**values)


def _target_fields(target: dict[str, Any]) -> dict[str, Any]:
    known = ("kind", "id", "name", "labels", "meta")
    fields = {k: v for k, v in target.items() if k in known}
    fields.setdefault("kind", "container")
    fields.setdefault("name", str(fields.get("id", "?"))[:12])
    return fields


FAULT_HELPER_STOP = 10
"""Seconds a fault-carrying helper gets to undo its fault before it is killed."""


def _remove_helpers(
    runtime: Runtime, live_runs: set[str], still_open: set[str], ledger_id: str
) -> list[str]:
    """Remove helpers whose run is over.

    A watchdog is removed only when it belongs to this ledger (another state
    directory's run may be counting on it) and its entry is closed: a stale
    switch that would otherwise fire into whatever the object is doing by
    then. Its owner being gone is no reason: outliving its owner is what a
    watchdog is for. A helper that carries a fault (:data:`LABEL_CARRIES`) is
    kept the same way: its watchdog or its entry's revert removes it. Any other
    helper labelled with its owner process is removed once that process is known
    to be gone (a process on another host is never judged from here); one
    without (an older version's) once its run holds no live entry and it is a
    minute old. A running helper whose stopping undoes its fault
    (:data:`LABEL_INJECTION`: a stress, a fill file, stopped processes) gets a
    SIGTERM and time to undo it before it is removed. The list comes from the
    engine's summaries (no inspect per container), so a helper that removes
    itself meanwhile cannot fail the sweep.
    """
    removed = []
    now = time.time()
    for summary in runtime.docker.api.containers(all=True, filters={"label": LABEL_HELPER}):
        labels = summary.get("Labels") or {}
        run_id = labels.get(LABEL_RUN)
        if run_id in live_runs or run_id == runtime.run_id:
            continue
        injection = labels.get(watchdog.LABEL_WATCHDOG) or labels.get(LABEL_CARRIES)
        if injection is not None:
            if labels.get(watchdog.LABEL_LEDGER) != ledger_id or injection in still_open:
                continue
        else:
            owner = parse_owner(labels.get(LABEL_OWNER, ""))
            if owner is not None:
                if liveness.alive(owner) is not False:
                    continue
            elif now - float(summary.get("Created") or 0) < HELPER_MIN_AGE:
                continue
        with contextlib.suppress(Exception):
            if LABEL_INJECTION in labels and summary.get("State") == "running":
                # it carries a fault (a stress, a fill file, stopped processes): on
                # SIGTERM it undoes it, which a forced removal would not let it do
                runtime.docker.api.stop(summary["Id"], timeout=FAULT_HELPER_STOP)
            runtime.docker.api.remove_container(summary["Id"], force=True)
            removed.append((summary.get("Names") or [summary["Id"][:12]])[0].lstrip("/"))
    return removed
