"""The demo's metrics, its traffic and its Prometheus (``demo up --prometheus``),
observed for real: HTTP to the demo containers, queries to Debian's Prometheus.

The demo has fixed names and ports: every test here waits until no other
session's demo is up, and removes its own, even on failure."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chaos import demo, demo_prometheus
from tests.conftest import (
    SESSION_LABEL,
    chaosdrill,
    cli,
    http_status,
    labels_for_test,
    wait_for,
)

WEB = "http://127.0.0.1:18080"
PROM = "http://127.0.0.1:19090"


def _foreign_demo(client: Any) -> list[str]:
    return [
        c["Names"][0].lstrip("/")
        for c in client.api.containers(all=True, filters={"label": demo.DEMO_LABEL})
        if (c.get("Labels") or {}).get(SESSION_LABEL) != labels_for_test("")[SESSION_LABEL]
    ]


def _wait_for_no_other_demo(client: Any) -> None:
    """Another session (a CI run) may have the demo up: wait, never remove it."""
    deadline = time.monotonic() + 120
    while (others := _foreign_demo(client)) and time.monotonic() < deadline:
        time.sleep(2)
    if others:
        pytest.fail(
            f"another demo stays up ({', '.join(others)}): cannot test the demo now "
            "(`chaosdrill demo down` removes one of your own)"
        )


@pytest.fixture
def own_demo(docker_client: Any, images: Any) -> Any:
    _wait_for_no_other_demo(docker_client)
    yield docker_client
    demo.down(docker_client)
    demo_prometheus.stop()


def metrics(path: str = "/cgi-bin/metrics") -> dict[tuple[str, str], float]:
    """The demo's counters by (handler, code), parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(WEB + path, timeout=3) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    families = list(text_string_to_metric_families(text))
    assert [(f.name, f.type) for f in families] == [("demo_http_requests", "counter")]
    out = {}
    for sample in families[0].samples:
        assert sample.name == "demo_http_requests_total"
        out[(sample.labels["handler"], sample.labels["code"])] = sample.value
    return out


