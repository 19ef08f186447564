"""The prometheus probes' response logic, against a stub HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chaos.redaction import Redactor
from chaos.runtime import Runtime
from probes.prometheus import AlertParams, AlertProbe, PrometheusParams, PrometheusProbe
from tests.conftest import free_port
from tests.http_stub import answering, serving


class Stub:
    def __init__(self, url: str = "") -> None:
        self.status = 200
        self.body: Any = {}
        self.delay = 0.0
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.range_body: Any = None
        """The answer to /api/v1/query_range, when it differs."""
        self.url = url


class StubHandler(BaseHTTPRequestHandler):
    """Answers as the :class:`Stub` on its server (``server.stub``) says."""

    def do_GET(self) -> None:
        state: Stub = self.server.stub  # type: ignore[attr-defined]
        state.requests.append((self.path, dict(self.headers)))
        if state.delay:
            time.sleep(state.delay)
        answer = state.body
        if self.path.startswith("/api/v1/query_range") and state.range_body is not None:
            answer = state.range_body
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        with contextlib.suppress(OSError):
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stub_server() -> Iterator[ThreadingHTTPServer]:
    """One server for the module: starting and stopping one per test cost 50 ms each."""
    with serving(StubHandler) as server:
        yield server


@pytest.fixture
def stub(stub_server: ThreadingHTTPServer) -> Stub:
    """A fresh answer and request log for each test (a request still being answered
    for an earlier test keeps the state it started with)."""
    state = Stub(f"http://127.0.0.1:{stub_server.server_address[1]}")
    stub_server.stub = state  # type: ignore[attr-defined]
    return state


def refused_url(auth: str = "") -> str:
    """An http:// URL on a 127.0.0.1 port where nothing listens."""
    return f"http://{auth}127.0.0.1:{free_port()}"


def vector(*values: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [1700000000.0, v]} for m, v in values],
        },
    }


RUNTIME = Runtime()


def check(stub: Stub, **params: Any):
    parsed = PrometheusParams.model_validate({"url": stub.url, "query": "q", **params})
    return PrometheusProbe().check(RUNTIME, parsed, ())


@pytest.mark.parametrize(
    ("expect", "value", "ok"),
    [
        ({"lt": 5}, "4", True),
        ({"lt": 5}, "5", False),
        ({"le": 5}, "5", True),
        ({"le": 5}, "5.1", False),
        ({"gt": 5}, "6", True),
        ({"gt": 5}, "5", False),
        ({"ge": 5}, "5", True),
        ({"ge": 5}, "4.9", False),
        ({"eq": 5}, "5", True),
        ({"eq": 5}, "5.5", False),
        ({"ne": 5}, "4", True),
        ({"ne": 5}, "5", False),
        ({"between": [1, 3]}, "3", True),
        ({"between": [1, 3]}, "3.5", False),
        ({"lt": 5}, "+Inf", False),
        ({"gt": 5}, "+Inf", True),
        ({"gt": 5}, "-Inf", False),
        ({"ne": 5}, "NaN", False),
        ({"lt": 5}, "NaN", False),
    ],
)
def test_every_comparator_on_a_vector(stub, expect, value, ok):
    stub.body = vector(({"__name__": "up", "job": "web"}, value))
    result = check(stub, expect=expect)
    assert result.ok is ok, result.detail
    assert 'up{job="web"}' in result.detail
    assert result.error is False
    if value == "NaN":
        assert "NaN never meets an expectation" in result.detail


def test_scalar_and_matrix_last_value_and_string(stub):
    stub.body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}}
    assert check(stub, expect={"eq": 7}).ok
    assert not check(stub, expect={"eq": 8}).ok
    stub.body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"a": "1"}, "values": [[1, "100"], [2, "3"]]}],
        },
    }
    assert check(stub, expect={"lt": 5}).ok  # the last value, 3, not 100
    assert not check(stub, expect={"gt": 50}).ok
    stub.body = {"status": "success", "data": {"resultType": "string", "result": [1, "hi"]}}
    result = check(stub, expect={"lt": 5})
    assert not result.ok and result.error
    assert "string, not a number" in result.detail


