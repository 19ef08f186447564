"""The journal format (``journal.json``). Times are seconds since the run started
(``t``) plus UTC timestamps; every string has secrets replaced by ``***``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JOURNAL_FORMAT = "chaosdrill.journal/1"


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleRecord(Record):
    """One check of a probe: a request sent at ``t`` and answered at ``end``."""

    t: float
    """When the check started (the request went out)."""
    end: float | None = None
    """When it answered, or was given up at its deadline: what ``ok`` says
    held then. None only in journals written before it was recorded."""
    at: str
    """``t`` as UTC wall time."""
    ok: bool
    latency: float
    """``end - t``."""
    detail: str


class OutageRecord(Record):
    """From the start of the first failing check (or the last passing answer
    before it, if later) to the first passing answer after it."""

    start: float
    end: float
    recovered: bool
    """False when the probe was still failing when sampling stopped."""


class SummaryRecord(Record):
    samples: int
    ok: int
    failed: int | None = None
    """``samples - ok``."""
    availability: float | None
    """The share of the probed time outside outages, ``1 - down / probed``."""
    probed: float | None = None
    """Seconds from the first check's start to the end of sampling."""
    down: float | None = None
    """Seconds of them inside outages."""
    longest_outage: float
    outages: list[OutageRecord]
    max_latency: float | None
    time_to_recover: float | None


class ViolationRecord(Record):
    message: str
    t: float | None


class ProbeRecord(Record):
    section: str
    name: str
    probe: str
    target: str | None = None
    interval: float | None = None
    tolerance: dict[str, Any] | None = None
    started: float | None = None
    stopped: float | None = None
    samples: list[SampleRecord] = Field(default_factory=list)
    summary: SummaryRecord | None = None
    violations: list[ViolationRecord] = Field(default_factory=list)

    # shortcuts for tests and scripts (``result.probe("web").availability``)

    @property
    def availability(self) -> float | None:
        """The summary's availability (share of the probed time outside outages); without
        a summary, the share of passing samples (None without samples)."""
        if self.summary is not None:
            return self.summary.availability
        return sum(s.ok for s in self.samples) / len(self.samples) if self.samples else None

    @property
    def time_to_recover(self) -> float | None:
        """Seconds from the first failed sample to the first pass after the last outage."""
        return self.summary.time_to_recover if self.summary else None

    @property
    def longest_outage(self) -> float | None:
        return self.summary.longest_outage if self.summary else None

    @property
    def max_latency(self) -> float | None:
        return self.summary.max_latency if self.summary else None

    @property
    def passed(self) -> bool:
        """Within its tolerance (a continuous probe), or its one sample passed."""
        if self.summary is not None:
            return not self.violations
        return all(s.ok for s in self.samples)


class FaultRecord(Record):
    step: str
    fault: str
    target: str
    container: dict[str, str]
    at: float
    duration: float | None
    reversible: bool
    injection_id: str = ""
    """Also the fault's ledger entry id; names derived from it (watchdog, chains) use it."""
    watchdog: str | None = None
    """Id of the dead man's switch container while it is armed."""
    outcome: str = "scheduled"
    """scheduled, skipped, injected, inject-failed, reverted, revert-failed, or
    not_injected (the run stopped before the method)."""
    injected_at: float | None = None
    """When the injection started."""
    applied_at: float | None = None
    """When the fault was in effect (inject returned)."""
    reverted_at: float | None = None
    """When the revert completed."""
    revert_started: float | None = None
    """When the revert began: until then the fault was in effect as injected."""
    due: float | None = None
    """When the revert was due: ``duration`` after the injection call began (once
    the safety net was armed), so the fault holds ``duration``."""
    in_effect: float | None = None
    """Seconds from ``applied_at`` to ``reverted_at``: how long the fault held
    (``duration`` is what was asked for)."""
    before: dict[str, Any] | None = None
    """The object's state before the fault, recorded before the injection
    (what the revert restores); None for faults that need none."""
    state: dict[str, Any] = Field(default_factory=dict)
    """What inject returned: with ``before``, everything revert needs."""
    revert_state: dict[str, Any] = Field(default_factory=dict)
    """What revert observed (e.g. whether an address changed on reconnect)."""
    error: str | None = None


class TargetRecord(Record):
    name: str
    kind: str
    mode: str
    """As written, or ``one (the default)`` when the target left it out."""
    seed: int | None
    candidates: int
    """How many objects matched the selector."""
    chosen: int = 0
    """How many of them the mode picked (the length of ``selected``)."""
    selected: list[dict[str, Any]]


class RecoveryRecord(Record):
    within: float
    started: float | None = None
    recovered: bool | None = None
    time_to_recover: float | None = None
    checks: int = 0
    last_failures: list[str] = Field(default_factory=list)


class PhaseRecord(Record):
    name: str
    t: float
    at: str


class ReasonRecord(Record):
    kind: str
    """steady-state, tolerance, recovery, guard, interrupted, target, engine, inject, revert, bug."""
    message: str
    source: str | None = None
    t: float | None = None


class Journal(Record):
    format: str = JOURNAL_FORMAT
    run_id: str
    versions: dict[str, Any]
    experiment: dict[str, Any]
    started_at: str
    ended_at: str | None = None
    duration: float | None = None
    seed: int | None = None
    dry_run: bool = False
    phases: list[PhaseRecord] = Field(default_factory=list)
    targets: list[TargetRecord] = Field(default_factory=list)
    steady_state_before: list[ProbeRecord] = Field(default_factory=list)
    recovery: RecoveryRecord | None = None
    faults: list[FaultRecord] = Field(default_factory=list)
    probes: list[ProbeRecord] = Field(default_factory=list)
    guards: list[ProbeRecord] = Field(default_factory=list)
    verdict: str | None = None
    reasons: list[ReasonRecord] = Field(default_factory=list)
    exit_code: int | None = None