def get(path: str) -> int:
    try:
        with urllib.request.urlopen(WEB + path, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def query(expr: str) -> list[dict[str, Any]]:
    url = f"{PROM}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=3) as answer:
        body = json.loads(answer.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def value(expr: str) -> float | None:
    result = query(expr)
    return float(result[0]["value"][1]) if result else None


def test_metrics_count_the_pages_requests_by_status_code(own_demo):
    demo.up(own_demo, extra_labels=labels_for_test("metrics"))
    own_demo.containers.get(demo.TRAFFIC).stop(timeout=0)  # exact counts: no users
    api, status = "/cgi-bin/api", "/cgi-bin/status"
    before = metrics()
    assert {(api, "200"), (api, "502"), (status, "200")} <= set(before)
    assert metrics("/metrics") == before  # the same counters, through busybox's index.cgi
    assert [get(api) for _ in range(5)] == [200] * 5
    assert [get(status) for _ in range(3)] == [200] * 3
    assert get("/") == 200  # a static file: not counted
    after = metrics()
    assert after[(api, "200")] - before[(api, "200")] == 5
    assert after[(status, "200")] - before[(status, "200")] == 3
    assert after[(api, "502")] == before[(api, "502")]

    own_demo.containers.get("demo-api").kill()
    assert [get(api) for _ in range(4)] == [502] * 4
    assert get("/") == 200
    failed = metrics()
    assert failed[(api, "502")] - after[(api, "502")] == 4
    assert failed[(api, "200")] == after[(api, "200")]


def test_traffic_container_calls_the_api_page(own_demo):
    names = demo.up(own_demo, extra_labels=labels_for_test("traffic"))
    assert demo.TRAFFIC in names
    traffic = own_demo.containers.get(demo.TRAFFIC)
    assert traffic.attrs["HostConfig"]["PortBindings"] in (None, {})  # publishes nothing
    assert list(traffic.attrs["NetworkSettings"]["Networks"]) == [demo.DEMO_NETWORK]
    key = ("/cgi-bin/api", "200")
    start = metrics()[key]
    time.sleep(5)
    moved = metrics()[key] - start
    # at most 5 a second (a 0.2s pause between requests), at least 1 on a busy machine
    assert 5 <= moved <= 27, f"about 5 requests a second, saw {moved} in 5s"


def test_demo_up_prometheus_scrapes_alerts_and_goes_down(own_demo, state_dir):
    try:
        up = chaosdrill("demo", "up", "--prometheus")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "prometheus started: http://127.0.0.1:19090" in up.stdout
        pid = int((state_dir / "demo-prometheus" / "prometheus.pid").read_text().split()[0])
        again = chaosdrill("demo", "up", "--prometheus")
        assert again.returncode == 0, again.stderr
        assert f"prometheus already running: http://127.0.0.1:19090 (pid {pid})" in again.stdout

        wait_for(lambda: value('up{job="demo-web"}') == 1, 20, "the demo web scraped")
        assert query("demo_http_requests_total")
        wait_for(lambda: value(demo_prometheus.ERROR_RATIO) == 0, 20, "an error ratio of 0")
        assert not query('ALERTS{alertname="DemoHighErrorRate"}')
        status = chaosdrill("demo", "status")
        assert f"prometheus: http://127.0.0.1:19090 (pid {pid}), ready" in status.stdout
        assert "demo-traffic: running" in status.stdout

        own_demo.containers.get("demo-api").kill()
        wait_for(lambda: (value(demo_prometheus.ERROR_RATIO) or 0) > 0.2, 20, "errors seen")
        wait_for(
            lambda: query('ALERTS{alertname="DemoHighErrorRate",alertstate="firing"}'),
            20,
            "the example alert firing",
        )
        assert http_status(WEB + "/") == 200  # the probe on / sees nothing wrong
    finally:
        down = chaosdrill("demo", "down")
    assert down.returncode == 0, down.stderr
    assert f"prometheus stopped (pid {pid}" in down.stdout
    assert not _running(pid)
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", 19090)) != 0, "port 19090 still open"
    assert not own_demo.containers.list(all=True, filters={"label": demo.DEMO_LABEL})
    assert not (state_dir / "demo-prometheus" / "prometheus.pid").exists()
    assert "prometheus: not running" in chaosdrill("demo", "status").stdout


def _running(pid: int) -> bool:
    """Alive and not a zombie (its parent, the CLI, is gone: it may be reaped late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_demo_up_prometheus_without_the_binary_says_how_to_install(tmp_path):
    proc = cli("demo", "up", "--prometheus", env={"PATH": str(tmp_path)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "prometheus is not installed: on Debian, `apt-get install prometheus`" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing was started


def test_prometheus_option_only_with_up():
    proc = cli("demo", "status", "--prometheus")
    assert proc.returncode == 2
    assert "--prometheus goes with `demo up`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_taken_port_is_a_clear_error(state_dir):
    from chaos.errors import UsageError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"127.0.0.1:{port} is taken by another process"):
            demo_prometheus.start(port=port)
    assert demo_prometheus.find() is None
    assert not (state_dir / "demo-prometheus" / "prometheus.pid").exists()


def _example_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of a shipped example with one value changed (next to none of the
    examples, so ``experiments/`` is left alone)."""
    from tests.conftest import ROOT

    text = (ROOT / "experiments" / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def _run_json(path: Path | str, reports: Path) -> tuple[int, dict[str, Any]]:
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(reports), timeout=180)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_the_examples_see_in_the_metrics_what_a_probe_on_one_path_misses(
    own_demo, state_dir, tmp_path
):
    """The shipped examples against the demo and its Prometheus: stopping the api
    fails the error-rate probe with the example's tight threshold (the probe on
    / passes throughout) and passes it with a loose one; the firing alert aborts
    the drill through its guard, and the api is running again after it."""
    from tests.conftest import ROOT

    try:
        assert chaosdrill("demo", "up", "--prometheus").returncode == 0
        wait_for(lambda: value('up{job="demo-web"}') == 1.0, 30, "Prometheus to scrape the demo")
        ratio = 'sum(rate(demo_http_requests_total{code=~"5.."}[15s])) / sum(rate(demo_http_requests_total[15s]))'
        wait_for(lambda: value(ratio) == 0.0, 40, "an error ratio of 0 with the api up")

        code, tight = _run_json(ROOT / "experiments" / "web-errors-seen-in-metrics.yaml", tmp_path)
        assert (code, tight["verdict"]) == (1, "failed"), tight["reasons"]
        assert [(r["kind"], r["source"]) for r in tight["reasons"]] == [("tolerance", "error-rate")]
        probes = {p["name"]: p for p in tight["probes"]}
        assert (
            probes["web-availability"]["passed"]
            and probes["web-availability"]["availability"] == 1.0
        )
        assert not probes["error-rate"]["passed"]

        wait_for(lambda: value(ratio) == 0.0, 60, "the errors to age out of the 15s window")
        wait_for(lambda: not query('ALERTS{alertname="DemoHighErrorRate"}'), 30, "no alert")
        loose = _example_with(
            tmp_path, "web-errors-seen-in-metrics.yaml", "{lt: 0.05}", "{lt: 0.99}"
        )
        code, passed = _run_json(loose, tmp_path)
        assert (code, passed["verdict"]) == (0, "passed"), passed["reasons"]
        seen = {p["name"]: p for p in passed["probes"]}["error-rate"]
        assert seen["availability"] == 1.0

        wait_for(lambda: value(ratio) == 0.0, 60, "the errors to age out again")
        wait_for(lambda: not query('ALERTS{alertname="DemoHighErrorRate"}'), 30, "no alert")
        started = time.monotonic()
        code, aborted = _run_json(ROOT / "experiments" / "alert-aborts-drill.yaml", tmp_path)
        took = time.monotonic() - started
        assert (code, aborted["verdict"]) == (3, "aborted"), aborted["reasons"]
        [reason] = aborted["reasons"]
        assert reason["kind"] == "guard_breach" and "DemoHighErrorRate" in reason["message"]
        assert took < 45, took  # the 60s stop was cut short by the guard
        api = own_demo.containers.get("demo-api")
        assert api.status == "running"
        wait_for(lambda: http_status(f"{WEB}/cgi-bin/api") == 200, 15, "the api page back")
    finally:
        chaosdrill("demo", "down")