@pytest.mark.parametrize(
    ("on_empty", "ok", "error"),
    [("fail", False, False), ("pass", True, False), ("error", False, True)],
)
def test_an_empty_result(stub, on_empty, ok, error):
    stub.body = vector()
    result = check(stub, expect={"lt": 5}, on_empty=on_empty)
    assert (result.ok, result.error) == (ok, error)
    assert "no series" in result.detail


@pytest.mark.parametrize(
    ("series", "expect", "ok"),
    [
        ("all", {"lt": 5}, False),  # 9 is not
        ("all", {"lt": 10}, True),
        ("any", {"gt": 8}, True),
        ("any", {"gt": 9}, False),
        ("max", {"eq": 9}, True),
        ("max", {"lt": 9}, False),
        ("min", {"eq": 1}, True),
        ("min", {"gt": 1}, False),
        ("sum", {"eq": 12}, True),
        ("sum", {"lt": 12}, False),
        ("avg", {"eq": 4}, True),
        ("avg", {"gt": 4}, False),
    ],
)
def test_series_modes(stub, series, expect, ok):
    stub.body = vector(({"i": "a"}, "1"), ({"i": "b"}, "2"), ({"i": "c"}, "9"))
    result = check(stub, expect=expect, series=series)
    assert result.ok is ok, result.detail


def test_a_nan_among_series_makes_an_aggregate_nan(stub):
    stub.body = vector(({"i": "a"}, "1"), ({"i": "b"}, "NaN"))
    result = check(stub, expect={"gt": 0}, series="max")
    assert not result.ok
    assert "= NaN" in result.detail and "NaN never meets" in result.detail


def test_a_detail_is_bounded(stub):
    stub.body = vector(*(({"i": str(n)}, "1") for n in range(50)))
    result = check(stub, expect={"gt": 5})
    assert not result.ok
    assert "and 45 more" in result.detail
    assert len(result.detail) < 600


def test_relative_expectations_against_a_baseline(stub):
    params = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"max_increase": "50%"}, "series": "sum"}
    )
    probe = PrometheusProbe()
    stub.body = vector(({}, "10"))
    baseline = probe.baseline(RUNTIME, params, ())
    assert baseline is not None and baseline.ok and baseline.data["values"] == {"*": 10.0}
    stub.body = vector(({}, "15"))
    assert probe.check(RUNTIME, params, ()).ok
    stub.body = vector(({}, "15.5"))
    result = probe.check(RUNTIME, params, ())
    assert not result.ok and "of 10" in result.detail
    decrease = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"max_decrease": 20}}
    )
    probe = PrometheusProbe()
    stub.body = vector(({"i": "a"}, "100"))
    assert probe.baseline(RUNTIME, decrease, ()).ok
    stub.body = vector(({"i": "a"}, "80"))
    assert probe.check(RUNTIME, decrease, ()).ok
    stub.body = vector(({"i": "a"}, "79"))
    assert not probe.check(RUNTIME, decrease, ()).ok


def test_no_baseline_from_an_empty_result_is_an_error(stub):
    params = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"max_increase": "5%"}}
    )
    stub.body = vector()
    result = PrometheusProbe().baseline(RUNTIME, params, ())
    assert result is not None and not result.ok and result.error


def test_a_promql_error_names_the_query_and_prometheus_message(stub):
    stub.status = 400
    stub.body = {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:5: parse error: unexpected <by>',
    }
    result = check(stub, query="sum( by (x)", expect={"lt": 1})
    assert not result.ok and result.error
    assert "'sum( by (x)'" in result.detail
    assert "parse error: unexpected <by>" in result.detail
    assert "HTTP 400" in result.detail


def test_a_503_is_a_failed_check_with_the_reason(stub):
    stub.status = 503
    stub.body = b"Service Unavailable"
    result = check(stub, expect={"lt": 1})
    assert not result.ok and result.error
    assert "HTTP 503" in result.detail
    assert len(stub.requests) == 1  # never retried


def test_connection_refused():
    url = refused_url()
    params = PrometheusParams.model_validate({"url": url, "query": "q", "expect": {"lt": 1}})
    result = PrometheusProbe().check(RUNTIME, params, ())
    assert not result.ok and result.error
    assert f"cannot reach Prometheus at {url}: connection refused" in result.detail


