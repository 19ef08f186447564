"""The pytest plugin, as a user's test session sees it (pytester).

Inner sessions run in this process (``runpytest_inprocess``) unless a test
needs a process of their own to kill. They find the plugin through its
``pytest11`` entry point, exactly as a user's session does, and share this
session's environment: the test's own ledger (``CHAOSDRILL_STATE_DIR``).
Experiments target only containers the test made (labels), last a second or
two, and send traffic to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any

import pytest

from chaos import api
from chaos.ledger import Ledger
from tests.conftest import host_port, wait_for

pytest_plugins = ["pytester"]


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def experiment(
    title: str, group: str, url: str, *, method: str = "", probes: str = "", guards: str = ""
) -> str:
    """An experiment against the test's containers: a one-second pause by default."""
    method = method or "- {name: pause-web, fault: container.pause, target: web, duration: 1s}"
    return textwrap.dedent(f"""\
        version: 1
        title: {title}
        tags: [pytester]
        configuration: {{url: "{url}"}}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}, max_targets: 1}}
        steady_state:
          - {{name: up, probe: http, url: "${{url}}"}}
        method:
          {method}
        probes:
          {probes or "[]"}
        guards:
          {guards or "[]"}
        recovery: {{within: 10s}}
        """)


AVAIL = "- {{name: avail, probe: http, url: '${{url}}', interval: 200ms, timeout: 300ms{extra}}}"


# -- collection and outcomes ------------------------------------------------------------


