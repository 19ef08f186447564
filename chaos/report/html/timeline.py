"""The run page's timeline and the index's sparklines, as inline SVG built from
the journal's numbers (no plotting library, no script).

The timeline is drawn at a fixed size (it scrolls sideways on a narrow screen,
never scales), so a time maps to one horizontal position::

    x = data-x0 + t * data-px-per-s

with ``t`` in seconds since the run started and ``x`` in pixels from the SVG's
left edge (its ``data-x0`` and ``data-px-per-s`` attributes). Every lane is a
``<g class="lane" data-lane="KIND:NAME">``; every span and mark carries its
times in seconds (``data-start``/``data-end``, ``data-t``).

Lanes, top to bottom: ``phases``; ``fault:STEP`` for each fault (the span from
taking effect to reverted, ``data-start``/``data-end``, a ``revert-failed``
mark where its revert failed); ``action:STEP`` for each action step of the
method (one mark per object it ran on, from its start to its end, with
``data-t``, ``data-end`` and ``data-ok``); ``check:NAME`` for each probe step
of the method (its one sample); ``steady:NAME`` for each steady-state check
before the method; ``probe:NAME`` and ``guard:NAME`` for each continuous probe
and guard (one mark per sample: a circle when it passed, a cross when it failed;
outages as spans with ``data-outage-start``/``data-outage-end`` and their
length; latency as a line); ``series:NAME`` for a Prometheus probe's window;
``recovery`` (the recovery phase, each round of checks, and time-to-recover
from ``data-ttr-from`` to ``data-ttr-to``).

Lanes with more than :data:`MAX_MARKS` samples draw one mark per time bucket
(failed when any sample in it failed, its title says how many); the numbers in
the tables and the embedded journal stay exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

from chaos.journal.model import ActionRecord, FaultRecord, Journal, ProbeRecord, SampleRecord

PLOT_WIDTH = 1000
"""Pixels the run's duration spans."""
X0 = 180
"""Pixels left of ``t = 0``: the lanes' names."""
LANE = 34
"""Height of a lane, pixels."""
MAX_MARKS = 400
"""Sample marks drawn per lane at most: beyond, one per time bucket."""
MAX_POINTS = 400
"""Points of a drawn line at most (latency, a Prometheus series)."""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Text as shown: control characters written out (``\\x1b``), never sent raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def esc(text: object) -> Markup:
    return escape(clean(text))


def seconds(value: float | None) -> str:
    """A duration for people: ``850ms``, ``1.5s``, ``2m 05s``."""
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)}m {rest:04.1f}s"


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Scale:
    """Seconds since the run started to pixels: ``x = x0 + t * px_per_s``."""

    px_per_s: float
    x0: float = X0
    end: float = 1.0

    @classmethod
    def of(cls, journal: Journal) -> Scale:
        end = max(_last_time(journal), 0.001)
        return cls(px_per_s=round(PLOT_WIDTH / end, 6), end=end)

    def x(self, t: float) -> float:
        return self.x0 + max(0.0, t) * self.px_per_s


def _last_time(journal: Journal) -> float:
    times = [journal.duration or 0.0]
    times += [p.t for p in journal.phases]
    for record in _records(journal):
        times += [s.end if s.end is not None else s.t for s in record.samples[-1:]]
        if record.stopped is not None:
            times.append(record.stopped)
    for fault in journal.faults:
        times += [t for t in (fault.reverted_at, fault.applied_at) if t is not None]
    times += [a.ended for a in journal.actions if a.ended is not None]
    return max(times)


def _records(journal: Journal) -> list[ProbeRecord]:
    return [*journal.steady_state_before, *journal.checks, *journal.probes, *journal.guards]


def epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# -- the timeline -------------------------------------------------------------