def test_a_slow_server_does_not_stretch_a_check_past_its_timeout(stub):
    stub.delay = 3.0
    stub.body = vector(({}, "1"))
    started = time.monotonic()
    result = check(stub, expect={"lt": 5}, timeout="300ms")
    elapsed = time.monotonic() - started
    assert not result.ok and result.error
    assert "within 0.3s" in result.detail
    assert elapsed < 0.8, elapsed
    assert len(stub.requests) == 1  # no retry after the timeout


def test_a_slow_server_in_the_engine_sample_ends_by_its_deadline(stub):
    from chaos.engine.clock import RunClock
    from chaos.engine.sampling import BoundProbe

    stub.delay = 3.0
    stub.body = vector(({}, "1"))
    params = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"lt": 5}, "timeout": "300ms"}
    )
    bound = BoundProbe("probes", "p", PrometheusProbe(), params)
    started = time.monotonic()
    sample = bound.sample(RUNTIME, RunClock())
    assert time.monotonic() - started < 0.8
    assert not sample.ok and sample.error


def test_secrets_never_appear_in_details(stub):
    stub.status = 401
    stub.body = {"status": "error", "error": "token s3cr3t-token is wrong"}
    params = PrometheusParams.model_validate(
        {
            "url": stub.url,
            "query": "q",
            "expect": {"lt": 1},
            "bearer": "s3cr3t-token",
            "headers": {"X-Scope-OrgID": "tenant-secret"},
        }
    )
    result = PrometheusProbe().check(RUNTIME, params, ())
    assert "s3cr3t-token" not in result.detail and "tenant-secret" not in result.detail
    assert stub.requests[-1][1]["Authorization"] == "Bearer s3cr3t-token"
    assert stub.requests[-1][1]["X-Scope-OrgID"] == "tenant-secret"
    stub.status = 400
    stub.body = {"status": "error", "error": "echo: pa55word tenant-secret"}
    basic = PrometheusParams.model_validate(
        {
            "url": stub.url,
            "query": "q",
            "expect": {"lt": 1},
            "basic": {"username": "u", "password": "pa55word"},
            "headers": {"X-Scope-OrgID": "tenant-secret"},
        }
    )
    result = PrometheusProbe().check(RUNTIME, basic, ())
    assert "pa55word" not in result.detail and "tenant-secret" not in result.detail
    assert "***" in result.detail
    # a secret from the experiment's configuration is redacted by the engine too
    from chaos.engine.clock import RunClock
    from chaos.engine.sampling import BoundProbe

    runtime = Runtime(redactor=Redactor(frozenset({"tenant-secret"})))
    sample = BoundProbe("probes", "p", PrometheusProbe(), basic).sample(runtime, RunClock())
    assert "tenant-secret" not in sample.detail


def test_the_alert_probe_names_the_firing_alerts(stub):
    stub.body = vector(
        ({"__name__": "ALERTS", "alertname": "Down", "alertstate": "firing", "sev": "page"}, "1"),
        ({"__name__": "ALERTS", "alertname": "Other", "alertstate": "firing", "sev": "page"}, "1"),
    )
    params = AlertParams.model_validate(
        {"url": stub.url, "alerts": ["Down"], "labels": {"sev": 'pa"ge'}}
    )
    result = AlertProbe().check(RUNTIME, params, ())
    assert not result.ok and "Down" in result.detail and "Other" not in result.detail
    path = stub.requests[-1][0]
    assert "ALERTS" in path and "alertstate%3D%22firing%22" in path
    assert "pa%5C%22ge" in path  # the label value is escaped in the PromQL string
    stub.body = vector()
    assert AlertProbe().check(RUNTIME, params, ()).ok
    pending = AlertParams.model_validate({"url": stub.url, "pending": True})
    AlertProbe().check(RUNTIME, pending, ())
    assert "firing%7Cpending" in stub.requests[-1][0]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"expect": {"lt": 1, "gt": 0}}, "exactly one"),
        ({"expect": {}}, "exactly one"),
        ({"expect": {"between": [3, 1]}}, "low <= high"),
        ({"expect": {"max_increase": "-5%"}}, "0% or more"),
        ({"expect": {"max_increase": "lots"}}, "percentage"),
        ({"expect": {"lt": 1}, "url": "ftp://x"}, "http:// or https://"),
        ({"expect": {"lt": 1}, "series": "median"}, "series"),
        ({"expect": {"lt": 1}, "query": " "}, "empty"),
    ],
)
def test_bad_parameters_are_refused_with_a_message(params, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        PrometheusParams.model_validate({"url": "http://127.0.0.1:9", "query": "q", **params})
    assert message in str(info.value)


def matrix(*series: tuple[dict[str, str], list[str]]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": m, "values": [[1700000000 + i, v] for i, v in enumerate(vs)]}
                for m, vs in series
            ],
        },
    }


