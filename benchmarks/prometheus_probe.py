"""What the ``prometheus`` probe costs: query latency and the runner's CPU.

Starts a real Prometheus (Debian's binary, through
:func:`chaos.prometheus_process.start_prometheus`) on 127.0.0.1 in a temporary
directory, scraping itself every second, and measures:

* latency: R checks of the ``prometheus`` probe (its ``check``, as the engine
  calls it) of one instant query, interleaved with R raw ``requests.get`` of
  ``/api/v1/query`` on the same query (a fresh connection each, like the
  probe), with the process CPU each side spent; median, p95 and their ratio;
* the runner's CPU: the same experiment run through ``chaos.api.run`` with no
  probe, with one continuous ``prometheus`` probe at ``interval: 1s`` and with
  N of them. The method pauses a throwaway ``chaosdrill/busybox:1`` container
  (a method needs a fault; nothing the probes look at is touched). The process
  CPU (``getrusage``, user + system, every thread) over the method phase, minus
  the run without probes, divided by probe-seconds; and how well the samples
  keep their 1 s grid.

The busybox container carries the label ``chaosdrill.bench`` (and this run's
own id) and is removed at the end, with Prometheus stopped, even on failure,
Ctrl-C or SIGTERM. Traffic goes to 127.0.0.1 only.

    python benchmarks/prometheus_probe.py [--checks 200] [--duration 20] [--probes 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import yaml
from _common import (
    bystander_experiment,
    cpu_seconds,
    percentile,
    raise_keyboard_interrupt,
    timed_run,
)

from chaos import api
from chaos.docker_client import connect
from chaos.images import BUSYBOX_IMAGE, ensure_busybox_image
from chaos.prometheus_process import LocalProcess, free_loopback_port, start_prometheus
from probes.prometheus import PrometheusParams, PrometheusProbe

BENCH_LABEL = "chaosdrill.bench"
RUN_LABEL = "chaosdrill.bench.run"
QUERY = "sum(rate(prometheus_http_requests_total[15s]))"
INTERVAL = 1.0
TIMEOUT = "2s"
WARMUP = 5
READY_TIMEOUT = 30.0

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def ms(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or math.isnan(value) else round(value * 1000, digits)


def start_server(work: Path) -> LocalProcess:
    """Prometheus on a free loopback port, scraping itself every second."""
    port = free_loopback_port()
    config = work / "prometheus.yml"
    config.write_text(CONFIG.format(port=port))
    return start_prometheus(config, work / "prometheus", port=port)


def wait_for_values(url: str) -> None:
    """Until the query has a value (``rate`` over 15s needs two scrapes)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        answer = requests.get(f"{url}/api/v1/query", params={"query": QUERY}, timeout=2).json()
        if answer.get("status") == "success" and answer["data"]["result"]:
            return
        time.sleep(0.5)
    raise SystemExit(f"Prometheus at {url} gave no value for {QUERY!r} in {READY_TIMEOUT:g}s")


def measure_latency(url: str, checks: int) -> dict[str, Any]:
    """``checks`` probe checks and raw GETs, interleaved (alternating which goes first)."""
    probe = PrometheusProbe()
    params = PrometheusParams.model_validate(
        {"url": url, "query": QUERY, "expect": {"ge": 0}, "timeout": TIMEOUT}
    )

    def probe_once() -> bool:
        return probe.check(None, params, ()).ok  # type: ignore[arg-type]  # unused by check

    def raw_once() -> bool:
        answer = requests.get(f"{url}/api/v1/query", params={"query": QUERY}, timeout=2.0)
        body = answer.json()
        return answer.status_code == 200 and bool(body["data"]["result"])

    sides = {"probe": probe_once, "raw": raw_once}
    for _ in range(WARMUP):  # imports, first connections
        for run in sides.values():
            run()
    wall: dict[str, list[float]] = {name: [] for name in sides}
    cpu = dict.fromkeys(sides, 0.0)
    failed = dict.fromkeys(sides, 0)
    for i in range(checks):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            c0, t0 = cpu_seconds(), time.perf_counter()
            ok = sides[name]()
            t1, c1 = time.perf_counter(), cpu_seconds()
            wall[name].append(t1 - t0)
            cpu[name] += c1 - c0
            failed[name] += not ok
    out: dict[str, Any] = {"checks": checks}
    for name in sides:
        out[f"{name}_median_ms"] = ms(statistics.median(wall[name]))
        out[f"{name}_p95_ms"] = ms(percentile(wall[name], 95))
        out[f"{name}_cpu_ms_per_call"] = ms(cpu[name] / checks, 3)
        out[f"{name}_failed"] = failed[name]
    out["median_ratio"] = round(
        statistics.median(wall["probe"]) / statistics.median(wall["raw"]), 2
    )
    out["p95_ratio"] = round(percentile(wall["probe"], 95) / percentile(wall["raw"], 95), 2)
    out["cpu_ratio"] = round(cpu["probe"] / cpu["raw"], 2) if cpu["raw"] > 0 else None
    return out