def timeline(journal: Journal) -> Markup:
    """The run's timeline as one ``<svg>`` element."""
    scale = Scale.of(journal)
    lanes: list[tuple[str, str, str, list[str]]] = []  # (lane id, label, class, body)
    lanes.append(("phases", "phases", "phases", _phases(journal, scale)))
    for fault in journal.faults:
        lanes.append((f"fault:{fault.step}", fault.step, "fault", _fault(fault, scale, journal)))
    by_step: dict[str, list[ActionRecord]] = {}
    for action in journal.actions:
        by_step.setdefault(action.step, []).append(action)
    for step, actions in by_step.items():
        lanes.append((f"action:{step}", step, "action", _actions(actions, scale)))
    for record in journal.checks:
        lanes.append((f"check:{record.name}", record.name, "check", _samples(record, scale)))
    for record in journal.steady_state_before:
        lanes.append((f"steady:{record.name}", record.name, "steady", _samples(record, scale)))
    for section, records in (("probe", journal.probes), ("guard", journal.guards)):
        for record in records:
            body = _outages(record, scale) + _latency(record, scale) + _samples(record, scale)
            lanes.append((f"{section}:{record.name}", record.name, section, body))
    start = epoch(journal.started_at)
    for record in journal.probes + journal.guards:
        if record.window and record.window.get("series") and start is not None:
            lanes.append(
                (
                    f"series:{record.name}",
                    f"{record.name} series",
                    "series",
                    _series(record, scale, start),
                )
            )
    if journal.recovery is not None:
        lanes.append(("recovery", "recovery", "recovery", _recovery(journal, scale)))

    axis_h = 24
    height = axis_h + LANE * len(lanes) + 8
    width = int(X0 + PLOT_WIDTH + 20)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" id="timeline" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="timeline-title" data-x0="{_n(scale.x0)}" '
        f'data-px-per-s="{scale.px_per_s}" data-duration="{_n(scale.end)}" '
        f'data-lane-height="{LANE}">',
        '<title id="timeline-title">Timeline of the run: faults, probes, recovery</title>',
    ]
    parts += _axis(scale, height)
    for index, (lane_id, label, kind, body) in enumerate(lanes):
        top = axis_h + index * LANE
        parts.append(
            f'<g class="lane lane-{kind}" id="lane-{esc(_ident(lane_id))}" '
            f'data-lane="{esc(lane_id)}" transform="translate(0 {top})">'
        )
        parts.append(f'<rect class="lane-bg" x="0" y="0" width="{width}" height="{LANE}"/>')
        parts.append(f'<text class="lane-label" x="6" y="{LANE / 2 + 4:.0f}">{esc(label)}</text>')
        parts += body
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _axis(scale: Scale, height: int) -> list[str]:
    step = _tick_step(scale.end)
    parts = ['<g class="axis">']
    count = int(scale.end / step) + 1
    for i in range(count + 1):
        t = i * step
        if t > scale.end * 1.0001:
            break
        x = scale.x(t)
        parts.append(
            f'<line x1="{_n(x)}" y1="18" x2="{_n(x)}" y2="{height}" class="grid"/>'
            f'<text x="{_n(x)}" y="13" text-anchor="middle">{esc(seconds(t))}</text>'
        )
    parts.append("</g>")
    return parts


def _tick_step(end: float) -> float:
    raw = end / 10
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _span(
    scale: Scale, start: float, end: float, cls: str, title: str, attrs: str = "", y: int = 6
) -> str:
    x = scale.x(start)
    width = max(scale.x(end) - x, 1.0)
    return (
        f'<rect class="{cls}" x="{_n(x)}" y="{y}" width="{_n(width)}" height="{LANE - 2 * y}" '
        f'data-start="{_n4(start)}" data-end="{_n4(end)}"{attrs}><title>{esc(title)}</title></rect>'
    )


