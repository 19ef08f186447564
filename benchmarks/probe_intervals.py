"""How steadily continuous probes keep their interval, and what sampling costs.

Starts N demo web containers (``chaosdrill/demo-web:2``, port 80 published on
a random loopback port), runs an experiment with one continuous ``http`` probe
per container at a fixed interval while a throwaway busybox container is
paused (the method needs a fault; nothing the probes look at is touched), then
reads the journal:

* the gap between consecutive samples of each probe (``samples[*].t`` is taken
  when a check starts, so on a perfect grid every gap equals the interval);
* how late each sample is on its probe's own grid (no drift: stays small);
* the runner's CPU use: process CPU time (every thread) over wall time, in
  cores, for the whole ``api.run`` call and for the method phase alone (the
  engine's side only: docker-proxy and the containers are not counted);
* as a control, a do-nothing ticker on the same grid, once as a thread of this
  process and once as a separate process: if it wakes up late at the same
  moments as the probes, the host (not the sampler) was stalling.

Every container carries the label ``chaosdrill.bench`` and is removed at the
end, even on failure, Ctrl-C or SIGTERM; leftovers of a killed run (SIGKILL)
are swept at start.
Traffic goes to 127.0.0.1 only and every duration is fixed.

    python benchmarks/probe_intervals.py [--containers 20] [--interval-ms 100] [--duration 10]
                                         [--details]
"""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from _common import (
    bystander_experiment,
    percentile,
    raise_keyboard_interrupt,
    timed_run,
)

from chaos import api
from chaos.demo import DEMO_IMAGE, build_demo_image
from chaos.docker_client import connect
from chaos.images import BUSYBOX_IMAGE, ensure_busybox_image

BENCH_LABEL = "chaosdrill.bench"
ROLE_LABEL = "chaosdrill.bench.role"
READY_TIMEOUT = 60.0


def sweep(client: Any) -> int:
    """Remove every container carrying the bench label; return how many."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": BENCH_LABEL}):
        try:
            container.remove(force=True)
            removed += 1
        except Exception as exc:  # already gone, or being removed by the engine
            print(f"warning: could not remove {container.name}: {exc}", file=sys.stderr)
    return removed


def start_web(client: Any, count: int) -> list[int]:
    """Start ``count`` demo web containers; return their loopback host ports."""
    ports = []
    for i in range(count):
        container = client.containers.run(
            DEMO_IMAGE,
            detach=True,
            labels={BENCH_LABEL: "1", ROLE_LABEL: "web", "chaosdrill.bench.index": str(i)},
            ports={"80/tcp": ("127.0.0.1", None)},
        )
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"]["80/tcp"]
        ports.append(int(bindings[0]["HostPort"]))
    return ports


def start_throwaway(client: Any) -> None:
    client.containers.run(
        BUSYBOX_IMAGE,
        ["sleep", "3600"],
        detach=True,
        labels={BENCH_LABEL: "1", ROLE_LABEL: "pause"},
    )


def wait_ready(ports: list[int], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = set(ports)
    while pending:
        for port in sorted(pending):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        pending.discard(port)
            except Exception:
                pass
        if not pending:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"web containers not answering after {timeout:g}s: {sorted(pending)}")
        time.sleep(0.2)


def experiment(ports: list[int], interval_ms: int, duration: float) -> dict[str, Any]:
    return bystander_experiment(
        "bench probe intervals",
        "benchmarks/probe_intervals.py: probes sampled while a bystander is paused",
        {BENCH_LABEL: "1", ROLE_LABEL: "pause"},
        duration,
        [
            {
                "name": f"web-{i:02d}",
                "probe": "http",
                "url": f"http://127.0.0.1:{port}/",
                "timeout": "1s",
                "interval": f"{interval_ms}ms",
            }
            for i, port in enumerate(ports)
        ],
    )


TICKER = """
import json, sys, threading, time
interval, duration = float(sys.argv[1]), float(sys.argv[2])
wake, late = threading.Event(), []
start = time.monotonic()
tick = start
while tick - start < duration:
    tick += interval
    wake.wait(max(0.0, tick - time.monotonic()))
    late.append(time.monotonic() - tick)
print(json.dumps(late))
"""
"""A do-nothing ticker on the probes' grid: how late a bare wake-up is, as a control."""


