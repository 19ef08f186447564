"""Pushing a run's figures to a Pushgateway (``--pushgateway``), checked against
the run's journal, against a real Pushgateway and a real Prometheus scraping it;
and a gateway that refuses, hangs or fails is a warning, never a verdict."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chaos.pushgateway import PUSH_TIMEOUT, Pushgateway, _label
from tests.conftest import chaosdrill, cli, free_port, host_port

SECRET = "s3cr3t-pw"
"""A password in the gateway's URL: it must never be printed."""
CLOSE = 1e-6
FAULT_ACTIVE = (
    "(time() >= bool (chaosdrill_fault_injected_timestamp_seconds @ end()))"
    " * (time() < bool (chaosdrill_fault_reverted_timestamp_seconds @ end()))"
)
"""The README's PromQL for "a fault is active", checked against a real Prometheus."""
ROOT = Path(__file__).resolve().parent.parent


# -- helpers -----------------------------------------------------------------


def experiment(group: str, port: int, title: str = "paused web", tags: str = "[pushgateway]"):
    return f"""
        version: 1
        title: {title}
        tags: {tags}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: 1s}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{port}/", interval: 100ms,
             timeout: 300ms, tolerance: {{min_availability: 0}}}}
        guards:
          - {{name: guard-up, probe: http, url: "http://127.0.0.1:{port}/", interval: 200ms,
             timeout: 300ms, breach_after: 100}}
        recovery: {{within: 20s}}
    """


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://pusher:{SECRET}@")


