"""How fast a partition takes effect, and how fast it is reverted at its deadline.

Starts N target containers and one peer on a user-defined network, runs an
experiment that partitions every target from the peer at t+0 for D seconds,
and reads the journal:

* scheduled start -> in effect: from the step's scheduled time (method start
  + ``at``) to ``applied_at``, when iptables-restore returned in the target's
  namespace (the rules apply atomically: every packet after that is dropped);
* deadline -> reverted: from ``at + duration`` to ``reverted_at``.

Runs with 1 and with 20 targets, R repetitions each, and reports medians
(the last target of a step is the one that counts). The machine is shared:
compare ratios, not absolute numbers.

    python benchmarks/network_faults.py [--targets 1 20] [--runs 3] [--duration 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

import docker

from chaos import api
from chaos.demo import DEMO_IMAGE, build_demo_image
from chaos.images import ensure_netns_image

LABEL = "chaosdrill.bench"


def sweep(client: docker.DockerClient) -> None:
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        with contextlib.suppress(Exception):
            container.remove(force=True)
    for network in client.networks.list(filters={"label": LABEL}):
        with contextlib.suppress(Exception):
            network.remove()


def one_run(
    client: docker.DockerClient, targets: int, duration: float, work: Path
) -> dict[str, Any]:
    group = uuid.uuid4().hex[:8]
    network = client.networks.create(f"cdbench-{group}", labels={LABEL: group})
    try:
        labels = {LABEL: group, "grp": group}
        client.containers.run(
            DEMO_IMAGE, detach=True, network=network.name, labels={**labels, "role": "peer"}
        )
        for _ in range(targets):
            client.containers.run(
                DEMO_IMAGE, detach=True, network=network.name, labels={**labels, "role": "target"}
            )
        path = work / f"partition-{group}.yaml"
        path.write_text(
            textwrap.dedent(f"""
            version: 1
            title: partition benchmark
            targets:
              t: {{select: {{labels: {{grp: "{group}", role: target}}}}}}
              peer: {{select: {{labels: {{grp: "{group}", role: peer}}}}}}
            method:
              - {{name: cut, fault: network.partition, target: t, from: [peer], duration: {duration}s}}
            """)
        )
        result = api.run(
            api.load(path),
            report_dir=work / "reports",
            state_dir=work / "state",
            handle_signals=False,
        )
        faults = result.journal.faults
        assert result.verdict.value == "passed", [r.message for r in result.reasons]
        scheduled = faults[0].at
        deadline = scheduled + duration
        return {
            "to_effect": [f.applied_at - scheduled for f in faults],
            "to_revert": [f.reverted_at - deadline for f in faults],
        }
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}={group}"}):
            with contextlib.suppress(Exception):
                container.remove(force=True)
        network.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    args = parser.parse_args()
    client = docker.from_env()
    build_demo_image(client)
    ensure_netns_image(client)
    sweep(client)
    report: dict[str, Any] = {"benchmark": "network_faults", "runs": args.runs}
    try:
        with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-") as tmp:
            for n in args.targets:
                effect, revert = [], []
                for _ in range(args.runs):
                    timings = one_run(client, n, args.duration, Path(tmp))
                    effect.append(max(timings["to_effect"]))
                    revert.append(max(timings["to_revert"]))
                report[f"{n}_targets"] = {
                    "start_to_effect_ms": round(statistics.median(effect) * 1000, 1),
                    "deadline_to_revert_ms": round(statistics.median(revert) * 1000, 1),
                }
                print(
                    f"{n:>3} target(s): scheduled start -> partition in effect "
                    f"{report[f'{n}_targets']['start_to_effect_ms']} ms, deadline -> reverted "
                    f"{report[f'{n}_targets']['deadline_to_revert_ms']} ms (median of {args.runs})"
                )
    finally:
        sweep(client)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
