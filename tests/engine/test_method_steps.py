"""Action and probe steps in the method, and a target's ``where``, on real containers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaos import api
from chaos.engine.result import Verdict
from chaos.report.html import read_journal, run_page
from tests.conftest import chaosdrill, host_port

pytestmark = pytest.mark.docker


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def run(path: Path, tmp_path: Path) -> api.RunResult:
    return api.run(api.load(path), report_dir=tmp_path / "reports", handle_signals=False)


def journal_of(result: api.RunResult) -> dict[str, Any]:
    assert result.journal_path is not None
    return json.loads(result.journal_path.read_text())


def reasons(result: api.RunResult) -> str:
    return " | ".join(r.message for r in result.reasons)


def sleeper(containers: Any, group: str, **kw: Any) -> Any:
    return containers.run(
        "busybox", command=["sleep", "600"], wait_healthy=False, labels={"grp": group}, **kw
    )


def test_a_canary_written_before_a_crash_is_checked_after_it(
    containers, experiment_file, tmp_path, group
):
    box = sleeper(containers, group, restart_policy={"Name": "always"})
    path = experiment_file(f"""
        version: 1
        title: the canary survives a crash
        targets:
          box: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: write-canary, action: exec, target: box,
             command: [sh, -c, "echo canary-42 > /tmp/canary && echo written"]}}
          - {{name: crash, fault: container.crash, target: box, at: 500ms}}
          - {{name: canary-kept, probe: exec, target: box, at: 4s,
             command: [cat, /tmp/canary], expect: {{stdout_regex: "^canary-42$"}}}}
        recovery: {{within: 10s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, reasons(result)
    journal = journal_of(result)
    assert journal["format"] == "chaosdrill.journal/4"
    (action,) = journal["actions"]
    assert action["step"] == "write-canary" and action["outcome"] == "ok"
    assert action["container"]["id"] == box.id
    assert action["request"]["command"][:2] == ["sh", "-c"]
    assert action["exit_code"] == 0 and action["stdout"] == "written"
    method_start = next(p["t"] for p in journal["phases"] if p["name"] == "method")
    assert method_start <= action["started"] <= action["ended"]
    assert action["started_at"].endswith("+00:00")
    (fault,) = journal["faults"]
    assert fault["outcome"] == "injected" and fault["applied_at"] > action["ended"]
    (check,) = journal["checks"]
    assert check["section"] == "method" and check["name"] == "canary-kept"
    (sample,) = check["samples"]
    assert sample["ok"] and sample["t"] >= fault["applied_at"] + 3.0
    box.reload()
    assert box.attrs["RestartCount"] == 1, "the crash happened between the two steps"
    page = run_page(*read_journal(result.journal_path))
    assert 'data-lane="action:write-canary"' in page and 'data-lane="check:canary-kept"' in page
    assert f'data-t="{action["started"]:.4f}'.rstrip("0") in page
    assert 'class="action-span ok"' in page
    assert '<section id="steps">' in page and "canary-42" not in page.split("<svg")[0]


def test_a_failing_action_makes_the_run_error_and_skips_the_rest(
    containers, experiment_file, tmp_path, group
):
    box = sleeper(containers, group)
    path = experiment_file(f"""
        version: 1
        title: the action fails
        targets:
          box: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: box, at: 0s, duration: 5s}}
          - {{name: bad-write, action: exec, target: box, at: 300ms,
             command: [sh, -c, "echo oops >&2; exit 3"]}}
          - {{name: later, action: exec, target: box, at: 3s, command: ["true"]}}
    """)
    started = time.monotonic()
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ERROR and result.exit_code == 4
    first = result.reasons[0]
    assert (first.kind, first.source, first.phase) == ("action_failed", "bad-write", "method")
    assert first.message.endswith(": paused; every active fault was reverted")
    assert first.faults == ["freeze"]
    journal = journal_of(result)
    actions = {a["step"]: a for a in journal["actions"]}
    # the pause holds the container, so the exec is refused without starting anything
    assert actions["bad-write"]["outcome"] == "failed"
    assert "paused" in actions["bad-write"]["detail"]
    assert actions["later"]["outcome"] == "skipped"
    assert journal["faults"][0]["outcome"] == "reverted"
    assert time.monotonic() - started < 5, "the fault was reverted at once, not at its end"
    box.reload()
    assert not box.attrs["State"]["Paused"]
    page = run_page(*read_journal(result.journal_path))
    assert 'class="action-span failed"' in page
    assert f"exec on {box.name}: skipped" in page


def test_a_failing_command_is_recorded_with_its_exit_code_and_stderr(
    containers, experiment_file, tmp_path, group
):
    sleeper(containers, group)
    path = experiment_file(f"""
        version: 1
        title: the command fails
        targets:
          box: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: bad-write, action: exec, target: box,
             command: [sh, -c, "echo out; echo oops >&2; exit 3"]}}
          - {{name: crash, fault: container.crash, target: box, at: 2s}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ERROR
    assert [r.kind for r in result.reasons] == ["action_failed"]
    (action,) = journal_of(result)["actions"]
    assert (action["outcome"], action["exit_code"]) == ("failed", 3)
    assert (action["stdout"], action["stderr"]) == ("out", "oops")
    assert journal_of(result)["faults"][0]["outcome"] == "skipped"


def test_an_http_action_is_recorded_with_its_status(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    base = f"http://127.0.0.1:{host_port(web)}"
    path = experiment_file(f"""
        version: 1
        title: requests as actions
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: home, action: http, url: "{base}/"}}
          - {{name: missing, action: http, url: "{base}/nope", at: 200ms,
             expect: {{status: 404}}}}
          - {{name: freeze, fault: container.pause, target: web, at: 400ms, duration: 500ms}}
          - {{name: must-be-200, action: http, url: "{base}/nope", at: 1500ms}}
    """)
    result = run(path, tmp_path)
    actions = {a["step"]: a for a in journal_of(result)["actions"]}
    assert actions["home"]["status"] == 200 and actions["home"]["outcome"] == "ok"
    assert actions["home"]["request"] == {"method": "GET", "url": f"{base}/"}
    assert actions["missing"]["status"] == 404 and actions["missing"]["outcome"] == "ok"
    assert actions["must-be-200"]["status"] == 404
    assert actions["must-be-200"]["outcome"] == "failed"
    assert result.verdict is Verdict.ERROR
    assert (result.reasons[0].kind, result.reasons[0].source) == ("action_failed", "must-be-200")
    assert "status 404" in result.reasons[0].message


def test_a_failing_probe_step_fails_the_run_in_the_method(
    containers, experiment_file, tmp_path, group
):
    sleeper(containers, group)
    path = experiment_file(f"""
        version: 1
        title: a probe step fails
        targets:
          box: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: box, duration: 1s}}
          - {{name: has-marker, probe: exec, target: box, at: 1500ms,
             command: [test, -f, /tmp/marker]}}
          - {{name: still-there, probe: exec, target: box, at: 1500ms, command: ["true"]}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.FAILED and result.exit_code == 1, reasons(result)
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert (reason.kind, reason.source, reason.phase) == ("probe_failed", "has-marker", "method")
    assert "exit 1 (expected 0)" in reason.message
    checks = {c["name"]: c for c in journal_of(result)["checks"]}
    assert not checks["has-marker"]["samples"][0]["ok"]
    assert checks["still-there"]["samples"][0]["ok"]


def test_where_keeps_only_the_candidates_its_probe_holds_for(
    containers, experiment_file, tmp_path, group
):
    plain = [sleeper(containers, group) for _ in range(2)]
    marked = containers.run(
        "busybox",
        command=["sh", "-c", "echo primary > /tmp/role; exec sleep 600"],
        wait_healthy=False,
        labels={"grp": group},
    )
    path = experiment_file(f"""
        version: 1
        title: freeze the primary, whichever it is
        targets:
          primary:
            select: {{labels: {{grp: {group}}}}}
            mode: all
            where: {{probe: exec, command: [cat, /tmp/role], expect: {{stdout_regex: "^primary"}}}}
        method:
          - {{name: freeze, fault: container.pause, target: primary, at: 300ms, duration: 1s}}
    """)
    seen: set[str] = set()
    box: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: box.update(r=run(path, tmp_path)))
    runner.start()
    everyone = [*plain, marked]
    while runner.is_alive():
        for container in everyone:
            container.reload()
            if container.attrs["State"]["Paused"]:
                seen.add(container.id)
        time.sleep(0.05)
    runner.join()
    result = box["r"]
    assert result.verdict is Verdict.PASSED, reasons(result)
    assert seen == {marked.id}, "only the container the probe holds for was paused"
    (target,) = journal_of(result)["targets"]
    assert target["candidates"] == 1 and [s["id"] for s in target["selected"]] == [marked.id]
    where = target["where"]
    assert where["probe"] == "exec" and where["matched"] == 3
    assert [k["id"] for k in where["kept"]] == [marked.id]
    assert {d["id"] for d in where["dropped"]} == {c.id for c in plain}
    assert all("exit 1" in d["detail"] for d in where["dropped"])


