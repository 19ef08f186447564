"""Plain console lines for ``chaosdrill suite``: one per experiment as it finishes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.text import printable

if TYPE_CHECKING:
    from chaos.suite import CaseResult, SuiteResult
    from chaos.suite.discover import Found


def print_start(found: Sequence[Found], skipped: Sequence[Path]) -> None:
    count = f"{len(found)} experiment{'' if len(found) == 1 else 's'}"
    extra = f"; skipped {len(skipped)} YAML file(s) that are not experiments" if skipped else ""
    print(f"suite: {count}{extra}", flush=True)
    for path in skipped:
        print(f"skipped (not an experiment): {path}", flush=True)


def print_case(case: CaseResult) -> None:
    """``failed   API recovers from a crash (12.3s): <first reason>``."""
    reason = f": {printable(case.first_reason)}" if case.first_reason and not case.passed else ""
    print(f"{case.verdict.value:<8} {case.title} ({case.duration:.1f}s){reason}", flush=True)


def print_summary(suite: SuiteResult) -> None:
    passed = sum(1 for case in suite.cases if case.passed)
    print(
        f"resilience score: {suite.score:g} ({passed} of {len(suite.cases)} passed)",
        flush=True,
    )
    state = "passed" if suite.passed else f"FAILED (exit {int(suite.exit_code)})"
    print(f"suite {state}: {suite.message}", flush=True)
