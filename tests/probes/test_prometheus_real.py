"""The prometheus probes against a real Prometheus on 127.0.0.1, in real runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos import api
from chaos.engine.result import Verdict
from tests.conftest import chaosdrill

CONFIG = """
global: {scrape_interval: 1s, evaluation_interval: 1s}
"""


pytestmark = pytest.mark.docker


@pytest.fixture
def group(containers) -> str:
    """A paused-for-a-moment container to give each run a method."""
    import uuid

    name = f"g{uuid.uuid4().hex[:10]}"
    containers.run(labels={"grp": name})
    return name


def experiment(url: str, body: str, group: str) -> str:
    return f"""
version: 1
title: prometheus probe
targets:
  web: {{select: {{labels: {{grp: {group}}}}}}}
method:
  - {{name: freeze, fault: container.pause, target: web, duration: 300ms}}
{body.replace("URL", url)}
"""


@pytest.fixture
def write(experiment_file, group) -> Callable[..., Path]:
    """``write(url, body, name)``: the experiment pausing the group's container
    with ``body`` (URL standing for ``url``), written to ``name``."""

    def write_file(url: str, body: str, name: str = "experiment.yaml") -> Path:
        return experiment_file(experiment(url, body, group), name)

    return write_file


def run(path: Path, tmp_path: Path) -> api.RunResult:
    return api.run(api.load(path), report_dir=tmp_path / "reports")


def test_a_true_expectation_passes_and_a_false_one_fails(local_prometheus, write, tmp_path):
    server = local_prometheus(CONFIG)
    passing = write(
        server.url,
        """
steady_state:
  - {name: built, probe: prometheus, url: URL, query: "vector(3)", expect: {lt: 5}}
probes:
  - {name: count, probe: prometheus, url: URL, query: "count(vector(1))",
     expect: {eq: 1}, interval: 200ms, tolerance: {min_availability: 1.0}, evaluate: window}
recovery: {within: 5s, stable_for: 0.5s}
""",
        "pass.yaml",
    )
    result = run(passing, tmp_path)
    assert result.verdict is Verdict.PASSED, result.reasons
    window = result.journal.probes[0].window
    assert window is not None and window["ok"] is True and window["series"]
    failing = write(
        server.url,
        """
steady_state:
  - {name: built, probe: prometheus, url: URL, query: "vector(7)", expect: {lt: 5}}
""",
        "fail.yaml",
    )
    result = run(failing, tmp_path)
    assert result.verdict is Verdict.FAILED
    assert result.reasons[0].kind == "not_steady_before"
    assert "not < 5" in result.reasons[0].message and "=7" in result.reasons[0].message


def test_an_unreachable_prometheus_before_the_method_is_an_error(local_prometheus, write, tmp_path):
    server = local_prometheus(CONFIG)
    server.stop()
    path = write(
        server.url,
        """
steady_state:
  - {name: built, probe: prometheus, url: URL, query: "vector(1)", expect: {lt: 5}, timeout: 1s}
""",
    )
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ERROR
    assert result.reasons[0].kind == "probe_error"
    assert "cannot reach Prometheus" in result.reasons[0].message


def test_a_baseline_with_a_real_value(local_prometheus, write, tmp_path):
    server = local_prometheus(CONFIG)
    path = write(
        server.url,
        """
probes:
  - {name: steady, probe: prometheus, url: URL, query: "count(vector(1)) * 10",
     expect: {max_increase: 10%}, interval: 200ms, tolerance: {min_availability: 1.0}}
recovery: {within: 3s, stable_for: 0.4s}
""",
    )
    result = run(path, tmp_path)
    assert result.verdict is Verdict.PASSED, result.reasons
    baseline = result.journal.probes[0].baseline
    assert baseline is not None and baseline["values"] == {"{}": 10.0}
    # a value that grows past the baseline fails: time() grows ~ a second per second
    growing = write(
        server.url,
        """
