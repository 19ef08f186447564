"""Resource faults in whole runs: an OOM kill a probe sees, and dead man's switches
that end every fault at its deadline after the runner was killed with SIGKILL."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from chaos.faults.fault_helpers import LABEL_INJECTION
from tests.conftest import chaosdrill, wait_for
from tests.engine.test_safeguards import sigkill, start_run, watchdogs

pytestmark = pytest.mark.docker


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def fault_helpers(client: Any, target: Any) -> list[str]:
    """Resource faults' helpers in ``target``'s PID namespace (other tests' are not ours)."""
    found = []
    for summary in client.api.containers(all=True, filters={"label": LABEL_INJECTION}):
        try:
            info = client.api.inspect_container(summary["Id"])
        except Exception:  # removed meanwhile
            continue
        if info["HostConfig"].get("PidMode") == f"container:{target.id}":
            found.append(info["Name"])
    return found


def test_oom_true_gets_the_container_oom_killed_and_restarted_and_a_probe_sees_it(
    containers, experiment_file, group, docker_client, tmp_path
):
    web = containers.run(
        labels={"grp": group},
        restart_policy={"Name": "always"},
        mem_limit="48m",
        memswap_limit="48m",
    )
    began = int(time.time()) - 1
    path = experiment_file(f"""
        version: 1
        title: web survives being pushed out of memory
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: oom, fault: stress.memory, target: web, oom: true, duration: 6s}}
        probes:
          - {{name: healthy, probe: container.health, target: web, interval: 200ms,
              tolerance: {{min_availability: 0.1}}}}
        recovery: {{within: 40s}}
    """)
    done = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path), timeout=150)
    report = json.loads(done.stdout)
    assert report["verdict"] == "passed", done.stdout + done.stderr
    web.reload()
    assert web.attrs["RestartCount"] >= 1 and web.status == "running"
    events = list(
        docker_client.events(
            since=began,
            until=int(time.time()) + 1,
            filters={"container": web.id, "event": "oom"},
            decode=True,
        )
    )
    assert events, "Docker saw no OOM event for the container"
    [probe] = report["probes"]
    assert probe["availability"] < 1 and probe["longest_outage"] > 0, probe
    print(
        f"oom: restarts {web.attrs['RestartCount']}, OOMKilled {web.attrs['State']['OOMKilled']}, "
        f"probe availability {probe['availability']:.2f}, outage {probe['longest_outage']:.1f}s"
    )
    assert not fault_helpers(docker_client, web)


def sleeps(container: Any) -> dict[str, str]:
    output = container.exec_run(["ps", "-o", "stat,args"]).output.decode()
    return {
        line.split(None, 1)[1]: line.split()[0][0]
        for line in output.splitlines()[1:]
        if "sleep 30" in line
    }


def stress_running(client: Any, container: Any) -> bool:
    top = client.api.top(container.id)
    return any("stress-ng" in " ".join(p) for p in top["Processes"])


def filled(container: Any) -> bool:
    output = container.exec_run(["ls", "-A", "/data"]).output.decode()
    return ".chaosdrill-fill-" in output


CASES = {
    "stress.cpu": (
        "workers: 1, load: 20",
        {},
        lambda client, c: stress_running(client, c),
    ),
    "disk.fill": (
        "path: /data, percent: 100",
        {"tmpfs": {"/data": "size=8m"}},
        lambda client, c: filled(c),
    ),
    "process.pause": (
        'pattern: "sleep 30[01]", match: command',
        {},
        lambda client, c: sleeps(c).get("sleep 300") == sleeps(c).get("sleep 301") == "T",
    ),
}


def test_a_sigkilled_runners_resource_faults_end_at_their_deadline(
    containers, experiment_file, tmp_path, group, docker_client
):
    """A stress, a disk fill and a process pause, one target each, all injected by
    one runner that is then SIGKILLed: each ends by its own watchdog."""
    targets = {
        fault: containers.run(
            "busybox",
            command=["sh", "-c", "sleep 300 & sleep 301 & exec sleep 302"],
            labels={"grp": f"{group}-{n}"},
            **CASES[fault][1],
        )
        for n, fault in enumerate(sorted(CASES))
    }
    selectors = "\n".join(
        f"  t{n}: {{select: {{labels: {{grp: {group}-{n}}}}}}}" for n in range(len(CASES))
    )
    steps = "\n".join(
        f"  - {{name: f{n}, fault: {fault}, target: t{n}, duration: 8s, {CASES[fault][0]}}}"
        for n, fault in enumerate(sorted(CASES))
    )
    path = experiment_file(
        "version: 1\ntitle: resource faults then the runner dies\n"
        f"targets:\n{selectors}\nmethod:\n{steps}\n"
    )
    proc = start_run(path, tmp_path, CHAOSDRILL_WATCHDOG_GRACE="1")
    try:
        for fault, target in targets.items():
            faulted = CASES[fault][2]
            wait_for(lambda f=faulted, t=target: f(docker_client, t), 30, f"{fault} to take effect")
        sigkill(proc)
        killed_at = time.monotonic()
        for fault, target in targets.items():  # the runner reverted none of them
            assert CASES[fault][2](docker_client, target), f"{fault} ended with its runner"
        # deadline (8 s from injection) + grace (1 s) + slack for a loaded machine; the
        # helpers' own deadline is 30 s after the revert time: the watchdog came first
        # (or, on a shared engine, another run's sweep of a dead runner's helpers)
        for fault, target in targets.items():
            faulted = CASES[fault][2]
            wait_for(
                lambda f=faulted, t=target: not f(docker_client, t),
                20,
                f"{fault} ended by its watchdog",
            )
            ended = time.monotonic() - killed_at
            print(f"{fault}: ended {ended:.1f}s after the runner was killed (8s fault, 1s grace)")
            assert ended < 20
    finally:
        if proc.poll() is None:
            proc.kill()
    for fault, target in targets.items():
        wait_for(lambda t=target: not watchdogs(docker_client, t), 15, "the watchdog to go")
        wait_for(
            lambda t=target: not fault_helpers(docker_client, t), 15, f"{fault}'s helper to go"
        )
        assert target.exec_run(["true"]).exit_code == 0
    assert set(sleeps(targets["process.pause"]).values()) <= {"S", "R"}
    assert not stress_running(docker_client, targets["stress.cpu"])


def test_recover_restores_the_limits_a_killed_runner_lowered(
    containers, experiment_file, tmp_path, group, docker_client, state_dir
):
    from chaos.faults.resource_limit import LIMIT_FIELDS
    from chaos.ledger import Ledger

    target = containers.run(
        "busybox",
        command=["sleep", "300"],
        labels={"grp": group},
        nano_cpus=1_000_000_000,
        mem_limit="128m",
        pids_limit=50,
    )

    def limits() -> dict[str, Any]:
        config = docker_client.api.inspect_container(target.id)["HostConfig"]
        return {key: config.get(key) for key in LIMIT_FIELDS}

    before = limits()
    path = experiment_file(f"""
        version: 1
        title: squeeze then the runner dies
        targets:
          t: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: f, fault: resource.limit, target: t, cpus: 0.5, memory: 64m,
              pids_limit: 10, duration: 120s}}
    """)
    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: limits()["PidsLimit"] == 10, 30, "the limits to be lowered")
        assert [e.fault for e in Ledger(state_dir).open_entries()] == ["resource.limit"]
        sigkill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert limits()["Memory"] == 64 * 2**20, "nobody restored them yet"
    done = chaosdrill("recover", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert limits() == before, "the limits recorded before the fault are back"
    assert Ledger(state_dir).open_entries() == []
