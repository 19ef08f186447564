"""How long a Swarm lab takes to converge again after node, task, manager and update faults.

Brings up a lab of its own (``bench-swarm``: 3 managers and 1 worker, every
object labelled ``chaosdrill.bench``), deploys the demo services (``web``, 4
replicas; ``api``, 2) and runs five experiments R times each (``--runs``,
default 3), round-robin so that a burst of load hits every scenario alike.
Before every run it waits until the lab is healthy (every node ready and
active, every manager reachable, a leader) and redeploys the demo services, so
each run starts from a fresh spread (one web task per node). Each experiment
runs through ``chaos.api.run`` and each figure is read from its journal
(``samples[*].t`` is when a check started; ``applied_at`` and ``reverted_at``
when inject and revert returned):

* drain-worker: the worker is drained for 15 s. The figure is the
  ``swarm.service`` probe of web (every 500 ms): its ``time_to_recover``,
  from the first failed sample to the first passing one after the last failure;
* kill-task: one web task on the worker is killed (SIGKILL, through the
  worker's own engine). Same figure;
* lose-leader: the Raft leader's node is stopped (killed: a power loss) for
  35 s. The figure is the longest outage of the ``swarm.quorum`` probe (every
  500 ms), the election time; the probe's own "elected within Xs" goes to the
  JSON;
* lose-quorum: 2 of the 3 managers are stopped for 10 s. The figure runs
  from the revert (both containers started again) to the first passing
  ``swarm.quorum`` sample;
* bad-update: web is updated to a command that cannot start; its update
  config says ``failure_action: rollback``. The figure runs from the injection
  to the first passing ``swarm.service`` sample that says ``rollback_completed``.

It prints the median, min and max of each (medians: the machine is shared),
or with ``--json`` one JSON object with every run. Every run has a time limit
(past it the runner reverts its faults and the run counts as ``timeout``) and
the whole benchmark a budget (``--budget`` minutes): past it, no new run
starts, and 5 minutes later the process removes the lab and exits. A lab that
is not healthy again 120 s after a run is described (what each node says) and
replaced, at most twice. The lab is removed at the end, even on failure,
Ctrl-C or SIGTERM; a lab left by a run killed with SIGKILL is removed at the
next start, or by hand with ``chaosdrill lab down --name bench-swarm``. All
traffic goes to 127.0.0.1 (the nodes' engines) and to the lab's containers.

    python benchmarks/swarm_faults.py [--runs 3] [--json] [--budget 40]
                                      [--scenarios drain-worker kill-task ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos import api
from chaos.docker_client import connect
from chaos.errors import ChaosError, UsageError
from chaos.journal.model import FaultRecord, Journal, ProbeRecord
from chaos.lab import lab, stack
from chaos.lab.nodes import LabError, label_filter, log_tail, node_client

LAB_NAME = "bench-swarm"
BENCH_LABEL = "chaosdrill.bench"
MANAGERS, WORKERS = 3, 1
HEALTHY_TIMEOUT = 120.0
MAX_REBUILDS = 2
"""Times a lab that does not come back healthy after a run is replaced by a new one."""
DEPLOY_TIMEOUT = 120.0
RUN_MARGIN = 60.0
"""Seconds a run may take beyond its fault's duration and its recovery window."""
HARD_STOP_GRACE = 300.0
"""Seconds past the budget after which the process removes the lab and exits."""

Measure = Callable[[Journal], tuple[float | None, dict[str, Any]]]


# -- the experiments -------------------------------------------------------------


def _experiment(title: str, body: str) -> str:
    return f'version: 1\ntitle: "benchmark: {title}"\ntags: [benchmark, swarm]\n' + (
        textwrap.dedent(body).lstrip()
    )


DRAIN_WORKER = _experiment(
    "web converges again after a drained worker",
    """
    targets:
      worker: {kind: node, select: {role: worker}, mode: one, max_targets: 1}
    steady_state:
      - {name: web-converged, probe: swarm.service, service: web}
    method:
      - {name: drain-worker, fault: node.drain, target: worker, duration: 15s}
    probes:
      - name: web-tasks
        probe: swarm.service
        service: web
        interval: 500ms
        tolerance: {max_outage: 15s}
    recovery: {within: 60s, interval: 1s}
    """,
)

