"""What the probe benchmarks share (``probe_intervals.py``, ``prometheus_probe.py``):
the process's CPU time, percentiles, the experiment that pauses a bystander
while probes sample, and one ``api.run`` timed for the whole run and for its
method phase.

The scripts run as ``python benchmarks/NAME.py``, so this folder is on
``sys.path`` and they import it as ``_common``.
"""

from __future__ import annotations

import math
import resource
import time
from pathlib import Path
from typing import Any

from chaos import api
from chaos.engine.events import Event, PhaseStarted
from chaos.engine.result import RunResult


def cpu_seconds() -> float:
    """This process's CPU time so far, user and system, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def bystander_experiment(
    title: str,
    description: str,
    labels: dict[str, str],
    duration: float,
    probes: list[dict[str, Any]],
) -> dict[str, Any]:
    """An experiment whose method pauses the one container with ``labels`` for
    ``duration`` seconds (a method needs a fault; nothing the probes look at is
    touched) while the continuous ``probes`` sample."""
    return {
        "version": 1,
        "title": title,
        "description": description,
        "tags": ["bench"],
        "targets": {
            "bystander": {
                "kind": "container",
                "select": {"labels": labels},
                "mode": "one",
                "max_targets": 1,
            }
        },
        "method": [
            {
                "name": "pause-bystander",
                "fault": "container.pause",
                "target": "bystander",
                "at": "0s",
                "duration": f"{duration:g}s",
            }
        ],
        "probes": probes,
        "recovery": {"within": "5s"},
    }


def timed_run(loaded: Any, report_dir: Path, digits: int = 3) -> tuple[RunResult, dict[str, float]]:
    """``api.run`` of ``loaded``, with its wall time, CPU time and cores (CPU over
    wall), for the whole run and for the method phase alone (``method_*``, when
    the run reached its recovery phase), rounded to ``digits``."""
    marks: dict[str, tuple[float, float]] = {}

    def observer(event: Event) -> None:
        if isinstance(event, PhaseStarted):
            marks[event.phase] = (time.perf_counter(), cpu_seconds())

    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    result = api.run(loaded, report_dir=report_dir, observer=observer)
    wall1, cpu1 = time.perf_counter(), cpu_seconds()
    figures = {
        "run_wall_s": round(wall1 - wall0, 3),
        "run_cpu_s": round(cpu1 - cpu0, 3),
        "run_cores": round((cpu1 - cpu0) / (wall1 - wall0), digits),
    }
    if "method" in marks and "recovery" in marks:
        (w0, c0), (w1, c1) = marks["method"], marks["recovery"]
        figures.update(
            {
                "method_wall_s": round(w1 - w0, 3),
                "method_cpu_s": round(c1 - c0, 3),
                "method_cores": round((c1 - c0) / (w1 - w0), digits),
            }
        )
    return result, figures


def raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler: unwinds through the ``finally`` blocks that clean up."""
    raise KeyboardInterrupt
