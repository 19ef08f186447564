"""One HTTP request from this process, bounded in time and size.

The ``http`` probe and the ``http`` action send requests alike: the same
parameters (:class:`HttpRequest`, with its expectations :class:`HttpExpect`
and its URL rule :func:`http_url`), and :func:`send`, which reads at most :data:`HTTP_MAX_BODY` bytes of the answer before
the timeout (a socket timeout bounds each read, not the whole answer, so a
server sending one byte at a time would otherwise never time out).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from chaos.durations import Timeout
from chaos.params import Params
from chaos.patterns import Regex

if TYPE_CHECKING:
    import http.client

HTTP_MAX_BODY = 1024 * 1024
"""Bytes of an answer's body read at most."""


class HttpExpect(Params):
    """What an answer must be: its status, and a pattern its body holds."""

    status: int | list[int] | None = None
    """Accepted status code(s); by default any status below 400."""
    body_regex: Regex | None = None
    """A regular expression that must be found in the body."""

    def accepts(self, status: int) -> bool:
        if self.status is None:
            return status < 400
        allowed = self.status if isinstance(self.status, list) else [self.status]
        return status in allowed


def http_url(value: str) -> str:
    """``value`` if it is an http:// or https:// URL with a host and a valid port;
    ValueError (a validation message) otherwise."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as exc:
        raise ValueError(f"invalid URL {value!r}: {exc}") from None
    return value


class HttpRequest(Params):
    """One request and what its answer must be: the parameters the ``http`` probe
    and the ``http`` action share."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    timeout: Timeout = 2.0
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)


@dataclass(frozen=True)
class HttpAnswer:
    """The answer to one request, read within its timeout."""

    status: int
    body: bytes
    """At most :data:`HTTP_MAX_BODY` bytes."""
    elapsed: float
    """Seconds from sending the request to the end of the body read."""


class RequestFailed(Exception):
    """No answer: refused, timed out, reset... ``str()`` says which, for people."""


def send(request: HttpRequest) -> HttpAnswer:
    """Send ``request`` (``Connection: close``) and read its answer within its
    timeout; raise :class:`RequestFailed` when none came."""
    url, timeout = request.url, request.timeout
    # imported here: validating a file needs neither
    import http.client
    import ssl

    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not request.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(
            request.method,
            path,
            body=request.body,
            headers={"User-Agent": "chaosdrill", "Connection": "close", **request.headers},
        )
        response = conn.getresponse()
        data = _read_body(response, started + timeout)
    except TimeoutError:
        raise RequestFailed(f"timed out after {timeout:g}s") from None
    except ConnectionRefusedError:
        raise RequestFailed("connection refused") from None
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(_describe(exc)) from None
    finally:
        conn.close()
    return HttpAnswer(response.status, data, time.monotonic() - started)


def _read_body(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The body, up to :data:`HTTP_MAX_BODY`, read before ``deadline`` (monotonic)."""
    chunks: list[bytes] = []
    size = 0
    while size < HTTP_MAX_BODY:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the timeout")
        chunk = response.read1(min(64 * 1024, HTTP_MAX_BODY - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    import http.client

    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return f"name does not resolve: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"