def _n4(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _phases(journal: Journal, scale: Scale) -> list[str]:
    parts = []
    phases = journal.phases
    for i, phase in enumerate(phases):
        end = phases[i + 1].t if i + 1 < len(phases) else scale.end
        if phase.name == "done":
            continue
        parts.append(
            _span(
                scale,
                phase.t,
                max(end, phase.t),
                f"phase phase-{_ident(phase.name)}",
                f"{phase.name}: {seconds(phase.t)} to {seconds(end)}",
                f' data-phase="{esc(phase.name)}"',
            )
        )
        parts.append(
            f'<text class="phase-name" x="{_n(scale.x(phase.t) + 3)}" y="{LANE / 2 + 4:.0f}">'
            f"{esc(phase.name)}</text>"
        )
    return parts


def _fault(fault: FaultRecord, scale: Scale, journal: Journal) -> list[str]:
    start = fault.applied_at if fault.applied_at is not None else fault.injected_at
    if start is None:
        return [
            f'<text class="note" x="{_n(scale.x(fault.at))}" y="{LANE / 2 + 4:.0f}">'
            f"{esc(fault.outcome)}</text>"
        ]
    held = fault.reverted_at is not None
    end = fault.reverted_at if held else scale.end
    what = (
        f"{fault.step} ({fault.fault} on {fault.target}"
        f"{' ' + fault.container.get('name', '') if fault.container else ''}): "
        f"in effect {seconds(start)} to "
        + (seconds(end) if held else "the end of the run (not reverted)")
        + f", {fault.outcome}"
    )
    parts = []
    if fault.injected_at is not None and fault.applied_at is not None:
        parts.append(
            _span(
                scale,
                fault.injected_at,
                fault.applied_at,
                "fault-injecting",
                f"{fault.step}: injecting",
                y=10,
            )
        )
    parts.append(
        _span(
            scale,
            start,
            end,
            "fault-span" + ("" if held else " unreverted"),
            what,
            f' data-fault="{esc(fault.fault)}" data-outcome="{esc(fault.outcome)}"',
        )
    )
    if fault.outcome == "revert-failed":
        t = fault.revert_started if fault.revert_started is not None else end
        x = scale.x(t)
        parts.append(
            f'<g class="revert-failed" data-t="{_n4(t)}"><title>{esc("revert failed: " + (fault.error or ""))}'
            f'</title><path d="M{_n(x - 6)} 5 l12 {LANE - 10} M{_n(x + 6)} 5 l-12 {LANE - 10}"/></g>'
        )
    label = (
        f"{fault.fault} {seconds(fault.in_effect)}" if fault.in_effect is not None else fault.fault
    )
    parts.append(
        f'<text class="span-label" x="{_n(scale.x(start) + 3)}" y="{LANE / 2 + 4:.0f}">'
        f"{esc(label)}</text>"
    )
    return parts


def _actions(actions: Sequence[ActionRecord], scale: Scale) -> list[str]:
    """One mark per object an action step ran on: a bar from its start to its
    end, in the colour of its outcome; a note when it never ran."""
    parts = []
    for action in actions:
        on = f" on {action.container.get('name', '')}" if action.container else ""
        if action.started is None:
            parts.append(
                f'<text class="note" x="{_n(scale.x(action.at))}" y="{LANE / 2 + 4:.0f}">'
                f"{esc(action.action + on + ': ' + action.outcome)}</text>"
            )
            continue
        end = action.ended if action.ended is not None else action.started
        ok = action.outcome == "ok"
        result = (
            f"exit {action.exit_code}"
            if action.exit_code is not None
            else f"status {action.status}"
            if action.status is not None
            else ""
        )
        title = (
            f"{action.step} ({action.action}{on}) at {seconds(action.started)}: "
            f"{action.outcome}{', ' + result if result else ''}: {action.detail}"
        )
        parts.append(
            _span(
                scale,
                action.started,
                max(end, action.started),
                f"action-span {'ok' if ok else 'failed'}",
                title,
                f' data-t="{_n4(action.started)}" data-ok="{str(ok).lower()}"'
                f' data-action="{esc(action.action)}"',
                y=9,
            )
        )
        parts.append(
            f'<text class="span-label" x="{_n(scale.x(action.started) + 5)}" '
            f'y="{LANE / 2 + 4:.0f}">{esc(action.action + on)}</text>'
        )
    return parts


def _buckets(samples: Sequence[SampleRecord], scale: Scale) -> list[list[SampleRecord]]:
    if len(samples) <= MAX_MARKS:
        return [[s] for s in samples]
    width = scale.end / MAX_MARKS
    buckets: dict[int, list[SampleRecord]] = {}
    for sample in samples:
        buckets.setdefault(min(int(sample.t / width), MAX_MARKS - 1), []).append(sample)
    return [buckets[k] for k in sorted(buckets)]


def _samples(record: ProbeRecord, scale: Scale) -> list[str]:
    parts = [f'<g class="samples" data-samples="{len(record.samples)}">']
    mid = LANE / 2
    for bucket in _buckets(record.samples, scale):
        first = bucket[0]
        failed = [s for s in bucket if not s.ok]
        ok = not failed
        x = scale.x(first.t)
        if len(bucket) == 1:
            title = (
                f"{record.name} at {seconds(first.t)}: {'ok' if ok else 'failed'}, "
                f"{seconds(first.latency)}: {first.detail}"
            )
            attrs = f'data-t="{_n4(first.t)}" data-ok="{str(ok).lower()}"'
        else:
            last = bucket[-1]
            shown = failed[0] if failed else first
            title = (
                f"{record.name}, {len(bucket)} samples from {seconds(first.t)} to "
                f"{seconds(last.t)}: {len(failed)} failed; "
                f"{'first failure' if failed else 'first'}: {shown.detail}"
            )
            attrs = (
                f'data-t="{_n4(first.t)}" data-t-last="{_n4(last.t)}" '
                f'data-ok="{str(ok).lower()}" data-count="{len(bucket)}" data-failed="{len(failed)}"'
            )
        if ok:
            shape = f'<circle cx="{_n(x)}" cy="{mid:.0f}" r="3"/>'
        else:
            shape = f'<path d="M{_n(x - 4)} {mid - 4:.0f} l8 8 M{_n(x + 4)} {mid - 4:.0f} l-8 8"/>'
        parts.append(
            f'<g class="sample {"ok" if ok else "failed"}" {attrs}>'
            f"<title>{esc(title)}</title>{shape}</g>"
        )
    parts.append("</g>")
    return parts


def _outages(record: ProbeRecord, scale: Scale) -> list[str]:
    if record.summary is None:
        return []
    parts = []
    for outage in record.summary.outages:
        length = outage.end - outage.start
        attrs = (
            f' data-outage-start="{_n4(outage.start)}" data-outage-end="{_n4(outage.end)}"'
            f' data-recovered="{str(outage.recovered).lower()}"'
        )
        title = f"{record.name}: outage of {seconds(length)} from {seconds(outage.start)}" + (
            "" if outage.recovered else " (still failing when sampling stopped)"
        )
        parts.append(_span(scale, outage.start, outage.end, "outage", title, attrs, y=3))
        parts.append(
            f'<text class="span-label outage-length" x="{_n(scale.x(outage.start) + 3)}" '
            f'y="{LANE - 5}">{esc(seconds(length))}</text>'
        )
    return parts


def _polyline(points: Iterable[tuple[float, float]], cls: str, title: str) -> str:
    text = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    return f'<polyline class="{cls}" points="{text}"><title>{esc(title)}</title></polyline>'


def _thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most ``limit`` points, keeping each stretch's highest value (peaks stay visible)."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    return [max(points[i : i + size], key=lambda p: p[1]) for i in range(0, len(points), size)]


def _latency(record: ProbeRecord, scale: Scale) -> list[str]:
    measured = [(s.t, s.latency) for s in record.samples if s.ok]
    if len(measured) < 2:
        return []
    top = max(v for _t, v in measured) or 1.0
    points = [(scale.x(t), LANE - 3 - (v / top) * (LANE - 8)) for t, v in _thin(measured)]
    return [
        _polyline(
            points, "latency", f"{record.name}: latency of passing checks, up to {seconds(top)}"
        )
    ]


def _series(record: ProbeRecord, scale: Scale, start: float) -> list[str]:
    window = record.window or {}
    parts = []
    lines = []
    for item in window.get("series") or []:
        values = []
        for pair in item.get("values") or []:
            try:
                values.append((float(pair[0]) - start, float(pair[1])))
            except (TypeError, ValueError, IndexError):
                continue
        values = [(t, v) for t, v in values if math.isfinite(v)]
        if values:
            lines.append((str(item.get("series", "")), values))
    every = [v for _name, values in lines for _t, v in values]
    if not every:
        return parts
    low, high = min(every), max(every)
    span = (high - low) or 1.0
    if "start" in window and "end" in window:
        parts.append(
            _span(
                scale,
                float(window["start"]),
                float(window["end"]),
                "window",
                f"{record.name}: window evaluated, {window.get('detail', '')}",
                f' data-window-ok="{str(bool(window.get("ok"))).lower()}"',
                y=2,
            )
        )
    for name, values in lines:
        points = [(scale.x(t), LANE - 3 - (v - low) / span * (LANE - 8)) for t, v in _thin(values)]
        parts.append(
            _polyline(
                points, "series-line", f"{name}: {_n(low)} to {_n(high)} ({len(values)} points)"
            )
        )
    return parts


def _recovery(journal: Journal, scale: Scale) -> list[str]:
    recovery = journal.recovery
    assert recovery is not None
    parts = []
    if recovery.started is not None:
        end = recovery.decided_at if recovery.decided_at is not None else scale.end
        state = {True: "recovered", False: "not recovered", None: "undecided"}[recovery.recovered]
        parts.append(
            _span(
                scale,
                recovery.started,
                end,
                "recovery-span",
                f"recovery phase from {seconds(recovery.started)} to {seconds(end)}: {state}",
                f' data-recovered="{str(recovery.recovered).lower()}"',
                y=3,
            )
        )
    if recovery.stable_since is not None:
        x = scale.x(recovery.stable_since)
        parts.append(
            f'<g class="stable-since" data-t="{_n4(recovery.stable_since)}"><title>'
            f"{esc('stable since ' + seconds(recovery.stable_since))}</title>"
            f'<line x1="{_n(x)}" y1="2" x2="{_n(x)}" y2="{LANE - 2}"/></g>'
        )
    for round_ in recovery.rounds:
        x = scale.x(round_.t)
        title = f"steady-state checks at {seconds(round_.t)}: " + (
            "all passed" if round_.ok else "; ".join(round_.failing)
        )
        shape = (
            f'<rect x="{_n(x - 3)}" y="{LANE / 2 - 3:.0f}" width="6" height="6"/>'
            if round_.ok
            else f'<path d="M{_n(x - 4)} {LANE / 2 - 4:.0f} l8 8 M{_n(x + 4)} {LANE / 2 - 4:.0f} l-8 8"/>'
        )
        parts.append(
            f'<g class="round {"ok" if round_.ok else "failed"}" data-t="{_n4(round_.t)}" '
            f'data-ok="{str(round_.ok).lower()}"><title>{esc(title)}</title>{shape}</g>'
        )
    ttr = recovery.time_to_recover
    origin = _ttr_origin(journal)
    if ttr is not None and origin is not None:
        back = origin + ttr
        y = LANE - 6
        parts.append(
            f'<g class="ttr" data-ttr="{_n4(ttr)}" data-ttr-from="{_n4(origin)}" '
            f'data-ttr-to="{_n4(back)}"><title>{esc("time to recover " + seconds(ttr))}</title>'
            f'<line x1="{_n(scale.x(origin))}" y1="{y}" x2="{_n(scale.x(back))}" y2="{y}"/>'
            f'<text x="{_n(scale.x(back) + 4)}" y="{y + 3}">'
            f"{esc('time to recover ' + seconds(ttr))}</text></g>"
        )
    return parts


def _ttr_origin(journal: Journal) -> float | None:
    """When the fault time-to-recover is measured from took effect."""
    recovery = journal.recovery
    if recovery is None:
        return None
    for fault in journal.faults:
        if fault.step == recovery.measured_from and fault.applied_at is not None:
            return fault.applied_at
    if recovery.back_at is not None and recovery.time_to_recover is not None:
        return recovery.back_at - recovery.time_to_recover
    return None


# -- sparklines ---------------------------------------------------------------

SPARK_W = 120
SPARK_H = 24


def availability_spark(journal: Journal, buckets: int = 40) -> Markup:
    """Each continuous probe's share of passing samples over the run, one line each."""
    end = max(_last_time(journal), 0.001)
    lines = []
    for record in journal.probes:
        counts = [[0, 0] for _ in range(buckets)]
        for sample in record.samples:
            slot = counts[min(int(sample.t / end * buckets), buckets - 1)]
            slot[0] += 1
            slot[1] += int(sample.ok)
        points = [(i * SPARK_W / (buckets - 1), ok / n) for i, (n, ok) in enumerate(counts) if n]
        if points:
            lines.append((record.name, record.availability, points))
    return _spark(
        "availability",
        [(name, [(x, 1 - v) for x, v in points], _pct(avail)) for name, avail, points in lines],
        "share of passing checks over the run, per probe",
    )


def trend_spark(kind: str, values: Sequence[float | None], label: str) -> Markup:
    """One value per run, oldest first (None: a gap)."""
    known = [v for v in values if v is not None]
    if not known:
        return Markup('<span class="muted">-</span>')
    low, high = (0.0, 1.0) if kind == "availability" else (0.0, max(known) or 1.0)
    span = (high - low) or 1.0
    count = max(len(values) - 1, 1)
    points = [
        (i * SPARK_W / count, 1 - (v - low) / span) for i, v in enumerate(values) if v is not None
    ]
    return _spark(kind, [(label, points, "")], label)


def _spark(
    kind: str, lines: list[tuple[str, list[tuple[float, float]], str]], about: str
) -> Markup:
    if not lines:
        return Markup('<span class="muted">-</span>')
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" data-spark="{esc(kind)}" '
        f'width="{SPARK_W + 6}" height="{SPARK_H}" viewBox="-3 -3 {SPARK_W + 6} {SPARK_H}" '
        f'role="img"><title>{esc(about)}</title>'
    ]
    for name, points, figure in lines:
        scaled = [(x, y * (SPARK_H - 6)) for x, y in points]
        title = f"{name} {figure}".strip()
        if len(scaled) == 1:
            x, y = scaled[0]
            parts.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="2"><title>{esc(title)}</title></circle>'
            )
        else:
            parts.append(_polyline(scaled, "spark-line", title))
    parts.append("</svg>")
    return Markup("".join(parts))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