def test_where_matching_nothing_is_an_error_before_anything_is_touched(
    containers, experiment_file, tmp_path, group
):
    pool = [sleeper(containers, group) for _ in range(2)]
    path = experiment_file(f"""
        version: 1
        title: no primary
        targets:
          primary:
            select: {{labels: {{grp: {group}}}}}
            where: {{probe: exec, command: [test, -f, /tmp/role]}}
        method:
          - {{name: crash, fault: container.crash, target: primary}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ERROR and result.exit_code == 4
    reason = result.reasons[0]
    assert (reason.kind, reason.phase) == ("target_error", "targets")
    assert reason.message.startswith(
        "target 'primary': none of the 2 running container(s) its select matched "
        "satisfies where (probe exec): "
    )
    assert "exit 1 (expected 0)" in reason.message
    assert "nothing was touched" in reason.message
    journal = journal_of(result)
    assert journal["faults"] == [] and journal["actions"] == []
    (target,) = journal["targets"]
    assert (target["name"], target["candidates"], target["selected"]) == ("primary", 0, [])
    assert target["where"]["matched"] == 2 and target["where"]["kept"] == []
    assert {d["id"] for d in target["where"]["dropped"]} == {c.id for c in pool}
    for container in pool:
        container.reload()
        assert container.attrs["State"]["Running"] and container.attrs["RestartCount"] == 0


def test_dry_run_shows_the_steps_and_what_where_kept(containers, experiment_file, group):
    from chaos.cli.plan_view import plan_lines

    sleeper(containers, group)
    marked = containers.run(
        "busybox",
        command=["sh", "-c", "touch /tmp/role; exec sleep 600"],
        wait_healthy=False,
        labels={"grp": group},
    )
    path = experiment_file(f"""
        version: 1
        title: plan
        targets:
          primary:
            select: {{labels: {{grp: {group}}}}}
            where: {{probe: exec, command: [test, -f, /tmp/role]}}
        method:
          - {{name: check, probe: exec, target: primary, at: 2s, command: ["true"]}}
          - {{name: crash, fault: container.crash, target: primary, at: 1s}}
          - {{name: canary, action: exec, target: primary, command: [touch, /tmp/c]}}
          - {{name: kick, action: http, url: "http://127.0.0.1:9/", at: 3s}}
    """)
    lines = plan_lines(api.plan(api.load(path)))
    text = "\n".join(lines)
    assert "    where probe exec: kept 1 of 2" in text
    assert f"      kept {marked.name}: {marked.name}: exit 0" in text
    method = lines[lines.index("method:") + 1 : lines.index("method:") + 5]
    assert method == [
        f"  t+0s canary: action exec ['touch', '/tmp/c'] in {marked.name}",
        f"  t+1s crash: container.crash on {marked.name}",
        f"  t+2s check: check probe exec on {marked.name}",
        "  t+3s kick: action http GET http://127.0.0.1:9/",
    ]


def test_the_console_prints_each_step(containers, experiment_file, tmp_path, group):
    box = sleeper(containers, group)
    path = experiment_file(f"""
        version: 1
        title: steps on the console
        targets:
          box: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: mark, action: exec, target: box, command: [touch, /tmp/mark]}}
          - {{name: marked, probe: exec, target: box, at: 300ms, command: [test, -f, /tmp/mark]}}
    """)
    proc = chaosdrill("run", str(path), "--plain", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "phase method: 0 fault step(s), 1 action(s), 1 probe step(s)" in proc.stdout
    assert f"action mark (exec) -> {box.name}: ok ({box.name}: exit 0)" in proc.stdout
    assert f"check marked: ok ({box.name}: exit 0)" in proc.stdout
    dry = chaosdrill("run", str(path), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert f"  t+0s mark: action exec ['touch', '/tmp/mark'] in {box.name}" in dry.stdout
    assert f"  t+0.3s marked: check probe exec on {box.name}" in dry.stdout