KILL_TASK = _experiment(
    "web converges again after a task is killed on the worker",
    """
    targets:
      web: {kind: service, select: {name: web}}
    steady_state:
      - {name: web-converged, probe: swarm.service, target: web}
    method:
      - name: kill-worker-task
        fault: service.kill_tasks
        target: web
        role: worker
        count: 1
        duration: 15s
    probes:
      - name: web-tasks
        probe: swarm.service
        target: web
        interval: 500ms
        tolerance: {max_outage: 12s}
    recovery: {within: 60s, interval: 1s}
    """,
)

LOSE_LEADER = _experiment(
    "a new leader is elected after the leader is lost",
    """
    targets:
      cluster: {kind: swarm}
    steady_state:
      - {name: quorum, probe: swarm.quorum}
    method:
      - name: stop-leader
        fault: swarm.lose_managers
        target: cluster
        count: 1
        leader_first: true
        how: stop
        duration: 35s
    probes:
      - name: quorum
        probe: swarm.quorum
        interval: 500ms
        tolerance: {max_outage: 30s}
    recovery: {within: 90s, interval: 1s}
    """,
)

# Sampling stops when the recovery phase finds the steady state again, and it
# checks right after the revert: at a 1 s interval it could see quorum back
# before the probe does. At 20 s the probe samples undisturbed meanwhile.
LOSE_QUORUM = _experiment(
    "quorum comes back after two of three managers are lost",
    """
    targets:
      cluster: {kind: swarm}
    steady_state:
      - {name: quorum, probe: swarm.quorum}
    method:
      - {name: lose-quorum, fault: swarm.lose_managers, target: cluster, count: quorum,
         how: stop, duration: 10s}
    probes:
      - name: quorum
        probe: swarm.quorum
        interval: 500ms
        tolerance: {max_outage: 90s}
    recovery: {within: 120s, interval: 20s}
    """,
)

BAD_UPDATE = _experiment(
    "Swarm rolls back a bad update of web",
    """
    targets:
      web: {kind: service, select: {name: web}}
    steady_state:
      - {name: web-converged, probe: swarm.service, target: web}
    method:
      - {name: bad-update, fault: service.bad_update, target: web, breaks: command,
         duration: 30s}
    probes:
      - name: web-tasks
        probe: swarm.service
        target: web
        interval: 500ms
        tolerance: {max_outage: 25s}
    recovery: {within: 60s, interval: 1s}
    """,
)


# -- reading the journal ---------------------------------------------------------

ELECTED = re.compile(r"elected within ([0-9.]+)s")
LEADER = re.compile(r"^leader (\S+?)[ ;]")


def _probe(journal: Journal, name: str) -> ProbeRecord | None:
    return next((p for p in journal.probes if p.name == name and p.summary), None)


def _fault(journal: Journal) -> FaultRecord | None:
    return next((f for f in journal.faults if f.applied_at is not None), None)


def _outage_figures(probe: ProbeRecord, fault: FaultRecord) -> dict[str, Any]:
    """The probe's outages, and where the longest one sits against the fault's window."""
    assert probe.summary is not None
    figures: dict[str, Any] = {
        "longest_outage_s": round(probe.summary.longest_outage, 2),
        "outages": len(probe.summary.outages),
        "samples": probe.summary.samples,
    }
    longest = max(probe.summary.outages, key=lambda o: o.end - o.start, default=None)
    if longest is not None and fault.applied_at is not None:
        figures["outage_from_applied_s"] = [
            round(longest.start - fault.applied_at, 2),
            round(longest.end - fault.applied_at, 2),
        ]
        # the resolution at the end: when the last failing check of that outage started
        last = max((s.t for s in probe.samples if not s.ok and s.t < longest.end), default=None)
        if last is not None and longest.recovered:
            figures["last_failure_before_end_s"] = round(longest.end - last, 2)
    if fault.applied_at is not None and fault.reverted_at is not None:
        figures["reverted_after_applied_s"] = round(fault.reverted_at - fault.applied_at, 2)
    return figures


def reconverged(journal: Journal) -> tuple[float | None, dict[str, Any]]:
    """The web probe's time_to_recover (0: it never failed; None: not recovered)."""
    probe, fault = _probe(journal, "web-tasks"), _fault(journal)
    if probe is None or probe.summary is None or fault is None:
        return None, {}
    extra = _outage_figures(probe, fault)
    failed = [s for s in probe.samples if not s.ok]
    if failed:
        back = next((s for s in probe.samples if s.ok and s.t > failed[-1].t), None)
        # for reference: from the fault in effect to converged again
        extra["applied_to_converged_s"] = (
            round(back.t - fault.applied_at, 2) if back and fault.applied_at else None
        )
        extra["first_failure"] = failed[0].detail
    extra["fault_state"] = fault.state
    return probe.summary.time_to_recover, extra


