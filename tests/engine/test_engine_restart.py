"""A restart of dockerd in the middle of an experiment: a clear error, nothing left behind.

This test restarts the Docker engine of the machine it runs on. CI starts that
engine itself (scripts/setup.sh); the test relaunches it with the same command
line, or through systemd where systemd runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaos.ledger import Ledger
from chaos.runtime import LABEL_HELPER
from tests.conftest import wait_for
from tests.engine.test_safeguards import start_run, state

pytestmark = pytest.mark.docker

# how long the pause holds: long enough for a slow dockerd shutdown to land inside it
HOLD = 60.0


def _engine_answers(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _dockerd_pid() -> int:
    """The PID of this machine's own dockerd.

    Not just any ``dockerd``: the Swarm lab's nodes run a dockerd each, in
    their own containers, and those are processes of this machine too. The
    engine's pidfile names ours; without one, ours is the dockerd that sees
    the same root filesystem as this process.
    """
    with contextlib.suppress(OSError, ValueError):
        pid = int(Path("/var/run/docker.pid").read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd":
            return pid
    out = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True).stdout.split()
    ours = os.stat("/")
    for pid in map(int, out):
        with contextlib.suppress(OSError):
            root = os.stat(f"/proc/{pid}/root")
            if (root.st_dev, root.st_ino) == (ours.st_dev, ours.st_ino):
                return pid
    raise AssertionError(f"no dockerd of this machine among {out}")


def restart_engine(client: Any) -> None:
    """Stop dockerd and start it again the way it was started."""
    systemd = (
        shutil.which("systemctl")
        and subprocess.run(["systemctl", "is-active", "--quiet", "docker"], check=False).returncode
        == 0
    )
    if systemd:
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=120)
    else:
        pid = _dockerd_pid()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, "dockerd to stop")
        log = open("/var/log/chaosdrill-dockerd.log", "ab")  # noqa: SIM115 - handed to dockerd
        subprocess.Popen(
            [a.decode() for a in argv],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    wait_for(lambda: _engine_answers(client), 60, "dockerd to answer again")
    wait_until_healthy(client)


def _engine_works(client: Any) -> bool:
    """The engine does what the next tests need: lists, creates, starts and removes."""
    try:
        client.api.containers(all=True)
        client.containers.run(
            "chaosdrill/busybox:1",
            ["true"],
            remove=True,
            labels={
                "chaosdrill.test": "engine-health",
                "chaosdrill.test.session": str(os.getpid()),
            },
        )
    except Exception:
        return False
    return True


def wait_until_healthy(client: Any) -> None:
    """A restarted engine answers a ping before it can run containers again:
    wait for that, so the next test does not meet an engine still starting."""
    wait_for(lambda: _engine_works(client), 90, "dockerd to run containers again", interval=0.5)


@pytest.fixture(autouse=True)
def healthy_engine_after(docker_client: Any) -> Any:
    """Whatever happened in the test, the engine is healthy before the next one."""
    yield
    wait_until_healthy(docker_client)


def test_engine_restart_mid_experiment_is_an_error_and_leaves_nothing(
    containers, experiment_file, tmp_path, docker_client, state_dir
):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(labels={"grp": group}, restart_policy={"Name": "always"})
    path = experiment_file(f"""
        version: 1
        title: engine restarts under a pause
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: web, duration: {HOLD:g}s}}
    """)
    proc = start_run(path, tmp_path)
    try:
        wait_for(lambda: state(web)["Paused"], 20, "the pause")
        paused_at = time.monotonic()
        restart_engine(docker_client)
        # dockerd may take long to stop (it waits for containers); the test only
        # means something if the engine was gone while the pause still held
        assert time.monotonic() - paused_at < HOLD - 5, "dockerd took too long to restart"
        out, err = proc.communicate(timeout=HOLD + 90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, out + err
    result = json.loads(out)
    assert result["verdict"] == "error"
    assert any(
        "the Docker engine did not answer" in r["message"] and r["kind"] == "engine_error"
        for r in result["reasons"]
    ), result
    assert "Traceback" not in out + err

    # once the engine is back: the container runs unpaused, nothing of ours is left
    wait_for(lambda: state(web)["Running"], 30, "the restart policy to bring web back")
    assert not state(web)["Paused"]
    leftovers = docker_client.api.containers(all=True, filters={"label": LABEL_HELPER})
    assert not [c for c in leftovers if (c.get("Labels") or {}).get("chaosdrill.target") == web.id]
    assert Ledger(state_dir).open_entries() == []