@pytest.mark.docker
def test_experiment_files_are_items_passing_and_failing_on_their_verdict(
    pytester, containers, group, state_dir
):
    web = containers.run(publish=True, labels={"grp": group})
    url = f"http://127.0.0.1:{host_port(web)}/"
    lenient = AVAIL.format(extra=", tolerance: {min_availability: 0}")
    strict = AVAIL.format(extra="")
    guard = "- {name: web-answers, probe: http, url: '${url}', interval: 200ms, timeout: 300ms}"
    folder = pytester.mkdir("experiments")
    (folder / "passes.chaos.yaml").write_text(
        experiment("survives a short pause", group, url, probes=lenient)
    )
    (folder / "fails.chaos.yaml").write_text(
        experiment("every sample must pass", group, url, probes=strict)
    )
    (folder / "aborts.chaos.yaml").write_text(
        experiment(
            "guarded",
            group,
            url,
            guards=guard,
            method="- {name: pause-web, fault: container.pause, target: web, duration: 3s}",
        )
    )
    (folder / "errors.chaos.yaml").write_text(
        experiment("selects nothing", f"nobody-{group}", url, probes=lenient)
    )
    (folder / "ignored.yaml").write_text("not: an experiment\n")  # no .chaos.yaml, no pattern

    report = pytester.path / "report.xml"
    result = pytester.runpytest_inprocess(
        "-v", "-p", "no:cacheprovider", f"--junitxml={report}", "experiments"
    )

    result.assert_outcomes(passed=1, failed=3)
    # the deciding reason's fields, for programs reading pytest's own report
    import xml.etree.ElementTree as ET

    properties = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(report).iter("testcase")
    }
    assert properties["fails"]["chaos_reason_kind"] == "tolerance"
    assert properties["fails"]["chaos_reason_source"] == "avail"
    assert properties["fails"]["chaos_reason_faults"] == "pause-web"
    assert properties["aborts"]["chaos_reason_kind"] == "guard_breach"
    assert properties["aborts"]["chaos_reason_source"] == "web-answers"
    assert properties["errors"]["chaos_reason_kind"] == "target_error"
    assert properties["passes"]["chaos_verdict"] == "passed"
    assert "chaos_reason_kind" not in properties["passes"]
    assert float(properties["passes"]["chaos_time_to_recover"]) >= 0
    result.stdout.fnmatch_lines_random(
        [
            "experiments/passes.chaos.yaml::passes PASSED*",
            "experiments/fails.chaos.yaml::fails FAILED*",
            "experiments/aborts.chaos.yaml::aborts FAILED*",
            "experiments/errors.chaos.yaml::errors FAILED*",
            # the reasons: which probe, when, during which fault
            "failed: probe avail: *(first at t=*during pause-web)*",
            "verdict failed (exit code 1): every sample must pass",
            "aborted: guard web-answers breached at t=*; every active fault was reverted",
            "verdict aborted (exit code 3): guarded",
            "error: target 'web' matched no running container*",
            "verdict error (exit code 4): selects nothing",
            "journal: */chaos-reports/*-every-sample-must-pass/journal.json",
            "FAILED experiments/errors.chaos.yaml::errors - error: target 'web' matched no*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "ignored" not in result.stdout.str()
    assert not paused(web)
    assert Ledger(state_dir).open_entries() == []


def test_an_invalid_file_is_a_collection_error_with_its_positions(pytester):
    pytester.makefile(
        ".chaos.yaml",
        broken="""\
        version: 1
        title: broken
        targets:
          web: {select: {labels: {app: web}}}
        method:
          - {fault: container.kil, target: web}
          - {fault: container.pause, target: nowhere, duration: 1s}
        """,
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting broken.chaos.yaml*",
            "broken.chaos.yaml:6:13: unknown fault 'container.kil' (did you mean 'container.kill'?)",
            "broken.chaos.yaml:7:38: target 'nowhere' is not defined; defined: web",
        ]
    )
    assert "Traceback" not in result.stdout.str()


SELECTION_TESTS = """\
import pytest

def test_plain():
    pass

@pytest.mark.chaos
def test_marked():
    pass

def test_uses_the_fixture(chaos):
    pass
"""

NOTHING = """\
version: 1
title: nothing
targets: {web: {select: {labels: {grp: nobody-at-all}}}}
method: [{fault: container.kill, target: web}]
"""


def test_the_chaos_marker_selects_experiments_and_fault_tests(pytester):
    pytester.makepyfile(test_selection=SELECTION_TESTS)
    pytester.makefile(".chaos.yaml", quick=NOTHING)

    chosen = pytester.runpytest_inprocess("--collect-only", "-q", "-m", "chaos", "-W", "error")
    chosen.stdout.fnmatch_lines_random(
        [
            "quick.chaos.yaml::quick",
            "test_selection.py::test_marked",
            "test_selection.py::test_uses_the_fixture",
            "3/4 tests collected (1 deselected)*",
        ]
    )
    others = pytester.runpytest_inprocess("--collect-only", "-q", "-m", "not chaos", "-W", "error")
    others.stdout.fnmatch_lines(["test_selection.py::test_plain", "1/4 tests collected*"])
    # registered: no unknown-marker warning, and --strict-markers accepts it
    strict = pytester.runpytest_inprocess("--collect-only", "-q", "--strict-markers")
    assert strict.ret == 0
    assert "PytestUnknownMarkWarning" not in strict.stdout.str()
    markers = pytester.runpytest_inprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.chaos: a resilience test (chaosdrill)*"])


def test_the_ini_option_adds_patterns(pytester):
    pytester.makeini("""\
        [pytest]
        chaos_experiment_files =
            scenarios/*.yaml
            deep/**/*.yml
        """)
    for path in (
        "scenarios/one.yaml",
        "scenarios/sub/not-this.yaml",  # one folder only
        "elsewhere/scenarios/not-this.yaml",  # relative to the rootdir
        "deep/two.yml",
        "deep/a/b/three.yml",
        "misc/four.chaos.yaml",  # the default pattern holds anywhere
    ):
        file = pytester.path / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(NOTHING)
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    lines = [line for line in result.stdout.lines if "::" in line]
    assert sorted(lines) == [
        "deep/a/b/three.yml::three",
        "deep/two.yml::two",
        "misc/four.chaos.yaml::four",
        "scenarios/one.yaml::one",
    ]


def test_without_an_engine_chaos_tests_skip_or_fail_when_required(pytester, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-engine.sock")
    pytester.makepyfile(
        test_engine="""\
        def test_needs_the_engine(docker_engine):
            raise AssertionError("never runs without an engine")

        def test_injects(chaos):
            raise AssertionError("never runs without an engine")
        """
    )
    pytester.makefile(".chaos.yaml", quick=NOTHING)

    skipped = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=3)
    skipped.stdout.fnmatch_lines(
        ["SKIPPED * chaosdrill: no Docker engine: cannot reach the Docker engine at unix://*"]
    )

    required = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-require-engine")
    required.assert_outcomes(errors=2, failed=1)
    required.stdout.fnmatch_lines(
        ["*chaosdrill: no Docker engine: *(required by --chaos-require-engine*"]
    )

    pytester.makeini("[pytest]\nchaos_require_engine = true\n")
    by_ini = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    by_ini.assert_outcomes(errors=2, failed=1)


@pytest.mark.docker
def test_a_bad_swarm_option_fails_the_experiment_with_its_reason(pytester):
    pytester.makefile(".chaos.yaml", quick=NOTHING)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--chaos-lab", "nosuchlab")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["error: no lab named nosuchlab; start one with*"])


# -- the chaos fixture --------------------------------------------------------------------

FIXTURE_TESTS = """\
import docker
import pytest

TARGET = {{"select": {{"labels": {{"grp": "{group}"}}}}}}
URL = "{url}"


def paused():
    container = docker.from_env().containers.get("{id}")
    return container.attrs["State"]["Paused"]


def test_fault_in_effect_then_the_body_raises(chaos):
    with chaos.fault("container.pause", target=TARGET, duration="20s") as injected:
        assert paused()
        assert [t.id for t in injected.targets] == ["{id}"]
        assert [a.name for a in chaos.active] == ["container.pause"]
        raise RuntimeError("the test body fails inside the block")


def test_forgotten_handle(chaos):
    chaos.fault("container.pause", target=TARGET, duration="20s").start()
    assert paused()
    assert False, "fails with the fault still active"


def test_wait_and_run(chaos, tmp_path):
    assert not paused(), "the earlier tests' faults were reverted at their teardown"
    assert chaos.wait_until("http", within="10s", url=URL).ok
    result = chaos.run("short-pause.yaml")  # found next to this file
    assert result.passed, result.describe()
    avail = result.probe("avail")
    assert 0 < avail.availability < 1, avail.availability
    assert avail.time_to_recover is not None and avail.longest_outage > 0
    assert result.time_to_recover is not None
    assert result.journal_path.is_relative_to(tmp_path)
    assert chaos.results == [result]
"""


@pytest.mark.docker
def test_chaos_fixture_reverts_even_when_the_test_fails(pytester, containers, group, state_dir):
    web = containers.run(publish=True, labels={"grp": group})
    url = f"http://127.0.0.1:{host_port(web)}/"
    pytester.makepyfile(test_fixture=FIXTURE_TESTS.format(group=group, url=url, id=web.id))
    (pytester.path / "short-pause.yaml").write_text(
        experiment(
            "short pause", group, url, probes=AVAIL.format(extra=", tolerance: {max_outage: 5s}")
        )
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "*RuntimeError: the test body fails inside the block",
            "*AssertionError: fails with the fault still active*",
        ]
    )
    # from outside: nothing left paused, no open ledger entry, no armed watchdog
    assert not paused(web)
    assert Ledger(state_dir).open_entries() == []
    assert not containers.client.containers.list(
        all=True, filters={"label": f"chaosdrill.target={web.id}"}
    )


