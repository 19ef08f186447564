"""The proxy the proxy and HTTP faults run in their helper container.

Standard library only (asyncio): it runs with the helper image's ``python3``
as ``python3 -m chaos.faults.proxy_server CONFIG_JSON``, with this module and
:mod:`chaos.faults.proxy_wire` copied into the container. An iptables
``REDIRECT`` rule sends the chosen connections to it; it finds where each was
going with ``SO_ORIGINAL_DST`` and forwards it there, doing to it what the
configuration says:

* ``delay``/``jitter`` with ``per: connection``: wait once before connecting
  onwards; with ``per: chunk``: deliver every chunk of the answer (from the
  destination back to the side that connected) that much later than it came,
  in order;
* ``rate``: at most that many bytes a second, each way, each connection;
* ``hold``: accept, read and discard, never connect onwards nor answer nor
  close (until the proxy goes);
* ``reset_after``: reset both sides (TCP RST) once that many bytes passed,
  counting both ways; 0 resets at once;
* ``http``: read HTTP/1.1 requests one at a time (keep-alive boundaries from
  ``Content-Length`` or chunked framing) and answer the matching ones with a
  status (``abort``) or forward them late (``delay``); the others, and
  anything that is not HTTP/1.x, pass through byte for byte.

It prints ``ready PORT`` once it listens; nothing else goes to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import random
import re
import socket
import struct
import sys
from typing import Any

try:
    from chaos.faults import proxy_wire as wire
except ImportError:  # pragma: no cover - run as a plain script
    import proxy_wire as wire  # type: ignore[no-redef]

SO_ORIGINAL_DST = 80
"""``getsockopt(SOL_IP, SO_ORIGINAL_DST)``: where a redirected connection was going."""
QUEUED_CHUNKS = 256
"""Chunks a per-chunk delay keeps in flight before it stops reading."""


class ResetNow(Exception):
    """The connection passed its byte budget: reset it."""


def original_destination(sock: Any) -> tuple[str, int] | None:
    """Where a connection redirected by iptables was addressed; None when not redirected."""
    try:
        raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    except OSError:
        return None
    port, address = struct.unpack("!2xH4s8x", raw)
    return socket.inet_ntoa(address), port


def reset(writer: asyncio.StreamWriter | None) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a FIN."""
    if writer is None:
        return
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Throttle:
    """At most ``rate`` bytes a second through one direction of one connection."""

    def __init__(self, rate: float | None):
        self.rate = rate
        self.sent = 0
        self.started: float | None = None

    async def passed(self, count: int) -> None:
        if not self.rate:
            return
        loop = asyncio.get_running_loop()
        if self.started is None:
            self.started = loop.time()
        self.sent += count
        await sleep_until(self.started + self.sent / self.rate)


async def sleep_until(when: float) -> None:
    """Sleep until the loop's clock reads ``when``: never wakes early."""
    loop = asyncio.get_running_loop()
    while (left := when - loop.time()) > 0:
        await asyncio.sleep(left)


