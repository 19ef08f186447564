"""Network probes from inside containers' namespaces: ``dns``, and ``http``/``tcp`` with ``from``.

Every check runs against containers these tests start on a user-defined
network of their own: peers are reached by container name, which only
Docker's embedded DNS (inside their namespaces) resolves. The client
container is given ``dns: [127.0.0.1]`` so that a name the embedded DNS does
not know is never forwarded to the engine's upstream resolvers: lookups
stay on this machine.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import pytest

from chaos import api
from chaos.errors import InvalidExperiment
from chaos.fault import FaultContext
from chaos.faults.network import NetworkDns, NetworkPartition
from chaos.runtime import Runtime
from chaos.targets import TargetRef
from probes.dns import DnsProbe, parse_ahosts
from probes.http import HttpProbe, curl_command
from probes.tcp import TcpProbe
from tests.conftest import health, wait_for

pytestmark = pytest.mark.docker


def on(containers: Any, net: Any, name: str, image: str = "web", **kw: Any) -> Any:
    return containers.run(image, name=f"{net.name}-{name}", network=net.name, hostname=name, **kw)


def peers(containers: Any, net: Any, *names: str) -> list[Any]:
    """Demo web servers on ``net``, started together and waited for together.

    ``web``, the container probes look from, sends names the embedded DNS does
    not know to its own loopback (where nothing answers), never upstream.
    """
    started = [
        on(
            containers,
            net,
            name,
            wait_healthy=False,
            **({"dns": ["127.0.0.1"]} if name == "web" else {}),
        )
        for name in names
    ]
    wait_for(
        lambda: all(health(c) == "healthy" for c in started), 30, f"{', '.join(names)} healthy"
    )
    return started


def ip_of(container: Any, net: Any) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]


def ref(container: Any) -> TargetRef:
    return TargetRef("container", container.id, container.name)


def check(probe: Any, runtime: Runtime, targets: tuple[TargetRef, ...] = (), **params: Any):
    """Validate ``params`` as an experiment file does (``from`` by its alias) and check once."""
    return probe.check(runtime, probe.Params.model_validate(params), targets)


@contextlib.contextmanager
def injected(fault: Any, runtime: Runtime, target: Any, params: dict[str, Any], **peers: Any):
    context = FaultContext(
        runtime,
        ref(target),
        f"t{uuid.uuid4().hex[:12]}",
        selections={name: (ref(c),) for name, c in peers.items()},
    )
    validated = fault.Params.model_validate(params)
    state = fault.inject(context, validated)
    try:
        yield
    finally:
        fault.revert(context, validated, state)


# -- dns ------------------------------------------------------------------


def test_dns_resolves_a_peer_by_container_name(containers, net, runtime):
    web, db = peers(containers, net, "web", "db")
    db_ip, web_ip = ip_of(db, net), ip_of(web, net)

    by_target = check(DnsProbe(), runtime, (ref(web),), host=db.name)
    assert by_target.ok, by_target.detail
    assert by_target.detail == f"{web.name}: {db.name} -> {db_ip}"

    by_name = check(DnsProbe(), runtime, container=web.name, host=db.name, expect_address=db_ip)
    assert by_name.ok, by_name.detail

    wrong = check(DnsProbe(), runtime, container=web.name, host=db.name, expect_address=web_ip)
    assert not wrong.ok
    assert wrong.detail == f"{web.name}: {db.name} -> {db_ip}, not {web_ip}"


def test_dns_checks_every_container_of_a_target(containers, net, runtime):
    web, db, other = peers(containers, net, "web", "db", "other")
    result = check(DnsProbe(), runtime, (ref(web), ref(db)), host=other.name)
    assert result.ok, result.detail
    assert f"{web.name}: {other.name} -> {ip_of(other, net)}" in result.detail
    assert f"{db.name}: {other.name} -> " in result.detail


def test_dns_fails_for_an_unknown_name_within_its_timeout(containers, net, runtime):
    (web,) = peers(containers, net, "web")
    unknown = f"no-such-peer-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    result = check(DnsProbe(), runtime, container=web.name, host=unknown, timeout=1)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.detail.startswith(f"{web.name}: {unknown} ")
    assert "resolve" in result.detail
    # glibc alone would wait 2 x 5 s for the silent upstream: the timeout cut it short
    assert elapsed < 5, elapsed


def test_dns_fails_while_the_dns_fault_is_active_and_passes_after_revert(containers, net, runtime):
    web, db = peers(containers, net, "web", "db")
    assert check(DnsProbe(), runtime, container=web.name, host=db.name).ok
    for mode in ("reject", "drop"):
        with injected(NetworkDns(), runtime, web, {"mode": mode}):
            broken = check(DnsProbe(), runtime, container=web.name, host=db.name)
            assert not broken.ok, f"{mode}: {broken.detail}"
            assert (
                broken.detail.startswith(f"{web.name}: {db.name} ") and "resolve" in broken.detail
            )
            # only web's namespace is faulted: the probe looks from the container it is given
            from_db = check(DnsProbe(), runtime, container=db.name, host=web.name)
            assert from_db.ok, f"{mode}: {from_db.detail}"
            # and an http probe from web cannot resolve db either
            http = check(HttpProbe(), runtime, url=f"http://{db.name}/", **{"from": web.name})
            assert not http.ok and "resolve" in http.detail, http.detail
        after = check(DnsProbe(), runtime, container=web.name, host=db.name)
        assert after.ok, f"after reverting {mode}: {after.detail}"


def test_dns_on_a_missing_or_stopped_container_fails_naming_it(containers, net, runtime):
    missing = f"chaosdrill-no-such-{uuid.uuid4().hex[:8]}"
    result = check(DnsProbe(), runtime, container=missing, host="localhost")
    assert not result.ok and result.detail.startswith(f"{missing}: not found")

    stopped = on(containers, net, "stopped", "busybox", command=["sleep", "300"])
    stopped.stop(timeout=0)
    result = check(DnsProbe(), runtime, (ref(stopped),), host="localhost")
    assert not result.ok
    assert result.detail == f"{stopped.name}: not running (exited)"

    result = check(DnsProbe(), runtime, (), host="localhost")
    assert not result.ok and "selected none" in result.detail


def test_dns_in_a_paused_container_still_resolves(containers, net, runtime):
    """A paused container's namespace (and the embedded DNS) still answers."""
    web, db = peers(containers, net, "web", "db")
    web.pause()
    try:
        result = check(DnsProbe(), runtime, container=web.name, host=db.name)
    finally:
        web.unpause()
    assert result.ok, result.detail