def election(journal: Journal) -> tuple[float | None, dict[str, Any]]:
    """The quorum probe's longest outage, and what the probe said about the election."""
    probe, fault = _probe(journal, "quorum"), _fault(journal)
    if probe is None or probe.summary is None or fault is None or fault.applied_at is None:
        return None, {}
    extra = _outage_figures(probe, fault)
    after = [s for s in probe.samples if s.t >= fault.applied_at]
    said = next((m for s in after if (m := ELECTED.search(s.detail))), None)
    extra["elected_within_s"] = float(said.group(1)) if said else None
    extra["leader_before"] = fault.state.get("leader_before")
    last_ok = next((s for s in reversed(probe.samples) if s.ok), None)
    seen = LEADER.search(last_ok.detail) if last_ok else None
    extra["leader_after"] = seen.group(1) if seen else None
    return probe.summary.longest_outage, extra


def quorum_back(journal: Journal) -> tuple[float | None, dict[str, Any]]:
    """From the revert to the first passing quorum sample taken after it."""
    probe, fault = _probe(journal, "quorum"), _fault(journal)
    if probe is None or fault is None or fault.reverted_at is None:
        return None, {}
    extra = _outage_figures(probe, fault)
    extra["lost"] = fault.state.get("nodes")
    after = [s for s in probe.samples if s.t >= fault.reverted_at]
    back = next((s for s in after if s.ok), None)
    # whether the old leader stepped down (an election was needed) or still led
    extra["leader_stepped_down"] = any(
        "no leader" in s.detail or s.detail.startswith("leader none")
        for s in probe.samples
        if s.t >= (fault.applied_at or 0.0) - 1 and (back is None or s.t < back.t)
    )
    extra["samples_after_revert"] = len(after)
    failed = [s.t - fault.reverted_at for s in after if not s.ok]
    # the figure's resolution: the last failing check after the revert started here
    extra["last_failure_after_revert_s"] = round(max(failed), 2) if failed else None
    if back is None:
        extra["note"] = "no passing quorum sample after the revert"
        return None, extra
    return back.t - fault.reverted_at, extra


def rolled_back(journal: Journal) -> tuple[float | None, dict[str, Any]]:
    """From the injection to the first passing sample that says rollback_completed."""
    probe, fault = _probe(journal, "web-tasks"), _fault(journal)
    if probe is None or fault is None or fault.applied_at is None:
        return None, {}
    extra = _outage_figures(probe, fault)
    extra["rolled_back_by"] = fault.revert_state.get("rolled_back_by")
    extra["update_state"] = fault.revert_state.get("update_state")
    done = next(
        (
            s
            for s in probe.samples
            if s.t >= fault.applied_at and s.ok and "rollback_completed" in s.detail
        ),
        None,
    )
    if done is None:
        extra["note"] = "no passing sample said rollback_completed"
        return None, extra
    return done.t - fault.applied_at, extra


@dataclass(frozen=True)
class Scenario:
    key: str
    figure: str
    document: str
    measure: Measure
    duration: float
    recovery: float

    @property
    def timeout(self) -> float:
        return self.duration + self.recovery + RUN_MARGIN


SCENARIOS = (
    Scenario(
        "drain-worker", "worker drained: web time to recover", DRAIN_WORKER, reconverged, 15, 60
    ),
    Scenario(
        "kill-task", "web task killed on worker: time to recover", KILL_TASK, reconverged, 15, 60
    ),
    Scenario("lose-leader", "leader stopped: quorum probe outage", LOSE_LEADER, election, 35, 90),
    Scenario(
        "lose-quorum", "2 of 3 managers back: revert to quorum", LOSE_QUORUM, quorum_back, 10, 120
    ),
    Scenario(
        "bad-update", "bad update: applied to rollback_completed", BAD_UPDATE, rolled_back, 30, 60
    ),
)


# -- time limits -------------------------------------------------------------------