HOLD_TEST = """\
import time
from pathlib import Path


def test_holds_a_pause(chaos):
    with chaos.fault("container.pause", target={{"select": {{"name": "{name}"}}}}, duration="3s"):
        Path("{mark}").write_text("in")
        time.sleep(60)
"""


@pytest.mark.docker
def test_a_sigkilled_session_leaves_its_fault_to_the_watchdog(
    pytester, containers, state_dir, group
):
    web = containers.run("busybox", command=["sleep", "300"], labels={"grp": group})
    mark = pytester.path / "injected"
    test = pytester.makepyfile(test_hold=HOLD_TEST.format(name=web.name, mark=mark))
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
        cwd=pytester.path,
        env={**os.environ, "CHAOSDRILL_WATCHDOG_GRACE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: mark.exists() or inner.poll() is not None, 60, "the fault injected")
        assert inner.poll() is None, "the inner session died before injecting"
        killed_at = time.monotonic()
        os.kill(inner.pid, signal.SIGKILL)
        inner.wait(10)
    finally:
        if inner.poll() is None:
            inner.kill()
    assert paused(web), "nobody reverted it yet: the runner is gone"
    wait_for(lambda: not paused(web), 15, "the watchdog to unpause at the deadline")
    assert time.monotonic() - killed_at >= 1.5, "reverted by the watchdog at its deadline"
    (entry,) = Ledger(state_dir).open_entries()  # the dead session's entry, closed by recover
    outcomes, _ = api.recover(state_dir=state_dir)
    assert [o.ok for o in outcomes] == [True] and outcomes[0].entry.id == entry.id
    assert Ledger(state_dir).open_entries() == []


LAB_TEST = """\
from pathlib import Path


def test_lab(swarm_lab, chaos):
    Path("{record}").write_text(swarm_lab.name)
    assert swarm_lab.created
    assert [n.role for n in swarm_lab.inventory.nodes] == ["manager"]
    assert chaos.inventory is swarm_lab.inventory, "the chaos fixture goes to the lab"
    assert chaos.wait_until("swarm.quorum", within="60s").ok
"""


@pytest.mark.docker
def test_the_swarm_lab_fixture_makes_a_lab_for_the_session_and_removes_it(
    pytester, docker_client, images, tmp_path, monkeypatch
):
    from chaos.errors import UsageError
    from chaos.lab import lab

    monkeypatch.setenv(lab.LAB_DIR_ENV, str(tmp_path / "labs"))
    record = pytester.path / "lab-name"
    pytester.makeini("[pytest]\nchaos_lab_managers = 1\nchaos_lab_workers = 0\n")
    pytester.makepyfile(test_lab=LAB_TEST.format(record=record))
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
        result.assert_outcomes(passed=1)
        name = record.read_text()
        assert name.startswith("pytest")
        with pytest.raises(UsageError, match="no lab named"):
            lab.down(name, client=docker_client)  # the session removed it already
    finally:
        if record.exists():
            with contextlib.suppress(UsageError):
                lab.down(record.read_text(), client=docker_client)


@pytest.mark.docker
def test_ctrl_c_during_an_experiment_reverts_and_stops_the_session(
    pytester, containers, group, state_dir
):
    web = containers.run(publish=True, labels={"grp": group})
    url = f"http://127.0.0.1:{host_port(web)}/"
    long_pause = "- {name: pause-web, fault: container.pause, target: web, duration: 30s}"
    pytester.makefile(".chaos.yaml", first=experiment("long", group, url, method=long_pause))
    pytester.makefile(".chaos.yaml", second=experiment("never runs", group, url))
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: paused(web) or inner.poll() is not None, 60, "the pause injected")
        inner.send_signal(signal.SIGINT)
        output, _ = inner.communicate(timeout=30)
    finally:
        if inner.poll() is None:
            inner.kill()
    assert not paused(web)
    assert inner.returncode == 2, output  # pytest: interrupted
    assert "run interrupted by SIGINT; every active fault was reverted" in output
    assert "second.chaos.yaml::second" not in output, "the session stopped"
    assert Ledger(state_dir).open_entries() == []