probes:
  - {name: clock, probe: prometheus, url: URL, query: "time() - 1700000000",
     expect: {max_decrease: 0%}, interval: 200ms, tolerance: {min_availability: 1.0}}
  - {name: shrinking, probe: prometheus, url: URL, query: "1700000000 - time()",
     expect: {max_increase: 0%}, interval: 200ms, tolerance: {min_availability: 1.0}}
recovery: {within: 3s, stable_for: 1.5s}
""",
        "growing.yaml",
    )
    result = run(growing, tmp_path)
    assert result.verdict is Verdict.PASSED, result.reasons  # time goes up, never down


def test_prometheus_stopped_mid_run_fails_samples_then_the_tolerance_decides(
    local_prometheus, write, tmp_path
):
    server = local_prometheus(CONFIG)
    path = write(
        server.url,
        """
probes:
  - {name: up, probe: prometheus, url: URL, query: "vector(1)", expect: {eq: 1},
     interval: 200ms, timeout: 500ms, tolerance: {min_availability: 1.0}}
recovery: {within: 3s, stable_for: 1s}
""",
    )
    timer = threading.Timer(0.5, server.stop)
    timer.start()
    result = run(path, tmp_path)
    timer.join()
    assert result.verdict is Verdict.FAILED
    samples = result.journal.probes[0].samples
    assert samples[0].ok and not samples[-1].ok
    assert "cannot reach Prometheus" in samples[-1].detail
    kinds = {r.kind for r in result.reasons}
    # during the method a check that could not be made is a failed sample: the
    # tolerance (and recovery) decide, never probe_error
    assert "tolerance" in kinds and "probe_error" not in kinds, result.reasons
    assert any(r.kind == "tolerance" and r.source == "up" for r in result.reasons)


@pytest.mark.docker
def test_a_firing_alert_guard_aborts_the_run_and_reverts(
    local_prometheus, containers, experiment_file, tmp_path
):
    import uuid

    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(labels={"grp": group})
    fire_at = time.time() + 6
    server = local_prometheus(
        CONFIG + "rule_files: [rules.yml]\n",
        rules={
            "rules.yml": f"""
groups:
  - name: chaos
    rules:
      - alert: LateAlert
        expr: vector(time()) > {fire_at}
        for: 0s
        labels: {{severity: page}}
"""
        },
    )
    path = experiment_file(f"""
        version: 1
        title: alert guard
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 60s}}
        guards:
          - {{name: no-page, probe: prometheus.alert, url: "{server.url}",
             alerts: [LateAlert], labels: {{severity: page}}, interval: 500ms}}
    """)
    result = run(path, tmp_path)
    assert result.verdict is Verdict.ABORTED, result.reasons
    first = result.reasons[0]
    assert first.kind == "guard_breach" and "LateAlert" in first.message
    assert first.phase == "method"
    # aborted within about a guard interval of the alert firing (rule evaluation: 1s)
    assert first.at is not None
    from datetime import datetime

    started = datetime.fromisoformat(result.journal.started_at).timestamp()
    assert 0 < started + first.at - fire_at < 3.5
    web.reload()
    assert not web.attrs["State"]["Paused"]
    assert result.journal.faults[0].outcome == "reverted"


def test_dry_run_prints_the_value_and_catches_a_bad_query(local_prometheus, write, tmp_path):
    server = local_prometheus(CONFIG)
    good = write(
        server.url,
        """
steady_state:
  - {name: built, probe: prometheus, url: URL, query: "vector(42)", expect: {lt: 50}}
""",
        "good.yaml",
    )
    proc = chaosdrill("run", str(good), "--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "steady_state/built (prometheus): ok: 'vector(42)' = {}=42" in proc.stdout
    bad = write(
        server.url,
        """
steady_state:
  - {name: built, probe: prometheus, url: URL, query: "sum(up by", expect: {lt: 50}}
