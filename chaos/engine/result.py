"""The outcome of a run as the library API returns it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from chaos.exitcodes import ExitCode
from chaos.journal.model import Journal, ReasonRecord


class Verdict(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"

    @property
    def exit_code(self) -> ExitCode:
        return {
            Verdict.PASSED: ExitCode.PASSED,
            Verdict.FAILED: ExitCode.FAILED,
            Verdict.ABORTED: ExitCode.ABORTED,
            Verdict.ERROR: ExitCode.ERROR,
        }[self]


@dataclass(frozen=True)
class RunResult:
    verdict: Verdict
    reasons: tuple[ReasonRecord, ...]
    journal: Journal
    journal_path: Path | None
    notices: list[str] = field(default_factory=list)
    """Problems after the verdict (a failing ``chaosdrill_run_finished`` hook)."""

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code
