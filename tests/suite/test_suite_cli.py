"""``chaosdrill suite`` against real containers: verdicts, exit codes, reports, --jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, chaosdrill, host_port, wait_for
from tests.suite.helpers import properties, validate_junit

pytestmark = pytest.mark.docker


@pytest.fixture
def group() -> str:
    """A label value unique to the test, so targets select only its containers."""
    return f"g{uuid.uuid4().hex[:10]}"


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def pause_experiment(title: str, group: str, role: str, seconds: float, extra: str = "") -> str:
    return f"""
        version: 1
        title: {title}
        targets:
          it: {{select: {{labels: {{grp: {group}, role: {role}}}}}, max_targets: 1}}
        method:
          - {{name: freeze, fault: container.pause, target: it, duration: {seconds}s}}
        {extra}
    """


def paused_web(group: str, role: str, port: int, weight: float, *, strict: bool) -> str:
    """A web container paused under an availability probe: a lenient probe (1 s pause)
    passes, a strict one (2 s pause, every sample must pass) fails."""
    title = "stays available through a pause" if strict else "shrugs off a short pause"
    tolerance = "" if strict else ", tolerance: {min_availability: 0}"
    return f"""
        version: 1
        title: Web {role} {title}
        weight: {weight}
        targets:
          web: {{select: {{labels: {{grp: {group}, role: {role}}}}}, max_targets: 1}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{port}/"}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: {2 if strict else 1}s}}
        probes:
          - {{name: {role}-availability, probe: http, url: "http://127.0.0.1:{port}/",
             interval: 200ms, timeout: 300ms{tolerance}}}
        recovery: {{within: 10s}}
    """


def passing(group: str, role: str, port: int, weight: float = 1) -> str:
    return paused_web(group, role, port, weight, strict=False)


def failing(group: str, role: str, port: int, weight: float = 1) -> str:
    return paused_web(group, role, port, weight, strict=True)


INVALID = """
    version: 1
    title: Broken on purpose
    targets:
      web: {select: {name: nothing-here}}
    method:
      - {fault: container.crsh, target: web}
"""

INVENTORY = """
    name: not-an-experiment
    nodes:
      - {name: m1, role: manager, endpoint: "tcp://127.0.0.1:1"}
"""


@pytest.fixture
def mixed_suite(containers, group, tmp_path) -> Path:
    """A passing, a failing (weight 2), an aborting and an invalid experiment, and an inventory."""
    webs = {
        role: containers.run(publish=True, labels={"grp": group, "role": role})
        for role in ("a", "b", "c")
    }
    root = tmp_path / "resilience"
    write(root, "pass.yaml", passing(group, "a", host_port(webs["a"])))
    write(root, "nested/fail.chaos.yaml", failing(group, "b", host_port(webs["b"]), weight=2))
    guard = f"""guards:
          - {{name: c-answers, probe: http, url: "http://127.0.0.1:{host_port(webs["c"])}/",
             interval: 200ms, timeout: 300ms}}"""
    write(root, "nested/abort.yml", pause_experiment("Guarded pause", group, "c", 30, guard))
    write(root, "invalid.yaml", INVALID)
    write(root, "lab/inventory.yaml", INVENTORY)
    return root


def test_suite_reports_every_verdict_in_junit_and_markdown(mixed_suite, tmp_path):
    junit, summary = tmp_path / "out" / "report.xml", tmp_path / "summary.md"
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("# earlier step\n")
    proc = chaosdrill(
        "suite",
        str(mixed_suite),
        "--junit",
        str(junit),
        "--markdown",
        str(summary),
        "--report-dir",
        str(tmp_path / "reports"),
        env={"GITHUB_STEP_SUMMARY": str(step_summary)},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out  # the worst: aborted (3) over invalid (2) over failed (1)
    assert "Traceback" not in out

    # console: one line per experiment, then the score; the inventory was not run
    lines = proc.stdout.splitlines()
    assert lines[0] == "suite: 4 experiments; skipped 1 YAML file(s) that are not experiments"
    assert lines[1] == f"skipped (not an experiment): {mixed_suite / 'lab' / 'inventory.yaml'}"
    verdicts = sorted(line.split()[0] for line in lines[2:6])
    assert verdicts == ["aborted", "failed", "invalid", "passed"], out
    assert lines[2].startswith("invalid  Broken on purpose (0.0s): ")  # reported before any run
    assert "unknown fault 'container.crsh'" in lines[2]
    assert "resilience score: 20 (1 of 4 passed)" in lines  # weights 1 + 2 + 1 + 1
    assert any(line.startswith("suite FAILED (exit 3): 3 of 4 experiments") for line in lines)

    # JUnit: valid against the Jenkins schema, with counts, messages and figures
    root = validate_junit(junit.read_bytes())
    suite = root.find("testsuite")
    assert suite.get("name") == "chaosdrill"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    cases = {tc.get("classname"): tc for tc in suite.iter("testcase")}
    assert set(cases) == {
        "resilience.pass",
        "resilience.nested.fail",
        "resilience.nested.abort",
        "resilience.invalid",
    }
    passed = cases["resilience.pass"]
    assert passed.get("name") == "Web a shrugs off a short pause"
    assert passed.find("failure") is None and passed.find("error") is None
    assert float(passed.get("time")) > 1.0

    failure = cases["resilience.nested.fail"].find("failure")
    assert failure.get("type") == "failed"
    assert "b-availability" in failure.get("message")
    assert failure.get("message") == failure.text.splitlines()[0]

    aborted = cases["resilience.nested.abort"].find("failure")
    assert aborted.get("type") == "aborted"
    assert aborted.get("message").startswith("guard c-answers breached")
    assert float(cases["resilience.nested.abort"].get("time")) < 20  # the 30 s pause was cut

    error = cases["resilience.invalid"].find("error")
    assert error.get("type") == "invalid"
    invalid_file = mixed_suite / "invalid.yaml"
    assert error.get("message").startswith(f"{invalid_file}:6:13: unknown fault 'container.crsh'")
    assert all(line.startswith(f"{invalid_file}:") for line in error.text.splitlines())

    props = properties(root)
    assert props["resilience_score"] == "20" and props["exit_code"] == "3"
    assert props["resilience.pass.verdict"] == "passed"
    assert props["resilience.nested.fail.weight"] == "2"
    assert props["resilience.invalid.verdict"] == "invalid"
    availability = float(props["resilience.nested.fail.probe.b-availability.availability"])
    assert 0 < availability < 1
    assert float(props["resilience.nested.fail.probe.b-availability.time_to_recover"]) > 0
    assert float(props["resilience.pass.time_to_recover"]) >= 0
    # the deciding reason's fields
    assert props["resilience.nested.abort.reason.kind"] == "guard_breach"
    assert props["resilience.nested.abort.reason.source"] == "c-answers"
    assert props["resilience.nested.abort.reason.phase"] == "method"
    assert props["resilience.nested.fail.reason.kind"] == "tolerance"
    assert props["resilience.nested.fail.reason.source"] == "b-availability"
    assert props["resilience.nested.fail.reason.faults"] == "freeze"
    assert "resilience.pass.reason.kind" not in props
    journal = Path(props["resilience.nested.fail.journal"])
    assert journal.is_relative_to(tmp_path / "reports" / "resilience.nested.fail")
    assert json.loads(journal.read_text())["verdict"] == "failed"
    assert "b-availability" in cases["resilience.nested.fail"].find("system-out").text

    # Markdown: the score on top, one row per experiment; appended to the step summary
    text = summary.read_text()
    assert text.splitlines()[2].startswith("**Resilience score: 20 / 100** (1 of 4 experiments")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "<br>" in line]
    assert len(rows) == 4
    row = next(r for r in rows if "fail.chaos.yaml" in r)
    assert "| ❌ failed | 2 |" in row and "b-availability" in row
    assert step_summary.read_text() == "# earlier step\n\n" + text


@pytest.fixture
def weighted_suite(containers, group, tmp_path) -> Path:
    """A passing experiment of weight 3 and a failing one of weight 1: score 75."""
    webs = {
        role: containers.run(publish=True, labels={"grp": group, "role": role})
        for role in ("a", "b")
    }
    root = tmp_path / "weighted"
    write(root, "strong.yaml", passing(group, "a", host_port(webs["a"]), weight=3))
    write(root, "weak.yaml", failing(group, "b", host_port(webs["b"])))
    return root


@pytest.mark.parametrize(("fail_under", "code"), [(None, 1), ("75", 0), ("80", 1)])
def test_fail_under_judges_the_weighted_score(weighted_suite, tmp_path, fail_under, code):
    junit = tmp_path / "report.xml"
    args = ["--fail-under", fail_under] if fail_under else []
    proc = chaosdrill(
        "suite",
        str(weighted_suite),
        *args,
        "--junit",
        str(junit),
        "--report-dir",
        str(tmp_path / "reports"),
        env={"GITHUB_STEP_SUMMARY": ""},
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "resilience score: 75 (1 of 2 passed)" in proc.stdout
    last = proc.stdout.splitlines()[-2]  # before the "junit: ..." line
    if fail_under is None:
        assert last == "suite FAILED (exit 1): 1 of 2 experiments did not pass (1 failed)"
    elif code == 0:
        assert last == (
            "suite passed: resilience score 75 meets --fail-under 75 "
            "(1 failed experiment tolerated)"
        )
    else:
        assert (
            last == "suite FAILED (exit 1): resilience score 75 is below --fail-under 80 (1 failed)"
        )
    props = properties(validate_junit(junit.read_bytes()))
    assert props["exit_code"] == str(code)


def windows(report_dir: Path) -> dict[str, tuple[datetime, datetime]]:
    """Each experiment's run, from its journal: case name to (started, ended)."""
    spans = {}
    for journal_path in report_dir.glob("*/*/journal.json"):
        journal = json.loads(journal_path.read_text())
        spans[journal_path.parent.parent.name] = (
            datetime.fromisoformat(journal["started_at"]),
            datetime.fromisoformat(journal["ended_at"]),
        )
    return spans


def overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return (min(a[1], b[1]) - max(a[0], b[0])).total_seconds()


def test_jobs_run_disjoint_targets_together_and_one_container_at_a_time(
    containers, group, tmp_path
):
    for role in ("p", "q"):
        containers.run("busybox", command=["sleep", "600"], labels={"grp": group, "role": role})
    root = tmp_path / "parallel"
    write(root, "p1.yaml", pause_experiment("P first", group, "p", 3))
    write(root, "p2.yaml", pause_experiment("P second", group, "p", 3))
    write(root, "q.yaml", pause_experiment("Q", group, "q", 3))
    reports = tmp_path / "reports"
    proc = chaosdrill(
        "suite",
        str(root),
        "--jobs",
        "2",
        "--report-dir",
        str(reports),
        env={"GITHUB_STEP_SUMMARY": ""},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spans = windows(reports)
    assert set(spans) == {"parallel.p1", "parallel.p2", "parallel.q"}
    # p1 and q act on different containers: they ran side by side
    assert overlap(spans["parallel.p1"], spans["parallel.q"]) > 1.0, spans
    # p1 and p2 act on the same container: one after the other
    assert overlap(spans["parallel.p1"], spans["parallel.p2"]) < 0, spans


def test_bad_arguments_are_usage_errors(tmp_path):
    proc = chaosdrill("suite", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "nope: no such file or directory" in proc.stderr
    write(tmp_path, "inv.yaml", INVENTORY)
    proc = chaosdrill("suite", str(tmp_path))
    assert proc.returncode == 2
    assert "no experiments found" in proc.stderr
    proc = chaosdrill("suite", str(tmp_path / "inv.yaml"), "--jobs", "0")
    assert (proc.returncode, proc.stderr.strip()) == (
        2,
        "chaosdrill: --jobs must be at least 1, not 0",
    )
    proc = chaosdrill("suite", str(tmp_path / "inv.yaml"), "--fail-under", "101")
    assert proc.returncode == 2 and "--fail-under must be between 0 and 100" in proc.stderr


def test_an_explicit_file_that_is_not_an_experiment_is_invalid(tmp_path):
    path = write(tmp_path, "inv.yaml", INVENTORY)
    junit = tmp_path / "report.xml"
    proc = chaosdrill("suite", str(path), "--junit", str(junit), env={"GITHUB_STEP_SUMMARY": ""})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    root = validate_junit(junit.read_bytes())
    error = root.find("testsuite/testcase/error")
    assert error.get("type") == "invalid"
    assert "missing required key 'version'" in error.text
    assert "unknown key 'name'" in error.text


def test_sigint_reverts_every_running_experiment_and_reports_the_rest(containers, group, tmp_path):
    targets = [
        containers.run("busybox", command=["sleep", "600"], labels={"grp": group, "role": role})
        for role in ("p", "q")
    ]
    root = tmp_path / "interrupted"
    write(root, "p1.yaml", pause_experiment("P first", group, "p", 60))
    write(root, "p2.yaml", pause_experiment("P second", group, "p", 60))
    write(root, "q.yaml", pause_experiment("Q", group, "q", 60))
    junit = tmp_path / "report.xml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos",
            "suite",
            str(root),
            "--jobs",
            "2",
            "--junit",
            str(junit),
            "--report-dir",
            str(tmp_path / "reports"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GITHUB_STEP_SUMMARY": ""},
    )
    try:
        wait_for(lambda: all(paused(c) for c in targets), 30, "both containers paused")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, stdout + stderr
    assert not any(paused(c) for c in targets), "every fault was reverted at once"
    assert "aborted  P second (0.0s): not run: the suite was interrupted by SIGINT" in stdout
    root_element = validate_junit(junit.read_bytes())
    types = [f.get("type") for f in root_element.iter("failure")]
    assert types == ["aborted", "aborted", "aborted"]
