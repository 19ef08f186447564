"""The outcome of a run as the library API returns it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from chaos.exitcodes import ExitCode
from chaos.journal.model import Journal, ProbeRecord, ReasonRecord


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

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    @property
    def messages(self) -> list[str]:
        """The reasons' messages, the one that decided the verdict first."""
        return [r.message for r in self.reasons]

    @property
    def time_to_recover(self) -> float | None:
        """Seconds the steady state took to hold again after the method (None if it did not)."""
        recovery = self.journal.recovery
        return recovery.time_to_recover if recovery is not None else None

    def probe(self, name: str) -> ProbeRecord:
        """The record of probe (or guard, or steady-state check) ``name``: its
        samples and summary, with ``availability``, ``time_to_recover``,
        ``longest_outage``, ``max_latency`` and ``passed`` at hand."""
        journal = self.journal
        for record in (*journal.probes, *journal.guards, *journal.steady_state_before):
            if record.name == name:
                return record
        known = sorted(
            {r.name for r in (*journal.probes, *journal.guards, *journal.steady_state_before)}
        )
        raise KeyError(
            f"no probe named {name!r} in this run; recorded: {', '.join(known) or 'none'}"
        )

    def describe(self) -> str:
        """The verdict and its reasons as text, the deciding reason first:
        ``aborted: guard db-up breached at t=3.1s: ...``, then the others, the
        experiment and the journal."""
        title = self.journal.experiment.get("title") or "experiment"
        verdict = self.verdict.value
        lines = [f"{verdict}: {r.message}" for r in self.reasons[:1]]
        lines += [f"  also: {r.message}" for r in self.reasons[1:]]
        lines.append(f"verdict {verdict} (exit code {int(self.exit_code)}): {title}")
        lines += [f"  notice: {n}" for n in self.notices]
        if self.journal_path is not None:
            lines.append(f"journal: {self.journal_path}")
        return "\n".join(lines)
