"""Doing one action: a command in a container (``exec``) or a request (``http``).

Each call returns an :class:`ActionOutcome` and never raises for what the
system under test does (a refused connection, a non-zero exit): that is an
outcome, judged against the step's ``expect``. The command goes through the
one exec function (:func:`chaos.container_exec.exec_run`), which refuses a
container a pause holds and never outlives its timeout; the request reads at
most :data:`chaos.http_request.HTTP_MAX_BODY` bytes within its timeout. What a target wrote is
redacted and escaped here, and kept to its last :data:`TAIL_CHARS` characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.container_exec import exec_run
from chaos.docker_client import describe_engine_error
from chaos.errors import ChaosError
from chaos.experiment.actions import ExecActionParams, HttpActionParams
from chaos.http_request import RequestFailed
from chaos.http_request import send as send_http
from chaos.patterns import search
from chaos.text import printable

if TYPE_CHECKING:
    from chaos.runtime import Runtime

TAIL_CHARS = 1024
"""How much of the end of each stream (stdout, stderr, a body) the journal keeps."""


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
    try:
        answer = send_http(params)
    except RequestFailed as exc:
        return ActionOutcome(False, str(exc))
    status = answer.status
    body = answer.body.decode("utf-8", "replace")
    shown = _shown(runtime, body)
    if not params.expect.accepts(status):
        return ActionOutcome(False, f"status {status}", status=status, stdout=shown)
    if params.expect.body_regex and not search(params.expect.body_regex, body):
        detail = f"status {status}, body does not match {params.expect.body_regex!r}"
        return ActionOutcome(False, detail, status=status, stdout=shown)
    return ActionOutcome(True, f"status {status}", status=status, stdout=shown)