def gateway_samples(url: str) -> list[Any]:
    """Every sample the Pushgateway serves on /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def pushed(url: str, experiment: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of one group: (name, labels without job/experiment) -> value."""
    found = {}
    for sample in gateway_samples(url):
        labels = dict(sample.labels)
        if labels.pop("job", None) != "chaosdrill" or labels.pop("experiment", None) != experiment:
            continue
        labels.pop("instance", None)  # the gateway adds instance=""
        if sample.name.startswith("chaosdrill_"):
            found[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return found


def groups(url: str) -> set[str]:
    return {
        s.labels["experiment"]
        for s in gateway_samples(url)
        if s.name == "chaosdrill_experiment_passed" and s.labels.get("job") == "chaosdrill"
    }


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def check_against_journal(values: dict[Any, float], journal: dict[str, Any]) -> None:
    """Every pushed figure is the journal's."""
    title = journal["experiment"]["title"]
    tags = ",".join(sorted(journal["experiment"].get("tags") or []))
    run = (("tags", tags), ("title", title))

    def one(name: str, labels: tuple[tuple[str, str], ...] = run) -> float:
        return values[(name, tuple(sorted(labels)))]

    verdict = journal["verdict"]
    assert one("chaosdrill_experiment_passed") == (1.0 if verdict == "passed" else 0.0)
    for name in ("passed", "failed", "aborted", "error"):
        expected = 1.0 if name == verdict else 0.0
        assert one("chaosdrill_experiment_verdict", (*run, ("verdict", name))) == expected
    assert one("chaosdrill_experiment_exit_code") == journal["exit_code"]
    assert abs(one("chaosdrill_experiment_duration_seconds") - journal["duration"]) < CLOSE
    start = epoch(journal["started_at"])
    assert abs(one("chaosdrill_experiment_start_timestamp_seconds") - start) < 1e-3
    assert abs(one("chaosdrill_experiment_end_timestamp_seconds") - epoch(journal["ended_at"])) < (
        1e-3
    )
    assert one("chaosdrill_experiment_faults") == len(journal["faults"])
    taken = [f for f in journal["faults"] if f["applied_at"] is not None]
    assert one("chaosdrill_experiment_faults_injected") == len(taken)
    ttr = journal["recovery"]["time_to_recover"]
    if ttr is None:
        assert ("chaosdrill_experiment_time_to_recover_seconds", run) not in values
    else:
        assert abs(one("chaosdrill_experiment_time_to_recover_seconds") - ttr) < CLOSE
    for record in [*journal["probes"], *journal["guards"]]:
        key = (("probe", record["name"]), ("section", record["section"]))
        summary = record["summary"]
        assert abs(one("chaosdrill_probe_availability_ratio", key) - summary["availability"]) < (
            CLOSE
        )
        outage = one("chaosdrill_probe_longest_outage_seconds", key)
        assert abs(outage - summary["longest_outage"]) < CLOSE
        assert one("chaosdrill_probe_passed", key) == (0.0 if record["violations"] else 1.0)
        if record["time_to_recover"] is not None:
            figure = one("chaosdrill_probe_time_to_recover_seconds", key)
            assert abs(figure - record["time_to_recover"]) < CLOSE
    for fault in journal["faults"]:
        key = (
            ("fault", fault["fault"]),
            ("object", fault["container"]["name"]),
            ("step", fault["step"]),
            ("target", fault["target"]),
        )
        injected = one("chaosdrill_fault_injected_timestamp_seconds", key)
        reverted = one("chaosdrill_fault_reverted_timestamp_seconds", key)
        assert abs(injected - (start + fault["injected_at"])) < 1e-3
        assert abs(reverted - (start + fault["reverted_at"])) < 1e-3


def prometheus_query(url: str, query: str) -> list[dict[str, Any]]:
    address = url + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(address, timeout=5) as answer:
        return json.loads(answer.read())["data"]["result"]


def scraping(gateway_url: str) -> str:
    target = urllib.parse.urlsplit(gateway_url).netloc
    return textwrap.dedent(f"""
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        scrape_configs:
          - job_name: pushgateway
            honor_labels: true
            static_configs: [{{targets: ["{target}"]}}]
    """)


def journal_of(stdout: str) -> dict[str, Any]:
    return json.loads(Path(json.loads(stdout)["journal"]).read_text())


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


@pytest.fixture
def web(containers: Any) -> tuple[str, int]:
    group = f"g{uuid.uuid4().hex[:10]}"
    container = containers.run(publish=True, labels={"grp": group})
    return group, host_port(container)


# -- against a real Pushgateway and Prometheus --------------------------------


def test_a_run_pushes_the_journal_s_figures_and_prometheus_scrapes_them(
    web, tmp_path, local_pushgateway, local_prometheus
):
    group, port = web
    prometheus = local_prometheus(scraping(local_pushgateway.url))
    path = write(tmp_path / "exp", "paused.yaml", experiment(group, port))
    before = time.time()
    proc = chaosdrill(
        "run", str(path), "--json", "--report-dir", str(tmp_path / "r"),
        "--pushgateway", with_credentials(local_pushgateway.url),
    )  # fmt: skip
    after = time.time()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    journal = journal_of(proc.stdout)
    assert_no_secret(proc.stdout, proc.stderr, json.dumps(journal))
    name = "paused"  # outside the working directory: the file's name
    assert groups(local_pushgateway.url) == {name}
    values = pushed(local_pushgateway.url, name)
    check_against_journal(values, journal)
    # and the journal is the world's: the pause held about 1 s, during this test
    (fault,) = journal["faults"]
    key = (("fault", "container.pause"), ("object", fault["container"]["name"]),
           ("step", "freeze"), ("target", "web"))  # fmt: skip
    injected = values[("chaosdrill_fault_injected_timestamp_seconds", key)]
    reverted = values[("chaosdrill_fault_reverted_timestamp_seconds", key)]
    assert before < injected < reverted < after
    assert 0.9 < reverted - injected < 2.5
    probe = next(r for r in journal["probes"] if r["name"] == "avail")
    assert probe["summary"]["availability"] < 1, "the probe saw the pause"

    # Prometheus scrapes the gateway and answers within a few seconds
    deadline = time.monotonic() + 20
    while True:
        answer = prometheus_query(
            prometheus.url, f'chaosdrill_fault_injected_timestamp_seconds{{experiment="{name}"}}'
        )
        if answer or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert answer, "Prometheus never saw the pushed fault"
    (series,) = answer
    assert series["metric"]["job"] == "chaosdrill"
    assert series["metric"]["step"] == "freeze"
    assert abs(float(series["value"][1]) - injected) < 1e-3
    (passed,) = prometheus_query(
        prometheus.url, f'chaosdrill_experiment_passed{{experiment="{name}"}}'
    )
    assert float(passed["value"][1]) == 1.0 and passed["metric"]["title"] == "paused web"
    window = prometheus_query(
        prometheus.url,
        f'chaosdrill_fault_reverted_timestamp_seconds{{experiment="{name}"}}'
        f' - chaosdrill_fault_injected_timestamp_seconds{{experiment="{name}"}}',
    )
    assert abs(float(window[0]["value"][1]) - (reverted - injected)) < 1e-3

    # the README's "fault active" expression draws the window where it was
    start = injected - 1.5
    address = (
        prometheus.url
        + "/api/v1/query_range?"
        + urllib.parse.urlencode(
            {"query": FAULT_ACTIVE, "start": start, "end": time.time(), "step": "0.1"}
        )
    )
    with urllib.request.urlopen(address, timeout=5) as answer:
        (line,) = json.loads(answer.read())["data"]["result"]
    points = [(float(t), float(v)) for t, v in line["values"]]
    assert len(points) > 30
    assert [v for t, v in points] == [1.0 if injected <= t < reverted else 0.0 for t, _ in points]
    assert sum(v for _, v in points) >= 8, "about 1 s of 0.1 s steps is active"

    # the next run of the same experiment replaces the group
    again = chaosdrill(
        "run", str(path), "--json", "--report-dir", str(tmp_path / "r2"),
        "--pushgateway", local_pushgateway.url,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    second = journal_of(again.stdout)
    assert groups(local_pushgateway.url) == {name}
    values = pushed(local_pushgateway.url, name)
    check_against_journal(values, second)
    starts = [v for (n, _), v in values.items() if n.endswith("start_timestamp_seconds")]
    assert starts == [pytest.approx(epoch(second["started_at"]), abs=1e-3)]


def test_a_suite_pushes_one_group_per_experiment(containers, tmp_path, local_pushgateway):
    folder = tmp_path / "drills"
    for name in ("first", "second"):
        group = f"g{uuid.uuid4().hex[:10]}"
        port = host_port(containers.run(publish=True, labels={"grp": group}))
        write(folder, f"{name}.yaml", experiment(group, port, title=f"{name} drill", tags="[]"))
    env = {"CHAOSDRILL_PUSHGATEWAY": with_credentials(local_pushgateway.url)}
    proc = chaosdrill("suite", str(folder), "--report-dir", str(tmp_path / "r"), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    assert_no_secret(proc.stdout, proc.stderr)
    assert groups(local_pushgateway.url) == {"drills.first", "drills.second"}
    for name in ("first", "second"):
        (journal_path,) = (tmp_path / "r" / f"drills.{name}").rglob("journal.json")
        journal = json.loads(journal_path.read_text())
        assert journal["experiment"]["title"] == f"{name} drill"
        check_against_journal(pushed(local_pushgateway.url, f"drills.{name}"), journal)


# -- gateways that do not work -------------------------------------------------


class _Failing(BaseHTTPRequestHandler):
    def do_PUT(self) -> None:  # the name http.server calls
        self.send_response(503, "Service Unavailable")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def bad_gateway(request: Any) -> Iterator[tuple[str, str]]:
    """(URL, what the warning says) of a gateway that refuses, hangs or fails."""
    if request.param == "refuses":
        yield f"http://127.0.0.1:{free_port()}", "connection refused"
    elif request.param == "hangs":  # accepts connections, never answers
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(8)
            yield f"http://127.0.0.1:{listener.getsockname()[1]}", f"within {PUSH_TIMEOUT:g}s"
    else:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", "503"
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("bad_gateway", ["refuses", "hangs", "fails"], indirect=True)
def test_a_gateway_that_does_not_take_the_push_is_a_warning(web, tmp_path, bad_gateway):
    url, says = bad_gateway
    group, port = web
    path = write(tmp_path / "exp", "paused.yaml", experiment(group, port))
    started = time.monotonic()
    proc = chaosdrill(
        "run", str(path), "--json", "--report-dir", str(tmp_path / "r"),
        "--pushgateway", with_credentials(url),
    )  # fmt: skip
    elapsed = time.monotonic() - started
    journal = journal_of(proc.stdout)
    assert journal["verdict"] == "passed", journal["reasons"]
    assert proc.returncode == journal["exit_code"] == 0, proc.stderr
    (warning,) = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warning.startswith("chaosdrill: warning: pushgateway: could not push to the")
    assert says in warning
    assert f"http://pusher:***@127.0.0.1:{urllib.parse.urlsplit(url).port}" in warning
    assert json.loads(proc.stdout)["notices"] == [warning.removeprefix("chaosdrill: warning: ")]
    assert_no_secret(proc.stdout, proc.stderr, json.dumps(journal))
    # bounded: the run, the interpreter's start and at most the push's timeout
    assert elapsed < journal["duration"] + PUSH_TIMEOUT + 5, elapsed


def test_a_url_that_is_not_one_is_refused_before_the_run(tmp_path):
    path = write(
        tmp_path,
        "x.yaml",
        """
        version: 1
        title: never runs
        targets:
          web: {select: {labels: {grp: nothing-has-this}}}
        method:
          - {name: freeze, fault: container.pause, target: web, duration: 1s}
        """,
    )
    for bad in (f"ftp://u:{SECRET}@host", "127.0.0.1:9091", f"http://u:{SECRET}@"):
        proc = cli("run", str(path), "--report-dir", str(tmp_path / "r"), "--pushgateway", bad)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("chaosdrill: --pushgateway must be an http:// or https://")
        assert_no_secret(proc.stdout, proc.stderr)
        assert not (tmp_path / "r").exists(), "nothing ran"


# -- without a gateway ---------------------------------------------------------


def test_the_url_s_credentials_go_to_basic_auth_and_never_into_messages():
    gateway = Pushgateway.parse(f"https://pusher:{SECRET}@metrics.example:9443/base/")
    assert gateway.base == "https://metrics.example:9443/base"
    assert (gateway.username, gateway.password) == ("pusher", SECRET)
    assert SECRET not in gateway.shown and gateway.shown.startswith("https://pusher:***@")
    assert Pushgateway.parse("http://[::1]:9091").base == "http://[::1]:9091"


def test_the_readme_shows_the_checked_expression():
    assert f"```promql\n{FAULT_ACTIVE}\n```" in (ROOT / "README.md").read_text()


def test_label_values_are_bounded_and_printable():
    value = _label("a\nb\x00c " + "x" * 500 + f" http://u:{SECRET}@h")
    assert len(value) <= 120 and value.startswith("a b c x") and value.endswith("...")
    assert SECRET not in _label(f"see http://u:{SECRET}@h/")


def test_run_names_a_group_as_suite_names_the_experiment(tmp_path, monkeypatch):
    from chaos.pushgateway import NAME_SUFFIXES, group_name
    from chaos.suite import discover

    assert NAME_SUFFIXES == discover.NAME_SUFFIXES
    monkeypatch.chdir(tmp_path)
    for relative in ("web.yaml", "drills/web.chaos.yaml", "a/b.c/d.v2.yml", "x.json"):
        path = tmp_path / relative
        found = discover.Found(path, tmp_path)
        assert group_name(path) == discover.case_name(found) != ""


def test_the_cli_and_the_run_path_do_not_import_prometheus_client():
    import subprocess

    code = "import sys, chaos.cli.main, chaos.running, chaos.api; "
    code += "print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
