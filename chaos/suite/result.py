"""What a suite run returns: one :class:`CaseResult` per experiment file and the judgement."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.exitcodes import ExitCode

if TYPE_CHECKING:
    from chaos.engine.result import RunResult


class CaseVerdict(str, enum.Enum):
    """A run's verdict, plus ``invalid`` for a file that could not be loaded."""

    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    INVALID = "invalid"

    @property
    def exit_code(self) -> ExitCode:
        """What ``chaosdrill run`` would return (``invalid`` is invalid input, 2)."""
        return {
            CaseVerdict.PASSED: ExitCode.PASSED,
            CaseVerdict.FAILED: ExitCode.FAILED,
            CaseVerdict.INVALID: ExitCode.INVALID,
            CaseVerdict.ABORTED: ExitCode.ABORTED,
            CaseVerdict.ERROR: ExitCode.ERROR,
        }[self]


@dataclass(frozen=True)
class ProbeFigures:
    """A continuous probe's (or guard's) summary, as the journal has it."""

    section: str
    """``probes`` or ``guards``."""
    name: str
    availability: float | None
    """Share of the probed time outside outages (0 to 1); None without samples."""
    longest_outage: float
    time_to_recover: float | None
    """Seconds from the first fault taking effect until the probe was back and stable."""


@dataclass(frozen=True)
class CaseResult:
    """One experiment of a suite."""

    path: Path
    name: str
    """A stable dotted name from the path (``experiments.swarm.drain-worker``): JUnit's classname."""
    title: str
    weight: float
    verdict: CaseVerdict
    reasons: tuple[str, ...]
    """The run's reasons, or every ``FILE:LINE:COL: message`` of an invalid file."""
    duration: float = 0.0
    started: float | None = None
    """Wall-clock time (``time.time()``) the run started; None when it never ran."""
    ended: float | None = None
    journal_path: Path | None = None
    probes: tuple[ProbeFigures, ...] = ()
    time_to_recover: float | None = None
    """Seconds from the first fault taking effect until the system was back and stable."""
    run: RunResult | None = field(default=None, compare=False, repr=False)

    @property
    def passed(self) -> bool:
        return self.verdict is CaseVerdict.PASSED

    @property
    def first_reason(self) -> str:
        return self.reasons[0] if self.reasons else ""


@dataclass(frozen=True)
class SuiteResult:
    """Every experiment's outcome, the resilience score and what the suite returns."""

    cases: tuple[CaseResult, ...]
    score: float
    """Weighted share of passed experiments, 0 to 100, rounded to one decimal."""
    exit_code: ExitCode
    message: str
    """Why the suite passed or not, in one line."""
    fail_under: float | None = None
    skipped: tuple[Path, ...] = ()
    """YAML files found in directories that are not experiments (not run)."""
    started_at: str = ""
    """UTC, ISO 8601 (seconds)."""
    duration: float = 0.0
    jobs: int = 1
    interrupted: str | None = None
    """The signal that interrupted the suite, if one did."""

    @property
    def passed(self) -> bool:
        return self.exit_code is ExitCode.PASSED

    def count(self, verdict: CaseVerdict) -> int:
        return sum(1 for case in self.cases if case.verdict is verdict)