class RunTimeout(BaseException):
    """A run overran its time limit (a BaseException: the runner must not swallow it;
    its ``finally`` still reverts every fault)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: object) -> None:
        raise RunTimeout(f"over its time limit of {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def hard_stop(seconds: float, host: Any, work: Path) -> threading.Timer:
    """Past the budget and its grace, whatever hangs: remove the lab and exit."""

    def fire() -> None:
        say(f"swarm_faults: still running after {seconds:.0f}s: removing the lab")
        with contextlib.suppress(Exception):
            lab.down(LAB_NAME, client=host)
        shutil.rmtree(work, ignore_errors=True)
        os._exit(5)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the lab -----------------------------------------------------------------------


def remove_leftover(host: Any) -> None:
    """A lab of this name left by a killed run is removed; one that is not a benchmark's
    is left alone (and the benchmark stops)."""
    flt = label_filter(LAB_NAME)
    objects = [
        *(c.labels for c in host.containers.list(all=True, filters=flt)),
        *(n.attrs.get("Labels") or {} for n in host.networks.list(filters=flt)),
    ]
    if not objects:
        return
    if any(BENCH_LABEL not in labels for labels in objects):
        raise UsageError(f"a lab named {LAB_NAME} exists and is not a benchmark's: not touching it")
    say(f"removing lab {LAB_NAME} left by an earlier run")
    with contextlib.suppress(UsageError):
        lab.down(LAB_NAME, client=host)


def start_lab(host: Any) -> api.Inventory:
    done = lab.up(
        LAB_NAME,
        managers=MANAGERS,
        workers=WORKERS,
        labels={BENCH_LABEL: "swarm_faults"},
        client=host,
        progress=lambda message: say(f"lab: {message}"),
    )
    say(f"lab {LAB_NAME} up in {done.seconds:.1f}s")
    return done.inventory


def wait_healthy(host: Any, timeout: float = HEALTHY_TIMEOUT) -> float:
    """Wait until ``lab status`` finds no problem; return the seconds waited."""
    started = time.monotonic()
    while True:
        problems = lab.status(LAB_NAME, client=host).problems
        if not problems:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise LabError(f"lab {LAB_NAME} not healthy after {timeout:g}s: {'; '.join(problems)}")
        time.sleep(1)


def diagnose(host: Any, inventory: api.Inventory) -> dict[str, Any]:
    """What each node that is not healthy says: the swarm's view, its own, its log."""
    found: dict[str, Any] = {}
    status = lab.status(LAB_NAME, client=host)
    for node, state in zip(inventory.nodes, status.nodes, strict=True):
        if (
            state.container == "running"
            and state.engine
            and state.state == "ready"
            and state.availability == "active"
            and state.reachability in (None, "reachable")
        ):
            continue
        seen: dict[str, Any] = {
            "container": state.container,
            "engine": state.engine,
            "swarm_state": state.state,
            "reachability": state.reachability,
        }
        with contextlib.suppress(Exception):
            client = node_client(node.endpoint, timeout=5, tls=node.tls)
            try:
                own = client.info().get("Swarm") or {}
                seen["local_node_state"] = own.get("LocalNodeState")
                seen["error"] = own.get("Error")
            finally:
                client.close()
        seen["log"] = log_tail(host, str(node.control["container"]))
        found[node.name] = seen
    return found


# -- one run -----------------------------------------------------------------------


def one_run(scenario: Scenario, inventory: api.Inventory, work: Path, index: int) -> dict[str, Any]:
    path = work / f"{scenario.key}-{index}.yaml"
    path.write_text(scenario.document, encoding="utf-8")
    loaded = api.load(path)
    started = time.monotonic()
    record: dict[str, Any] = {"run": index}
    try:
        with time_limit(scenario.timeout):
            result = api.run(
                loaded,
                inventory=inventory,
                report_dir=work / "reports",
                handle_signals=False,
                state_dir=work / "state",
            )
    except RunTimeout as exc:
        record.update(seconds=None, verdict="timeout", reasons=[str(exc)])
        record["wall_s"] = round(time.monotonic() - started, 1)
        return record
    value, extra = scenario.measure(result.journal)
    record.update(
        seconds=None if value is None else round(value, 2),
        verdict=result.verdict.value,
        reasons=[r.message for r in result.reasons],
        wall_s=round(time.monotonic() - started, 1),
        **extra,
    )
    return record


# -- the report --------------------------------------------------------------------