def window(stub: Stub, **params: Any):
    parsed = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "evaluate": "window", **params}
    )
    return PrometheusProbe().evaluate_window(RUNTIME, parsed, (), 1700000000.0, 1700000010.0, 0.5)


def test_a_window_judges_every_point(stub):
    stub.body = matrix(({"i": "a"}, ["1", "2", "1"]), ({"i": "b"}, ["1", "1", "1"]))
    result = window(stub, expect={"lt": 5})
    assert result is not None and result.ok, result.detail
    assert result.data["series_total"] == 2 and result.data["failing_points"] == 0
    path = stub.requests[-1][0]
    assert "query_range" in path and "step=0.5" in path
    assert "start=1700000000.000" in path and "end=1700000010.000" in path
    stub.body = matrix(({"i": "a"}, ["1", "9", "1"]), ({"i": "b"}, ["1", "1", "NaN"]))
    result = window(stub, expect={"lt": 5})
    assert result is not None and not result.ok and not result.error
    assert result.detail.startswith("2 of 3 points of the window fail")
    assert 'i="a"}=9' in result.detail
    # the journal keeps it bounded
    stub.body = matrix(*(({"i": str(n)}, ["1"] * 500) for n in range(30)))
    result = window(stub, expect={"lt": 5})
    assert result is not None and result.ok
    assert len(result.data["series"]) == 10
    assert all(len(s["values"]) == 120 for s in result.data["series"])


def test_no_window_unless_asked_and_a_window_that_cannot_be_evaluated(stub):
    parsed = PrometheusParams.model_validate({"url": stub.url, "query": "q", "expect": {"lt": 5}})
    assert PrometheusProbe().evaluate_window(RUNTIME, parsed, (), 1.0, 2.0, 1.0) is None
    stub.status = 503
    result = window(stub, expect={"lt": 5})
    assert result is not None and not result.ok and result.error


def test_the_alert_probe_fails_when_prometheus_does_not_answer(stub):
    stub.status = 500
    stub.body = {"status": "error", "error": "storage gone"}
    result = AlertProbe().check(RUNTIME, AlertParams.model_validate({"url": stub.url}), ())
    assert not result.ok and result.error
    assert "HTTP 500: storage gone" in result.detail


def test_preview_says_the_current_value_or_why_not(stub):
    stub.body = vector(({"job": "x"}, "3"))
    parsed = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"max_increase": "5%"}}
    )
    look = PrometheusProbe().preview(RUNTIME, parsed, ())
    assert look is not None and look.ok and '{job="x"}=3' in look.detail
    assert "baseline" in look.detail
    stub.body = vector()
    look = PrometheusProbe().preview(RUNTIME, parsed, ())
    assert look is not None and not look.ok and "no series" in look.detail


@pytest.fixture
def tls_stub(tmp_path):
    from chaos.lab.tls import ServerName, make_lab_tls

    files = make_lab_tls(tmp_path / "tls", "t", [ServerName("prom", "prom", "127.0.0.1")])
    node = files.node_dir("prom")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(node / "cert.pem", node / "key.pem")
    with serving(answering(json.dumps(vector(({}, "1"))).encode()), tls=context) as server:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(files.ca)


