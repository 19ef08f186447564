"""Rendering engine events: a rich live view on a terminal, plain lines elsewhere.

Both are observers (see :mod:`chaos.engine.events`); the engine never prints.
Plain output shows every phase and fault event, and a probe only when its
state changes, so CI logs stay short and free of colour codes.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from chaos.durations import format_duration
from chaos.engine.events import (
    Aborting,
    ActionRan,
    Event,
    FaultFailed,
    FaultInjected,
    FaultReverted,
    Finished,
    Notice,
    PhaseStarted,
    ProbeFigures,
    ProbeSampled,
)
from chaos.text import printable as _p


class PlainConsole:
    """One line per event worth a line, in the order of the events' times.

    Events reach an observer from several threads, and one stamped earlier can
    arrive later (a probe sample is announced when it is answered, a phase
    when it starts). With ``hold`` > 0 each event waits that long before it is
    printed, so a late arrival still takes its place in time order; the last
    event of a run (``Finished``) prints everything still held at once.
    """

    def __init__(self, stream: TextIO | None = None, *, hold: float = 0.0):
        self.stream = stream or sys.stdout
        self.hold = hold
        self._last: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()
        self._held: list[tuple[float, int, float, Event]] = []
        self._arrivals = itertools.count()
        self._wake = threading.Condition(self._lock)
        self._flusher: threading.Thread | None = None

    def __call__(self, event: Event) -> None:
        if self.hold <= 0:
            with self._lock:
                self._print(event)
            return
        with self._wake:
            heapq.heappush(self._held, (event.t, next(self._arrivals), time.monotonic(), event))
            if isinstance(event, Finished):
                self._flush(everything=True)
                return
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="plain-console", daemon=True
                )
                self._flusher.start()
            self._wake.notify()

    def _flush_loop(self) -> None:
        with self._wake:
            while True:
                self._flush(everything=False)
                wait = (
                    self.hold
                    if not self._held
                    else max(0.01, self._held[0][2] + self.hold - time.monotonic())
                )
                self._wake.wait(wait)

    def _flush(self, *, everything: bool) -> None:
        """Print held events in time order: all of them, or those held long enough."""
        now = time.monotonic()
        while self._held and (everything or self._held[0][2] + self.hold <= now):
            self._print(heapq.heappop(self._held)[3])

    def _print(self, event: Event) -> None:
        line = self._line(event)
        if line is not None:
            print(f"[{event.t:7.2f}s] {line}", file=self.stream, flush=True)

    def _line(self, event: Event) -> str | None:
        if isinstance(event, PhaseStarted):
            return f"phase {event.phase}" + (f": {_p(event.detail)}" if event.detail else "")
        if isinstance(event, FaultInjected):
            until = f" until t={event.ends_at:.1f}s" if event.reversible else ""
            return f"inject {_p(event.step)} ({event.fault}) -> {_p(event.container)}{until}"
        if isinstance(event, FaultReverted):
            return f"revert {_p(event.step)} ({event.fault}) -> {_p(event.container)}"
        if isinstance(event, FaultFailed):
            return (
                f"FAILED to {event.action} {_p(event.step)} on {_p(event.container)}: "
                f"{_p(event.error)}"
            )
        if isinstance(event, ActionRan):
            state = "ok" if event.ok else "FAILED"
            return (
                f"action {_p(event.step)} ({event.action}) -> {_p(event.what)}: "
                f"{state} ({_p(event.detail)})"
            )
        if isinstance(event, ProbeSampled) and event.section == "method":
            state = "ok" if event.ok else "FAIL"
            return f"check {_p(event.name)}: {state} ({_p(event.detail)})"
        if isinstance(event, ProbeSampled):
            key = (event.section, event.name)
            changed = self._last.get(key) != event.ok  # called with the lock held
            self._last[key] = event.ok
            if not changed:
                return None
            state = "ok" if event.ok else "FAIL"
            return f"{_section(event.section)} {_p(event.name)}: {state} ({_p(event.detail)})"
        if isinstance(event, Aborting):
            return f"ABORT: {_p(event.reason)}"
        if isinstance(event, Notice):
            return f"note: {_p(event.message)}"
        if isinstance(event, Finished):
            lines = [f"verdict: {event.verdict.upper()}"]
            lines += [f"  - {_p(reason)}" for reason in event.reasons]
            lines += [f"  {line}" for line in summary_lines(event)]
            if event.journal_path:
                lines.append(f"  journal: {event.journal_path}")
            return "\n".join(lines)
        return None


def summary_lines(event: Finished) -> list[str]:
    """Each continuous probe's and guard's figures next to its tolerance, and the
    run's time-to-recover: ``probe web: availability 93.8% (min 50%), longest
    outage 1.2s (max 15s), time to recover 1.4s``."""
    lines = [f"{_section(p.section)} {_p(p.name)}: {probe_figures(p)}" for p in event.probes]
    if event.recovered is True:
        line = "recovery: back and stable"
        if event.time_to_recover is not None:
            line += f", {format_duration(event.time_to_recover)} after the first fault took effect"
        lines.append(line)
    elif event.recovered is False:
        lines.append("recovery: NOT back and stable within recovery.within")
    return lines


def probe_figures(figures: ProbeFigures) -> str:
    """``availability 93.8% (min 50%), longest outage 1.2s (max 15s), time to recover 1.4s``."""
    tolerance = dict(figures.tolerance)
    parts = []
    if figures.availability is not None:
        part = f"availability {figures.availability * 100:.1f}%"
        if "min_availability" in tolerance:
            part += f" (min {tolerance['min_availability'] * 100:g}%)"
        parts.append(part)
    else:
        parts.append("no samples")
    if figures.longest_outage is not None:
        part = f"longest outage {format_duration(figures.longest_outage)}"
        if "max_outage" in tolerance:
            part += f" (max {format_duration(tolerance['max_outage'])})"
        parts.append(part)
    if "max_latency" in tolerance:
        slowest = "-" if figures.max_latency is None else format_duration(figures.max_latency)
        parts.append(f"slowest {slowest} (max {format_duration(tolerance['max_latency'])})")
    if figures.time_to_recover is not None:
        parts.append(f"time to recover {format_duration(figures.time_to_recover)}")
    elif figures.recovered is False:
        parts.append("not recovered")
    text = ", ".join(parts)
    if figures.section == "probes" and not figures.passed:
        text += ": OUT OF TOLERANCE"
    return text


def _section(section: str) -> str:
    return {
        "steady_state": "steady",
        "probes": "probe",
        "guards": "guard",
        "method": "check",
    }.get(section, section)


@dataclass
class _ProbeState:
    section: str
    ok: bool = True
    samples: int = 0
    passed: int = 0
    detail: str = ""


@dataclass
class _LiveState:
    title: str
    phase: str = "starting"
    now: float = 0.0
    faults: dict[tuple[str, str], float] = field(default_factory=dict)
    probes: dict[str, _ProbeState] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


class LiveConsole:
    """A rich ``Live`` view: phase, active faults with countdown, each probe's state."""

    def __init__(self, title: str):
        from rich.console import Console
        from rich.live import Live

        self._state = _LiveState(title)
        self._lock = threading.Lock()
        self._plain = PlainConsole()
        self._console = Console()
        self._live = Live(get_renderable=self._render, console=self._console, refresh_per_second=8)
        self._finished = False

    def __enter__(self) -> LiveConsole:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, event: Event) -> None:
        if self._finished:  # the live view is gone: late notices go out as plain lines
            self._plain(event)
            return
        with self._lock:
            state = self._state
            state.now = max(state.now, event.t)
            if isinstance(event, PhaseStarted):
                state.phase = event.phase
            elif isinstance(event, FaultInjected):
                state.faults[(event.step, event.container)] = event.ends_at
            elif isinstance(event, FaultReverted):
                state.faults.pop((event.step, event.container), None)
            elif isinstance(event, ProbeSampled):
                probe = state.probes.setdefault(event.name, _ProbeState(event.section))
                probe.ok, probe.detail = event.ok, _p(event.detail)
                probe.samples += 1
                probe.passed += int(event.ok)
            line = self._plain._line(event)
            if line and not isinstance(event, (ProbeSampled, Finished)):
                state.log.append(f"{event.t:6.1f}s {line}")
                del state.log[:-8]
        if isinstance(event, Finished):
            self._finished = True
            self._live.stop()
            self._plain(event)

    def _render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            state = self._state
            header = Text.assemble(
                (state.title, "bold"), "  phase: ", (state.phase, "cyan"), f"  t={state.now:.1f}s"
            )
            faults = Table(title="active faults", expand=False, title_justify="left")
            faults.add_column("step")
            faults.add_column("container")
            faults.add_column("ends in")
            for (step, container), ends in list(state.faults.items()):
                if ends <= state.now:
                    continue  # a one-shot fault whose window has closed
                faults.add_row(step, container, format_duration(ends - state.now))
            probes = Table(title="probes", expand=False, title_justify="left")
            # live counts; availability (a share of time) is in the summary at the end
            for column in ("probe", "kind", "state", "samples ok", "last"):
                probes.add_column(column)
            for name, probe in state.probes.items():
                counts = f"{probe.passed}/{probe.samples}" if probe.samples else "-"
                probes.add_row(
                    name,
                    _section(probe.section),
                    Text("ok", "green") if probe.ok else Text("FAIL", "bold red"),
                    counts,
                    probe.detail[:60],
                )
            log = Text("\n".join(state.log), style="dim")
            return Group(header, faults, probes, log)