def summary(scenario: Scenario, runs: list[dict[str, Any]]) -> dict[str, Any]:
    values = [r["seconds"] for r in runs if r["seconds"] is not None]
    return {
        "figure": scenario.figure,
        "runs": len(runs),
        "measured": len(values),
        "median_s": round(statistics.median(values), 2) if values else None,
        "min_s": round(min(values), 2) if values else None,
        "max_s": round(max(values), 2) if values else None,
        "values_s": [r["seconds"] for r in runs],
        "details": runs,
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"Swarm lab {report['lab']} ({MANAGERS} managers, {WORKERS} worker), "
        f"{report['cpus']} CPUs; seconds"
    )
    print(f"{'scenario':<13} {'figure':<43} {'runs':>5} {'median':>7} {'min-max':>12}")
    for key, row in report["scenarios"].items():
        runs = f"{row['measured']}/{row['runs']}"
        if row["median_s"] is None:
            print(f"{key:<13} {row['figure']:<43} {runs:>5} {'-':>7} {'-':>12}")
            continue
        spread = f"{row['min_s']:.1f}-{row['max_s']:.1f}"
        print(f"{key:<13} {row['figure']:<43} {runs:>5} {row['median_s']:>7.1f} {spread:>12}")
    for key, row in report["scenarios"].items():
        for run in row["details"]:
            if run["verdict"] != "passed" or run["seconds"] is None:
                reasons = "; ".join(run["reasons"]) or run.get("note", "")
                print(f"  {key} run {run['run']}: {run['verdict']}: {reasons}")
    for rebuild in report["lab_rebuilds"]:
        print(f"  lab replaced after {rebuild['after']}: {rebuild['problem']}")
        for name, seen in rebuild["nodes"].items():
            print(f"    {name}: {json.dumps(seen)}")
    if report["stopped"]:
        print(f"stopped early: {report['stopped']}")


# -- main --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--budget", type=float, default=40.0, help="minutes; no run starts past it")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=[s.key for s in SCENARIOS],
        default=[s.key for s in SCENARIOS],
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    scenarios = [s for s in SCENARIOS if s.key in args.scenarios]

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the runner's revert and lab.down

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host = connect()
    budget = args.budget * 60
    started = time.monotonic()
    results: dict[str, list[dict[str, Any]]] = {s.key: [] for s in scenarios}
    stopped: str | None = None
    rebuilds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaosdrill-bench-swarm-") as tmp:
        work = Path(tmp)
        os.environ[lab.LAB_DIR_ENV] = str(work / "labs")
        timer = hard_stop(budget + HARD_STOP_GRACE, host, work)
        try:
            remove_leftover(host)
            inventory = start_lab(host)
            previous = "lab up"
            for run in range(1, args.runs + 1):
                for scenario in scenarios:
                    worst = 2 * HEALTHY_TIMEOUT + DEPLOY_TIMEOUT + scenario.timeout
                    if time.monotonic() - started + worst > budget:
                        stopped = f"budget of {args.budget:g} min: run {run} of {scenario.key}"
                        break
                    try:
                        waited = wait_healthy(host)
                    except LabError as exc:
                        # a node that never rejoins is a finding, not a figure: say so,
                        # and go on with a new lab
                        rebuilds.append(
                            {
                                "after": previous,
                                "problem": str(exc),
                                "nodes": diagnose(host, inventory),
                            }
                        )
                        if len(rebuilds) > MAX_REBUILDS:
                            raise
                        say(f"{exc} (after {previous}): replacing the lab")
                        lab.down(LAB_NAME, client=host)
                        inventory = start_lab(host)
                        waited = wait_healthy(host)
                    stack.deploy_to_lab(LAB_NAME, timeout=DEPLOY_TIMEOUT)
                    record = one_run(scenario, inventory, work, run)
                    previous = f"{scenario.key} run {run}"
                    record["healthy_wait_s"] = round(waited, 1)
                    results[scenario.key].append(record)
                    shown = "-" if record["seconds"] is None else f"{record['seconds']:.2f}s"
                    say(
                        f"run {run}/{args.runs} {scenario.key}: {shown} "
                        f"({record['verdict']}, run took {record['wall_s']:.0f}s)"
                    )
                if stopped:
                    break
        except ChaosError as exc:
            stopped = f"benchmark failed: {exc}"
            say(stopped)
        finally:
            with contextlib.suppress(UsageError):
                lab.down(LAB_NAME, client=host)
            timer.cancel()
    report = {
        "benchmark": "swarm_faults",
        "lab": LAB_NAME,
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "wall_s": round(time.monotonic() - started, 1),
        "stopped": stopped,
        "lab_rebuilds": rebuilds,
        "scenarios": {s.key: summary(s, results[s.key]) for s in scenarios},
    }
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)
    complete = not rebuilds and all(
        r["seconds"] is not None for runs in results.values() for r in runs
    )
    if stopped and stopped.startswith("benchmark failed"):
        return 4
    return 0 if complete and not stopped else 1


if __name__ == "__main__":
    raise SystemExit(main())
