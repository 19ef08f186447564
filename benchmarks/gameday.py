"""The game day scheduler: how close to its time a fire starts, and what an idle
``gameday serve`` costs.

Fire accuracy: starts one ``chaosdrill/busybox:1`` container (``sleep``),
labelled ``chaosdrill.bench=gameday-<id>``, and a real ``chaosdrill gameday
serve`` on a game day file with one drill, ``every: 2s``, pausing that
container for 0.2 s. After N fires it stops the daemon (SIGTERM) and reads the
history: for each fire, from the time the schedule gave it (``fire_at``) to
the drill's start (``started``, when the history claimed it, just before the
run), and to the fault being in effect (the journal's ``applied_at``). It
checks every fire passed and none was skipped or doubled.

Idle cost: a second ``serve`` whose only drill fires once an hour, sampled
after a warm-up: CPU time (user + system, from ``/proc/PID/stat``) over the
window, divided by its length, and the resident set (``VmRSS``) at its end.

Every run uses a state directory of its own, the container is removed at the
end, also on failure or Ctrl-C. All traffic stays on this machine (the engine's
socket).

    python benchmarks/gameday.py [--fires 30] [--idle 60] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker

from chaos.gameday.history import History
from chaos.images import BUSYBOX_IMAGE, ensure_busybox_image

ROOT = Path(__file__).resolve().parent.parent

EXPERIMENT = """\
version: 1
title: a short pause
targets:
  box: {{select: {{labels: {{chaosdrill.bench: {label}}}}}, max_targets: 1}}
method:
  - {{name: freeze, fault: container.pause, target: box, duration: 0.2s}}
"""

GAMEDAY = """\
version: 1
kind: gameday
title: benchmark
timezone: UTC
drills:
  - {{name: tick, experiment: experiment.yaml, when: {{every: {every}}}}}
"""


def _serve(folder: Path, state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos",
            "gameday",
            "serve",
            str(folder / "gameday.yaml"),
            "--report-dir",
            str(folder / "reports"),
        ],
        cwd=ROOT,
        env={**os.environ, "CHAOSDRILL_STATE_DIR": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(60)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def fire_accuracy(folder: Path, fires: int) -> dict[str, Any]:
    state = folder / "state"
    (folder / "gameday.yaml").write_text(GAMEDAY.format(every="2s"))
    process = _serve(folder, state)
    deadline = time.monotonic() + fires * 2 + 60
    try:
        while True:
            with History(folder / "gameday.yaml", state) as history:
                done = [r for r in history.rows(fires * 2) if r.state != "running"]
            if len(done) >= fires:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve stopped or fell behind after {len(done)} fires")
            time.sleep(0.5)
    finally:
        code = _stop(process)
    with History(folder / "gameday.yaml", state) as history:
        rows = list(reversed(history.rows(fires * 2)))
    finished = [r for r in rows if r.state != "aborted"][:fires]  # the last may be aborted
    assert code == 0, f"serve exited {code}"
    assert all(r.state == "passed" for r in finished), [(r.state, r.reasons) for r in finished]
    assert len({r.scheduled for r in rows}) == len(rows), "a fire was recorded twice"
    to_start = [(r.started - r.fire_at).total_seconds() for r in finished]
    to_effect = []
    for row in finished:
        journal = json.loads(Path(row.journal).read_text())
        [fault] = journal["faults"]
        started = journal["started_at"]
        applied = _epoch(started) + fault["applied_at"]
        to_effect.append(applied - row.fire_at.timestamp())
    return {
        "fires": len(finished),
        "start_late_median_ms": statistics.median(to_start) * 1000,
        "start_late_p95_ms": _percentile(to_start, 0.95) * 1000,
        "start_late_max_ms": max(to_start) * 1000,
        "in_effect_late_median_ms": statistics.median(to_effect) * 1000,
        "in_effect_late_p95_ms": _percentile(to_effect, 0.95) * 1000,
    }


def _epoch(iso: str) -> float:
    from datetime import datetime, timezone

    stamp = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def idle_cost(folder: Path, seconds: float) -> dict[str, Any]:
    state = folder / "state-idle"
    (folder / "gameday.yaml").write_text(GAMEDAY.format(every="1h"))
    process = _serve(folder, state)
    try:
        time.sleep(5)  # start-up and imports are not idling
        ticks = os.sysconf("SC_CLK_TCK")
        before, began = _cpu(process.pid), time.monotonic()
        time.sleep(seconds)
        after, ended = _cpu(process.pid), time.monotonic()
        rss = _rss_kib(process.pid)
    finally:
        _stop(process)
    return {
        "idle_seconds": round(ended - began, 1),
        "idle_cpu_percent": (after - before) / ticks / (ended - began) * 100,
        "rss_mib": rss / 1024,
    }


def _cpu(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fires", type=int, default=30)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idling measured")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    client = docker.from_env()
    ensure_busybox_image(client)
    label = f"gameday-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(
        BUSYBOX_IMAGE, ["sleep", "3600"], detach=True, labels={"chaosdrill.bench": label}
    )
    try:
        with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-gameday-") as tmp:
            folder = Path(tmp)
            (folder / "experiment.yaml").write_text(EXPERIMENT.format(label=label))
            result = {**fire_accuracy(folder, args.fires), **idle_cost(folder, args.idle)}
    finally:
        container.remove(force=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value:.1f}" if isinstance(value, float) else f"{key:28} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
