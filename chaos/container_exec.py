"""Running a command in a container: the one way chaosdrill execs.

:func:`exec_run` never starts an exec in a container that a pause holds or is
being applied to (see :mod:`chaos.pausing`), and never blocks longer than its
timeout: the output is read from the exec's socket with a deadline (the SDK's
own reader waits without one), and the socket is closed when it passes.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos import pausing
from chaos.errors import ChaosError

if TYPE_CHECKING:
    import docker

DEFAULT_EXEC_TIMEOUT = 30.0
EXIT_CODE_WAIT = 2.0
"""How long the exit code may lag behind the end of the output."""


class ExecTimedOut(ChaosError):
    """The command was still running at its deadline."""


@dataclass(frozen=True)
class ExecResult:
    """What :func:`exec_run` saw: the exit code (None if unknown) and both streams."""

    exit_code: int | None
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def exec_run(
    api: docker.APIClient,
    container_id: str,
    argv: list[str],
    *,
    label: str | None = None,
    user: str | None = None,
    timeout: float = DEFAULT_EXEC_TIMEOUT,
) -> ExecResult:
    """Run ``argv`` (as is, no shell) in the container; return its exit code and output.

    Raises :class:`chaos.pausing.ContainerPaused` (nothing was started) when a
    pause holds the container, :class:`ExecTimedOut` when the command runs past
    ``timeout``, and the SDK's errors when the engine refuses or fails.
    """
    label = label or container_id[:12]
    deadline = time.monotonic() + timeout
    with pausing.exec_slot(container_id, label):
        exec_id = api.exec_create(container_id, argv, user=user or "")["Id"]
        sock = api.exec_start(exec_id, socket=True)
        try:
            stdout, stderr = _read_frames(sock, deadline)
        except TimeoutError:
            raise ExecTimedOut(f"{label}: command still running after {timeout:g}s") from None
        finally:
            _close(sock)
    return ExecResult(_exit_code(api, exec_id), stdout, stderr)


def _exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    wait_until = time.monotonic() + EXIT_CODE_WAIT
    while True:
        info = api.exec_inspect(exec_id)
        if not info.get("Running") or time.monotonic() >= wait_until:
            code = info.get("ExitCode")
            return None if code is None else int(code)
        time.sleep(0.02)


def _raw(sock: Any) -> socket.socket:
    return getattr(sock, "_sock", sock)


def _close(sock: Any) -> None:
    for thing in (sock, _raw(sock), getattr(sock, "_response", None)):
        close = getattr(thing, "close", None)
        if close is not None:  # best effort: the exec already ended or failed
            with contextlib.suppress(Exception):
                close()


def _recv_exactly(raw: socket.socket, size: int, deadline: float) -> bytes:
    chunks, missing = [], size
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        raw.settimeout(remaining)
        chunk = raw.recv(min(missing, 65536))  # TimeoutError at the deadline
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _read_frames(sock: Any, deadline: float) -> tuple[str, str]:
    """Demultiplex Docker's attach stream (8-byte headers: stream, 0, 0, 0, size)."""
    raw = _raw(sock)
    out: dict[int, list[bytes]] = {1: [], 2: []}
    while True:
        header = _recv_exactly(raw, 8, deadline)
        if len(header) < 8:
            break
        stream, size = struct.unpack(">BxxxL", header)
        payload = _recv_exactly(raw, size, deadline)
        out.setdefault(stream, []).append(payload)
        if len(payload) < size:
            break
    return (
        b"".join(out[1]).decode("utf-8", "replace"),
        b"".join(out[2]).decode("utf-8", "replace"),
    )