def tick_in_thread(interval: float, duration: float, out: list[float]) -> threading.Thread:
    """The ticker as a thread of this process: it shares the runner's GIL and CPU."""

    def loop() -> None:
        wake = threading.Event()
        start = tick = time.monotonic()
        while tick - start < duration:
            tick += interval
            wake.wait(max(0.0, tick - time.monotonic()))
            out.append(time.monotonic() - tick)

    thread = threading.Thread(target=loop, name="bench-ticker", daemon=True)
    thread.start()
    return thread


def lateness_summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "median_ms": round(statistics.median(values) * 1000, 2),
        "p95_ms": round(percentile(values, 95) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }


def analyse(journal: Any, interval: float) -> dict[str, Any]:
    gaps: list[float] = []
    latencies: list[float] = []
    per_probe = []
    late: list[dict[str, Any]] = []
    lateness: list[float] = []
    tail_lateness: list[float] = []
    for probe in journal.probes:
        samples = sorted(probe.samples, key=lambda s: s.t)
        times = [s.t for s in samples]
        probe_gaps = [b - a for a, b in itertools.pairwise(times)]
        # how late each sample is on the probe's own grid (first sample = origin): a
        # sampler that keeps its grid stays within a few ms; one that drifts does not
        slack = min(0.005, interval / 10)
        lateness.extend(((t - times[0] + slack) % interval) - slack for t in times[1:])
        if len(times) > 1:
            last = times[-1] - times[0]
            tail_lateness.append(((last + slack) % interval) - slack)
        for before, after in itertools.pairwise(samples):
            gap = after.t - before.t
            if gap > 1.5 * interval:
                # a check that took longer than the interval skips ticks by design;
                # a long gap after a quick check means the thread woke up late
                late.append(
                    {
                        "probe": probe.name,
                        "t": before.t,
                        "gap_ms": round(gap * 1000, 1),
                        "latency_ms": round(before.latency * 1000, 1),
                        "cause": "overrun" if before.latency > interval else "late wakeup",
                        "detail": before.detail,
                    }
                )
        gaps.extend(probe_gaps)
        latencies.extend(s.latency for s in probe.samples)
        span = (probe.stopped or 0.0) - (probe.started or 0.0)
        per_probe.append(
            {
                "name": probe.name,
                "samples": len(times),
                "expected": int(span // interval) + 1 if span > 0 else None,
                "failed": sum(not s.ok for s in probe.samples),
                "median_gap_ms": round(statistics.median(probe_gaps) * 1000, 2)
                if probe_gaps
                else None,
                "max_gap_ms": round(max(probe_gaps) * 1000, 2) if probe_gaps else None,
            }
        )
    deviations = [abs(g - interval) / interval * 100 for g in gaps]
    return {
        "probes": len(journal.probes),
        "samples": sum(p["samples"] for p in per_probe),
        "expected_samples": sum(p["expected"] or 0 for p in per_probe),
        "failed_samples": sum(p["failed"] for p in per_probe),
        "median_gap_ms": round(statistics.median(gaps) * 1000, 2) if gaps else None,
        "p95_gap_ms": round(percentile(gaps, 95) * 1000, 2) if gaps else None,
        "max_gap_ms": round(max(gaps) * 1000, 2) if gaps else None,
        "median_deviation_pct": round(statistics.median(deviations), 2) if gaps else None,
        "p95_deviation_pct": round(percentile(deviations, 95), 2) if gaps else None,
        "median_grid_lateness_ms": round(statistics.median(lateness) * 1000, 2)
        if lateness
        else None,
        "p95_grid_lateness_ms": round(percentile(lateness, 95) * 1000, 2) if lateness else None,
        "last_sample_lateness_ms": round(statistics.median(tail_lateness) * 1000, 2)
        if tail_lateness
        else None,
        "gaps_over_1_5x": len(late),
        "long_gaps": late,
        "median_latency_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p95_latency_ms": round(percentile(latencies, 95) * 1000, 2) if latencies else None,
        "per_probe": per_probe,
    }


def run_benchmark(containers: int, interval_ms: int, duration: float) -> dict[str, Any]:
    client = connect()
    try:
        swept = sweep(client)
        if swept:
            print(f"swept {swept} leftover bench container(s)", file=sys.stderr)
        ensure_busybox_image(client)
        build_demo_image(client)
        try:
            ports = start_web(client, containers)
            start_throwaway(client)
            wait_ready(ports)
            with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-") as tmp:
                path = Path(tmp) / "probe-intervals.yaml"
                path.write_text(
                    yaml.safe_dump(experiment(ports, interval_ms, duration), sort_keys=False)
                )
                loaded = api.load(path)
                interval = interval_ms / 1000.0
                control = subprocess.Popen(
                    [sys.executable, "-c", TICKER, str(interval), str(duration)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                in_process: list[float] = []
                ticker = tick_in_thread(interval, duration, in_process)
                result, cpu = timed_run(loaded, Path(tmp) / "reports")
                ticker.join(duration + 5)
                out, _ = control.communicate(timeout=duration + 5)
                out_of_process = json.loads(out) if control.returncode == 0 else []
        finally:
            sweep(client)
    finally:
        client.close()

    stats = analyse(result.journal, interval_ms / 1000.0)
    figures: dict[str, Any] = dict(cpu)
    figures["ticker_thread_lateness"] = lateness_summary(in_process)
    figures["ticker_process_lateness"] = lateness_summary(out_of_process)
    return {
        "benchmark": "probe_intervals",
        "containers": containers,
        "interval_ms": interval_ms,
        "duration_s": duration,
        "verdict": result.verdict.value,
        "reasons": [r.message for r in result.reasons],
        **{k: v for k, v in stats.items() if k != "per_probe"},
        **figures,
        "python": sys.version.split()[0],
        "per_probe": stats["per_probe"],
    }


def print_table(report: dict[str, Any]) -> None:
    rows = [
        ("verdict", report["verdict"]),
        ("probes x interval", f"{report['probes']} x {report['interval_ms']} ms"),
        ("samples (expected)", f"{report['samples']} ({report['expected_samples']})"),
        ("failed samples", report["failed_samples"]),
        ("median gap", f"{report['median_gap_ms']} ms"),
        ("p95 gap", f"{report['p95_gap_ms']} ms"),
        ("max gap", f"{report['max_gap_ms']} ms"),
        ("gaps > 1.5 x interval", report["gaps_over_1_5x"]),
        (
            "lateness on own grid",
            f"median {report['median_grid_lateness_ms']} ms, p95 "
            f"{report['p95_grid_lateness_ms']} ms, last sample {report['last_sample_lateness_ms']} ms",
        ),
        ("median |deviation|", f"{report['median_deviation_pct']} %"),
        ("p95 |deviation|", f"{report['p95_deviation_pct']} %"),
        ("median / p95 latency", f"{report['median_latency_ms']} / {report['p95_latency_ms']} ms"),
        (
            "CPU, whole run",
            f"{report['run_cores']} cores ({report['run_cpu_s']} s / {report['run_wall_s']} s)",
        ),
    ]
    if "method_cores" in report:
        rows.append(
            (
                "CPU, method phase",
                f"{report['method_cores']} cores "
                f"({report['method_cpu_s']} s / {report['method_wall_s']} s)",
            )
        )
    for key, label in (
        ("ticker_thread_lateness", "control ticker, thread"),
        ("ticker_process_lateness", "control ticker, process"),
    ):
        late = report[key]
        rows.append(
            (
                label,
                f"late by median {late['median_ms']} ms, p95 {late['p95_ms']} ms, "
                f"max {late['max_ms']} ms",
            )
        )
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for gap in report["long_gaps"][:10]:
        print(
            f"long gap: {gap['probe']} at t={gap['t']:.2f}s: {gap['gap_ms']} ms after a "
            f"{gap['latency_ms']} ms check ({gap['cause']}, {gap['detail']})"
        )
    for reason in report["reasons"]:
        print(f"reason: {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20, help="web containers and probes")
    parser.add_argument("--interval-ms", type=int, default=100, help="probe interval")
    parser.add_argument("--duration", type=float, default=10.0, help="method length, seconds")
    parser.add_argument(
        "--details", action="store_true", help="include every probe and long gap in the JSON"
    )
    args = parser.parse_args(argv)
    if not (1 <= args.containers <= 50 and args.interval_ms >= 10 and 1 <= args.duration <= 60):
        parser.error("bounds: 1-50 containers, interval >= 10 ms, duration 1-60 s")

    # api.run handles SIGTERM itself while it runs
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    try:
        report = run_benchmark(args.containers, args.interval_ms, args.duration)
    except KeyboardInterrupt:
        print("interrupted; bench containers removed", file=sys.stderr)
        return 130
    print_table(report)
    if not args.details:
        report.pop("per_probe")
        report.pop("long_gaps")
    print(json.dumps(report, separators=(",", ":")))
    return 0 if report["verdict"] == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
