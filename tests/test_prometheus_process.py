"""Real Prometheus and Pushgateway processes on 127.0.0.1 for the demo and the tests."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from chaos.errors import UsageError
from chaos.prometheus_process import start_prometheus

pytestmark = pytest.mark.server  # every test here starts a real Prometheus or Pushgateway

CONFIG = """\
global: {scrape_interval: 1s, evaluation_interval: 200ms}
rule_files: [rules.yml]
scrape_configs:
  - job_name: self
    static_configs: [{targets: ["__SELF__"]}]
"""
RULES = """\
groups:
  - name: test
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        for: 0s
"""


def query(url: str, promql: str) -> dict:
    address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(address, timeout=5) as answer:
        return json.load(answer)


def test_a_local_prometheus_answers_queries_and_evaluates_rules(local_prometheus):
    server = local_prometheus(CONFIG.replace("__SELF__", "127.0.0.1:1"), {"rules.yml": RULES})
    assert server.url.startswith("http://127.0.0.1:")
    answer = query(server.url, "vector(3)")
    assert answer["data"]["result"][0]["value"][1] == "3"
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alerts = query(server.url, 'ALERTS{alertname="AlwaysFiring",alertstate="firing"}')
        if alerts["data"]["result"]:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the rule never fired")
    server.stop()
    assert server.process.poll() is not None


def test_a_prometheus_that_cannot_start_is_a_clear_error(tmp_path):
    bad = tmp_path / "prometheus.yml"
    bad.write_text("scrape_configs: [{job_name: x, nonsense: true}]\n")
    with pytest.raises(UsageError, match="prometheus exited at start"):
        start_prometheus(bad, tmp_path / "data")


def test_a_pushgateway_accepts_a_pushed_metric(local_pushgateway):
    body = b"# TYPE chaosdrill_test gauge\nchaosdrill_test 7\n"
    request = urllib.request.Request(
        f"{local_pushgateway.url}/metrics/job/test", data=body, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status in (200, 202)
    with urllib.request.urlopen(f"{local_pushgateway.url}/metrics", timeout=5) as answer:
        assert b'chaosdrill_test{instance="",job="test"} 7' in answer.read()


def test_a_pushgateway_starts_empty_after_another_one_stopped(tmp_path):
    """Each keeps its pushes in its own folder, not in the host-wide default file."""
    from chaos.prometheus_process import start_pushgateway

    first = start_pushgateway(tmp_path / "first")
    try:
        body = b"# TYPE chaosdrill_left_behind gauge\nchaosdrill_left_behind 1\n"
        request = urllib.request.Request(f"{first.url}/metrics/job/test", data=body, method="PUT")
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.status in (200, 202)
    finally:
        first.stop()
    assert (tmp_path / "first" / "pushgateway.data").exists()
    second = start_pushgateway(tmp_path / "second")
    try:
        with urllib.request.urlopen(f"{second.url}/metrics", timeout=5) as answer:
            assert b"chaosdrill_left_behind" not in answer.read()
    finally:
        second.stop()
