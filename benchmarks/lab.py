"""How long the Swarm lab takes to come up and to go away.

Runs ``chaos.lab.lab.up`` then ``down`` R times (``--runs``, default 3) on a
lab named ``bench<pid>`` and prints the median, min and max of each, with
the phases of ``up`` (from its progress messages), then one JSON line. The
acceptance bar is a lab of 3 managers and 1 worker, images loaded, in under
3 minutes on a 2-core machine.

Run it from the repository root with the package installed (``pip install
-e .``). Needs a running Docker engine and the images (``chaosdrill images build``;
the swarm node image is built when missing, which is not timed: a build
before the first run). The lab's inventory goes to a temporary directory;
every object carries the label ``chaosdrill.bench`` and is removed at the
end, even on failure, Ctrl-C or SIGTERM.

    python benchmarks/lab.py [--runs 3] [--managers 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from typing import Any

from chaos.docker_client import connect
from chaos.errors import ChaosError, UsageError
from chaos.images import ensure_busybox_image, ensure_swarm_node_image
from chaos.lab import lab

BENCH_LABEL = "chaosdrill.bench"
BAR_SECONDS = 180.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--managers", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    host = connect()
    ensure_busybox_image(host)
    ensure_swarm_node_image(host)
    name = f"bench{os.getpid()}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    ups: list[float] = []
    downs: list[float] = []
    phases: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-labs-") as tmp:
        os.environ[lab.LAB_DIR_ENV] = tmp
        try:
            for run in range(args.runs):
                marks: dict[str, float] = {}
                started = time.perf_counter()

                def progress(message: str, marks: dict[str, float] = marks) -> None:
                    marks[message.split(":")[0].split(" ")[0]] = time.perf_counter()

                lab.up(
                    name,
                    managers=args.managers,
                    workers=args.workers,
                    labels={BENCH_LABEL: "lab"},
                    client=host,
                    progress=progress,
                )
                up_done = time.perf_counter()
                lab.down(name, client=host)
                down_done = time.perf_counter()
                ups.append(up_done - started)
                downs.append(down_done - up_done)
                phases.append(_phases(started, marks, up_done))
                print(f"run {run + 1}: up {ups[-1]:.1f}s, down {downs[-1]:.1f}s", file=sys.stderr)
        except ChaosError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 4
        finally:
            with contextlib.suppress(UsageError):  # already down
                lab.down(name, client=host)
    _report(args, ups, downs, phases)
    return 0 if statistics.median(ups) < BAR_SECONDS else 1


def _phases(started: float, marks: dict[str, float], done: float) -> dict[str, float]:
    """Seconds spent in each phase of ``up``, from its progress messages."""
    order = [
        ("network", "network"),
        ("start nodes", "nodes"),
        ("engines answer", "engines"),
        ("form swarm", "swarm"),
        ("load images", "images"),
    ]
    out: dict[str, float] = {}
    previous = started
    for label, key in order:
        if key in marks:
            out[label] = marks[key] - previous
            previous = marks[key]
    out["write inventory"] = done - previous
    return out


def _report(
    args: argparse.Namespace, ups: list[float], downs: list[float], phases: list[dict[str, float]]
) -> None:
    def row(label: str, values: list[float]) -> str:
        return (
            f"{label:<22} {statistics.median(values):>7.1f} {min(values):>7.1f} {max(values):>7.1f}"
        )

    shape = f"{args.managers} manager(s) + {args.workers} worker(s)"
    print(f"lab of {shape}, {len(ups)} runs, {os.cpu_count()} CPUs")
    print(f"{'':<22} {'median':>7} {'min':>7} {'max':>7}   (seconds)")
    print(row("lab up", ups))
    for label in phases[0]:
        print(row(f"  {label}", [p.get(label, 0.0) for p in phases]))
    print(row("lab down", downs))
    summary: dict[str, Any] = {
        "managers": args.managers,
        "workers": args.workers,
        "runs": len(ups),
        "up_median_s": round(statistics.median(ups), 2),
        "down_median_s": round(statistics.median(downs), 2),
        "up_s": [round(v, 2) for v in ups],
        "down_s": [round(v, 2) for v in downs],
        "under_bar": statistics.median(ups) < BAR_SECONDS,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    raise SystemExit(main())
