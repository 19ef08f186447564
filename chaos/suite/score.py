"""The resilience score and the suite's exit code: pure arithmetic on case results.

* The **score** is the weighted share of passed experiments, 0 to 100: the sum
  of the weights of passed experiments over the sum of all weights, rounded to
  one decimal (the threshold is compared with that rounded figure, as shown).
  Invalid, failed, aborted and errored experiments all count as not passed.
* The **exit code**, without a threshold: 0 when every experiment passed,
  otherwise the worst experiment's code: error 4 > aborted 3 > invalid 2 >
  failed 1.
* With a threshold (``--fail-under SCORE``), failed experiments are
  tolerated while the score is at least the threshold: 0 when it is, 1 when
  it is not. Errored, aborted and invalid experiments still fail the suite
  with their code whatever the score: they are broken runs or inputs, not
  measured weaknesses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

from chaos.exitcodes import ExitCode
from chaos.suite.result import CaseVerdict

HARD = (CaseVerdict.ERROR, CaseVerdict.ABORTED, CaseVerdict.INVALID)
"""Verdicts that fail a suite whatever its score."""


class Scored(Protocol):
    @property
    def verdict(self) -> CaseVerdict: ...

    @property
    def weight(self) -> float: ...


def resilience_score(cases: Iterable[Scored]) -> float:
    """Weighted share of passed experiments, 0 to 100 (0 for no experiment)."""
    cases = list(cases)
    total = math.fsum(case.weight for case in cases)
    if total <= 0:
        return 0.0
    passed = math.fsum(case.weight for case in cases if case.verdict is CaseVerdict.PASSED)
    return round(100.0 * passed / total, 1)


def judge(cases: Sequence[Scored], fail_under: float | None = None) -> tuple[ExitCode, str]:
    """The suite's exit code and a one-line reason for it."""
    if not cases:
        return ExitCode.INVALID, "no experiments to run"
    score = resilience_score(cases)
    not_passed = [case for case in cases if case.verdict is not CaseVerdict.PASSED]
    worst = max((case.verdict.exit_code for case in cases), default=ExitCode.PASSED)
    counts = _counts(not_passed)
    if not not_passed:
        return ExitCode.PASSED, f"all {_n(len(cases), 'experiment')} passed"
    if fail_under is None:
        return ExitCode(
            worst
        ), f"{len(not_passed)} of {_n(len(cases), 'experiment')} did not pass ({counts})"
    hard = [case for case in not_passed if case.verdict in HARD]
    if hard:
        return (
            ExitCode(worst),
            f"{len(not_passed)} of {_n(len(cases), 'experiment')} did not pass ({counts}); "
            "error, aborted and invalid experiments fail the suite whatever the score",
        )
    if score < fail_under:
        return (
            ExitCode.FAILED,
            f"resilience score {score:g} is below --fail-under {fail_under:g} ({counts})",
        )
    return (
        ExitCode.PASSED,
        f"resilience score {score:g} meets --fail-under {fail_under:g} "
        f"({_n(len(not_passed), 'failed experiment')} tolerated)",
    )


def _counts(cases: Sequence[Scored]) -> str:
    by_verdict: dict[str, int] = {}
    for case in cases:
        by_verdict[case.verdict.value] = by_verdict.get(case.verdict.value, 0) + 1
    order = [v.value for v in CaseVerdict]
    return ", ".join(f"{by_verdict[v]} {v}" for v in order if v in by_verdict)


def _n(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