""",
        "bad.yaml",
    )
    proc = chaosdrill("run", str(bad), "--dry-run")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: Prometheus rejected the query 'sum(up by' (HTTP 400)" in proc.stdout
    assert "parse error" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_prometheus_own_metrics_scraping_itself(local_prometheus, write, tmp_path):
    from chaos.prometheus_process import free_loopback_port

    port = free_loopback_port()
    server = local_prometheus(
        CONFIG
        + f"scrape_configs:\n  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n",
        port=port,
    )
    from tests.conftest import wait_for

    def scraped() -> bool:
        import urllib.request

        with urllib.request.urlopen(f"{server.url}/api/v1/query?query=up", timeout=2) as answer:
            return '"job":"self"' in answer.read().decode()

    wait_for(scraped, 15, "Prometheus scraping itself")
    body = """
steady_state:
  - {name: self-up, probe: prometheus, url: URL, query: 'up{job="self"}', expect: {eq: 1}}
  - {name: built, probe: prometheus, url: URL, query: 'prometheus_build_info', expect: {eq: 1}}
"""
    result = run(write(server.url, body, "up.yaml"), tmp_path)
    assert result.verdict is Verdict.PASSED, result.reasons
    down = body.replace("expect: {eq: 1}}\n  - {name: built", "expect: {eq: 0}}\n  - {name: built")
    result = run(write(server.url, down, "down.yaml"), tmp_path)
    assert result.verdict is Verdict.FAILED
    assert 'self-up: not == 0: up{instance="127.0.0.1:' in result.reasons[0].message


def test_an_unreachable_guard_or_baseline_before_the_method_is_an_error(
    local_prometheus, write, tmp_path
):
    server = local_prometheus(CONFIG)
    server.stop()
    guard = """
guards:
  - {name: no-page, probe: prometheus.alert, url: URL, timeout: 1s, interval: 500ms}
"""
    result = run(write(server.url, guard, "g.yaml"), tmp_path)
    assert result.verdict is Verdict.ERROR
    assert result.reasons[0].kind == "probe_error"
    assert "nothing was injected" in result.reasons[0].message
    assert result.journal.faults[0].outcome == "not_injected"
    baseline = """
probes:
  - {name: rel, probe: prometheus, url: URL, query: "vector(1)", timeout: 1s,
     expect: {max_increase: 10%}, interval: 200ms, tolerance: {min_availability: 1.0}}
"""
    result = run(write(server.url, baseline, "b.yaml"), tmp_path)
    assert result.verdict is Verdict.ERROR
    first = result.reasons[0]
    assert (first.kind, first.source) == ("probe_error", "rel")
    assert "no baseline before the method" in first.message
    assert result.journal.faults[0].outcome == "not_injected"


def test_a_failing_window_fails_the_run_with_its_own_reason(local_prometheus, write, tmp_path):
    # "cut" fails until THRESHOLD, then passes: its live samples are let off by
    # min_availability 0, the window evaluated after recovery still sees the failures
    server = local_prometheus(CONFIG)
    body = """
probes:
  - {name: steady, probe: prometheus, url: URL, query: "vector(1)",
     expect: {eq: 1}, interval: 200ms, tolerance: {min_availability: 1.0}, evaluate: window}
  - {name: cut, probe: prometheus, url: URL,
     query: "timestamp(vector(1)) > bool THRESHOLD",
     expect: {eq: 1}, interval: 200ms, tolerance: {min_availability: 0.0}, evaluate: window}
recovery: {within: 8s, stable_for: 0.4s}
"""
    threshold = time.time() + 2.0
    path = write(server.url, body.replace("THRESHOLD", f"{threshold}"))
    result = run(path, tmp_path)
    steady = result.journal.probes[0]
    assert steady.window is not None and steady.window["ok"] is True, steady.window
    assert steady.window["series"][0]["series"] == "{}"
    cut = result.journal.probes[1]
    assert cut.samples[0].ok is False and cut.samples[-1].ok is True
    assert cut.window is not None and cut.window["ok"] is False, cut.window
    assert cut.window["failing_points"] > 0
    assert [r.kind for r in result.reasons] == ["tolerance"], result.reasons
    reason = result.reasons[0]
    assert reason.source == "cut" and "over the window" in reason.message
    assert "points of the window fail" in reason.message
    assert result.verdict is Verdict.FAILED
