"""Proxy and HTTP faults against real containers: each effect observed from the host
(ports published on 127.0.0.1 only) or from a test container, then reverted."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.fault import Fault, FaultContext
from chaos.faults.network import in_target_netns
from chaos.faults.proxy import (
    HttpAbort,
    HttpDelay,
    ProxyBandwidth,
    ProxyLatency,
    ProxyReset,
    ProxyTimeout,
)
from chaos.faults.proxy_helper import LABEL_PROXY, LABEL_PROXY_TARGET
from chaos.images import FAULT_HELPER_IMAGE
from chaos.labels import LABEL_CARRIES
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from chaos.watchdog import LABEL_TARGET
from tests.conftest import ROOT, chaosdrill, free_port, http_status, wait_for

pytestmark = pytest.mark.docker

BIG = 60_000
SERVE = (
    "mkdir -p /www/api && echo ok > /www/index.html && echo api > /www/api/x "
    f"&& head -c {BIG} /dev/zero > /www/big "
    "&& httpd -p 8080 -h /www && exec httpd -f -p 80 -h /www"
)
"""busybox httpd on 80 (the faulted port) and 8080 (another port, never touched)."""


def ref(container: Any) -> TargetRef:
    return TargetRef("container", container.id, container.name)


def url(container: Any, port: int, path: str = "/") -> str:
    container.reload()
    host_port = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{host_port}{path}"


@pytest.fixture
def server(containers: Any) -> Any:
    ports = {"80/tcp": ("127.0.0.1", free_port()), "8080/tcp": ("127.0.0.1", free_port())}
    container = containers.run("busybox", command=["sh", "-c", SERVE], ports=ports)
    wait_for(
        lambda: http_status(url(container, 80)) == 200 and http_status(url(container, 8080)) == 200,
        20,
        "both httpd to answer",
    )
    return container


@contextlib.contextmanager
def injected(
    runtime: Runtime, container: Any, fault: type[Fault], selections: Any = None, **params: Any
) -> Iterator[tuple[FaultContext, dict[str, Any]]]:
    """The fault injected for the block, reverted after it however the block ended."""
    instance = fault()
    model = instance.Params.model_validate(params)
    context = FaultContext(
        runtime, ref(container), f"t{uuid.uuid4().hex[:12]}", selections=selections or {}
    )
    state = instance.inject(context, model)
    try:
        yield context, state
    finally:
        try:
            instance.revert(context, model, state)
        finally:
            for summary in runtime.docker.api.containers(
                all=True, filters={"label": f"{LABEL_PROXY}={context.injection_id}"}
            ):
                with contextlib.suppress(Exception):
                    runtime.docker.api.remove_container(summary["Id"], force=True)


def nat_rules(runtime: Runtime, container: Any) -> str:
    context = FaultContext(runtime, ref(container), "inspect")
    code, output = in_target_netns(context, ["iptables", "-t", "nat", "-S"], "test")
    assert code == 0, output
    return output


def proxies(runtime: Runtime, container: Any) -> list[dict[str, Any]]:
    return runtime.docker.api.containers(
        all=True, filters={"label": f"{LABEL_PROXY_TARGET}={container.id}"}
    )


def assert_clean(runtime: Runtime, container: Any) -> None:
    assert not proxies(runtime, container), "the proxy helper is gone"
    assert "CD-" not in nat_rules(runtime, container), "the redirect is gone"


def fetch(address: str, timeout: float = 5.0) -> tuple[int, bytes]:
    assert address.startswith("http://127.0.0.1:"), "tests talk to loopback only"
    try:
        with urllib.request.urlopen(address, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def timed(address: str) -> float:
    started = time.monotonic()
    status, _ = fetch(address)
    elapsed = time.monotonic() - started
    assert status == 200
    return elapsed


def median_time(address: str, count: int = 20) -> float:
    return statistics.median(timed(address) for _ in range(count))


def binomial_interval(n: int, p: float, confidence: float = 0.99) -> tuple[int, int]:
    """The central interval holding ``confidence`` of Binomial(n, p)."""
    tail = (1 - confidence) / 2
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    low, below = 0, 0.0
    while below + pmf[low] <= tail:
        below += pmf[low]
        low += 1
    high, above = n, 0.0
    while above + pmf[high] <= tail:
        above += pmf[high]
        high -= 1
    return low, high


DELAY = 0.2


def test_latency_adds_the_delay_on_its_port_and_nothing_elsewhere(runtime, server):
    base = median_time(url(server, 80))
    other_base = median_time(url(server, 8080))
    with injected(runtime, server, ProxyLatency, port=80, delay="200ms") as (_, state):
        assert state["chain"] in nat_rules(runtime, server)
        assert len(proxies(runtime, server)) == 1
        slowed = median_time(url(server, 80))
        other = median_time(url(server, 8080))
    added = slowed - base
    print(
        f"median {base * 1000:.1f} ms without, {slowed * 1000:.1f} ms with, other port {other * 1000:.1f} ms"
    )
    assert DELAY <= added <= DELAY + 0.05, f"added {added * 1000:.1f} ms (base {base * 1000:.1f})"
    assert other < other_base + 0.05, "the other port is untouched"
    assert_clean(runtime, server)
    assert median_time(url(server, 80), 5) < base + 0.05, "back to normal after the revert"


def test_latency_per_chunk_with_jitter_stays_in_its_range(runtime, server):
    with injected(
        runtime, server, ProxyLatency, port=80, delay="150ms", jitter="50ms", per="chunk"
    ):
        times = [timed(url(server, 80)) for _ in range(10)]
    assert all(0.1 <= t <= 0.2 + 0.15 for t in times), times
    assert_clean(runtime, server)


def test_http_abort_share_and_only_on_the_matching_path(runtime, server):
    with injected(runtime, server, HttpAbort, port=80, status=503, percent=30, path="^/api/"):
        statuses = [fetch(url(server, 80, "/api/x"))[0] for _ in range(200)]
        elsewhere = [fetch(url(server, 80, "/"))[0] for _ in range(50)]
        other_port = [fetch(url(server, 8080, "/api/x"))[0] for _ in range(20)]
    aborted = statuses.count(503)
    low, high = binomial_interval(200, 0.3)
    print(f"{aborted} of 200 aborted (99 % interval {low}..{high})")
    assert low <= aborted <= high, f"{aborted} of 200 aborted, expected {low}..{high}"
    assert set(statuses) == {200, 503}
    assert set(elsewhere) == {200}, "paths that do not match pass untouched"
    assert set(other_port) == {200}, "the other port is untouched"
    assert_clean(runtime, server)


def test_http_abort_keeps_keep_alive_and_matches_the_method(runtime, server):
    import http.client

    host, port = url(server, 80).removeprefix("http://").rstrip("/").split(":")
    with injected(runtime, server, HttpAbort, port=80, status=500, method="POST"):
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            answers = []
            for method, body in (("GET", None), ("POST", b"x" * 3000), ("GET", None)):
                connection.request(method, "/index.html", body=body)
                response = connection.getresponse()
                answers.append((response.status, response.read()))
        finally:
            connection.close()
    assert [a[0] for a in answers] == [200, 500, 200], "one connection, request by request"
    assert answers[0][1] == answers[2][1] == b"ok\n"
    assert_clean(runtime, server)


def test_http_delay_slows_matching_requests_only(runtime, server):
    with injected(runtime, server, HttpDelay, port=80, delay="300ms", path="^/api/"):
        matching = median_time(url(server, 80, "/api/x"), 5)
        other = median_time(url(server, 80, "/"), 5)
    assert 0.3 <= matching <= 0.3 + 0.1, matching
    assert other < 0.1, other
    assert_clean(runtime, server)


def test_bandwidth_limits_bytes_per_second(runtime, server):
    base = timed(url(server, 80, "/big"))
    with injected(runtime, server, ProxyBandwidth, port=80, rate="20000"):
        started = time.monotonic()
        status, body = fetch(url(server, 80, "/big"), timeout=20)
        elapsed = time.monotonic() - started
    print(f"{BIG} bytes in {elapsed:.2f}s at 20000 B/s ({base * 1000:.1f} ms unlimited)")
    assert status == 200 and len(body) == BIG, "everything arrives"
    # 60 000 bytes at 20 000 B/s: 3 s, less the first chunk (1 000 bytes)
    assert 2.9 <= elapsed <= 6, f"{elapsed:.2f}s (unlimited: {base:.3f}s)"
    assert_clean(runtime, server)


def raw_get(address: str, path: str, timeout: float) -> tuple[bytes, BaseException | None]:
    """What a plain GET over one socket receives, and how it ended (None: a clean close)."""
    host, port = address.removeprefix("http://").rstrip("/").split(":")
    assert host == "127.0.0.1"
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            while chunk := sock.recv(65536):
                received += chunk
        except OSError as exc:
            return received, exc
    return received, None


def test_timeout_accepts_and_never_answers(runtime, server):
    with injected(runtime, server, ProxyTimeout, port=80):
        started = time.monotonic()
        received, ended = raw_get(url(server, 80), "/", timeout=2)
        assert isinstance(ended, socket.timeout), ended
        assert received == b"" and time.monotonic() - started >= 2
        assert http_status(url(server, 8080)) == 200, "the other port answers"
    assert_clean(runtime, server)
    assert http_status(url(server, 80)) == 200


PY_GET = """
import socket, sys
with socket.create_connection((sys.argv[1], 80), timeout=3) as sock:
    sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    try:
        print(sock.recv(65536).decode())
    except OSError as exc:
        print(type(exc).__name__)
