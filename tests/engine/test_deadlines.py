"""No probe can stretch a sample, or a run, past its deadline: a server that
answers one byte at a time, and a probe that never returns."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chaos import api
from chaos.engine.clock import RunClock
from chaos.engine.sampling import BoundProbe
from chaos.probe import Check, Probe
from chaos.runtime import Runtime
from probes.http import HttpProbe


class Dripping:
    """An HTTP server on 127.0.0.1 that sends its body one byte every 50 ms, for at
    most 20 s: each read gets a byte well within any timeout, the whole never ends."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(400):  # bounded: 20 s at most
                    if self.stop.wait(0.05):
                        return
                    conn.sendall(b"x")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def dripping() -> Iterator[Dripping]:
    server = Dripping()
    yield server
    server.close()


def test_a_dripping_answer_fails_the_sample_within_its_timeout(dripping):
    params = HttpProbe.Params.model_validate(
        {"url": f"http://127.0.0.1:{dripping.port}/", "timeout": "300ms"}
    )
    bound = BoundProbe("probes", "drip", HttpProbe(), params)
    runtime = Runtime()
    started = time.monotonic()
    sample = bound.sample(runtime, RunClock())
    took = time.monotonic() - started
    assert not sample.ok
    assert "timed out" in sample.detail or "no answer within" in sample.detail
    assert took < 1.8, f"a 0.3 s timeout took {took:.1f}s"


class _Hangs(Probe):
    name = "test.hangs"

    def __init__(self) -> None:
        self.release = threading.Event()

    def deadline(self, params: Any, targets: tuple = ()) -> float:
        return 0.2

    def check(self, runtime: Any, params: Any, targets: tuple) -> Check:
        self.release.wait(10)
        return Check(True, "late")


def test_a_hanging_check_fails_at_its_deadline_and_is_not_piled_up():
    probe = _Hangs()
    bound = BoundProbe("probes", "hangs", probe, None)
    started = time.monotonic()
    first = bound.sample(Runtime(), RunClock())
    assert not first.ok and first.detail == "no answer within 0.2s (the probe's deadline)"
    assert time.monotonic() - started < 1.2
    second = bound.sample(Runtime(), RunClock())  # no second thread while the first hangs
    assert not second.ok and "still running" in second.detail
    probe.release.set()
    time.sleep(0.2)
    assert bound.sample(Runtime(), RunClock()).ok


@pytest.mark.docker
def test_a_run_against_a_dripping_server_ends_on_time(dripping, experiment_file, tmp_path):
    path = experiment_file(f"""
        version: 1
        title: dripping steady state
        targets:
          nothing: {{select: {{name: chaosdrill-no-such-container}}, allow_empty: true}}
        steady_state:
          - {{name: drip, probe: http, url: "http://127.0.0.1:{dripping.port}/", timeout: 1s}}
        method:
          - {{fault: container.kill, target: nothing}}
        recovery: {{within: 2s}}
    """)
    started = time.monotonic()
    result = api.run(api.load(path), report_dir=tmp_path, handle_signals=False)
    took = time.monotonic() - started
    assert result.verdict is api.Verdict.FAILED
    assert "system not steady before the method: drip" in result.messages[0]
    assert took < 10, f"the run took {took:.1f}s"
