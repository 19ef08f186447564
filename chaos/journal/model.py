"""The journal format (``journal.json``). Times are seconds since the run started
(``t``) plus UTC timestamps; every string has secrets replaced by ``***``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JOURNAL_FORMAT = "chaosdrill.journal/4"
"""Version 4: the method's action steps (``actions``) and probe steps
(``checks``), and what a target's ``where`` kept and dropped. Version 3: the recovery phase records each round of steady-state checks
(``recovery.rounds``). Version 2: reasons are objects (kind, source, phase, at,
faults), samples carry their answer time (``end``), summaries their probed and
down time, faults their exact window (``due``, ``in_effect``) and time-to-recover.
A version 2 journal reads as version 3 without rounds, and either as
version 4 without actions, checks or ``where``."""

READABLE_FORMATS = ("chaosdrill.journal/2", "chaosdrill.journal/3", JOURNAL_FORMAT)
"""The journal versions this chaosdrill reads (``chaosdrill report``)."""


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
    recovered: bool | None = None
    """A continuous probe or guard: it ended back and stable (its last sample
    passed, and it held over the stretch the recovery phase found stable or,
    without one, for ``recovery.stable_for`` on its own). When the run
    recovered, every continuous probe that passed during that stretch did
    too; one that had not passed since the stretch began (it watches what a
    fault leaves behind, or something the steady state does not) was not
    waited for and ends not recovered."""
    baseline: dict[str, Any] | None = None
    """What the probe measured before the method, that its checks compare
    against (a ``prometheus`` probe's ``max_increase``/``max_decrease``)."""
    window: dict[str, Any] | None = None
    """The probe's evaluation of the whole method-to-recovery window
    (``evaluate: window``): ok, detail and the series it saw (bounded)."""
    back_at: float | None = None
    """When the probe was seen back (seconds since the run started): the end of
    its first passing sample after its last failure; None if it never failed or
    did not recover."""
    time_to_recover: float | None = None
    """The headline figure: seconds from the first fault taking effect (its
    ``applied_at``) until this probe was back and stayed back; 0 if it never
    failed after that, None if it did not recover or no fault took effect.
    (``summary.time_to_recover`` is another figure: from the probe's own first
    failure to its last recovery.)"""

    # shortcuts for tests and scripts (``result.probe("web").availability``)

    @property
    def availability(self) -> float | None:
        """The summary's availability (share of the probed time outside outages); without
        a summary, the share of passing samples (None without samples)."""
        if self.summary is not None:
            return self.summary.availability
        return sum(s.ok for s in self.samples) / len(self.samples) if self.samples else None

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
    time_to_recover: float | None = None
    """Seconds from this fault taking effect (``applied_at``) until the system
    was seen back and stayed back (``recovery.back_at``); 0 when nothing was
    seen failing after it took effect; None when the run did not recover, the
    fault never took effect, or nothing watched the system meanwhile (no
    continuous probe that ended back, and the steady state held from its
    first check after the method)."""


class WhereCheckRecord(Record):
    """One candidate as a target's ``where`` probe found it."""

    id: str
    name: str
    ok: bool
    """The probe held: the candidate was kept."""
    detail: str


class WhereRecord(Record):
    """How a target's ``where`` narrowed its candidates, before the mode picked."""

    probe: str
    matched: int
    """Candidates the selector matched, before the probe."""
    kept: list[WhereCheckRecord] = Field(default_factory=list)
    dropped: list[WhereCheckRecord] = Field(default_factory=list)


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
    where: WhereRecord | None = None
    """What the target's ``where`` probe kept and dropped (``candidates`` counts the kept)."""


class ActionRecord(Record):
    """One action step of the method on one object (``exec``: each container;
    ``http``: the request)."""

    step: str
    action: str
    """``exec`` or ``http``."""
    target: str | None = None
    container: dict[str, str] | None = None
    """``id`` and ``name`` of the container an ``exec`` ran in."""
    request: dict[str, Any] = Field(default_factory=dict)
    """What ran: ``command`` (and ``user``) of an exec, ``method`` and ``url`` of a request."""
    at: float
    """When it was planned to start (seconds since the run started)."""
    started: float | None = None
    ended: float | None = None
    started_at: str | None = None
    """``started`` as UTC wall time."""
    outcome: str = "scheduled"
    """scheduled, ok, failed, skipped (the run was stopping), or not_run (the
    run stopped before the method)."""
    exit_code: int | None = None
    status: int | None = None
    stdout: str = ""
    """The end of the command's stdout (or the response's body), at most 1 KiB."""
    stderr: str = ""
    detail: str = ""


class RecoveryRoundRecord(Record):
    """One round of steady-state checks in the recovery phase."""

    t: float
    """When the round began (seconds since the run started)."""
    end: float
    """When its last check answered."""
    ok: bool
    """Every steady-state check passed."""
    failing: list[str] = Field(default_factory=list)
    """The checks that failed, each ``name: detail``."""


class RecoveryRecord(Record):
    """The recovery phase: the steady state (and every continuous probe) polled
    after the method until it is back and stable, or ``within`` passes.

    Times are seconds since the run started."""

    within: float
    stable_for: float | None = None
    """The ``recovery.stable_for`` the run used; None: ``stable_checks`` in a row."""
    stable_checks: int | None = None
    """Passing checks in a row that count as stable when ``stable_for`` is not set."""
    started: float | None = None
    """When the recovery phase began (the end of the method)."""
    recovered: bool | None = None
    """True once the steady state held continuously for ``stable_for`` (or
    ``stable_checks`` checks in a row), every continuous probe that passed
    during that stretch passing to its end, the stretch having begun within
    ``within``."""
    time_to_recover: float | None = None
    """The headline figure: seconds from the first fault taking effect
    (``measured_from``) until the system was seen back and stayed back
    (``back_at``). See :attr:`FaultRecord.time_to_recover` for when it is
    0 or None."""
    measured_from: str | None = None
    """The fault step ``time_to_recover`` is measured from (the first to take effect)."""
    back_at: float | None = None
    """When the system was seen back for good: the latest moment a continuous
    probe or a steady-state check was seen passing again after its last
    failure. None if nothing was seen failing (or the run did not recover)."""
    stable_since: float | None = None
    """The start of the stretch over which the system was judged stable."""
    decided_at: float | None = None
    """When the recovery phase decided; continuous probes sample until then."""
    after_method: float | None = None
    """Seconds from the end of the method (``started``) to ``stable_since``:
    what was left to recover once the method was over, not the time to recover
    (a failover the method's window already covered reads about 0 here)."""
    checks: int = 0
    """Rounds of steady-state checks."""
    passed_checks: int = 0
    """Rounds in which every steady-state check passed."""
    last_failures: list[str] = Field(default_factory=list)
    rounds: list[RecoveryRoundRecord] = Field(default_factory=list)
    """Each round of steady-state checks, in order (empty in version 2 journals)."""


class PhaseRecord(Record):
    name: str
    t: float
    at: str


ReasonKind = Literal[
    "not_steady_before",
    "not_recovered",
    "tolerance",
    "probe_failed",
    "guard_breach",
    "interrupted",
    "halted",
    "target_error",
    "engine_error",
    "probe_error",
    "inject_failed",
    "revert_failed",
    "action_failed",
    "internal_error",
]
"""What a reason is about; each kind decides one verdict (``chaos/engine/verdict.py``)."""

REASON_KINDS: dict[str, str] = {
    "not_steady_before": "the steady state did not hold before the method (nothing was injected)",
    "not_recovered": "the steady state, or a continuous probe, was not back and stable "
    "within recovery.within after the method",
    "tolerance": "a continuous probe broke its tolerance",
    "probe_failed": "a probe step of the method failed its check",
    "guard_breach": "a guard failed (before the method, or breach_after times in a row during it)",
    "interrupted": "SIGINT, SIGTERM or SIGHUP (or a suite's interruption) stopped the run",
    "halted": "the kill switch (`chaosdrill halt`) stopped the run: every fault reverted at once",
    "target_error": "a target could not be resolved, or its selection broke a limit",
    "engine_error": "the Docker engine did not answer, so what the run saw cannot be trusted",
    "probe_error": "a probe could not make its check (the service it asks did not answer, "
    "or rejected the question) before the method, for its baseline, or for its window "
    "evaluation: nothing was injected, or the verdict could not be checked",
    "inject_failed": "a fault could not be injected (or its injection not recorded)",
    "revert_failed": "a fault could not be reverted: it may still be in effect",
    "action_failed": "an action step of the method did not do what it said (its exit code "
    "or status was not the expected one, or it could not run): every fault was reverted",
    "internal_error": "chaosdrill or a plugin raised an unexpected exception",
}
"""Every reason kind with what it means (the README's table)."""


class ReasonRecord(Record):
    """Why a run did not pass: ``message`` for people, the other fields for programs."""

    kind: ReasonKind
    message: str
    source: str | None = None
    """The probe, guard or fault step the reason is about (the signal for
    ``interrupted``); None when it is about the run as a whole."""
    phase: str | None = None
    """The phase the run was in at ``at``: ``targets``, ``steady-state``,
    ``method``, ``recovery`` (for a reason with no moment, the phase the run ended in)."""
    at: float | None = None
    """Seconds since the run started: when it happened (for a tolerance, the
    first sample that broke it); None when it has no moment."""
    faults: list[str] = Field(default_factory=list)
    """Names of the fault steps in effect at ``at``."""

    @property
    def t(self) -> float | None:
        """The same as ``at`` (its name before reasons had ``phase`` and ``faults``)."""
        return self.at


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
    actions: list[ActionRecord] = Field(default_factory=list)
    checks: list[ProbeRecord] = Field(default_factory=list)
    """The method's probe steps, each checked once at its ``at`` (section ``method``)."""
    probes: list[ProbeRecord] = Field(default_factory=list)
    guards: list[ProbeRecord] = Field(default_factory=list)
    verdict: str | None = None
    reasons: list[ReasonRecord] = Field(default_factory=list)
    exit_code: int | None = None
