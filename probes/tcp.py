"""``tcp``: a TCP connection to host:port succeeds within a timeout."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pydantic import Field

from chaos.durations import Duration
from chaos.fault import Params
from chaos.hookspecs import hookimpl
from chaos.probe import Check, Probe

if TYPE_CHECKING:
    from chaos.registry import Registry
    from chaos.runtime import Runtime
    from chaos.targets import TargetRef


class TcpParams(Params):
    host: str
    port: int = Field(ge=1, le=65535)
    timeout: Duration = 1.0


class TcpProbe(Probe):
    name = "tcp"
    summary = "a TCP connection to host:port succeeds within the timeout"
    Params = TcpParams

    def check(self, runtime: Runtime, params: TcpParams, targets: tuple[TargetRef, ...]) -> Check:
        try:
            with socket.create_connection((params.host, params.port), timeout=params.timeout):
                return Check(True, "connected")
        except TimeoutError:
            return Check(False, f"timed out after {params.timeout:g}s")
        except ConnectionRefusedError:
            return Check(False, "connection refused")
        except OSError as exc:
            return Check(False, exc.strerror or str(exc))


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(TcpProbe)
