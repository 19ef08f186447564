"""Built-in probes against live containers: each passes when it should and fails when it should."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chaos.runtime import Runtime
from chaos.targets import TargetRef
from probes.container_health import ContainerHealthProbe
from probes.exec import TAIL_CHARS, ExecProbe
from probes.http import HttpProbe
from probes.tcp import TcpProbe
from tests.conftest import free_port, host_port, wait_for

pytestmark = pytest.mark.docker


def check(probe: Any, runtime: Runtime, targets: tuple[TargetRef, ...] = (), **params: Any):
    return probe.check(runtime, probe.Params(**params), targets)


@pytest.fixture
def web(containers) -> Any:
    return containers.run(publish=True)


def test_http_passes_on_expected_status_and_body(web, runtime):
    url = f"http://127.0.0.1:{host_port(web)}/"
    result = check(HttpProbe(), runtime, url=url, expect={"status": 200, "body_regex": "demo"})
    assert result.ok, result.detail
    assert result.detail == "status 200"


def test_http_fails_on_wrong_status_and_body(web, runtime):
    base = f"http://127.0.0.1:{host_port(web)}"
    missing = check(HttpProbe(), runtime, url=f"{base}/nope")
    assert not missing.ok and missing.detail == "status 404"
    wrong_body = check(HttpProbe(), runtime, url=f"{base}/", expect={"body_regex": "^absent$"})
    assert not wrong_body.ok and "does not match" in wrong_body.detail


def test_http_refused_connection_is_a_failed_sample(runtime):
    result = check(HttpProbe(), runtime, url=f"http://127.0.0.1:{free_port()}/")
    assert not result.ok
    assert result.detail == "connection refused"


def test_http_timeout_on_a_paused_container_is_a_failed_sample(web, runtime):
    url = f"http://127.0.0.1:{host_port(web)}/"
    web.pause()
    try:
        result = check(HttpProbe(), runtime, url=url, timeout=0.3)
    finally:
        web.unpause()
    assert not result.ok
    assert "timed out" in result.detail


def test_http_max_latency(runtime):
    """A loopback server that answers after 300 ms breaks a 100 ms latency bound."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            conn.recv(4096)
            threading.Event().wait(0.3)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        slow = check(HttpProbe(), runtime, url=f"http://127.0.0.1:{port}/", max_latency=0.1)
        fine = check(HttpProbe(), runtime, url=f"http://127.0.0.1:{port}/", max_latency=2)
    finally:
        thread.join(5)
        server.close()
    assert not slow.ok and "over 100ms" in slow.detail
    assert fine.ok


def test_http_rejects_non_http_urls():
    with pytest.raises(ValueError, match="http"):
        HttpProbe.Params(url="ftp://127.0.0.1/")


def test_tcp_connects_and_fails(web, runtime):
    assert check(TcpProbe(), runtime, host="127.0.0.1", port=host_port(web)).ok
    refused = check(TcpProbe(), runtime, host="127.0.0.1", port=free_port())
    assert not refused.ok and refused.detail == "connection refused"


def test_exec_exit_code_and_stdout(web, runtime):
    target = (TargetRef("container", web.id, web.name),)
    ok = check(
        ExecProbe(),
        runtime,
        target,
        command=["cat", "/www/index.html"],
        expect={"stdout_regex": "chaosdrill demo"},
    )
    assert ok.ok, ok.detail
    bad_exit = check(ExecProbe(), runtime, target, command=["sh", "-c", "exit 3"])
    assert not bad_exit.ok and "exit 3" in bad_exit.detail
    no_match = check(
        ExecProbe(), runtime, target, command=["echo", "hello"], expect={"stdout_regex": "bye"}
    )
    assert not no_match.ok and "does not match" in no_match.detail


def test_exec_keeps_the_end_of_stdout_and_stderr(web, runtime):
    """A failed sample says what the command wrote: the last KiB of each stream."""
    script = "for i in $(seq 1 500); do echo out $i; echo err $i >&2; done; exit 2"
    failed = check(ExecProbe(), runtime, container=web.name, command=["sh", "-c", script])
    assert not failed.ok
    head, _, rest = failed.detail.partition("; stdout: ...")
    assert head == f"{web.name}: exit 2 (expected 0)"
    stdout, _, stderr = rest.partition("; stderr: ...")
    assert stdout.endswith("out 499\nout 500") and stdout.startswith("out ")
    assert stderr.endswith("err 499\nerr 500") and stderr.startswith("err ")
    assert len(stdout) <= TAIL_CHARS and len(stderr) <= TAIL_CHARS
    assert len(stdout) > TAIL_CHARS // 2
    unmatched = check(
        ExecProbe(),
        runtime,
        container=web.name,
        command=["sh", "-c", "echo hello; echo warning >&2"],
        expect={"stdout_regex": "bye"},
    )
    assert unmatched.detail == (
        f"{web.name}: output does not match 'bye'; stdout: hello; stderr: warning"
    )
    quiet = check(ExecProbe(), runtime, container=web.name, command=["false"])
    assert quiet.detail == f"{web.name}: exit 1 (expected 0)"


