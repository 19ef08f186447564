"""A fast exec probe against a container the run pauses and unpauses many times.

An exec that starts while its container is being paused wedges the engine on
that container. The run's own pauses and its exec probe must never meet:
every run ends without an error, the container ends running, unpaused and
answering, and the probe's failing samples say why: "paused".
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from chaos import api, cgroup_freezer
from chaos.engine.result import Verdict

pytestmark = pytest.mark.docker

RUNS = 3
PAUSES = 10
"""Pause steps per run: RUNS * PAUSES pause/unpause cycles under the probe."""
SPACING = 1.0
"""Seconds between pause steps (start to start)."""
PAUSE = 0.15
EXEC_PROBES = 2
"""Exec probes side by side, each sampling every 20 ms (one exec at a time each)."""


def experiment(group: str) -> str:
    steps = "\n".join(
        f"  - {{name: p{i}, fault: container.pause, target: web, at: {i * SPACING:.2f}s, "
        f"duration: {PAUSE}s}}"
        for i in range(PAUSES)
    )
    probes = "\n".join(
        f'  - {{name: exec{i}, probe: exec, target: web, command: ["true"], interval: 20ms, '
        "timeout: 2s, tolerance: {min_availability: 0}}"
        for i in range(EXEC_PROBES)
    )
    return f"""version: 1
title: exec probe under repeated pauses
targets:
  web: {{select: {{labels: {{grp: {group}}}}}}}
method:
{steps}
probes:
{probes}
recovery: {{within: 5s}}
"""


def test_a_fast_exec_probe_never_meets_the_runs_own_pause(
    containers: Any, tmp_path: Path, frozen_guard: Any
) -> None:
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
    frozen_guard(web.id)
    path = tmp_path / "race.yaml"
    path.write_text(experiment(group))
    engine = docker.APIClient(timeout=5)
    paused_samples = passing = 0
    lags: list[float] = []
    started = time.monotonic()
    for n in range(RUNS):
        # without ledger and watchdogs (arming one takes a second here), so that
        # the pauses come as fast as the spacing says
        result = api.run(
            api.load(path),
            report_dir=tmp_path / f"reports{n}",
            handle_signals=False,
            safeguards=False,
        )
        reasons = " | ".join(r.message for r in result.reasons)
        assert result.verdict is Verdict.PASSED, f"run {n}: {result.verdict}: {reasons}"
        faults = result.journal.faults
        assert len(faults) == PAUSES
        assert all(f.outcome == "reverted" for f in faults), [f.outcome for f in faults]
        assert not any("thawed" in (f.revert_state or {}) for f in faults), "never wedged"

        lags += [f.applied_at - f.at for f in faults if f.applied_at is not None]

        asked = time.monotonic()
        state = engine.inspect_container(web.id)["State"]
        assert time.monotonic() - asked < 5
        assert state["Running"] and not state["Paused"], state
        assert not cgroup_freezer.find(web.id, state["Pid"]).frozen()

        samples = [s for i in range(EXEC_PROBES) for s in result.probe(f"exec{i}").samples]
        failing = [s.detail for s in samples if not s.ok]
        expected = (f"{web.name}: paused", f"{web.name}: paused (by chaosdrill run ")
        wrong = {d for d in failing if d not in expected[:1] and not d.startswith(expected[1])}
        assert not wrong, f"run {n}: failing samples that do not say paused: {wrong}"
        paused_samples += len(failing)
        passing += len(samples) - len(failing)
    took = time.monotonic() - started
    print(
        f"{RUNS * PAUSES} pause cycles in {RUNS} runs, {took:.1f}s: "
        f"{passing} exec samples passed, {paused_samples} failed with 'paused'; "
        f"pauses applied {max(lags):.2f}s after their step's start at most"
    )
    assert paused_samples > 0, "the probe sampled during the pauses"
    assert passing > 0
    engine.close()