"""
"""A GET that says how it ended (busybox nc does not tell a reset from a close)."""


def test_reset_at_once_and_after_bytes(runtime, server, containers, net):
    # from the host, Docker's userland proxy stands between: it turns the RST into a close
    request = len(b"GET /big HTTP/1.0\r\n\r\n")
    with injected(runtime, server, ProxyReset, port=80, after=1000):
        received, ended = raw_get(url(server, 80), "/big", timeout=5)
        assert 0 < len(received) <= 1000 - request, len(received)
    with injected(runtime, server, ProxyReset, port=80):
        started = time.monotonic()
        received, ended = raw_get(url(server, 80), "/big", timeout=5)
        assert received == b"" and time.monotonic() - started < 2, (received, ended)
    assert_clean(runtime, server)
    received, ended = raw_get(url(server, 80), "/big", timeout=5)
    assert ended is None and len(received) > BIG

    # a peer on the same network sees the reset itself
    db = containers.run("busybox", command=["sh", "-c", SERVE], network=net.name)
    peer = containers.run(FAULT_HELPER_IMAGE, command=["sleep", "600"], network=net.name)
    db.reload()
    db_ip = db.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]

    def get() -> str:
        return peer.exec_run(["python3", "-c", PY_GET, db_ip]).output.decode()

    wait_for(lambda: "200 OK" in get(), 20, "db to answer")
    with injected(runtime, db, ProxyReset, port=80):
        assert "ConnectionResetError" in get()
    assert "200 OK" in get()
    assert_clean(runtime, db)


FETCH = r"""printf 'GET / HTTP/1.0\r\n\r\n' | timeout 3 nc "$1" "${2:-80}" 2>&1; echo "exit $?"
"""
"""A GET from inside a test container (busybox nc: its static wget cannot be used)."""


def test_egress_to_a_target_goes_through_the_proxy(runtime, containers, net):
    db = containers.run(
        "busybox", command=["sh", "-c", SERVE], network=net.name, name=f"{net.name}-db"
    )
    app = containers.run("busybox", command=["sleep", "600"], network=net.name)
    other = containers.run(
        "busybox", command=["sh", "-c", SERVE], network=net.name, name=f"{net.name}-other"
    )
    db.reload()
    other.reload()
    db_ip = db.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    other_ip = other.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]

    def get(address: str, port: int = 80) -> str:
        return app.exec_run(["sh", "-c", FETCH, "fetch", address, str(port)]).output.decode()

    wait_for(lambda: "200 OK" in get(db_ip), 20, "db to answer")
    wait_for(lambda: "200 OK" in get(other_ip), 20, "other to answer")
    with injected(
        runtime,
        app,
        HttpAbort,
        selections={"db": (ref(db),)},
        direction="egress",
        to={"target": "db", "port": 80},
        status=502,
    ) as (_, state):
        assert state["addresses"] == [db_ip]
        assert "502" in get(db_ip), "the app's requests to db are answered by the proxy"
        assert "200 OK" in get(db_ip, 8080), "another port of db is untouched"
        assert "200 OK" in get(other_ip), "other destinations are untouched"
    assert "200 OK" in get(db_ip)
    assert_clean(runtime, app)
    assert not proxies(runtime, db)


def test_egress_timeout_to_an_address(runtime, containers, net):
    db = containers.run("busybox", command=["sh", "-c", SERVE], network=net.name)
    app = containers.run("busybox", command=["sleep", "600"], network=net.name)
    db.reload()
    db_ip = db.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]

    def get() -> str:
        return app.exec_run(["sh", "-c", FETCH, "fetch", db_ip]).output.decode()

    wait_for(lambda: "200 OK" in get(), 20, "db to answer")
    with injected(
        runtime, app, ProxyTimeout, direction="egress", to={"address": db_ip, "port": 80}
    ):
        started = time.monotonic()
        answer = get()
        assert "200 OK" not in answer and time.monotonic() - started >= 2.5, answer
    assert "200 OK" in get()
    assert_clean(runtime, app)


def test_a_stopped_target_is_refused_clearly(runtime, server):
    from chaos.errors import InjectionFailed

    server.stop(timeout=1)
    with (
        pytest.raises(InjectionFailed, match="not running"),
        injected(runtime, server, ProxyLatency, port=80, delay="1s"),
    ):
        pass
    assert not proxies(runtime, server)


def start_run(path: Any, report_dir: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos",
            "run",
            str(path),
            "--json",
            "--report-dir",
            str(report_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CHAOSDRILL_WATCHDOG_GRACE": "1"},
    )


def slow_experiment(experiment_file: Any, group: str, duration: str) -> Any:
    return experiment_file(f"""
        version: 1
        title: proxy.latency then the runner dies
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: slow, fault: proxy.latency, target: web, port: 80, delay: 300ms,
              duration: {duration}}}
    """)


def slowed(runtime: Runtime, container: Any) -> bool:
    return bool(proxies(runtime, container)) and "CD-" in nat_rules(runtime, container)


def test_sigkilled_runner_proxy_and_rule_gone_by_the_deadline(
    runtime, containers, experiment_file, tmp_path
):
    group = f"g{uuid.uuid4().hex[:10]}"
    ports = {"80/tcp": ("127.0.0.1", free_port()), "8080/tcp": ("127.0.0.1", free_port())}
    web = containers.run("busybox", command=["sh", "-c", SERVE], ports=ports, labels={"grp": group})
    wait_for(lambda: http_status(url(web, 80)) == 200, 20, "httpd to answer")
    proc = start_run(slow_experiment(experiment_file, group, "4s"), tmp_path)
    try:
        wait_for(lambda: slowed(runtime, web), 30, "the proxy and its rule")
        assert timed(url(web, 80)) >= 0.3
        (proxy,) = proxies(runtime, web)
        assert LABEL_CARRIES in proxy["Labels"], "recover keeps it while its fault is open"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.monotonic()
        assert "CD-" in nat_rules(runtime, web), "the runner is dead and nobody reverted yet"
        # deadline (4 s from injection) + grace (1 s) + slack for a loaded machine
        wait_for(
            lambda: "CD-" not in nat_rules(runtime, web) and not proxies(runtime, web),
            20,
            "the watchdog to remove the rule and the proxy",
        )
        assert time.monotonic() - killed_at < 20
    finally:
        if proc.poll() is None:
            proc.kill()
    assert timed(url(web, 80)) < 0.3 and http_status(url(web, 8080)) == 200
    wait_for(
        lambda: (
            not runtime.docker.api.containers(
                all=True, filters={"label": f"{LABEL_TARGET}={web.id}"}
            )
        ),
        10,
        "the watchdog to remove itself",
    )


def test_recover_after_sigkill_removes_proxy_and_rule(
    runtime, containers, experiment_file, tmp_path
):
    group = f"g{uuid.uuid4().hex[:10]}"
    ports = {"80/tcp": ("127.0.0.1", free_port())}
    web = containers.run("busybox", command=["sh", "-c", SERVE], ports=ports, labels={"grp": group})
    wait_for(lambda: http_status(url(web, 80)) == 200, 20, "httpd to answer")
    proc = start_run(slow_experiment(experiment_file, group, "120s"), tmp_path)
    try:
        wait_for(lambda: slowed(runtime, web), 30, "the proxy and its rule")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = chaosdrill("recover", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert len(report["recovered"]) == 1 and report["failed"] == []
    assert_clean(runtime, web)
    assert timed(url(web, 80)) < 0.3


def test_recover_keeps_a_proxy_whose_fault_is_open_elsewhere(containers, state_dir):
    from chaos.labels import LABEL_CARRIES, LABEL_HELPER, LABEL_LEDGER, LABEL_OWNER, LABEL_RUN
    from chaos.ledger import Ledger
    from chaos.liveness import this_process

    me = this_process()
    dead_owner = f"{me.host}/{me.boot_id or ''}/4194000/1"
    helper = {LABEL_HELPER: "1", LABEL_RUN: "gone-run", LABEL_OWNER: dead_owner}
    elsewhere = containers.run(
        "busybox",
        command=["sleep", "600"],
        labels={**helper, LABEL_CARRIES: "t-elsewhere", LABEL_LEDGER: "another-ledger"},
    )
    closed_here = containers.run(
        "busybox",
        command=["sleep", "600"],
        labels={**helper, LABEL_CARRIES: "t-closed", LABEL_LEDGER: Ledger(state_dir).identity},
    )
    plain = containers.run("busybox", command=["sleep", "600"], labels=helper)
    done = chaosdrill("recover", "--json")
    assert done.returncode == 0, done.stdout + done.stderr

    def exists(container: Any) -> bool:
        try:
            container.reload()
        except Exception:
            return False
        return True

    assert exists(elsewhere), "another ledger's open fault keeps its proxy"
    assert not exists(closed_here), "a proxy whose entry is closed here is a leftover"
    assert not exists(plain), "an ordinary helper of a dead owner is a leftover"


def test_the_swarm_switch_undoes_an_injection_on_a_node_engine(runtime, server):
    """What a service target's watchdog runs against each node, here against this
    engine: the injection's proxies found by label, the rule, then the proxy."""
    from chaos.faults.proxy_helper import node_snippet
    from chaos.faults.swarm_commands import ON_EVERY_NODE
    from chaos.helper_containers import HelperCommand
    from tests.conftest import labels_for_test

    with injected(runtime, server, ProxyLatency, port=80, delay="300ms") as (context, _):
        assert timed(url(server, 80)) >= 0.3
        command = HelperCommand(
            ("sh", "-c", ON_EVERY_NODE, "watchdog", node_snippet(context.injection_id),
             "unix:///var/run/docker.sock"),
            network_mode="host",
            engine_socket=True,
            image=runtime.swarm_node_image,
        )  # fmt: skip
        runtime.docker.containers.run(
            command.image,
            list(command.argv),
            remove=True,
            labels=labels_for_test("swarm-switch"),
            **command.container_options(),
        )
        assert_clean(runtime, server)
        assert timed(url(server, 80)) < 0.3