def test_tls_with_a_ca_file_without_verification_and_refused(tls_stub):
    url, ca = tls_stub
    base = {"url": url, "query": "q", "expect": {"eq": 1}, "timeout": "2s"}
    probe = PrometheusProbe()
    refused = probe.check(RUNTIME, PrometheusParams.model_validate(base), ())
    assert not refused.ok and refused.error
    assert "TLS with" in refused.detail and "certificate verify failed" in refused.detail
    with_ca = probe.check(RUNTIME, PrometheusParams.model_validate({**base, "ca": ca}), ())
    assert with_ca.ok, with_ca.detail
    unverified = PrometheusParams.model_validate({**base, "verify_tls": False})
    assert probe.check(RUNTIME, unverified, ()).ok


def test_a_url_password_is_never_shown():
    url = refused_url("me:hunter2@")
    params = PrometheusParams.model_validate({"url": url, "query": "q", "expect": {"lt": 1}})
    result = PrometheusProbe().check(RUNTIME, params, ())
    assert not result.ok and "hunter2" not in result.detail
    assert url.replace("me:hunter2@", "") in result.detail


def test_validate_and_help_never_load_the_client(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = tmp_path / "e.yaml"
    path.write_text(
        "version: 1\n"
        "title: t\n"
        "targets:\n  web: {select: {labels: {a: b}}}\n"
        "method:\n  - {name: f, fault: container.pause, target: web, duration: 1s}\n"
        "steady_state:\n"
        "  - {name: p, probe: prometheus, url: 'http://127.0.0.1:9', query: up,"
        " expect: {max_increase: 50%}, evaluate: window}\n"
        "guards:\n"
        "  - {name: g, probe: prometheus.alert, url: 'http://127.0.0.1:9', alerts: [A]}\n"
    )
    script = (
        "import sys\n"
        "from chaos.cli.main import main\n"
        f"code = main(['validate', {str(path)!r}])\n"
        "print(code, sorted(n for n in ('prometheus_api_client', 'requests', 'urllib3')"
        " if n in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{path}: ok", "0 []"]


def test_validate_names_the_step_and_parameter_of_bad_values(tmp_path):
    from tests.conftest import cli

    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\n"
        "title: t\n"
        "targets:\n  web: {select: {labels: {a: b}}}\n"
        "method:\n  - {name: f, fault: container.pause, target: web, duration: 1s}\n"
        "steady_state:\n"
        "  - {name: p, probe: prometheus, url: 'http://127.0.0.1:9', query: up,"
        " expect: {lt: 1, gt: 3}, on_empty: maybe}\n"
        "guards:\n"
        "  - {name: g, probe: prometheus.alert, url: 'http://127.0.0.1:9', labels: {bad-name: x}}\n"
    )
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    assert "steady_state[0].expect: give exactly one of" in proc.stdout
    assert "steady_state[0].on_empty:" in proc.stdout
    assert "guards[0].labels: 'bad-name' is not a Prometheus label name" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_series_with_long_labels_keep_their_own_baselines(stub):
    prefix = "x" * 100
    params = PrometheusParams.model_validate(
        {"url": stub.url, "query": "q", "expect": {"max_increase": "10%"}}
    )
    probe = PrometheusProbe()
    stub.body = vector(({"a": prefix + "1"}, "100"), ({"a": prefix + "2"}, "1"))
    baseline = probe.baseline(RUNTIME, params, ())
    assert baseline is not None and baseline.data["series_total"] == 2
    # each compared with its own: 100 -> 105 is fine, 1 -> 50 is not
    stub.body = vector(({"a": prefix + "1"}, "105"), ({"a": prefix + "2"}, "50"))
    result = probe.check(RUNTIME, params, ())
    assert not result.ok and "=50" in result.detail and "=105" not in result.detail


def test_a_missing_ca_file_and_a_huge_error_are_clear_and_bounded(stub, tmp_path):
    missing = str(tmp_path / "nope.pem")
    params = PrometheusParams.model_validate(
        {
            "url": stub.url.replace("http:", "https:"),
            "query": "q",
            "expect": {"lt": 1},
            "ca": missing,
        }
    )
    result = PrometheusProbe().check(RUNTIME, params, ())
    assert not result.ok and result.error
    assert f"ca {missing!r} cannot be used" in result.detail
    stub.status = 400
    stub.body = {"status": "error", "errorType": "bad_data", "error": "e" * 100_000}
    result = check(stub, expect={"lt": 1})
    assert not result.ok and result.error and len(result.detail) < 500