def experiment(run_id: str, url: str, probes: int, duration: float) -> dict[str, Any]:
    return bystander_experiment(
        f"bench prometheus probe x{probes}",
        "benchmarks/prometheus_probe.py: prometheus probes while a bystander is paused",
        {BENCH_LABEL: "1", RUN_LABEL: run_id},
        duration,
        [
            {
                "name": f"prom-{i:02d}",
                "probe": "prometheus",
                "url": url,
                "query": QUERY,
                "expect": {"ge": 0},
                "timeout": TIMEOUT,
                "interval": f"{INTERVAL:g}s",
            }
            for i in range(probes)
        ],
    )


def run_once(work: Path, run_id: str, url: str, probes: int, duration: float) -> dict[str, Any]:
    path = work / f"prometheus-probe-{probes}.yaml"
    path.write_text(yaml.safe_dump(experiment(run_id, url, probes, duration), sort_keys=False))
    loaded = api.load(path)
    result, cpu = timed_run(loaded, work / f"reports-{probes}", digits=4)
    out: dict[str, Any] = {
        "probes": probes,
        "verdict": result.verdict.value,
        "reasons": [r.message for r in result.reasons],
        **cpu,
    }
    gaps: list[float] = []
    latencies: list[float] = []
    samples = failed = 0
    for probe in result.journal.probes:
        times = sorted(s.t for s in probe.samples)
        gaps.extend(b - a for a, b in itertools.pairwise(times))
        latencies.extend(s.latency for s in probe.samples)
        samples += len(probe.samples)
        failed += sum(not s.ok for s in probe.samples)
    deviation = [abs(g - INTERVAL) for g in gaps]
    out.update(
        {
            "samples": samples,
            "failed_samples": failed,
            "median_gap_ms": ms(statistics.median(gaps)) if gaps else None,
            "median_gap_deviation_ms": ms(statistics.median(deviation)) if gaps else None,
            "p95_gap_deviation_ms": ms(percentile(deviation, 95)) if gaps else None,
            "max_gap_ms": ms(max(gaps)) if gaps else None,
            "median_sample_latency_ms": ms(statistics.median(latencies)) if latencies else None,
            "p95_sample_latency_ms": ms(percentile(latencies, 95)) if latencies else None,
        }
    )
    return out


