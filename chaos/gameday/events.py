"""What a game day announces: one event per moment people may want to hear about.

An event is plain data, handed to every ``chaosdrill_gameday_event`` hook
implementation (the built-in webhook notifier among them). Its JSON form
(:meth:`GameDayEvent.to_json`) is a stable shape: every key is always
present (``null`` where it does not apply), times are UTC ISO 8601 with a
``Z``, and ``schema`` names the version of the shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

EVENT_SCHEMA = "chaosdrill.gameday-event/1"

KINDS = ("announce", "started", "finished", "skipped", "halted", "resumed", "interrupted")
"""``announce``: a drill will fire in ``lead`` seconds; ``started``; ``finished``
(``verdict``, ``reasons``, ``journal``); ``skipped`` (``reason``); ``halted`` and
``resumed`` (the schedule as a whole, ``reason``); ``interrupted``: a fire left
running by a process that died."""

Reason = str | Mapping[str, Any]


def utc_iso(moment: datetime) -> str:
    """``2026-12-02T10:50:00Z`` (milliseconds shown only when there are any)."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive datetime has no time zone: {moment.isoformat()}")
    utc = moment.astimezone(timezone.utc)
    spec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class GameDayEvent:
    """One thing that happened (or is about to) in a game day."""

    kind: str
    gameday: str
    """The game day's title."""
    file: str
    """The game day file's absolute path."""
    drill: str | None = None
    """The drill's name; None for ``halted`` and ``resumed`` of the whole schedule."""
    scheduled: datetime | None = None
    """The time the schedule gave the fire (before jitter)."""
    at: datetime = field(default_factory=_now)
    """When this event happened (for ``announce``: when it was announced)."""
    verdict: str | None = None
    reasons: tuple[Reason, ...] = ()
    """Why the verdict is what it is: strings, or objects with the journal's fields."""
    journal: str | None = None
    reason: str | None = None
    """Why a fire was skipped, the schedule halted or resumed, a fire interrupted."""
    lead: float | None = None
    """For ``announce``: seconds between this announcement and ``scheduled``."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown game day event kind {self.kind!r}: one of {', '.join(KINDS)}"
            )
        for name in ("scheduled", "at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"event {name} must carry a time zone, not be naive")
        if not isinstance(self.reasons, tuple):
            object.__setattr__(self, "reasons", tuple(self.reasons))

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data; every key always present, in this order."""
        return {
            "schema": EVENT_SCHEMA,
            "kind": self.kind,
            "gameday": self.gameday,
            "file": self.file,
            "drill": self.drill,
            "scheduled": utc_iso(self.scheduled) if self.scheduled else None,
            "at": utc_iso(self.at),
            "verdict": self.verdict,
            "reasons": [r if isinstance(r, str) else dict(r) for r in self.reasons],
            "journal": self.journal,
            "reason": self.reason,
            "lead": self.lead,
        }

    def summary(self) -> str:
        """One readable line: what happened to which drill of which game day."""
        head = f"[{self.gameday}]"
        drill = f"drill {self.drill}" if self.drill else "the schedule"
        when = f" (scheduled {utc_iso(self.scheduled)})" if self.scheduled else ""
        if self.kind == "announce":
            lead = f" in {_human_seconds(self.lead)}" if self.lead is not None else ""
            text = f"{head} {drill} starts{lead}{when}"
        elif self.kind == "started":
            text = f"{head} {drill} started{when}"
        elif self.kind == "finished":
            text = f"{head} {drill} finished: {self.verdict or 'no verdict'}"
            reasons = _reason_texts(self.reasons)
            if reasons:
                text += f" ({'; '.join(reasons)})"
            if self.journal:
                text += f"; journal {self.journal}"
        elif self.kind == "skipped":
            text = f"{head} {drill} skipped{when}: {self.reason or 'no reason given'}"
        elif self.kind == "interrupted":
            text = f"{head} {drill} interrupted{when}"
            text += f": {self.reason}" if self.reason else ""
        else:  # halted, resumed
            text = f"{head} {drill} {self.kind}"
            text += f": {self.reason}" if self.reason else ""
        return " ".join(text.split())  # one line, whatever the reasons hold


def _reason_texts(reasons: Sequence[Reason]) -> list[str]:
    texts = []
    for reason in reasons:
        if isinstance(reason, str):
            texts.append(reason)
        elif isinstance(reason.get("message"), str):
            texts.append(reason["message"])
    return texts


def _human_seconds(seconds: float) -> str:
    whole = round(seconds)
    if whole % 3600 == 0 and whole:
        return f"{whole // 3600}h"
    if whole % 60 == 0 and whole:
        return f"{whole // 60}m"
    return f"{seconds:g}s"
