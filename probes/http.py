"""``http``: a request answers with the expected status, body and latency.

A refused connection, a timeout or an unexpected status is a failed check,
never an engine error: that is what the probe is there to notice.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from chaos.durations import Duration
from chaos.fault import Params
from chaos.hookspecs import hookimpl
from chaos.patterns import Regex
from chaos.probe import Check, Probe

if TYPE_CHECKING:
    from chaos.registry import Registry
    from chaos.runtime import Runtime
    from chaos.targets import TargetRef


class HttpExpect(Params):
    status: int | list[int] | None = None
    """Accepted status code(s); by default any status below 400."""
    body_regex: Regex | None = None
    """A regular expression that must be found in the body."""

    def accepts(self, status: int) -> bool:
        if self.status is None:
            return status < 400
        allowed = self.status if isinstance(self.status, list) else [self.status]
        return status in allowed


class HttpParams(Params):
    url: str
    method: str = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    timeout: Duration = 2.0
    max_latency: Duration | None = None
    """A response slower than this is a failed check."""
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        try:
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError as exc:
            raise ValueError(f"invalid URL {value!r}: {exc}") from None
        return value


MAX_BODY = 1024 * 1024


class HttpProbe(Probe):
    name = "http"
    summary = "an HTTP request answers with the expected status, body and latency"
    Params = HttpParams

    def check(self, runtime: Runtime, params: HttpParams, targets: tuple[TargetRef, ...]) -> Check:
        parts = urlsplit(params.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if parts.scheme == "https":
            context = ssl.create_default_context()
            if not params.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=params.timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=params.timeout)
        started = time.monotonic()
        try:
            conn.request(
                params.method,
                path,
                body=params.body,
                headers={"User-Agent": "chaosdrill", "Connection": "close", **params.headers},
            )
            response = conn.getresponse()
            body = response.read(MAX_BODY)
        except TimeoutError:
            return Check(False, f"timed out after {params.timeout:g}s")
        except ConnectionRefusedError:
            return Check(False, "connection refused")
        except (OSError, http.client.HTTPException) as exc:
            return Check(False, _describe(exc))
        finally:
            conn.close()
        elapsed = time.monotonic() - started
        if not params.expect.accepts(response.status):
            return Check(False, f"status {response.status}")
        if params.expect.body_regex and not re.search(
            params.expect.body_regex, body.decode("utf-8", "replace")
        ):
            return Check(
                False, f"status {response.status}, body does not match {params.expect.body_regex!r}"
            )
        if params.max_latency is not None and elapsed > params.max_latency:
            return Check(
                False,
                f"status {response.status} in {elapsed * 1000:.0f}ms, over {params.max_latency * 1000:.0f}ms",
            )
        return Check(True, f"status {response.status}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return f"name does not resolve: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(HttpProbe)
