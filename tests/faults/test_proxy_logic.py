"""The proxy faults' pure logic, no engine: HTTP/1.1 framing, the proxy itself on
loopback (with a fallback destination instead of a redirect), and parameters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chaos.errors import InvalidExperiment
from chaos.experiment.loader import load_text
from chaos.faults import proxy_wire as wire
from chaos.faults.proxy import parse_rate
from chaos.faults.proxy_helper import egress_rules, ingress_rules
from chaos.faults.proxy_server import Proxy, abort_response, request_path


def head(raw: bytes, response: bool = False) -> wire.Head:
    return wire.parse_head(raw, response=response)


def test_request_framing():
    assert wire.request_framing(head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")) == (wire.NONE, 0)
    post = head(b"POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n")
    assert wire.request_framing(post) == (wire.LENGTH, 12)
    chunked = head(b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n")
    assert wire.request_framing(chunked) == (wire.CHUNKED, 0)
    for bad in (
        b"POST /x HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
        b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    ):
        with pytest.raises(wire.WireError):
            wire.request_framing(head(bad))


def test_response_framing():
    ok = head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", response=True)
    assert wire.response_framing(ok, "GET") == (wire.LENGTH, 5)
    assert wire.response_framing(ok, "HEAD") == (wire.NONE, 0)
    for status in (b"204 No Content", b"304 Not Modified", b"100 Continue"):
        answer = head(b"HTTP/1.1 " + status + b"\r\n\r\n", response=True)
        assert wire.response_framing(answer, "GET") == (wire.NONE, 0)
    unframed = head(b"HTTP/1.0 200 OK\r\n\r\n", response=True)
    assert wire.response_framing(unframed, "GET") == (wire.UNTIL_CLOSE, 0)


def test_heads_that_are_not_http_are_refused():
    for raw, response in (
        (b"SSH-2.0-OpenSSH\r\n\r\n", False),
        (b"GET / HTTP/2\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", False),
        (b"GET / HTTP/1.1\r\n Folded: x\r\n\r\n", False),
        (b"HTTP/1.1 abc\r\n\r\n", True),
    ):
        with pytest.raises(wire.WireError):
            head(raw, response)


def test_connection_close():
    assert wire.wants_close(head(b"GET / HTTP/1.0\r\n\r\n"))
    assert not wire.wants_close(head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    assert not wire.wants_close(head(b"GET / HTTP/1.1\r\n\r\n"))
    assert wire.wants_close(head(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"))
    assert wire.wants_close(head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", response=True))


def test_request_path_and_abort_response():
    assert request_path("/api/x?y=1") == "/api/x?y=1"
    assert request_path("http://host:80/api/x") == "/api/x"
    assert request_path("http://host") == "/"
    answer = abort_response(503, close=False)
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Connection: keep-alive" in answer
    assert abort_response(599, close=True).startswith(b"HTTP/1.1 599 Injected\r\n")


def test_rules_redirect_only_what_was_asked():
    rules = ingress_rules("CD-x", 8080, 40000)
    assert "-A CD-x -p tcp ! -i lo --dport 8080 -j REDIRECT --to-ports 40000" in rules
    assert "-I PREROUTING 1 -j CD-x" in rules and rules.startswith("*nat\n")
    rules = egress_rules("CD-x", ["10.0.0.5", "10.0.1.0/24"], 5432, 40000)
    assert rules.count("--uid-owner") == 2, "the proxy's own connections are exempt"
    assert "-d 10.0.1.0/24 --dport 5432" in rules and "-I OUTPUT 1 -j CD-x" in rules


def test_rates():
    assert parse_rate(65536) == 65536
    assert parse_rate("64KiB") == 65536
    assert parse_rate("1MB/s") == 1_000_000
    assert parse_rate("1.5 kb") == 1500
    for bad in ("fast", "0", True, "-1KB"):
        with pytest.raises(ValueError):
            parse_rate(bad)


# -- the proxy on loopback --------------------------------------------------------------


class Upstream:
    """An HTTP/1.1 keep-alive server that records the exact bytes it was sent."""

    def __init__(self) -> None:
        self.received = b""
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        class Recorder:
            def __init__(self, upstream: Upstream) -> None:
                self.upstream = upstream

            def write(self, data: bytes) -> None:
                self.upstream.received += data

            async def drain(self) -> None:
                return None

        try:
            while (raw := await wire.read_head(reader)) is not None:
                self.received += raw
                request = head(raw)
                self.requests.append(request.start[1])
                await wire.copy_body(reader, Recorder(self), *wire.request_framing(request))  # type: ignore[arg-type]
                if request.start[1] == "/chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
                    )
                else:
                    body = request.start[1].encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                    )
                await writer.drain()
        finally:
            writer.close()


async def through_proxy(
    config: dict[str, Any], send: bytes, answers: int
) -> tuple[list[bytes], Upstream]:
    """Send ``send`` over one connection through a proxy in front of an Upstream; read
    ``answers`` responses (head and body, as framed)."""
    upstream = Upstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = Proxy({**config, "fallback": ["127.0.0.1", port], "seed": 1})
    front = await proxy.start("127.0.0.1")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(send)
        await writer.drain()
        got = []
        for _ in range(answers):
            raw = await asyncio.wait_for(wire.read_head(reader), 5)
            assert raw is not None
            answer = head(raw, response=True)

            class Sink:
                data = b""

                def write(self, data: bytes) -> None:
                    Sink.data += data

                async def drain(self) -> None:
                    return None

            await wire.copy_body(reader, Sink(), *wire.response_framing(answer, "GET"))  # type: ignore[arg-type]
            got.append(raw + Sink.data)
        writer.close()
        return got, upstream
    finally:
        front.close()
        server.close()


KEEP_ALIVE = (
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    b"POST /api/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\nwiki\r\n0\r\nX-Trailer: y\r\n\r\n"
    b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n"
)


def test_requests_that_do_not_match_pass_byte_for_byte():
    config = {"http": {"action": "abort", "status": 503, "percent": 100, "path": "^/nothing"}}
    got, upstream = asyncio.run(through_proxy(config, KEEP_ALIVE, 4))
    assert upstream.received == KEEP_ALIVE
    assert [g.split(b"\r\n", 1)[0] for g in got] == [b"HTTP/1.1 200 OK"] * 4
    assert got[1].endswith(b"/b") and got[3].endswith(b"0\r\nX-T: 1\r\n\r\n")


def test_matching_requests_are_answered_by_the_proxy_on_the_same_connection():
    config = {
        "http": {
            "action": "abort",
            "status": 502,
            "percent": 100,
            "path": "^/api/",
            "methods": ["POST"],
        }
    }
    got, upstream = asyncio.run(through_proxy(config, KEEP_ALIVE, 4))
    assert upstream.requests == ["/a", "/b", "/chunked"], "the target never sees the aborted one"
    assert got[2].startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"wiki" not in upstream.received, "its body was read and dropped"
    assert got[3].startswith(b"HTTP/1.1 200 OK")


def test_what_is_not_http_passes_through():
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    async def run() -> bytes:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        proxy = Proxy(
            {"http": {"action": "abort", "percent": 100}, "fallback": ["127.0.0.1", port]}
        )
        front = await proxy.start("127.0.0.1")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"\x16\x03\x01 binary\r\n\r\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(100), 5)
            writer.close()
            return data
        finally:
            front.close()
            server.close()

    assert asyncio.run(run()) == b"\x16\x03\x01 binary\r\n\r\n"


# -- parameters, as an experiment states them -------------------------------------------

HEADER = (
    "version: 1\ntitle: t\ntargets:\n  api: {select: {name: api}}\n  db: {select: {name: db}}\n"
)


def problems(step: str) -> list[str]:
    with pytest.raises(InvalidExperiment) as info:
        load_text(f"{HEADER}method:\n  - {step}\n", "exp.yaml")
    return [str(p) for p in info.value.problems]


def test_the_issues_shapes_load():
    loaded = load_text(
        HEADER + "method:\n"
        "  - {name: slow-api, fault: proxy.latency, target: api, port: 8080, direction: ingress,"
        " delay: 400ms, jitter: 50ms, duration: 30s}\n"
        "  - {name: db-timeouts, fault: proxy.timeout, target: api, direction: egress,"
        " to: {target: db, port: 5432}, duration: 20s}\n"
        "  - {name: flaky, fault: http.abort, target: api, port: 80, status: 503, percent: 30,"
        ' path: "^/api/", duration: 30s}\n',
        "exp.yaml",
    )
    assert len(loaded.experiment.method) == 3


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "{fault: proxy.latency, target: api, delay: 1s, duration: 5s}",
            "direction: ingress needs a port (the target's TCP port, e.g. port: 8080)",
        ),
        (
            "{fault: proxy.timeout, target: api, direction: egress, duration: 5s}",
            "direction: egress needs to: {address: IP, port: N} or {target: NAME, port: N}",
        ),
        (
            "{fault: proxy.timeout, target: api, direction: egress, port: 1,"
            " to: {address: 10.0.0.1, port: 2}, duration: 5s}",
            "with direction: egress the port goes in to: {..., port: N}",
        ),
        (
            "{fault: proxy.timeout, target: api, direction: egress,"
            " to: {address: 10.0.0.1, target: db, port: 2}, duration: 5s}",
            "to takes an address or a target (one of them), and a port",
        ),
        (
            "{fault: proxy.reset, target: api, port: 80, to: {target: db, port: 2}, duration: 5s}",
            "to goes with direction: egress; ingress takes a port only",
        ),
        (
            "{fault: proxy.bandwidth, target: api, port: 80, rate: fast, duration: 5s}",
            "rate: expected bytes a second, such as 65536, 64KiB or 1MB/s, got 'fast'",
        ),
        (
            "{fault: http.abort, target: api, port: 80, path: 'a\\z', duration: 5s}",
            "path: the proxy cannot use this pattern",
        ),
        (
            "{fault: proxy.timeout, target: api, direction: egress, to: {target: nope, port: 2},"
            " duration: 5s}",
            "target 'nope' is not defined",
        ),
    ],
)
def test_bad_parameters_are_named(step: str, message: str):
    found = problems(step)
    assert any(message in p for p in found), found


def test_an_aborted_request_waiting_for_100_continue_is_answered_at_once():
    config = {"http": {"action": "abort", "status": 503, "percent": 100}}
    send = b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"
    got, upstream = asyncio.run(through_proxy(config, send, 1))
    assert got[0].startswith(b"HTTP/1.1 503 ") and b"Connection: close" in got[0]
    assert upstream.requests == []


def test_100_continue_is_followed_for_requests_that_pass():
    config = {"http": {"action": "abort", "status": 503, "percent": 100, "path": "^/nothing"}}

    async def run() -> tuple[bytes, bytes]:
        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = await wire.read_head(reader)
            assert raw is not None
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
            body = await reader.readexactly(9)
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n" + body)
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(upstream, "127.0.0.1", 0)
        proxy = Proxy({**config, "fallback": ["127.0.0.1", server.sockets[0].getsockname()[1]]})
        front = await proxy.start("127.0.0.1")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(
                b"PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"
            )
            await writer.drain()
            interim = await asyncio.wait_for(wire.read_head(reader), 5)
            writer.write(b"123456789")
            await writer.drain()
            final = await asyncio.wait_for(reader.read(1000), 5)
            writer.close()
            return interim or b"", final
        finally:
            front.close()
            server.close()

    interim, final = asyncio.run(run())
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 201 Created") and final.endswith(b"123456789")
