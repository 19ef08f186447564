"""The outcome of a run as the library API returns it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.exitcodes import ExitCode
from chaos.journal.model import Journal, ProbeRecord, ReasonRecord


class Verdict(str, enum.Enum):
    """How a run ended: ``passed``, ``failed``, ``aborted`` or ``error``."""

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
    """What a run (or a fault session) ended with: the verdict, its reasons, the journal."""

    verdict: Verdict
    reasons: tuple[ReasonRecord, ...]
    journal: Journal
    journal_path: Path | None
    notices: list[str] = field(default_factory=list)
    """Problems after the verdict: a failing ``chaosdrill_run_finished`` hook, a
    push to a Pushgateway that did not go through."""

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
        """Seconds from the first fault taking effect until the system was back
        and stable (``journal.recovery.time_to_recover``); None if it did not
        recover, or nothing watched it (see the README's "Time-to-recover")."""
        recovery = self.journal.recovery
        return recovery.time_to_recover if recovery is not None else None

    @property
    def recovered(self) -> bool | None:
        """Whether the system was back and stable after the method; None when the
        run never got to its recovery phase."""
        recovery = self.journal.recovery
        return recovery.recovered if recovery is not None else None

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

    def to_json(self) -> dict[str, Any]:
        """What ``chaosdrill run --json`` prints: the verdict, each reason with its
        fields, the recovery, each fault and each continuous probe's and guard's
        figures next to its tolerance, each action and each probe step of the method."""
        journal = self.journal
        recovery = journal.recovery
        return {
            "verdict": self.verdict.value,
            "exit_code": int(self.exit_code),
            "reasons": [r.model_dump(mode="json") for r in self.reasons],
            "journal": str(self.journal_path) if self.journal_path else None,
            "run_id": journal.run_id,
            "notices": list(self.notices),
            "time_to_recover": self.time_to_recover,
            "recovery": recovery.model_dump(mode="json") if recovery is not None else None,
            "faults": [
                {
                    "step": f.step,
                    "fault": f.fault,
                    "target": f.target,
                    "object": f.container.get("name"),
                    "outcome": f.outcome,
                    "applied_at": f.applied_at,
                    "reverted_at": f.reverted_at,
                    "time_to_recover": f.time_to_recover,
                }
                for f in journal.faults
            ],
            "probes": [probe_figures(p) for p in (*journal.probes, *journal.guards)],
            "actions": [
                {
                    "step": a.step,
                    "action": a.action,
                    "object": (a.container or {}).get("name"),
                    "outcome": a.outcome,
                    "started": a.started,
                    "exit_code": a.exit_code,
                    "status": a.status,
                    "detail": a.detail,
                }
                for a in journal.actions
            ],
            "checks": [
                {
                    "step": c.name,
                    "probe": c.probe,
                    "t": c.samples[0].t if c.samples else None,
                    "ok": c.samples[0].ok if c.samples else None,
                    "detail": c.samples[0].detail if c.samples else None,
                }
                for c in journal.checks
            ],
        }

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


def probe_figures(record: ProbeRecord) -> dict[str, Any]:
    """A continuous probe's (or guard's) figures, with its tolerance: what
    ``--json`` and the console summary show."""
    summary = record.summary
    return {
        "section": record.section,
        "name": record.name,
        "availability": summary.availability if summary else None,
        "longest_outage": summary.longest_outage if summary else None,
        "max_latency": summary.max_latency if summary else None,
        "time_to_recover": record.time_to_recover,
        "recovered": record.recovered,
        "tolerance": record.tolerance,
        "passed": record.passed,
        "violations": [v.message for v in record.violations],
    }
