"""The verdict: error over aborted over failed over passed, and the reasons in order."""

from __future__ import annotations

import itertools

import pytest

from chaos.engine.result import Verdict
from chaos.engine.verdict import ABORT_KINDS, ERROR_KINDS, FAIL_KINDS, decide, ordered
from chaos.exitcodes import ExitCode
from chaos.journal.model import ReasonRecord


def reason(kind: str, t: float | None = None, message: str = "") -> ReasonRecord:
    return ReasonRecord(kind=kind, message=message or kind, t=t)


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
    assert sorted(ERROR_KINDS) == ["bug", "engine", "inject", "revert", "target"]
    assert sorted(ABORT_KINDS) == ["guard", "interrupted"]
    assert sorted(FAIL_KINDS) == ["recovery", "steady-state", "tolerance"]


@pytest.mark.parametrize(
    ("kinds", "verdict"),
    [
        (["tolerance", "guard"], Verdict.ABORTED),
        (["guard", "revert"], Verdict.ERROR),
        (["recovery", "inject"], Verdict.ERROR),
        (["steady-state", "interrupted", "engine"], Verdict.ERROR),
        (["recovery", "tolerance"], Verdict.FAILED),
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


def test_unknown_kinds_raise_and_are_named():
    with pytest.raises(ValueError, match=r"unknown reason kind\(s\): \['oops', 'zzz'\]"):
        decide([reason("zzz"), reason("tolerance"), reason("oops")])


def test_unknown_kind_raises_even_beside_an_error():
    with pytest.raises(ValueError):
        decide([reason("bug"), reason("Tolerance")])


def test_verdicts_map_to_distinct_exit_codes():
    assert Verdict.PASSED.exit_code is ExitCode.PASSED
    assert Verdict.FAILED.exit_code is ExitCode.FAILED
    assert Verdict.ABORTED.exit_code is ExitCode.ABORTED
    assert Verdict.ERROR.exit_code is ExitCode.ERROR
    assert len({v.exit_code for v in Verdict}) == len(Verdict)


def test_decisive_reasons_come_first_then_the_others_each_by_time():
    reasons = [
        reason("tolerance", 5.0, "late tolerance"),
        reason("guard", 9.0, "guard"),
        reason("recovery", None, "recovery"),
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
        reason("steady-state", 0.0, "a"),
        reason("revert", None, "b"),
        reason("inject", 3.0, "c"),
        reason("guard", 1.0, "d"),
    ]
    assert [r.message for r in ordered(reasons, decide(reasons))] == ["c", "b", "a", "d"]


def test_ordering_is_stable_for_equal_times():
    reasons = [reason("tolerance", 1.0, m) for m in "abc"]
    assert [r.message for r in ordered(reasons, Verdict.FAILED)] == ["a", "b", "c"]


def test_ordering_when_passed_is_by_time_only():
    reasons = [reason("tolerance", 2.0, "b"), reason("guard", 1.0, "a")]
    assert [r.message for r in ordered(reasons, Verdict.PASSED)] == ["a", "b"]
    assert ordered([], Verdict.PASSED) == []


def test_ordering_does_not_change_its_input():
    reasons = [reason("tolerance", 2.0), reason("tolerance", 1.0)]
    before = list(reasons)
    ordered(reasons, Verdict.FAILED)
    assert reasons == before
