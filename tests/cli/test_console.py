"""Plain console lines come out in the order of the events' times."""

from __future__ import annotations

import io
import threading
import time

from chaos.cli.console import PlainConsole
from chaos.engine.events import Finished, PhaseStarted, ProbeFigures, ProbeSampled


def times(out: str) -> list[float]:
    return [float(line[1:8]) for line in out.splitlines() if line.startswith("[")]


def test_a_late_arrival_still_takes_its_place_in_time_order():
    stream = io.StringIO()
    console = PlainConsole(stream, hold=0.1)
    console(PhaseStarted(0.30, "recovery"))
    console(ProbeSampled(0.28, "probes", "web", False, 0.01, "refused"))  # answered late
    time.sleep(0.4)  # held long enough: printed by the console's own thread
    out = stream.getvalue()
    assert times(out) == [0.28, 0.30], out
    assert out.splitlines()[0].endswith("probe web: FAIL (refused)")


def test_finished_prints_everything_held_at_once_in_order():
    stream = io.StringIO()
    console = PlainConsole(stream, hold=5.0)
    events = [PhaseStarted(t, f"p{t}") for t in (0.5, 0.1, 0.3)]
    threads = [threading.Thread(target=console, args=(e,)) for e in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stream.getvalue() == ""  # still held
    console(Finished(0.9, "passed", (), None))
    assert times(stream.getvalue()) == [0.1, 0.3, 0.5, 0.9]


def test_without_a_hold_lines_are_printed_as_they_come():
    stream = io.StringIO()
    console = PlainConsole(stream)
    console(PhaseStarted(0.3, "b"))
    console(PhaseStarted(0.1, "a"))
    assert times(stream.getvalue()) == [0.3, 0.1]


def test_finished_shows_each_probes_figures_next_to_its_tolerance():
    stream = io.StringIO()
    console = PlainConsole(stream)
    probes = (
        ProbeFigures(
            "probes",
            "avail",
            availability=0.875,
            longest_outage=1.2,
            max_latency=0.12,
            time_to_recover=1.4,
            recovered=True,
            tolerance=(("min_availability", 0.95), ("max_outage", 0.5), ("max_latency", 0.25)),
            passed=False,
        ),
        ProbeFigures("guards", "db", 1.0, 0.0, 0.01, 0.0, True),
        ProbeFigures("probes", "gone", 0.0, 3.0, None, None, False, (("min_availability", 0.0),)),
    )
    console(Finished(9.0, "failed", ("probe avail: ...",), "/j.json", probes, 1.4, True))
    lines = stream.getvalue().splitlines()
    assert lines[1:] == [
        "  - probe avail: ...",
        "  probe avail: availability 87.5% (min 95%), longest outage 1.2s (max 500ms), "
        "slowest 120ms (max 250ms), time to recover 1.4s: OUT OF TOLERANCE",
        "  guard db: availability 100.0%, longest outage 0ms, time to recover 0ms",
        "  probe gone: availability 0.0% (min 0%), longest outage 3s, not recovered",
        "  recovery: back and stable, 1.4s after the first fault took effect",
        "  journal: /j.json",
    ]
    stream = io.StringIO()
    PlainConsole(stream)(Finished(9.0, "failed", (), None, (), None, False))
    assert "recovery: NOT back and stable within recovery.within" in stream.getvalue()