def test_a_container_on_the_host_network_is_refused(runtime, containers):
    from chaos.errors import InjectionFailed

    on_host = containers.run("busybox", command=["sleep", "600"], network_mode="host")
    with (
        pytest.raises(InjectionFailed, match="host's network"),
        injected(runtime, on_host, ProxyTimeout, port=9),
    ):
        pass
    assert not proxies(runtime, on_host)


def test_revert_after_the_proxy_died_still_removes_the_rule(runtime, server):
    with injected(runtime, server, ProxyTimeout, port=80):
        (proxy,) = proxies(runtime, server)
        runtime.docker.api.kill(proxy["Id"])
        assert "CD-" in nat_rules(runtime, server), "redirected to nothing: refused"
        assert http_status(url(server, 80)) is None
    assert_clean(runtime, server)
    assert http_status(url(server, 80)) == 200


def test_a_run_sees_the_errors_while_the_fault_lasts_and_passes_after(
    runtime, containers, experiment_file, tmp_path
):
    """Through the CLI: the journal records the injection, the probe sees 503s on the
    matching path during the fault only, and nothing is left."""
    group = f"g{uuid.uuid4().hex[:10]}"
    ports = {"80/tcp": ("127.0.0.1", free_port())}
    web = containers.run("busybox", command=["sh", "-c", SERVE], ports=ports, labels={"grp": group})
    wait_for(lambda: http_status(url(web, 80)) == 200, 20, "httpd to answer")
    path = experiment_file(f"""
        version: 1
        title: flaky api
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: api-ok, probe: http, url: "{url(web, 80, "/api/x")}", expect: {{status: 200}}}}
        method:
          - {{name: flaky, fault: http.abort, target: web, port: 80, status: 503, path: "^/api/",
              duration: 3s}}
        probes:
          - {{name: api, probe: http, url: "{url(web, 80, "/api/x")}", interval: 200ms,
              tolerance: {{max_outage: 10s}}}}
          - {{name: home, probe: http, url: "{url(web, 80)}", interval: 200ms,
              tolerance: {{max_outage: 0s}}}}
        recovery: {{within: 10s}}
    """)
    done = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "passed"
    (fault,) = report["faults"]
    assert (fault["fault"], fault["outcome"]) == ("http.abort", "reverted")
    lasted = fault["reverted_at"] - fault["applied_at"]
    probes = {p["name"]: p for p in report["probes"]}
    assert lasted - 0.5 <= probes["api"]["longest_outage"] <= lasted + 0.5, "503s while it lasted"
    assert probes["api"]["recovered"]
    assert probes["home"]["longest_outage"] == 0, "the other path never failed"
    assert_clean(runtime, web)


def test_revert_after_the_proxy_was_removed_still_removes_the_rule(runtime, server):
    with injected(runtime, server, ProxyTimeout, port=80):
        (proxy,) = proxies(runtime, server)
        runtime.docker.api.remove_container(proxy["Id"], force=True)
        assert "CD-" in nat_rules(runtime, server)
    assert_clean(runtime, server)
    assert http_status(url(server, 80)) == 200
