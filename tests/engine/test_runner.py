"""Engine semantics against real containers: each verdict path, revert on every exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.result import Verdict
from tests.conftest import ROOT, chaosdrill, host_port, wait_for

pytestmark = pytest.mark.docker


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def running(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Running"])


@pytest.fixture
def group() -> str:
    """A label value unique to the test, so targets select only its containers."""
    return f"g{uuid.uuid4().hex[:10]}"


def run(path: Path, tmp_path: Path, **kw: Any) -> api.RunResult:
    return api.run(api.load(path), report_dir=tmp_path / "reports", handle_signals=False, **kw)


def reasons(result: api.RunResult) -> str:
    return " | ".join(r.message for r in result.reasons)


def test_passed_when_the_system_recovers(containers, experiment_file, tmp_path, group):
    web = containers.run(restart_policy={"Name": "always"}, publish=True, labels={"grp": group})
    port = host_port(web)
    path = experiment_file(f"""
        version: 1
        title: crash and recover
        configuration: {{url: "http://127.0.0.1:{port}/"}}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, mode: one}}
        steady_state:
          - {{name: up, probe: http, url: "${{url}}"}}
          - {{name: healthy, probe: container.health, target: web}}
        method:
          - {{name: crash, fault: container.crash, target: web, duration: 2s}}
        probes:
          - {{name: avail, probe: http, url: "${{url}}", interval: 100ms, timeout: 300ms,
             tolerance: {{min_availability: 0.3, max_outage: 2s}}}}
        recovery: {{within: 20s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, reasons(result)
    journal = json.loads(result.journal_path.read_text())
    assert journal["verdict"] == "passed" and journal["exit_code"] == 0
    assert journal["targets"][0]["selected"][0]["id"] == web.id
    assert journal["versions"]["engine"]["api_version"]
    fault = journal["faults"][0]
    assert fault["outcome"] == "injected" and fault["container"]["id"] == web.id
    assert fault["state"]["pid"] > 0
    probe = journal["probes"][0]
    assert probe["summary"]["samples"] >= 10
    assert any(not s["ok"] for s in probe["samples"]), "the crash was observed by the probe"
    assert probe["summary"]["time_to_recover"] is not None
    assert journal["recovery"]["recovered"] is True
    web.reload()
    assert web.attrs["RestartCount"] == 1


def test_failed_when_nothing_restarts_the_container(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: crash without restart policy
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{host_port(web)}/", timeout: 300ms}}
        method:
          - {{name: crash, fault: container.crash, target: web}}
        recovery: {{within: 2s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.FAILED
    assert result.exit_code == 1
    first = result.reasons[0]
    assert first.kind == "not_recovered"
    assert (first.source, first.phase) == ("up", "recovery")
    assert "steady state not restored within 2s" in first.message
    assert "up: connection refused" in first.message


def test_failed_when_a_tolerance_is_broken(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: pause breaks the outage budget
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 300ms, duration: 1500ms}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{host_port(web)}/",
             interval: 100ms, timeout: 200ms, tolerance: {{max_outage: 500ms}}}}
        recovery: {{within: 5s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.FAILED, reasons(result)
    message = result.reasons[0].message
    assert message.startswith("probe avail: outage of")
    assert "exceeds max_outage 0.5s" in message and "during freeze" in message
    assert not paused(web)


def test_not_steady_before_injects_nothing(containers, experiment_file, tmp_path, group):
    web = containers.run(labels={"grp": group})
    started = web.attrs["State"]["StartedAt"]
    path = experiment_file(f"""
        version: 1
        title: not steady
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: never, probe: tcp, host: 127.0.0.1, port: 1, timeout: 200ms}}
        method:
          - {{name: crash, fault: container.crash, target: web}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.FAILED
    first = result.reasons[0]
    assert first.message.startswith("system not steady before the method: never:")
    # the fields say what the text says: which probe, in which phase, when
    assert (first.kind, first.source, first.phase, first.faults) == (
        "not_steady_before",
        "never",
        "steady-state",
        [],
    )
    steady = next(p for p in result.journal.phases if p.name == "steady-state")
    assert first.at is not None and steady.t <= first.at <= result.journal.duration
    written = json.loads(result.journal_path.read_text())["reasons"][0]
    assert written["source"] == "never" and written["kind"] == "not_steady_before"
    # nothing injected, and the plan is still on record
    assert [(f.step, f.outcome, f.container["id"]) for f in result.journal.faults] == [
        ("crash", "not_injected", web.id)
    ]
    web.reload()
    assert web.attrs["State"]["Running"] and web.attrs["State"]["StartedAt"] == started


def test_guard_breach_aborts_and_reverts_at_once(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: guard breach
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 60s}}
        guards:
          - {{name: web-answers, probe: http, url: "http://127.0.0.1:{host_port(web)}/",
             interval: 200ms, timeout: 300ms}}
    """)
    started = time.monotonic()
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path / "r"))
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "aborted"
    first = out["reasons"][0]
    assert first["message"].startswith("guard web-answers breached")
    assert (first["kind"], first["source"], first["phase"]) == (
        "guard_breach",
        "web-answers",
        "method",
    )
    assert first["faults"] == ["freeze"] and first["at"] > 0
    assert elapsed < 20, "the 60 s pause was cut short by the guard"
    assert not paused(web)
    journal = json.loads(Path(out["journal"]).read_text())
    assert journal["faults"][0]["outcome"] == "reverted"


def test_guard_failing_before_the_method_injects_nothing(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: guard before
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 10s}}
        guards:
          - {{name: db, probe: tcp, host: 127.0.0.1, port: 1, timeout: 200ms}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ABORTED
    assert "nothing was injected" in result.reasons[0].message
    assert [(f.step, f.outcome) for f in result.journal.faults] == [("freeze", "not_injected")]
    assert not paused(web)


@pytest.mark.parametrize(
    ("signum", "repeat"),
    [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGHUP, 1), (signal.SIGTERM, 3)],
)
def test_signal_reverts_every_fault(containers, experiment_file, tmp_path, group, signum, repeat):
    web = containers.run(labels={"grp": group})
    other = containers.run(labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: interrupted
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, mode: all}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 60s}}
    """)
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos", "run", str(path), "--json", "--report-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        wait_for(lambda: paused(web) and paused(other), 20, "both containers paused")
        for _ in range(repeat):  # more signals while reverting must not cut a revert short
            proc.send_signal(signum)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out + err
    data = json.loads(out)
    assert data["verdict"] == "aborted"
    first = data["reasons"][0]
    assert f"interrupted by {signal.Signals(signum).name}" in first["message"]
    assert (first["kind"], first["source"]) == ("interrupted", signal.Signals(signum).name)
    assert first["faults"] == ["freeze"]
    assert not paused(web) and not paused(other)
    journal = json.loads(Path(data["journal"]).read_text())
    assert [f["outcome"] for f in journal["faults"]] == ["reverted", "reverted"]


def test_failing_revert_is_reported_as_error(containers, experiment_file, tmp_path, group):
    """The stopped container cannot start again: another one took its host port."""
    import threading

    web = containers.run(publish=True, labels={"grp": group})
    port = host_port(web)
    path = experiment_file(f"""
        version: 1
        title: revert fails
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: stop, fault: container.stop, target: web, duration: 3s, timeout: 1s}}
    """)

    def take_the_port() -> None:
        deadline = time.monotonic() + 10
        while running(web) and time.monotonic() < deadline:
            time.sleep(0.05)
        containers.run("busybox", command=["sleep", "300"], ports={"80/tcp": ("127.0.0.1", port)})

    taker = threading.Thread(target=take_the_port)
    taker.start()
    result = run(path, tmp_path)
    taker.join(20)
    assert result.verdict is Verdict.ERROR
    assert result.exit_code == 4
    revert = [r for r in result.reasons if r.kind == "revert_failed"]
    assert revert and "could not be reverted on" in revert[0].message
    assert "already allocated" in revert[0].message
    outcomes = {f.step: f.outcome for f in result.journal.faults}
    assert outcomes == {"stop": "revert-failed"}


def test_a_stop_whose_container_was_removed_is_reverted(
    containers, experiment_file, tmp_path, group
):
    """Nothing is left to start: the stop does not outlive the run."""
    containers.run(labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: stopped, then removed
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: stop, fault: container.stop, target: web, duration: 3s, timeout: 1s}}
          - {{name: remove, fault: container.remove, target: web, at: 1500ms}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, reasons(result)
    outcomes = {f.step: f.outcome for f in result.journal.faults}
    assert outcomes == {"stop": "reverted", "remove": "injected"}


def test_injection_failure_is_error_and_reverts_the_others(
    containers, experiment_file, tmp_path, group
):
    first = containers.run(labels={"grp": group, "role": "first"})
    second = containers.run(labels={"grp": group, "role": "second"})
    second.pause()  # someone else's fault: ours must refuse to stack on it
    path = experiment_file(f"""
        version: 1
        title: injection fails
        targets:
          a: {{select: {{labels: {{grp: {group}, role: first}}}}}}
          b: {{select: {{labels: {{grp: {group}, role: second}}}}}}
        method:
          - {{name: freeze-a, fault: container.pause, target: a, duration: 30s}}
          - {{name: freeze-b, fault: container.pause, target: b, at: 500ms, duration: 30s}}
    """)
    started = time.monotonic()
    result = run(path, tmp_path)
    assert time.monotonic() - started < 15
    assert result.verdict is Verdict.ERROR
    assert "could not be injected" in result.reasons[0].message
    assert "already paused" in result.reasons[0].message
    assert not paused(first), "the fault that was injected was reverted"
    assert paused(second), "the pause we did not make is left alone"
    second.unpause()


def test_empty_selection_is_an_error_unless_allowed(experiment_file, tmp_path, group):
    text = f"""
        version: 1
        title: empty
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}ALLOW}}
        method:
          - {{name: crash, fault: container.crash, target: web}}
    """
    result = run(experiment_file(text.replace("ALLOW", "")), tmp_path)
    assert result.verdict is Verdict.ERROR
    assert "target 'web' matched no running container" in result.reasons[0].message
    allowed = run(experiment_file(text.replace("ALLOW", ", allow_empty: true"), "b.yaml"), tmp_path)
    assert allowed.verdict is Verdict.PASSED, reasons(allowed)
    assert allowed.journal.faults == []


def test_blast_radius_limit_touches_nothing(containers, experiment_file, tmp_path, group):
    pool = [containers.run(labels={"grp": group}) for _ in range(3)]
    for limit in ("max_targets: 2", "max_percent: 50"):
        path = experiment_file(f"""
            version: 1
            title: too wide
            targets:
              web: {{select: {{labels: {{grp: {group}}}}}, mode: all, {limit}}}
            method:
              - {{name: freeze, fault: container.pause, target: web, duration: 5s}}
        """)
        result = run(path, tmp_path)
        assert result.verdict is Verdict.ERROR
        assert "nothing was touched" in result.reasons[0].message
        assert not any(paused(c) for c in pool)


def test_mode_one_with_seed_touches_only_the_chosen(containers, experiment_file, tmp_path, group):
    pool = {c.id: c for c in (containers.run(labels={"grp": group}) for _ in range(3))}
    path = experiment_file(f"""
        version: 1
        title: one of three
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, mode: one, seed: 7}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 1s}}
        probes:
          - {{name: others-run, probe: exec, target: web, command: ["true"], interval: 200ms,
             tolerance: {{min_availability: 0}}}}
    """)
    plan = api.plan(api.load(path))
    chosen = plan.selections["web"].chosen
    assert len(chosen) == 1
    again = api.plan(api.load(path))
    assert again.selections["web"].chosen == chosen, "same seed, same pick"

    seen_paused: set[str] = set()
    result_box: dict[str, Any] = {}
    import threading

    runner = threading.Thread(target=lambda: result_box.update(r=run(path, tmp_path)))
    runner.start()
    deadline = time.monotonic() + 10
    while runner.is_alive() and time.monotonic() < deadline:
        seen_paused |= {cid for cid, c in pool.items() if paused(c)}
        time.sleep(0.1)
    runner.join()
    assert result_box["r"].verdict is Verdict.PASSED, reasons(result_box["r"])
    assert seen_paused == {chosen[0].id}


def test_overlapping_faults_follow_their_offsets(containers, experiment_file, tmp_path, group):
    a = containers.run(labels={"grp": group, "n": "a"})
    b = containers.run(labels={"grp": group, "n": "b"})
    path = experiment_file(f"""
        version: 1
        title: overlap
        targets:
          a: {{select: {{labels: {{grp: {group}, n: a}}}}}}
          b: {{select: {{labels: {{grp: {group}, n: b}}}}}}
        method:
          - {{name: pa, fault: container.pause, target: a, at: 0s, duration: 2s}}
          - {{name: pb, fault: container.pause, target: b, at: 1s, duration: 2s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, reasons(result)
    faults = {f.step: f for f in result.journal.faults}
    method_start = faults["pa"].at
    assert faults["pb"].at == pytest.approx(method_start + 1.0, abs=0.01)
    for name, at, end in (("pa", 0.0, 2.0), ("pb", 1.0, 3.0)):
        fault = faults[name]
        assert fault.injected_at - method_start == pytest.approx(at, abs=0.5)
        assert fault.reverted_at - method_start == pytest.approx(end, abs=0.5)
    # pb was injected while pa was active: they overlapped
    assert faults["pb"].injected_at < faults["pa"].reverted_at
    assert not paused(a) and not paused(b)


def test_secrets_never_reach_the_journal(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    os.environ["CHAOSDRILL_TEST_TOKEN"] = secret
    try:
        path = experiment_file(f"""
            version: 1
            title: secret
            configuration:
              token: {{env: CHAOSDRILL_TEST_TOKEN}}
            targets:
              web: {{select: {{labels: {{grp: {group}}}}}}}
            steady_state:
              - {{name: up, probe: http, url: "http://127.0.0.1:{host_port(web)}/?t=${{token}}"}}
            method:
              - {{name: freeze, fault: container.pause, target: web, duration: 300ms}}
            probes:
              - {{name: p, probe: http, url: "http://127.0.0.1:1/${{token}}", interval: 100ms,
                 tolerance: {{min_availability: 0}}}}
        """)
        result = run(path, tmp_path)
    finally:
        del os.environ["CHAOSDRILL_TEST_TOKEN"]
    text = result.journal_path.read_text()
    assert secret not in text
    assert "CHAOSDRILL_TEST_TOKEN" in text  # the source is recorded, not the value
    assert result.verdict is Verdict.PASSED, reasons(result)


def test_engine_unreachable_is_a_clear_error(experiment_file, tmp_path):
    path = experiment_file("""
        version: 1
        title: no engine
        targets:
          web: {select: {name: web}}
        method:
          - {fault: container.kill, target: web}
    """)
    proc = chaosdrill(
        "run",
        str(path),
        "--report-dir",
        str(tmp_path),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"},
    )
    assert proc.returncode == 4
    assert "cannot reach the Docker engine" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_dry_run_touches_nothing(containers, experiment_file, group):
    web = containers.run(labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: dry
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 5s}}
    """)
    proc = chaosdrill("run", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert web.name in proc.stdout and "container.pause" in proc.stdout
    assert "nothing is touched" in proc.stdout
    assert not paused(web) and running(web)


def test_signals_after_the_revert_still_leave_a_verdict(
    containers, experiment_file, tmp_path, group
):
    """A second SIGTERM that lands once the faults are reverted, while the run is
    writing its journal and printing its verdict, must not kill it half-way."""
    web = containers.run(labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: interrupted twice
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 60s}}
    """)
    from tests.engine.test_safeguards import start_run

    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: paused(web), 20, "the pause")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: not paused(web), 20, "the revert")
        for _ in range(20):  # keep signalling until the process is gone
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.02)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, (proc.returncode, out, err)
    data = json.loads(out)
    assert data["verdict"] == "aborted" and Path(data["journal"]).exists()