def test_dns_params_are_validated():
    with pytest.raises(ValueError, match="host name"):
        DnsProbe.Params(host="-s")  # would be an option to getent
    with pytest.raises(ValueError, match="host name"):
        DnsProbe.Params(host="db; rm -rf /")
    with pytest.raises(ValueError, match="IPv4"):
        DnsProbe.Params(host="db", expect_address="db")
    with pytest.raises(ValueError, match="at most 25s"):
        DnsProbe.Params(host="db", timeout="1m")
    assert DnsProbe.Params(host="db.example.").timeout == 2.0


def test_parse_ahosts_keeps_distinct_ipv4_answers_in_order():
    output = (
        "10.0.0.7        STREAM db\n10.0.0.7        DGRAM  \n10.0.0.7        RAW    \n"
        "10.0.0.3        STREAM \n10.0.0.3        DGRAM  \n"
    )
    assert parse_ahosts(output) == ["10.0.0.7", "10.0.0.3"]
    assert parse_ahosts("timeout: failed to run command\n") == []


# -- http and tcp from a container ----------------------------------------


def test_http_from_reaches_a_peer_by_name_with_status_and_body(containers, net, runtime):
    web, db = peers(containers, net, "web", "db")
    url = f"http://{db.name}/"
    ok = check(
        HttpProbe(),
        runtime,
        url=url,
        expect={"status": 200, "body_regex": "chaosdrill demo"},
        **{"from": web.name},
    )
    assert ok.ok, ok.detail
    assert ok.detail == f"status 200 (from {web.name})"

    wrong_body = check(
        HttpProbe(), runtime, url=url, expect={"body_regex": "^absent$"}, **{"from": web.name}
    )
    assert not wrong_body.ok and "body does not match" in wrong_body.detail

    wrong_status = check(HttpProbe(), runtime, url=url, expect={"status": 204}, from_=web.name)
    assert not wrong_status.ok and wrong_status.detail == f"status 200 (from {web.name})"

    missing = check(HttpProbe(), runtime, url=f"{url}nope", from_=web.name)
    assert not missing.ok and missing.detail == f"status 404 (from {web.name})"


