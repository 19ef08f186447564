"""What the engine announces while it runs.

The engine never prints: it hands events to an observer. The CLI renders them
(rich live view or plain lines), a test can collect them, a scheduler can log
them. Observers are called from several threads and must be quick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Event:
    t: float
    """Seconds since the run started."""


@dataclass(frozen=True)
class PhaseStarted(Event):
    phase: str
    """``targets``, ``steady-state``, ``method``, ``recovery``, ``done``."""
    detail: str = ""


@dataclass(frozen=True)
class FaultInjected(Event):
    step: str
    fault: str
    container: str
    ends_at: float
    """When the step's window closes (seconds since the run started)."""
    reversible: bool
    """True if the fault will be reverted at ``ends_at``."""


@dataclass(frozen=True)
class FaultReverted(Event):
    step: str
    fault: str
    container: str


@dataclass(frozen=True)
class FaultFailed(Event):
    step: str
    fault: str
    container: str
    action: str
    """``inject`` or ``revert``."""
    error: str


@dataclass(frozen=True)
class ActionRan(Event):
    """An action step of the method ran on one object (``t``: when it began)."""

    step: str
    action: str
    """``exec`` or ``http``."""
    what: str
    """The container an exec ran in, or the request (``POST http://...``)."""
    ok: bool
    detail: str


@dataclass(frozen=True)
class ProbeSampled(Event):
    section: str
    """``steady_state``, ``probes``, ``guards``, or ``method`` for a probe step of the method."""
    name: str
    ok: bool
    latency: float
    detail: str


@dataclass(frozen=True)
class Aborting(Event):
    reason: str


@dataclass(frozen=True)
class Notice(Event):
    message: str


@dataclass(frozen=True)
class ProbeFigures:
    """A continuous probe's or guard's figures at the end of a run, for a summary."""

    section: str
    """``probes`` or ``guards``."""
    name: str
    availability: float | None
    longest_outage: float | None
    max_latency: float | None
    time_to_recover: float | None
    """From the first fault taking effect until the probe was back and stable."""
    recovered: bool | None
    tolerance: tuple[tuple[str, float], ...] = ()
    """``(min_availability|max_outage|max_latency, value)`` for a continuous probe."""
    passed: bool = True
    """Within its tolerance."""


@dataclass(frozen=True)
class Finished(Event):
    verdict: str
    reasons: tuple[str, ...]
    journal_path: str | None
    probes: tuple[ProbeFigures, ...] = ()
    """Each continuous probe's and guard's figures (names already redacted)."""
    time_to_recover: float | None = None
    """The run's time-to-recover (from the first fault taking effect)."""
    recovered: bool | None = None
    """Whether the system was back and stable after the method; None without a recovery phase."""


class Observer(Protocol):
    def __call__(self, event: Event) -> None: ...


def redacted(event: Event, redact: Callable[[str], str]) -> Event:
    """The event with ``redact`` applied to every text it carries (names, details,
    reasons): what observers get, so no front end can print a secret."""
    changes: dict[str, object] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, str):
            changes[field.name] = redact(value)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            changes[field.name] = tuple(redact(v) for v in value)
    return dataclasses.replace(event, **changes)  # type: ignore[arg-type]


def ignore(event: Event) -> None:
    """The observer used when nobody listens."""
