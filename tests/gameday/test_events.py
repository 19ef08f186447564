"""Game day events: their JSON shape and their one-line summary."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from chaos.gameday.events import EVENT_SCHEMA, KINDS, GameDayEvent

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=timezone.utc)
KEYS = [
    "schema",
    "kind",
    "gameday",
    "file",
    "drill",
    "scheduled",
    "at",
    "verdict",
    "reasons",
    "journal",
    "reason",
    "lead",
]


def test_every_kind_has_the_same_keys_in_the_same_order():
    for kind in KINDS:
        data = GameDayEvent(kind, "Friday drills", "/ops/friday.yaml", at=T0).to_json()
        assert list(data) == KEYS, kind
        assert data["schema"] == EVENT_SCHEMA == "chaosdrill.gameday-event/1"
        assert data["kind"] == kind
        json.dumps(data)  # plain JSON


def test_a_finished_event_as_json():
    paris = timezone(timedelta(hours=1))
    event = GameDayEvent(
        "finished",
        "Friday drills",
        "/ops/friday.yaml",
        drill="web-crash",
        scheduled=datetime(2026, 12, 4, 10, 0, tzinfo=paris),
        at=datetime(2026, 12, 4, 9, 3, 7, 250000, tzinfo=timezone.utc),
        verdict="failed",
        reasons=["web-ok: status 503", {"kind": "probe", "message": "down 12s"}],
        journal="/var/lib/reports/x/journal.json",
    )
    assert event.to_json() == {
        "schema": "chaosdrill.gameday-event/1",
        "kind": "finished",
        "gameday": "Friday drills",
        "file": "/ops/friday.yaml",
        "drill": "web-crash",
        "scheduled": "2026-12-04T09:00:00Z",
        "at": "2026-12-04T09:03:07.250Z",
        "verdict": "failed",
        "reasons": ["web-ok: status 503", {"kind": "probe", "message": "down 12s"}],
        "journal": "/var/lib/reports/x/journal.json",
        "reason": None,
        "lead": None,
    }
    assert event.summary() == (
        "[Friday drills] drill web-crash finished: failed (web-ok: status 503; down 12s); "
        "journal /var/lib/reports/x/journal.json"
    )


def test_summaries_are_one_line_per_kind():
    common = {"gameday": "G", "file": "/g.yaml", "scheduled": T0}
    assert (
        GameDayEvent("announce", drill="d", lead=600, **common).summary()
        == "[G] drill d starts in 10m (scheduled 2026-12-04T09:00:00Z)"
    )
    assert (
        GameDayEvent("skipped", drill="d", reason="outside\nits window", **common).summary()
        == "[G] drill d skipped (scheduled 2026-12-04T09:00:00Z): outside its window"
    )
    assert GameDayEvent("halted", "G", "/g.yaml", reason="by ops").summary() == (
        "[G] the schedule halted: by ops"
    )
    assert GameDayEvent("resumed", "G", "/g.yaml").summary() == "[G] the schedule resumed"


def test_bad_events_are_refused():
    with pytest.raises(ValueError, match="unknown game day event kind"):
        GameDayEvent("exploded", "G", "/g.yaml")
    with pytest.raises(ValueError, match="time zone"):
        GameDayEvent("started", "G", "/g.yaml", scheduled=datetime(2026, 1, 1))
    event = GameDayEvent("finished", "G", "/g.yaml", reasons=["a"])  # type: ignore[arg-type]
    assert event.reasons == ("a",)
    with pytest.raises(AttributeError):
        event.kind = "started"  # type: ignore[misc]
