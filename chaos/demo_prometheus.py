"""The demo's Prometheus (``chaosdrill demo up --prometheus``).

Debian's ``prometheus`` binary run as a host process, detached, on
http://127.0.0.1:19090. It scrapes ``demo-web``'s ``/cgi-bin/metrics``
through its published port (127.0.0.1:18080) every second and evaluates the
example alert ``DemoHighErrorRate`` every second. Its files live in
``<state dir>/demo-prometheus/``: ``prometheus.yml``, ``rules.yml``, ``data/``,
``prometheus.log`` and ``prometheus.pid`` (the process id and the port), from
which ``demo down`` and ``demo status`` find it again.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from chaos.demo import SERVICES
from chaos.errors import UsageError
from chaos.prometheus_process import PROMETHEUS_BINARY, _binary, process_alive, start_prometheus
from chaos.state import default_state_dir, ensure_private_dir

__all__ = [
    "ALERT",
    "ERROR_RATIO",
    "JOB",
    "PORT",
    "Running",
    "check_installed",
    "find",
    "start",
    "stop",
]

PORT = 19090
JOB = "demo-web"
METRICS_PATH = "/cgi-bin/metrics"
ALERT = "DemoHighErrorRate"
ERROR_RATIO = (
    'sum(rate(demo_http_requests_total{code=~"5.."}[15s]))'
    " / sum(rate(demo_http_requests_total[15s]))"
)
WEB_PORT = next(svc.port for svc in SERVICES if svc.name == "demo-web")

CONFIG = f"""\
# Written by `chaosdrill demo up --prometheus`.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: {JOB}
    metrics_path: {METRICS_PATH}
    static_configs:
      - targets: ["127.0.0.1:{WEB_PORT}"]
"""

RULES = f"""\
# Written by `chaosdrill demo up --prometheus`: the example alert.
groups:
  - name: demo
    rules:
      - alert: {ALERT}
        expr: {ERROR_RATIO} > 0.2
        for: 0s
        labels: {{severity: page}}
        annotations:
          summary: more than 20% of the demo's requests fail (5xx) over 15s
"""


@dataclass(frozen=True)
class Running:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def directory() -> Path:
    return default_state_dir() / "demo-prometheus"


def _pid_file() -> Path:
    return directory() / "prometheus.pid"


def find() -> Running | None:
    """The demo's Prometheus, when its recorded process is still running."""
    try:
        pid_text, port_text = _pid_file().read_text().split()
        running = Running(int(pid_text), int(port_text))
    except (OSError, ValueError):
        return None
    if not process_alive(running.pid) or not _is_ours(running.pid):
        return None
    return running


def _is_ours(pid: int) -> bool:
    """The pid runs prometheus with our configuration (not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    config = f"--config.file={directory() / 'prometheus.yml'}".encode()
    return bool(cmdline) and cmdline[0].endswith(b"prometheus") and config in cmdline


def ready(running: Running, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(running.url + "/-/ready", timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


def check_installed() -> None:
    """A clear error, before anything starts, when the binary is missing."""
    _binary(PROMETHEUS_BINARY)


def start(port: int = PORT) -> tuple[Running, bool]:
    """Start it unless it runs already; return it and whether it was started."""
    existing = find()
    if existing is not None:
        return existing, False
    if _listening(port):
        raise UsageError(
            f"127.0.0.1:{port} is taken by another process (a demo Prometheus of another "
            "state directory?): stop it, then run `chaosdrill demo up --prometheus` again"
        )
    folder = ensure_private_dir(directory())
    _pid_file().unlink(missing_ok=True)
    (folder / "prometheus.yml").write_text(CONFIG)
    (folder / "rules.yml").write_text(RULES)
    process = start_prometheus(
        folder / "prometheus.yml",
        folder,
        port=port,
        extra_args=("--storage.tsdb.retention.time=1d",),
        detach=True,
    )
    running = Running(process.process.pid, port)
    _pid_file().write_text(f"{running.pid} {running.port}\n")
    return running, True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(timeout: float = 10.0) -> Running | None:
    """Stop it (SIGTERM, then SIGKILL after ``timeout``); None when none ran."""
    running = find()
    _pid_file().unlink(missing_ok=True)
    if running is None:
        return None
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(running.pid) and _is_ours(running.pid):
        if time.monotonic() > deadline:
            os.kill(running.pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.1)
    return running


def describe() -> str:
    running = find()
    if running is None:
        return "not running"
    state = "ready" if ready(running) else "not ready"
    return (
        f"{running.url} (pid {running.pid}), {state}, scraping 127.0.0.1:{WEB_PORT}{METRICS_PATH}"
    )