def test_http_from_fails_on_a_refused_port(containers, net, runtime):
    web, db = peers(containers, net, "web", "db")
    result = check(HttpProbe(), runtime, url=f"http://{db.name}:81/", from_=web.name)
    assert not result.ok
    assert "Failed to connect" in result.detail and result.detail.endswith(f"(from {web.name})")


def test_http_from_sends_every_parameter_as_a_literal_argument(containers, net, runtime):
    """Method, path, headers and body reach the server as written: no shell, no
    curl globbing, and a body starting with ``@`` is not a file to upload."""
    server = on(
        containers,
        net,
        "capture",
        "busybox",
        command=[
            "sh",
            "-c",
            'while true; do printf "HTTP/1.0 201 Created\\r\\nContent-Length: 2\\r\\n\\r\\nok" '
            "| nc -l -p 8080 >> /tmp/requests; done",
        ],
    )
    (web,) = peers(containers, net, "web")  # the server listens by the time web is healthy
    result = check(
        HttpProbe(),
        runtime,
        url=f"http://{server.name}:8080/p?q=[1]",
        method="PUT",
        headers={"X-Probe": "$(id) `id`"},
        body="@/etc/passwd",
        expect={"status": 201, "body_regex": "^ok$"},
        **{"from": web.name},
    )
    assert result.ok, result.detail
    _, captured = server.exec_run(["cat", "/tmp/requests"])
    request = captured.decode()
    assert request.startswith("PUT /p?q=[1] HTTP/1.1\r\n")
    assert "\r\nX-Probe: $(id) `id`\r\n" in request
    assert "\r\nUser-Agent: chaosdrill\r\n" in request
    assert request.endswith("\r\n\r\n@/etc/passwd")


def test_http_from_judges_latency_on_the_request_not_the_helper(containers, net, runtime):
    slow = on(
        containers,
        net,
        "slow",
        "busybox",
        command=[
            "nc", "-ll", "-p", "8080", "-e", "sh", "-c",
            'head -c 1 >/dev/null; sleep 0.5; printf "HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"',
        ],
    )  # fmt: skip
    web, db = peers(containers, net, "web", "db")  # the server listens by then
    url = f"http://{slow.name}:8080/"
    over = check(HttpProbe(), runtime, url=url, max_latency=0.2, from_=web.name)
    assert not over.ok and "over 200ms" in over.detail, over.detail
    assert check(HttpProbe(), runtime, url=url, max_latency=3, from_=web.name).ok
    timed_out = check(HttpProbe(), runtime, url=url, timeout=0.2, from_=web.name)
    assert not timed_out.ok
    assert timed_out.detail == f"timed out after 0.2s (from {web.name})"
    # a fast peer passes a bound far below the helper's own start-up time
    fast = check(HttpProbe(), runtime, url=f"http://{db.name}/", max_latency=0.15, from_=web.name)
    assert fast.ok, fast.detail


def test_tcp_from_connects_to_a_peer_by_name_and_fails_on_a_refused_port(containers, net, runtime):
    web, db = peers(containers, net, "web", "db")
    ok = check(TcpProbe(), runtime, host=db.name, port=80, **{"from": web.name})
    assert ok.ok, ok.detail
    assert ok.detail == f"connected (from {web.name})"
    refused = check(TcpProbe(), runtime, host=db.name, port=81, from_=web.name)
    assert not refused.ok
    assert refused.detail == f"connection refused (from {web.name})"
    by_ip = check(TcpProbe(), runtime, host=ip_of(db, net), port=80, from_=web.name)
    assert by_ip.ok, by_ip.detail