# -- recovery: back and stable, and time-to-recover ------------------------------------------

FLAPPER = (
    # first start: a steady web server; after a crash (the restart policy starts
    # the same container again, /tmp kept) it answers for 0.3 s out of every 1.3 s
    "if [ -e /tmp/crashed ]; then while true; do httpd -f -p 80 -h /www & p=$!; "
    "sleep 0.3; kill $p; wait $p; sleep 1; done; "
    "else touch /tmp/crashed; exec httpd -f -p 80 -h /www; fi"
)


def crash_experiment(group: str, port: int, recovery: str) -> str:
    return f"""
        version: 1
        title: crash, then back?
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{port}/", timeout: 200ms}}
        method:
          - {{name: crash, fault: container.crash, target: web, duration: 1s}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{port}/", interval: 100ms,
             timeout: 200ms, tolerance: {{min_availability: 0}}}}
        recovery: {recovery}
    """


def test_a_target_that_flaps_after_the_method_has_not_recovered(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(
        command=["sh", "-c", FLAPPER],
        restart_policy={"Name": "always"},
        publish=True,
        labels={"grp": group},
    )
    path = experiment_file(
        crash_experiment(group, host_port(web), "{within: 5s, interval: 200ms, stable_for: 1s}")
    )
    result = run(path, tmp_path)
    assert result.verdict is Verdict.FAILED, reasons(result)
    recovery = result.journal.recovery
    assert recovery is not None and recovery.recovered is False
    assert recovery.stable_for == 1.0
    assert 0 < recovery.passed_checks < recovery.checks, "it came back now and then"
    first = result.reasons[0]
    assert (first.kind, first.phase) == ("not_recovered", "recovery")
    # the steady state, or the probe watching the same server, was down when it stopped
    assert first.source in ("up", "avail")
    assert "not restored within 5s" in first.message or "not back and stable within 5s" in (
        first.message
    )
    assert "but never held for 1s" in first.message
    assert result.recovered is False and result.time_to_recover is None
    # the probe and the run agree
    avail = result.probe("avail")
    assert avail.recovered is False and avail.time_to_recover is None
    assert any(s.ok for s in avail.samples[-20:]), "the probe saw it come back too"
    fault = result.journal.faults[0]
    assert fault.outcome == "injected" and fault.time_to_recover is None


def test_a_target_that_comes_back_for_good_recovers_once_stable(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(restart_policy={"Name": "always"}, publish=True, labels={"grp": group})
    path = experiment_file(crash_experiment(group, host_port(web), "{within: 20s}"))
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, reasons(result)
    recovery = result.journal.recovery
    assert recovery.recovered is True and result.recovered is True
    assert recovery.stable_for is None and recovery.stable_checks == 3
    assert recovery.checks >= 3 and recovery.passed_checks >= 3, "three passing checks in a row"
    avail = result.probe("avail")
    assert avail.recovered is True, "the probe agrees with the run"
    assert avail.samples[-1].ok
    assert any(not s.ok for s in avail.samples), "the probe saw the crash"
    # the probe sampled until recovery was decided, and its record ends there
    assert avail.stopped == pytest.approx(recovery.decided_at, abs=1e-3)
    assert all(s.t <= recovery.decided_at for s in avail.samples)
    assert avail.time_to_recover is not None and avail.time_to_recover > 0
    assert result.time_to_recover is not None
    assert result.time_to_recover >= avail.time_to_recover - 1e-6


def test_time_to_recover_runs_from_the_fault_taking_effect_to_back_and_stable(
    containers, experiment_file, tmp_path, group
):
    """A 3 s pause: the system is back when it is unpaused, whatever the method's
    window covered; the old figure (from the end of the method) cannot see it."""
    web = containers.run(publish=True, labels={"grp": group})
    port = host_port(web)
    path = experiment_file(f"""
        version: 1
        title: pause and measure
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{port}/"}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 300ms, duration: 3s}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{port}/", interval: 100ms,
             timeout: 300ms, tolerance: {{min_availability: 0.1, max_outage: 5s}}}}
        recovery: {{within: 10s}}
    """)
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    journal = json.loads(Path(out["journal"]).read_text())
    fault = journal["faults"][0]
    assert fault["outcome"] == "reverted"
    interval = 0.1
    # ground truth from the fault's own record: in effect from applied_at until the
    # unpause, which happened between revert_started and reverted_at
    earliest = fault["revert_started"] - fault["applied_at"] - interval
    latest = fault["reverted_at"] - fault["applied_at"] + interval + 0.15
    assert earliest > 0.3, fault  # the pause held a while (injecting it may take a while too)
    probe = journal["probes"][0]
    assert earliest <= probe["time_to_recover"] <= latest, (probe["time_to_recover"], fault)
    assert probe["recovered"] is True and probe["back_at"] is not None
    recovery = journal["recovery"]
    assert recovery["measured_from"] == "freeze"
    assert earliest <= recovery["time_to_recover"] <= latest, (recovery, fault)
    assert fault["time_to_recover"] == recovery["time_to_recover"]
    # the figure from the end of the method is another one, under its own name
    assert recovery["after_method"] < earliest <= recovery["time_to_recover"]
    # --json: the headline figures, and each probe's next to its tolerance
    assert out["time_to_recover"] == recovery["time_to_recover"]
    assert out["recovery"]["recovered"] is True
    assert out["faults"][0]["step"] == "freeze"
    assert out["faults"][0]["time_to_recover"] == fault["time_to_recover"]
    [avail] = out["probes"]
    assert avail["name"] == "avail" and avail["section"] == "probes"
    assert avail["tolerance"] == {"min_availability": 0.1, "max_outage": 5.0}
    assert (
        avail["availability"] == probe["summary"]["availability"] and 0 < avail["availability"] < 1
    )
    assert avail["longest_outage"] == probe["summary"]["longest_outage"] > 0.2
    assert avail["time_to_recover"] == probe["time_to_recover"]
    assert avail["recovered"] is True and avail["passed"] is True and avail["violations"] == []
    assert out["reasons"] == []


def test_a_probe_of_something_that_stays_down_is_not_waited_for(
    containers, experiment_file, tmp_path, group
):
    """The steady state is back; a probe that has not passed since (it watches
    something else) says so, and the run does not wait for it."""
    web = containers.run(publish=True, labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: a probe that never comes back
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{host_port(web)}/"}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 300ms}}
        probes:
          - {{name: gone, probe: tcp, host: 127.0.0.1, port: 1, interval: 100ms,
             timeout: 200ms, tolerance: {{min_availability: 0}}}}
        recovery: {{within: 30s}}
    """)
    proc = chaosdrill("run", str(path), "--plain", "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the console summary: the probe's figures next to its tolerance
    assert "probe gone: availability 0.0% (min 0%), longest outage" in proc.stdout
    assert "not recovered" in proc.stdout
    assert "recovery: back and stable" in proc.stdout
    journal = json.loads(next((tmp_path / "r").glob("*/journal.json")).read_text())
    recovery = journal["recovery"]
    assert recovery["recovered"] is True
    assert recovery["decided_at"] - recovery["started"] < 10, "it did not wait for the probe"
    probe = journal["probes"][0]
    assert probe["recovered"] is False and probe["time_to_recover"] is None
    assert journal["reasons"] == []