class Proxy:
    """One listening proxy and what it does to every connection."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.port = 0
        fallback = config.get("fallback")
        self.fallback = (str(fallback[0]), int(fallback[1])) if fallback else None
        self.delay = float(config.get("delay") or 0)
        self.jitter = float(config.get("jitter") or 0)
        self.per_chunk = config.get("per") == "chunk"
        self.rate = config.get("rate")
        self.hold = bool(config.get("hold"))
        self.reset_after = config.get("reset_after")
        self.http = config.get("http")
        self.random = random.Random(config.get("seed"))
        if self.http:
            path = self.http.get("path")
            self.path = re.compile(path) if path else None
            methods = self.http.get("methods")
            self.methods = {m.upper() for m in methods} if methods else None
        chunk = wire.COPY_CHUNK
        if self.rate:
            chunk = max(1, min(chunk, int(self.rate) // 20))
        self.chunk = chunk

    def sample(self, delay: float, jitter: float) -> float:
        return max(0.0, delay + (self.random.uniform(-jitter, jitter) if jitter else 0.0))

    async def start(self, host: str = "0.0.0.0") -> asyncio.Server:
        server = await asyncio.start_server(
            self.handle,
            host=host,
            port=int(self.config.get("listen_port") or 0),
            limit=wire.MAX_HEAD,
            reuse_address=True,
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def destination(self, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        found = original_destination(writer.get_extra_info("socket"))
        if found is None or found[1] == self.port:
            return self.fallback  # not redirected: a direct connection, or a loop
        return found

    async def handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        uwriter: asyncio.StreamWriter | None = None
        try:
            destination = self.destination(cwriter)
            if destination is None:
                return
            if self.reset_after == 0:
                reset(cwriter)
                return
            if self.hold:
                while await creader.read(wire.COPY_CHUNK):
                    pass
                # a client that only shut down its side still waits for an answer: it
                # never comes, and the connection stays open until the fault ends
                await asyncio.Event().wait()
            if self.delay and not self.per_chunk:
                await asyncio.sleep(0)  # accepted first, then the wait
                await sleep_until(
                    asyncio.get_running_loop().time() + self.sample(self.delay, self.jitter)
                )
            ureader, uwriter = await asyncio.open_connection(*destination, limit=wire.MAX_HEAD)
            if self.http:
                await self.http_session(creader, cwriter, ureader, uwriter)
            else:
                await self.pipe(creader, cwriter, ureader, uwriter)
        except ResetNow:
            reset(cwriter)
            reset(uwriter)
        except (OSError, asyncio.IncompleteReadError, wire.WireError):
            pass
        finally:
            for writer in (cwriter, uwriter):
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.close()

    # -- TCP --

    async def pipe(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        ureader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
    ) -> None:
        """Both directions until both ends closed; the first error ends both."""
        budget = [self.reset_after]
        tasks = [
            asyncio.ensure_future(self.pump(creader, uwriter, budget, delayed=False)),
            asyncio.ensure_future(self.pump(ureader, cwriter, budget, delayed=True)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()

    async def pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        budget: list[int | None],
        *,
        delayed: bool,
    ) -> None:
        throttle = Throttle(self.rate)
        if delayed and self.per_chunk and self.delay:
            await self._pump_delayed(src, dst, budget, throttle)
        else:
            while chunk := await src.read(self.chunk):
                await self.send(dst, chunk, budget, throttle)
        with contextlib.suppress(OSError, RuntimeError):
            if dst.can_write_eof():
                dst.write_eof()

    async def _pump_delayed(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        budget: list[int | None],
        throttle: Throttle,
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(QUEUED_CHUNKS)

        async def read() -> None:
            last = 0.0
            while chunk := await src.read(self.chunk):
                last = max(loop.time() + self.sample(self.delay, self.jitter), last)
                await queue.put((last, chunk))
            await queue.put((last, b""))

        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await sleep_until(due)
                await self.send(dst, chunk, budget, throttle)
            await reading
        finally:
            reading.cancel()

    async def send(
        self,
        dst: asyncio.StreamWriter,
        chunk: bytes,
        budget: list[int | None],
        throttle: Throttle,
    ) -> None:
        left = budget[0]
        if left is not None and len(chunk) >= left:
            if left:
                dst.write(chunk[:left])
                await dst.drain()
            raise ResetNow
        if left is not None:
            budget[0] = left - len(chunk)
        dst.write(chunk)
        await dst.drain()
        await throttle.passed(len(chunk))

    # -- HTTP --

    def matches(self, method: str, target: str) -> bool:
        assert self.http is not None
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.path is not None and not self.path.search(request_path(target)):
            return False
        return self.random.random() * 100 < float(self.http.get("percent", 100))

    async def http_session(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        ureader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
    ) -> None:
        """One request at a time: read it, act on it or forward it, forward its answer."""
        assert self.http is not None
        while True:
            raw: bytes | None = b""
            try:
                raw = await wire.read_head(creader)
                if raw is None:
                    return
                head = wire.parse_head(raw, response=False)
                framing = wire.request_framing(head)
            except wire.WireError as exc:
                uwriter.write(exc.partial or raw or b"")
                await self.pipe(creader, cwriter, ureader, uwriter)
                return
            method, target = head.start[0], head.start[1]
            if self.matches(method, target):
                if self.http.get("action") == "abort":
                    # a client waiting for 100 Continue never sends the body: answer
                    # at once and close, as a server refusing the body does
                    waiting = "100-continue" in head.tokens("Expect") and framing[0] != wire.NONE
                    if not waiting:
                        await wire.copy_body(creader, None, *framing)
                    close = waiting or wire.wants_close(head)
                    cwriter.write(abort_response(int(self.http.get("status", 503)), close))
                    await cwriter.drain()
                    if close:
                        return
                    continue
                await asyncio.sleep(0)
                wait = self.sample(
                    float(self.http.get("delay", 0)), float(self.http.get("jitter", 0))
                )
                await sleep_until(asyncio.get_running_loop().time() + wait)
            if not await self.exchange(creader, cwriter, ureader, uwriter, head, framing):
                return

    async def exchange(
        self,
        creader: asyncio.StreamReader,
        cwriter: asyncio.StreamWriter,
        ureader: asyncio.StreamReader,
        uwriter: asyncio.StreamWriter,
        head: wire.Head,
        framing: tuple[str, int],
    ) -> bool:
        """Forward one request and its answer; False when the connection ends after it."""
        method = head.start[0].upper()
        uwriter.write(head.raw)
        await uwriter.drain()
        expecting = "100-continue" in head.tokens("Expect") and framing[0] != wire.NONE
        if not expecting:
            await wire.copy_body(creader, uwriter, *framing)
        while True:
            raw: bytes | None = b""
            try:
                raw = await wire.read_head(ureader)
                if raw is None:
                    return False
                answer = wire.parse_head(raw, response=True)
            except wire.WireError as exc:
                cwriter.write(exc.partial or raw or b"")
                await self.pipe(creader, cwriter, ureader, uwriter)
                return False
            cwriter.write(raw)
            await cwriter.drain()
            status = int(answer.start[1])
            if status == 101:
                await self.pipe(creader, cwriter, ureader, uwriter)
                return False
            if status >= 200:
                break
            if status == 100 and expecting:
                await wire.copy_body(creader, uwriter, *framing)
                expecting = False
        body = wire.response_framing(answer, method)
        await wire.copy_body(ureader, cwriter, *body)
        if expecting or (method == "CONNECT" and 200 <= status < 300):
            # the body was never asked for, or a tunnel: the rest is not ours to frame
            await self.pipe(creader, cwriter, ureader, uwriter)
            return False
        return not (
            body[0] == wire.UNTIL_CLOSE or wire.wants_close(answer) or wire.wants_close(head)
        )


def request_path(target: str) -> str:
    """The path and query of a request target (an absolute URL loses its scheme and host)."""
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        return rest[slash:] if slash >= 0 else "/"
    return target


def abort_response(status: int, close: bool) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected"
    body = f"chaosdrill http.abort: {status} {reason}\n".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n"
        "\r\n"
    ).encode() + body


async def serve(config: dict[str, Any]) -> None:
    proxy = Proxy(config)
    server = await proxy.start(str(config.get("host") or "0.0.0.0"))
    sys.stdout.write(f"ready {proxy.port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: proxy_server CONFIG_JSON\n")
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(json.loads(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
