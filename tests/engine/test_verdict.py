"""The verdict: error over aborted over failed over passed, and the reasons in order."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest
from pydantic import ValidationError

from chaos.engine.result import Verdict
from chaos.engine.verdict import ABORT_KINDS, ERROR_KINDS, FAIL_KINDS, decide, ordered
from chaos.exitcodes import ExitCode
from chaos.journal.model import REASON_KINDS, ReasonKind, ReasonRecord
from tests.conftest import ROOT


def reason(kind: str, t: float | None = None, message: str = "") -> ReasonRecord:
    return ReasonRecord(kind=kind, message=message or kind, at=t)


def test_no_reasons_pass():
    assert decide([]) is Verdict.PASSED


@pytest.mark.parametrize("kind", sorted(ERROR_KINDS))
def test_error_kinds(kind):
    assert decide([reason(kind)]) is Verdict.ERROR


@pytest.mark.parametrize("kind", sorted(ABORT_KINDS))
def test_abort_kinds(kind):
    assert decide([reason(kind)]) is Verdict.ABORTED


@pytest.mark.parametrize("kind", sorted(FAIL_KINDS))
def test_fail_kinds(kind):
    assert decide([reason(kind)]) is Verdict.FAILED


def test_the_kinds_are_the_documented_ones_and_do_not_overlap():
    assert sorted(ERROR_KINDS) == [
        "action_failed",
        "engine_error",
        "inject_failed",
        "internal_error",
        "probe_error",
        "revert_failed",
        "target_error",
    ]
    assert sorted(ABORT_KINDS) == ["guard_breach", "halted", "interrupted"]
    assert sorted(FAIL_KINDS) == [
        "not_recovered",
        "not_steady_before",
        "probe_failed",
        "tolerance",
    ]


def test_every_reason_kind_decides_exactly_one_verdict_and_is_described():
    kinds = set(get_args(ReasonKind))
    assert kinds == ERROR_KINDS | ABORT_KINDS | FAIL_KINDS
    assert len(ERROR_KINDS) + len(ABORT_KINDS) + len(FAIL_KINDS) == len(kinds)
    assert set(REASON_KINDS) == kinds
    readme = (ROOT / "README.md").read_text()
    for kind in kinds:
        assert f"| `{kind}` |" in readme, f"reason kind {kind} is not in the README's table"


def test_a_reason_of_an_unknown_kind_cannot_be_made():
    with pytest.raises(ValidationError):
        ReasonRecord(kind="steady-state", message="the old name")


@pytest.mark.parametrize(
    ("kinds", "verdict"),
    [
        (["tolerance", "guard_breach"], Verdict.ABORTED),
        (["guard_breach", "revert_failed"], Verdict.ERROR),
        (["not_recovered", "inject_failed"], Verdict.ERROR),
        (["not_steady_before", "interrupted", "engine_error"], Verdict.ERROR),
        (["not_recovered", "tolerance"], Verdict.FAILED),
    ],
)
def test_precedence(kinds, verdict):
    for order in itertools.permutations(kinds):
        assert decide([reason(k) for k in order]) is verdict


def test_every_combination_follows_the_precedence():
    kinds = sorted(ERROR_KINDS | ABORT_KINDS | FAIL_KINDS)
    for size in range(1, 4):
        for combo in itertools.combinations(kinds, size):
            found = set(combo)
            expected = (
                Verdict.ERROR
                if found & ERROR_KINDS
                else Verdict.ABORTED
                if found & ABORT_KINDS
                else Verdict.FAILED
            )
            assert decide([reason(k) for k in combo]) is expected, combo


def unchecked(kind: str) -> ReasonRecord:
    """A record built without validation: the one way an unknown kind reaches ``decide``."""
    return ReasonRecord.model_construct(kind=kind, message=kind)


def test_unknown_kinds_raise_and_are_named():
    with pytest.raises(ValueError, match=r"unknown reason kind\(s\): \['oops', 'zzz'\]"):
        decide([unchecked("zzz"), reason("tolerance"), unchecked("oops")])


def test_unknown_kind_raises_even_beside_an_error():
    with pytest.raises(ValueError):
        decide([reason("internal_error"), unchecked("Tolerance")])


def test_verdicts_map_to_distinct_exit_codes():
    assert Verdict.PASSED.exit_code is ExitCode.PASSED
    assert Verdict.FAILED.exit_code is ExitCode.FAILED
    assert Verdict.ABORTED.exit_code is ExitCode.ABORTED
    assert Verdict.ERROR.exit_code is ExitCode.ERROR
    assert len({v.exit_code for v in Verdict}) == len(Verdict)


def test_decisive_reasons_come_first_then_the_others_each_by_time():
    reasons = [
        reason("tolerance", 5.0, "late tolerance"),
        reason("guard_breach", 9.0, "guard"),
        reason("not_recovered", None, "recovery"),
        reason("tolerance", 1.0, "early tolerance"),
        reason("interrupted", 2.0, "interrupted"),
    ]
    verdict = decide(reasons)
    assert verdict is Verdict.ABORTED
    assert [r.message for r in ordered(reasons, verdict)] == [
        "interrupted",
        "guard",
        "early tolerance",
        "late tolerance",
        "recovery",  # no time: last of its group
    ]


def test_ordering_for_an_error():
    reasons = [
        reason("not_steady_before", 0.0, "a"),
        reason("revert_failed", None, "b"),
        reason("inject_failed", 3.0, "c"),
        reason("guard_breach", 1.0, "d"),
    ]
    assert [r.message for r in ordered(reasons, decide(reasons))] == ["c", "b", "a", "d"]


def test_ordering_is_stable_for_equal_times():
    reasons = [reason("tolerance", 1.0, m) for m in "abc"]
    assert [r.message for r in ordered(reasons, Verdict.FAILED)] == ["a", "b", "c"]


def test_ordering_when_passed_is_by_time_only():
    reasons = [reason("tolerance", 2.0, "b"), reason("guard_breach", 1.0, "a")]
    assert [r.message for r in ordered(reasons, Verdict.PASSED)] == ["a", "b"]
    assert ordered([], Verdict.PASSED) == []


def test_ordering_does_not_change_its_input():
    reasons = [reason("tolerance", 2.0), reason("tolerance", 1.0)]
    before = list(reasons)
    ordered(reasons, Verdict.FAILED)
    assert reasons == before
