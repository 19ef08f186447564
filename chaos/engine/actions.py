"""Doing one action: a command in a container (``exec``) or a request (``http``).

Each call returns an :class:`ActionOutcome` and never raises for what the
system under test does (a refused connection, a non-zero exit): that is an
outcome, judged against the step's ``expect``. The command goes through the
one exec function (:func:`chaos.container_exec.exec_run`), which refuses a
container a pause holds and never outlives its timeout; the request reads at
most :data:`MAX_BODY` bytes within its timeout. What a target wrote is
redacted and escaped here, and kept to its last :data:`TAIL_CHARS` characters.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chaos.container_exec import exec_run
from chaos.docker_client import describe_engine_error
from chaos.errors import ChaosError
from chaos.experiment.actions import ExecActionParams, HttpActionParams
from chaos.patterns import search
from chaos.text import printable

if TYPE_CHECKING:
    import http.client

    from chaos.runtime import Runtime

TAIL_CHARS = 1024
"""How much of the end of each stream (stdout, stderr, a body) the journal keeps."""
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    detail: str
    exit_code: int | None = None
    status: int | None = None
    stdout: str = ""
    stderr: str = ""


def tail(text: str, limit: int = TAIL_CHARS) -> str:
    """The end of ``text``, at most ``limit`` characters; ``...`` marks a cut."""
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _shown(runtime: Runtime, text: str) -> str:
    return printable(runtime.redactor.text(tail(text)))


def run_exec(
    runtime: Runtime, container: str, label: str, params: ExecActionParams
) -> ActionOutcome:
    """Run the step's command in ``container`` (an id or a name) and judge it."""
    api = runtime.docker.api
    try:
        state = api.inspect_container(container)["State"]
    except Exception as exc:
        return ActionOutcome(False, f"{label}: {describe_engine_error(exc)}")
    if state.get("Paused"):
        return ActionOutcome(False, f"{label}: paused")
    if not state.get("Running"):
        return ActionOutcome(False, f"{label}: not running")
    try:
        result = exec_run(
            api, container, params.command, label=label, user=params.user, timeout=params.timeout
        )
    except ChaosError as exc:  # paused by a run, or still running at the timeout
        return ActionOutcome(False, str(exc))
    except Exception as exc:
        return ActionOutcome(False, f"{label}: {describe_engine_error(exc)}")
    stdout, stderr = _shown(runtime, result.stdout), _shown(runtime, result.stderr)
    expect = params.expect
    if result.exit_code != expect.exit_code:
        detail = f"{label}: exit {result.exit_code} (expected {expect.exit_code})"
        return ActionOutcome(False, detail, result.exit_code, None, stdout, stderr)
    if expect.stdout_regex and not search(expect.stdout_regex, result.stdout):
        detail = f"{label}: output does not match {expect.stdout_regex!r}"
        return ActionOutcome(False, detail, result.exit_code, None, stdout, stderr)
    return ActionOutcome(True, f"{label}: exit {result.exit_code}", result.exit_code, None, stdout)


def run_http(runtime: Runtime, params: HttpActionParams) -> ActionOutcome:
    """Send the step's request from this process and judge the answer."""
    # imported here: validating a file needs neither
    import http.client
    import ssl

    parts = urlsplit(params.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
        body = _read_body(response, started + params.timeout).decode("utf-8", "replace")
    except TimeoutError:
        return ActionOutcome(False, f"timed out after {params.timeout:g}s")
    except ConnectionRefusedError:
        return ActionOutcome(False, "connection refused")
    except (OSError, http.client.HTTPException) as exc:
        return ActionOutcome(False, _describe(exc))
    finally:
        conn.close()
    status = response.status
    shown = _shown(runtime, body)
    if not params.expect.accepts(status):
        return ActionOutcome(False, f"status {status}", status=status, stdout=shown)
    if params.expect.body_regex and not search(params.expect.body_regex, body):
        detail = f"status {status}, body does not match {params.expect.body_regex!r}"
        return ActionOutcome(False, detail, status=status, stdout=shown)
    return ActionOutcome(True, f"status {status}", status=status, stdout=shown)


def _read_body(response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The body, up to :data:`MAX_BODY`, read before ``deadline`` (monotonic)."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer took longer than the timeout")
        chunk = response.read1(min(64 * 1024, MAX_BODY - size))
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