def overhead(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU per probe-second over the method phase, against the run without probes."""
    base = runs[0].get("method_cores")
    out: dict[str, Any] = {}
    for run in runs[1:]:
        cores = run.get("method_cores")
        if base is None or cores is None:
            continue
        per = (cores - base) / run["probes"]  # CPU seconds per probe-second
        out[f"x{run['probes']}_cpu_ms_per_probe_second"] = round(per * 1000, 2)
        out[f"x{run['probes']}_cores_ratio_to_none"] = round(cores / base, 2) if base > 0 else None
    return out


def run_benchmark(checks: int, duration: float, many: int) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:12]
    client = connect()
    server: LocalProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-") as tmp:
            work = Path(tmp)
            try:
                server = start_server(work)
                wait_for_values(server.url)
                latency = measure_latency(server.url, checks)
                ensure_busybox_image(client)
                client.containers.run(
                    BUSYBOX_IMAGE,
                    ["sleep", "3600"],
                    detach=True,
                    labels={BENCH_LABEL: "1", RUN_LABEL: run_id},
                )
                counts = [0, 1] + ([many] if many > 1 else [])
                runs = [run_once(work, run_id, server.url, n, duration) for n in counts]
            finally:
                if server is not None:
                    server.stop()
                remove_containers(client, run_id)
    finally:
        client.close()
    return {
        "benchmark": "prometheus_probe",
        "query": QUERY,
        "interval_s": INTERVAL,
        "duration_s": duration,
        "latency": latency,
        "runs": runs,
        "overhead": overhead(runs),
        "load": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }


def remove_containers(client: Any, run_id: str) -> None:
    """This run's containers only: another run's bench containers are left alone."""
    for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
        try:
            container.remove(force=True)
        except Exception as exc:  # already gone, or being removed by the engine
            print(f"warning: could not remove {container.name}: {exc}", file=sys.stderr)


def print_table(report: dict[str, Any]) -> None:
    lat = report["latency"]
    print(f"query: {report['query']}  (Prometheus scraping itself every 1 s)")
    print(f"\nlatency, {lat['checks']} each, interleaved")
    print(f"{'':<22}{'median ms':>10}{'p95 ms':>10}{'CPU ms/call':>13}{'failed':>8}")
    for name, label in (("probe", "prometheus probe"), ("raw", "raw requests.get")):
        print(
            f"{label:<22}{lat[f'{name}_median_ms']:>10}{lat[f'{name}_p95_ms']:>10}"
            f"{lat[f'{name}_cpu_ms_per_call']:>13}{lat[f'{name}_failed']:>8}"
        )
    print(
        f"{'probe / raw':<22}{lat['median_ratio']:>9}x{lat['p95_ratio']:>9}x"
        f"{lat['cpu_ratio'] or '-':>12}x"
    )
    print(f"\nexperiment through chaos.api.run, method {report['duration_s']:g} s, interval 1 s")
    head = (
        f"{'probes':>6}{'verdict':>9}{'method cores':>14}{'samples':>9}{'failed':>8}"
        f"{'median gap':>12}{'|gap-1s| med/p95':>18}{'latency med':>13}"
    )
    print(head)
    for run in report["runs"]:
        dev = (
            f"{run['median_gap_deviation_ms']}/{run['p95_gap_deviation_ms']} ms"
            if run["median_gap_ms"] is not None
            else "-"
        )
        gap = f"{run['median_gap_ms']} ms" if run["median_gap_ms"] is not None else "-"
        lat_s = (
            f"{run['median_sample_latency_ms']} ms"
            if run["median_sample_latency_ms"] is not None
            else "-"
        )
        print(
            f"{run['probes']:>6}{run['verdict']:>9}{run.get('method_cores', '-'):>14}"
            f"{run['samples']:>9}{run['failed_samples']:>8}{gap:>12}{dev:>18}{lat_s:>13}"
        )
    for key, value in report["overhead"].items():
        print(f"{key}: {value}")
    for run in report["runs"]:
        for reason in run["reasons"]:
            print(f"reason (x{run['probes']}): {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=200, help="latency checks per side")
    parser.add_argument("--duration", type=float, default=20.0, help="method length, seconds")
    parser.add_argument("--probes", type=int, default=10, help="probes of the third run (0: none)")
    args = parser.parse_args(argv)
    if not (10 <= args.checks <= 2000 and 5 <= args.duration <= 120 and 0 <= args.probes <= 50):
        parser.error("bounds: 10-2000 checks, duration 5-120 s, 0-50 probes")

    # api.run handles SIGTERM itself while it runs
    signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    try:
        report = run_benchmark(args.checks, args.duration, args.probes)
    except KeyboardInterrupt:
        print("interrupted; Prometheus stopped, bench container removed", file=sys.stderr)
        return 130
    print_table(report)
    print(json.dumps(report, separators=(",", ":")))
    return 0 if all(r["verdict"] == "passed" for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
