"""``tcp``: a TCP connection to host:port succeeds within a timeout.

By default the connection is opened from this process. With ``from:
<container>`` it is opened from inside that container's network namespace,
by bash's ``/dev/tcp`` under ``timeout`` in a short-lived
``chaosdrill/netns-helper:1`` container (``network_mode: container:<id>``, no
extra capability): container names resolve through Docker's embedded DNS,
and network faults on that container apply. The script is a constant; host
and port reach it on standard input, never as shell text nor as arguments
(which anyone can read with ``docker inspect`` or ``ps``). The helper
costs about 0.3 s per sample: keep the ``interval`` above that.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from chaos.plugin_api import Check, Params, Probe, Timeout, hookimpl
from probes._containers import (
    HelperUnavailable,
    run_from,
    seconds,
    within_helper_timeout,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef


class TcpParams(Params):
    host: str = Field(min_length=1, pattern=r"^[^\s\x00-\x1f\x7f]+$")
    """A host name or address (no spaces)."""
    port: int = Field(ge=1, le=65535)
    timeout: Timeout = 1.0
    from_: str | None = Field(default=None, alias="from")
    """Container name or id to connect from (its network namespace), through a
    helper container; by default the connection comes from this process."""

    model_config = {**Params.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _helper_timeout(self) -> TcpParams:
        if self.from_ is not None:
            within_helper_timeout(self.timeout, "a tcp probe with `from`")
        return self


CONNECT = 'read -r host port; exec 3<>"/dev/tcp/$host/$port"'
"""Open (and, on exit, close) a connection to the host and port read from
standard input (not arguments: a helper's arguments are visible to anyone).
Constant: nothing is interpolated."""
TIMED_OUT = 124
"""coreutils ``timeout``'s exit code when it had to stop the command."""


class TcpProbe(Probe):
    name = "tcp"
    summary = "a TCP connection to host:port succeeds within the timeout"
    Params = TcpParams

    def check(self, runtime: Runtime, params: TcpParams, targets: tuple[TargetRef, ...]) -> Check:
        if params.from_ is not None:
            return check_from(runtime, params, params.from_)
        try:
            with socket.create_connection((params.host, params.port), timeout=params.timeout):
                return Check(True, "connected")
        except TimeoutError:
            return Check(False, f"timed out after {params.timeout:g}s")
        except ConnectionRefusedError:
            return Check(False, "connection refused")
        except OSError as exc:
            return Check(False, exc.strerror or str(exc))


def connect_argv(params: TcpParams) -> list[str]:
    return ["timeout", seconds(params.timeout), "bash", "-c", CONNECT, "tcp"]


def connect_input(params: TcpParams) -> bytes:
    return f"{params.host} {params.port}\n".encode()


def check_from(runtime: Runtime, params: TcpParams, container: str) -> Check:
    """Open the connection with bash inside ``container``'s network namespace."""
    try:
        code, output = run_from(
            runtime,
            container,
            connect_argv(params),
            f"tcp probe from {container}",
            stdin=connect_input(params),
        )
    except HelperUnavailable as exc:
        return Check(False, str(exc))
    if code == 0:
        return Check(True, f"connected (from {container})")
    if code == TIMED_OUT:
        return Check(False, f"timed out after {params.timeout:g}s (from {container})")
    return Check(False, f"{_bash_failure(output, code, params.host)} (from {container})")


def _bash_failure(output: str, code: int, host: str) -> str:
    """bash says ``tcp: line 1: /dev/tcp/db/81: Connection refused``, or
    ``tcp: line 1: nosuch: Name or service not known``: keep the reason."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return f"exit {code}"
    for line in lines:
        if "Connection refused" in line:
            return "connection refused"
    for line in lines:
        if "Name or service not known" in line or "Temporary failure in name resolution" in line:
            return f"name does not resolve: {host}"
    return lines[-1].rsplit(": ", 1)[-1]


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(TcpProbe)
