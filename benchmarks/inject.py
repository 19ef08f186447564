"""How long a pause takes to inject and revert: chaosdrill against the raw Docker API.

Starts N containers of ``chaosdrill/busybox:1`` (``sleep``), labelled
``chaosdrill.bench=inject-<id>``, and measures, R rounds round-robin:

* raw, 1 container: ``client.api.pause(id)`` from the call to its return, then
  ``unpause`` likewise. The call's return is the figure: dockerd answers only
  once the cgroup freezer reports the container frozen (thawed), so that is
  when the pause is in effect. ``docker inspect``'s ``State.Paused`` is checked
  after each call (not timed) to make sure of it;
* raw, 10 containers: the same calls in a ThreadPoolExecutor of 10, from the
  first call to the last return;
* chaosdrill, 1 and 10 containers: ``chaos.api.run`` on an experiment with one
  step, ``container.pause`` on ``mode: all`` of them for 2 s. From the journal
  (``FaultRecord``): scheduled start (``at``: method start plus the step's
  offset) to ``applied_at`` of the last container, ``injected_at`` to
  ``applied_at`` (the injection call alone, per container, the slowest), and
  ``revert_started`` to ``reverted_at`` of the last container. A field the
  journal does not carry is reported as missing, not guessed.

Only the public API (``chaos.api``) and the journal are used, so the script
keeps working while the engine's injection path changes. The ratios compare
chaosdrill's figure with the raw API's for the same number of containers.

Every container this script starts carries its label and is removed at the
end, also on failure, Ctrl-C or SIGTERM. It never touches other containers.
Bounded: the defaults (5 rounds) take about a minute; past 60 s a round it stops.

    python benchmarks/inject.py [--runs 5] [--containers 10] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

from chaos import api

LABEL = "chaosdrill.bench"
IMAGE = "chaosdrill/busybox:1"
DURATION = 2.0
RUN_LIMIT = 60.0
"""Seconds a chaosdrill run may take before the benchmark gives up on it."""


@contextlib.contextmanager
def containers(client: docker.DockerClient, count: int, tag: str) -> Iterator[list[Any]]:
    """``count`` sleeping containers labelled ``LABEL=tag`` and ``slot=<i>``; removed at exit."""
    started: list[Any] = []
    try:
        for slot in range(count):
            started.append(
                client.containers.run(
                    IMAGE,
                    ["sleep", "3600"],
                    detach=True,
                    labels={LABEL: tag, "slot": str(slot)},
                    name=f"{tag}-{slot}",
                )
            )
        yield started
    finally:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}={tag}"}):
            with contextlib.suppress(Exception):
                container.unpause()
            with contextlib.suppress(Exception):
                container.remove(force=True)


def paused(client: docker.DockerClient, container_id: str) -> bool:
    return bool(client.api.inspect_container(container_id)["State"]["Paused"])


def raw_round(client: docker.DockerClient, ids: list[str]) -> dict[str, float]:
    """Seconds from the first pause call to the last return, and the same for unpause."""

    def timed(call: Callable[[str], Any]) -> float:
        started = time.perf_counter()
        if len(ids) == 1:
            call(ids[0])
        else:
            with ThreadPoolExecutor(max_workers=len(ids)) as pool:
                list(pool.map(call, ids))
        return time.perf_counter() - started

    pause = timed(client.api.pause)
    if not all(paused(client, i) for i in ids):
        raise SystemExit("raw pause returned but a container is not paused")
    unpause = timed(client.api.unpause)
    if any(paused(client, i) for i in ids):
        raise SystemExit("raw unpause returned but a container is still paused")
    return {"inject": pause, "revert": unpause}


EXPERIMENT = """\
version: 1
title: pause benchmark ({count})
targets:
  t:
    select: {{labels: {{{label}: "{tag}"{slot}}}}}
    mode: all
    max_targets: {count}
method:
  - {{name: pause, fault: container.pause, target: t, duration: {duration}s}}