def test_exec_argv_is_not_a_shell_string(web, runtime):
    """Shell syntax in an argument stays a literal argument."""
    result = check(
        ExecProbe(),
        runtime,
        container=web.name,
        command=["echo", "$(id -u); rm -rf /www"],
        expect={"stdout_regex": r"^\$\(id -u\); rm -rf /www$"},
    )
    assert result.ok, result.detail
    assert check(
        ExecProbe(), runtime, container=web.name, command=["test", "-f", "/www/index.html"]
    ).ok


def test_exec_times_out(web, runtime):
    result = check(ExecProbe(), runtime, container=web.name, command=["sleep", "5"], timeout=0.5)
    assert not result.ok and "still running" in result.detail


def test_exec_probe_leaves_no_thread_behind_after_its_timeout(web, runtime):
    started = time.monotonic()
    result = check(ExecProbe(), runtime, container=web.name, command=["sleep", "8"], timeout=0.5)
    assert not result.ok and result.detail == f"{web.name}: command still running after 0.5s"
    wait_for(
        lambda: not any(t.name == f"exec-probe-{web.name}" for t in threading.enumerate()),
        2.5,
        "the exec probe's worker thread to end",
    )
    assert time.monotonic() - started < 4, "the worker did not wait for the command (8 s)"


def exec_creates(docker_client: Any, container: Any, since: float) -> int:
    events = docker_client.api.events(
        since=since,
        until=time.time() + 0.5,
        filters={"container": container.id, "event": "exec_create"},
        decode=True,
    )
    return sum(1 for _ in events)


def test_exec_into_a_container_a_pause_holds_fails_without_an_exec(
    containers, runtime, docker_client
):
    from chaos import pausing

    web = containers.run("busybox", command=["sleep", "300"])  # no healthcheck execs
    since = time.time() - 0.5
    pausing.hold(web.id, "run-holding")
    try:
        held = check(ExecProbe(), runtime, container=web.name, command=["true"])
    finally:
        pausing.release(web.id, "run-holding")
    assert not held.ok
    assert held.detail == f"{web.name}: paused (by chaosdrill run run-holding)"
    time.sleep(1.1)  # events are stamped in whole seconds
    assert exec_creates(docker_client, web, since) == 0, "no exec was even created"
    after = check(ExecProbe(), runtime, container=web.name, command=["true"])
    assert after.ok, after.detail
    assert exec_creates(docker_client, web, since) == 1


def test_exec_into_a_paused_container_says_paused(web, runtime):
    web.pause()
    try:
        result = check(ExecProbe(), runtime, container=web.name, command=["true"])
    finally:
        web.unpause()
    assert not result.ok and result.detail == f"{web.name}: paused"


def test_exec_on_a_missing_container_fails_the_sample(runtime):
    result = check(ExecProbe(), runtime, container="chaosdrill-no-such-container", command=["true"])
    assert not result.ok and "chaosdrill-no-such-container" in result.detail


def test_health_reports_healthy_starting_and_unhealthy(containers, runtime):
    healthy = containers.run()
    assert check(ContainerHealthProbe(), runtime, container=healthy.name).ok

    starting = containers.run(
        "busybox",
        command=["sleep", "300"],
        healthcheck={
            "test": ["CMD", "false"],
            "interval": 60 * 10**9,
            "start_period": 60 * 10**9,
            "retries": 1,
        },
    )
    result = check(ContainerHealthProbe(), runtime, container=starting.name)
    assert not result.ok and "health starting" in result.detail

    unhealthy = containers.run(
        "busybox",
        command=["sleep", "300"],
        healthcheck={"test": ["CMD", "false"], "interval": 200_000_000, "retries": 1},
    )
    wait_for(
        lambda: (
            "health unhealthy"
            in check(ContainerHealthProbe(), runtime, container=unhealthy.name).detail
        ),
        15,
        "unhealthy status",
    )
    assert not check(ContainerHealthProbe(), runtime, container=unhealthy.name).ok