def test_http_and_tcp_from_fail_while_partitioned_and_pass_after(containers, net, runtime):
    web, db, other = peers(containers, net, "web", "db", "other")
    http = {"url": f"http://{db.name}/", "timeout": 1, "from": web.name}
    tcp = {"host": db.name, "port": 80, "timeout": 1, "from": web.name}
    assert check(HttpProbe(), runtime, **http).ok
    assert check(TcpProbe(), runtime, **tcp).ok

    with injected(NetworkPartition(), runtime, web, {"from": ["db"]}, db=db):
        cut_http = check(HttpProbe(), runtime, **http)
        cut_tcp = check(TcpProbe(), runtime, **tcp)
        assert not cut_http.ok and cut_http.detail == f"timed out after 1s (from {web.name})"
        assert not cut_tcp.ok and cut_tcp.detail == f"timed out after 1s (from {web.name})"
        # the partition is between web and db only
        spared = check(HttpProbe(), runtime, url=f"http://{other.name}/", from_=web.name)
        assert spared.ok, spared.detail

    assert check(HttpProbe(), runtime, **http).ok
    assert check(TcpProbe(), runtime, **tcp).ok


def test_from_a_missing_or_stopped_container_fails_naming_it(containers, net, runtime):
    (db,) = peers(containers, net, "db")
    missing = f"chaosdrill-no-such-{uuid.uuid4().hex[:8]}"
    http = check(HttpProbe(), runtime, url=f"http://{db.name}/", from_=missing)
    tcp = check(TcpProbe(), runtime, host=db.name, port=80, from_=missing)
    for result in (http, tcp):
        assert not result.ok and result.detail.startswith(f"{missing}: not found"), result

    stopped = on(containers, net, "stopped", "busybox", command=["sleep", "300"])
    stopped.stop(timeout=0)
    http = check(HttpProbe(), runtime, url=f"http://{db.name}/", from_=stopped.name)
    tcp = check(TcpProbe(), runtime, host=db.name, port=80, from_=stopped.name)
    for result in (http, tcp):
        assert not result.ok and result.detail == f"{stopped.name}: not running (exited)"


def test_curl_never_needs_a_shell_and_gets_its_values_on_stdin():
    params = HttpProbe.Params.model_validate(
        {
            "url": "http://db/a b",
            "method": "POST",
            "headers": {"X-Empty": "", "X-Quote": 'say "hi"'},
            "body": "@/etc/passwd",
            "verify_tls": False,
            "from": "web",
        }
    )
    argv, config = curl_command(params)
    assert argv[:2] == ["curl", "-q"]  # -q first: no .curlrc
    assert "--globoff" in argv and "--insecure" in argv
    assert argv[argv.index("-o") + 1] == "/dev/null"  # no body_regex: the body is not sent back
    assert argv[-2:] == ["-K", "-"]  # everything else comes on standard input
    joined = " ".join(argv)
    assert "db/a b" not in joined and "passwd" not in joined and "X-" not in joined
    lines = config.splitlines()
    assert 'url = "http://db/a b"' in lines
    assert 'request = "POST"' in lines
    assert 'data-raw = "@/etc/passwd"' in lines  # data-raw: a leading @ is not a file
    assert 'header = "X-Empty;"' in lines
    assert 'header = "X-Quote: say \\"hi\\""' in lines


def test_from_params_validate_as_experiment_files_write_them(experiment_file):
    good = experiment_file("""
        version: 1
        title: probes from inside
        targets:
          web: {select: {name: web}}
        steady_state:
          - {name: api, probe: http, url: "http://api:8080/health", from: web,
             expect: {status: 200, body_regex: ok}}
          - {name: db, probe: tcp, host: db, port: 5432, from: web}
          - {name: names, probe: dns, target: web, host: db, expect_address: 10.0.0.5}
        method:
          - {fault: network.dns, target: web, duration: 5s}
    """)
    loaded = api.load(good)
    assert loaded is not None

    bad = experiment_file(
        """
        version: 1
        title: bad
        targets:
          web: {select: {name: web}}
        steady_state:
          - {name: a, probe: tcp, host: db, port: 5432, from: web, timeout: 1m}
          - {name: b, probe: dns, container: web, host: "--help"}
        method:
          - {fault: container.kill, target: web}
        """,
        "bad.yaml",
    )
    with pytest.raises(InvalidExperiment) as raised:
        api.load(bad)
    messages = [p.message for p in raised.value.problems]
    assert any("timeout must be at most 25s" in m for m in messages), messages
    assert any("expected a host name" in m for m in messages), messages
