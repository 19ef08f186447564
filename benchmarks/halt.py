"""How long the kill switch takes: ``chaosdrill halt`` to the end of a run.

Starts one ``chaosdrill/busybox:1`` container (``sleep``), labelled
``chaosdrill.bench=halt-<id>``, and R times: starts ``chaosdrill run --json``
on an experiment pausing it for 30 s, waits until the engine reports it
paused, calls ``chaosdrill halt`` and measures

* halt to unpaused: from calling ``chaosdrill halt`` to the engine reporting
  the container no longer paused (polled every 10 ms);
* halt to the end: from calling ``chaosdrill halt`` to the run's exit (its
  journal written, its verdict printed).

Each run is checked: exit code 3 and a ``halted`` reason. Every round uses a
state directory of its own (``CHAOSDRILL_STATE_DIR``), so the halt never
reaches another run on this machine; the container is removed at the end,
also on failure or Ctrl-C.

    python benchmarks/halt.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker

from chaos.images import BUSYBOX_IMAGE

EXPERIMENT = """\
version: 1
title: held until halted
targets:
  web: {{select: {{labels: {{chaosdrill.bench: {label}}}}}, max_targets: 1}}
method:
  - {{name: freeze, fault: container.pause, target: web, duration: 30s}}
"""


def _paused(client: Any, container_id: str) -> bool:
    return bool(client.api.inspect_container(container_id)["State"]["Paused"])


def _wait(predicate: Any, timeout: float, what: str, step: float = 0.01) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(step)
    return time.monotonic()


def one_round(client: Any, container_id: str, experiment: Path, work: Path) -> tuple[float, float]:
    env = {**os.environ, "CHAOSDRILL_STATE_DIR": str(work / "state")}
    command = [sys.executable, "-m", "chaos"]
    run = subprocess.Popen(
        [*command, "run", str(experiment), "--json", "--report-dir", str(work / "reports")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait(lambda: _paused(client, container_id), 60, "the pause")
        called = time.monotonic()
        subprocess.run(
            [*command, "halt", "--reason", "benchmark"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        unpaused = _wait(lambda: not _paused(client, container_id), 10, "the unpause")
        out, err = run.communicate(timeout=30)
        ended = time.monotonic()
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    data = json.loads(out)
    if run.returncode != 3 or data["reasons"][0]["kind"] != "halted":
        raise RuntimeError(f"the run did not end halted: {run.returncode} {out} {err}")
    return unpaused - called, ended - called


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    client = docker.from_env()
    label = f"halt-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(
        BUSYBOX_IMAGE, ["sleep", "600"], detach=True, labels={"chaosdrill.bench": label}
    )
    figures: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            experiment = Path(tmp) / "halt.yaml"
            experiment.write_text(EXPERIMENT.format(label=label))
            for index in range(args.runs):
                work = Path(tmp) / f"round-{index}"
                work.mkdir()
                figures.append(one_round(client, container.id, experiment, work))
    finally:
        container.remove(force=True)
        client.close()
    unpaused = [f[0] for f in figures]
    ended = [f[1] for f in figures]
    result = {
        "runs": len(figures),
        "halt_to_unpaused_median": statistics.median(unpaused),
        "halt_to_unpaused_max": max(unpaused),
        "halt_to_end_median": statistics.median(ended),
        "halt_to_end_max": max(ended),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{len(figures)} runs: halt to unpaused median {result['halt_to_unpaused_median']:.3f}s "
            f"(max {result['halt_to_unpaused_max']:.3f}s); halt to the run's end median "
            f"{result['halt_to_end_median']:.3f}s (max {result['halt_to_end_max']:.3f}s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