recovery: {{within: 10s}}
"""


def chaosdrill_round(tag: str, count: int, work: Path) -> dict[str, float | None]:
    """One run through ``chaos.api.run``; figures from its journal (None when missing)."""
    path = work / f"pause-{count}.yaml"
    slot = ', slot: "0"' if count == 1 else ""
    path.write_text(
        EXPERIMENT.format(label=LABEL, tag=tag, slot=slot, count=count, duration=DURATION)
    )
    result = api.run(
        api.load(path),
        report_dir=work / "reports",
        state_dir=work / "state",
        handle_signals=False,
    )
    faults = result.journal.faults
    if result.verdict.value != "passed" or len(faults) != count:
        reasons = [r.message for r in result.reasons]
        raise SystemExit(
            f"chaosdrill run {result.verdict.value} with {len(faults)} faults: {reasons}"
        )

    def last(pairs: list[tuple[float | None, float | None]]) -> float | None:
        spans = [end - start for start, end in pairs if start is not None and end is not None]
        return max(spans) if len(spans) == len(pairs) else None

    def field(record: Any, name: str) -> float | None:
        return getattr(record, name, None)

    scheduled = [(field(f, "at"), field(f, "applied_at")) for f in faults]
    injecting = [(field(f, "injected_at"), field(f, "applied_at")) for f in faults]
    reverting = [(field(f, "revert_started"), field(f, "reverted_at")) for f in faults]
    # the last container in effect counts, from the step's single scheduled start;
    # likewise the last one reverted, from the first revert started
    first_revert = min((s for s, _ in reverting if s is not None), default=None)
    last_reverted = [e for _, e in reverting]
    revert_span = (
        max(last_reverted) - first_revert  # type: ignore[type-var]
        if first_revert is not None and None not in last_reverted
        else None
    )
    return {
        "inject": last(scheduled),
        "inject_call": last(injecting),
        "revert": revert_span,
        "revert_call": last(reverting),
    }


def summarize(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ms(value: float | None) -> str:
    return "missing" if value is None else f"{value * 1000:8.1f} ms"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:6.1f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--containers", type=int, default=10, help="the larger group (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20 or not 2 <= args.containers <= 10:
        parser.error("--runs is 1 to 20, --containers 2 to 10")

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the cleanup

    signal.signal(signal.SIGTERM, stop)
    client = docker.from_env()
    client.images.get(IMAGE)  # raises ImageNotFound: run `chaosdrill images build`
    tag = f"inject-{uuid.uuid4().hex[:8]}"
    sizes = (1, args.containers)
    raw: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    ours: dict[int, list[dict[str, float | None]]] = {n: [] for n in sizes}
    started = time.monotonic()
    with (
        containers(client, args.containers, tag) as group,
        tempfile.TemporaryDirectory(prefix="chaosdrill-inject-") as tmp,
    ):
        ids = [c.id for c in group]
        for _ in range(args.runs):
            for n in sizes:
                raw[n].append(raw_round(client, ids[:n]))
                ours[n].append(chaosdrill_round(tag, n, Path(tmp)))
                if time.monotonic() - started > RUN_LIMIT * args.runs:
                    raise SystemExit("benchmark over its time limit")

    report: dict[str, Any] = {"benchmark": "inject", "runs": args.runs, "duration_s": DURATION}
    lines = []
    for n in sizes:
        r = {k: summarize([x[k] for x in raw[n]]) for k in ("inject", "revert")}
        c = {k: summarize([x[k] for x in ours[n]]) for k in ours[n][0]}
        report[f"{n}_containers"] = {
            "raw_pause_ms": r["inject"] and round(r["inject"] * 1000, 1),
            "raw_unpause_ms": r["revert"] and round(r["revert"] * 1000, 1),
            **{f"chaosdrill_{k}_ms": v and round(v * 1000, 1) for k, v in c.items()},
            "ratio_inject": c["inject"] and r["inject"] and round(c["inject"] / r["inject"], 1),
            "ratio_revert": c["revert"] and r["revert"] and round(c["revert"] / r["revert"], 1),
        }
        lines += [
            f"{n} container(s), medians of {args.runs}:",
            f"  raw api.pause (call to return)             {ms(r['inject'])}",
            f"  chaosdrill scheduled start -> last applied {ms(c['inject'])}"
            f"  {ratio(c['inject'], r['inject'])}",
            f"  chaosdrill injected_at -> applied_at (max) {ms(c['inject_call'])}",
            f"  raw api.unpause (call to return)           {ms(r['revert'])}",
            f"  chaosdrill revert started -> last reverted {ms(c['revert'])}"
            f"  {ratio(c['revert'], r['revert'])}",
            f"  chaosdrill revert_started -> reverted_at   {ms(c['revert_call'])}",
        ]
    report["seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(lines))
        print(json.dumps(report, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
