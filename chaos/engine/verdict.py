"""Where the verdict is decided: one pure function over what the run observed.

Precedence: ``error`` (the run could not do what it said: engine gone, target
not resolved, a probe unable to check before
the method, fault not injected, fault not reverted, an unexpected
exception) over ``aborted`` (a guard breached, or the run was interrupted or
halted) over ``failed`` (the system did not hold its steady state before the
method, was not back and stable after it, or a probe broke its tolerance)
over ``passed``. Each reason kind (:data:`chaos.journal.model.ReasonKind`)
belongs to exactly one of the three groups.
"""

from __future__ import annotations

from chaos.engine.result import Verdict
from chaos.journal.model import ReasonRecord

ERROR_KINDS = frozenset(
    {
        "target_error",
        "engine_error",
        "probe_error",
        "inject_failed",
        "revert_failed",
        "action_failed",
        "internal_error",
    }
)
ABORT_KINDS = frozenset({"guard_breach", "interrupted", "halted"})
FAIL_KINDS = frozenset({"not_steady_before", "not_recovered", "tolerance", "probe_failed"})


def decide(reasons: list[ReasonRecord]) -> Verdict:
    kinds = {r.kind for r in reasons}
    unknown = kinds - ERROR_KINDS - ABORT_KINDS - FAIL_KINDS
    if unknown:  # only a record built without validation (model_construct) gets here
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
        return (0 if r.kind in decisive else 1, r.at if r.at is not None else float("inf"))

    return sorted(reasons, key=key)