def test_health_without_healthcheck_means_running(containers, runtime):
    plain = containers.run("busybox", command=["sleep", "300"])
    result = check(ContainerHealthProbe(), runtime, container=plain.name)
    assert result.ok and "health none" in result.detail
    strict = check(ContainerHealthProbe(), runtime, container=plain.name, expect="healthy")
    assert not strict.ok
    plain.stop(timeout=0)
    stopped = check(ContainerHealthProbe(), runtime, container=plain.name)
    assert not stopped.ok and "exited" in stopped.detail


def test_health_of_a_paused_container_fails(containers, runtime):
    web = containers.run()
    web.pause()
    try:
        result = check(ContainerHealthProbe(), runtime, container=web.name)
    finally:
        web.unpause()
    assert not result.ok and "paused" in result.detail


def test_health_checks_every_container_of_a_target(containers, runtime):
    up = containers.run()
    down = containers.run("busybox", command=["sleep", "300"])
    down.stop(timeout=0)
    targets = tuple(TargetRef("container", c.id, c.name) for c in (up, down))
    result = check(ContainerHealthProbe(), runtime, targets)
    assert not result.ok
    assert down.name in result.detail and up.name not in result.detail


HOSTILE = "\x1b[2J\x1b]0;pwned\x07"
"""What a target may print: clear the screen, retitle the terminal, ring the bell."""


def test_a_target_cannot_write_control_characters_to_the_terminal(
    containers, experiment_file, tmp_path
):
    import json

    from tests.conftest import chaosdrill

    web = containers.run()
    path = experiment_file(
        f"""
        version: 1
        title: hostile output
        targets:
          web: {{select: {{name: {web.name}}}}}
        steady_state:
          - name: says-hello
            probe: exec
            target: web
            command: [sh, -c, 'printf "\\033[2J\\033]0;pwned\\007"; exit 3']
        method:
          - {{fault: container.pause, target: web, duration: 1s}}
        recovery: {{within: 1s}}
        """
    )
    proc = chaosdrill("run", str(path), "--plain", "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    raw = proc.stdout + proc.stderr
    assert "\x1b" not in raw and "\x07" not in raw
    result = json.loads(proc.stdout)
    assert any(
        "\\x1b[2J\\x1b]0;pwned\\x07" in reason
        for reason in (r["message"] for r in result["reasons"])
    )
    journal_bytes = Path(result["journal"]).read_bytes()
    assert b"\x1b" not in journal_bytes and b"\x07" not in journal_bytes
    journal = json.loads(journal_bytes)
    details = [s["detail"] for p in journal["steady_state_before"] for s in p["samples"]]
    assert details and all("\x1b" not in d and "\x07" not in d for d in details)
    assert any(
        d.endswith("exit 3 (expected 0); stdout: \\x1b[2J\\x1b]0;pwned\\x07") for d in details
    )

    plain = chaosdrill("run", str(path), "--plain", "--report-dir", str(tmp_path))
    assert plain.returncode == 1
    assert "\x1b" not in plain.stdout and "\x07" not in plain.stdout
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in plain.stdout


def test_a_sample_detail_is_escaped_where_it_is_made():
    from types import SimpleNamespace

    from chaos.engine.clock import RunClock
    from chaos.engine.sampling import BoundProbe
    from chaos.probe import Check, Probe

    class Hostile(Probe):
        name = "hostile"

        def check(self, runtime: Any, params: Any, targets: Any) -> Check:
            return Check(False, f"said {HOSTILE}\nsecond line\u202e")

    class Raising(Hostile):
        def check(self, runtime: Any, params: Any, targets: Any) -> Check:
            raise RuntimeError(HOSTILE)

    runtime: Any = SimpleNamespace(redactor=SimpleNamespace(text=lambda t: t))
    sample = BoundProbe("probes", "h", Hostile(), None).sample(runtime, RunClock())
    assert sample.detail == "said \\x1b[2J\\x1b]0;pwned\\x07\\nsecond line\\u202e"
    raised = BoundProbe("probes", "h", Raising(), None).sample(runtime, RunClock())
    assert raised.detail == "RuntimeError: \\x1b[2J\\x1b]0;pwned\\x07"


def test_the_plain_console_escapes_reasons_and_notices():
    import io

    from chaos.cli.console import PlainConsole
    from chaos.engine.events import Aborting, Notice

    stream = io.StringIO()
    console = PlainConsole(stream)
    console(Aborting(t=1.0, reason=f"guard saw {HOSTILE}"))
    console(Notice(t=2.0, message=f"engine said {HOSTILE}\nagain"))
    out = stream.getvalue()
    assert "\x1b" not in out and "\x07" not in out
    assert out.splitlines()[0].endswith("ABORT: guard saw \\x1b[2J\\x1b]0;pwned\\x07")
    assert out.splitlines()[1].endswith("note: engine said \\x1b[2J\\x1b]0;pwned\\x07\\nagain")
