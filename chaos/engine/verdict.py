"""Where the verdict is decided: one pure function over what the run observed.

Precedence: ``error`` (the run could not do what it said: engine gone, fault
not injected, fault not reverted) over ``aborted`` (a guard breached, or the
run was interrupted) over ``failed`` (the system did not hold its steady
state or a probe broke its tolerance) over ``passed``.
"""

from __future__ import annotations

from chaos.engine.result import Verdict
from chaos.journal.model import ReasonRecord

ERROR_KINDS = frozenset({"target", "engine", "inject", "revert", "bug"})
ABORT_KINDS = frozenset({"guard", "interrupted"})
FAIL_KINDS = frozenset({"steady-state", "tolerance", "recovery"})


def decide(reasons: list[ReasonRecord]) -> Verdict:
    kinds = {r.kind for r in reasons}
    unknown = kinds - ERROR_KINDS - ABORT_KINDS - FAIL_KINDS
    if unknown:
        raise ValueError(f"unknown reason kind(s): {sorted(unknown)}")
    if kinds & ERROR_KINDS:
        return Verdict.ERROR
    if kinds & ABORT_KINDS:
        return Verdict.ABORTED
    if kinds & FAIL_KINDS:
        return Verdict.FAILED
    return Verdict.PASSED


def ordered(reasons: list[ReasonRecord], verdict: Verdict) -> list[ReasonRecord]:
    """The reasons that made the verdict first, then the others, each by time."""
    decisive = {
        Verdict.ERROR: ERROR_KINDS,
        Verdict.ABORTED: ABORT_KINDS,
        Verdict.FAILED: FAIL_KINDS,
        Verdict.PASSED: frozenset(),
    }[verdict]

    def key(r: ReasonRecord) -> tuple[int, float]:
        return (0 if r.kind in decisive else 1, r.t if r.t is not None else float("inf"))

    return sorted(reasons, key=key)
