"""A Prometheus server or Pushgateway run as a local process on 127.0.0.1.

The demo's Prometheus (``chaosdrill demo up --prometheus``) and the tests'
use Debian's ``prometheus`` and ``prometheus-pushgateway`` binaries: no image,
no registry. A process listens on loopback only, keeps its data in a
directory of its own, and is stopped (SIGTERM, then SIGKILL) by :meth:`stop`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import UsageError

__all__ = [
    "PROMETHEUS_BINARY",
    "PUSHGATEWAY_BINARY",
    "LocalProcess",
    "free_loopback_port",
    "start_prometheus",
    "start_pushgateway",
]

PROMETHEUS_BINARY = "prometheus"
PUSHGATEWAY_BINARY = "prometheus-pushgateway"
READY_TIMEOUT = 30.0


@dataclass
class LocalProcess:
    """A started server: its URL, its process and where it keeps its files."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    pid_file: Path | None = field(default=None)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)

    def tail(self, lines: int = 20) -> str:
        """The end of the process's log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UsageError(f"{name} is not installed: on Debian, `apt-get install {name}`")
    return path


def start_prometheus(
    config: Path,
    directory: Path,
    *,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    detach: bool = False,
) -> LocalProcess:
    """Start Prometheus with ``config`` on 127.0.0.1 (``port``, or a free one),
    its data under ``directory``, and wait until it answers ``/-/ready``.

    ``detach`` starts it in a session of its own, to outlive this process (the
    demo's); the caller records ``pid`` to stop it later."""
    port = port or free_loopback_port()
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        _binary(PROMETHEUS_BINARY),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        *extra_args,
    ]
    return _start("prometheus", args, port, directory, "/-/ready", detach)


def start_pushgateway(
    directory: Path, *, port: int | None = None, detach: bool = False
) -> LocalProcess:
    """Start a Pushgateway on 127.0.0.1 and wait until it answers ``/-/ready``.

    It keeps what is pushed in ``directory`` (``pushgateway.data``): Debian's
    binary defaults to one file for every instance on the host
    (``/var/lib/prometheus/pushgateway.data``), so gateways started one after
    the other would otherwise serve each other's groups."""
    port = port or free_loopback_port()
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        _binary(PUSHGATEWAY_BINARY),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--persistence.file={directory / 'pushgateway.data'}",
    ]
    return _start("pushgateway", args, port, directory, "/-/ready", detach)


def _start(
    name: str, args: list[str], port: int, directory: Path, ready: str, detach: bool
) -> LocalProcess:
    log = directory / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
            start_new_session=detach,
        )
    started = LocalProcess(name, f"http://127.0.0.1:{port}", process, directory, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(
                f"{name} exited at start (code {process.returncode}):\n{started.tail()}"
            )
        try:
            with urllib.request.urlopen(started.url + ready, timeout=1) as answer:
                if answer.status == 200:
                    return started
        except OSError:
            pass
        time.sleep(0.1)
    started.stop()
    raise UsageError(f"{name} did not become ready in {READY_TIMEOUT:g}s:\n{started.tail()}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
