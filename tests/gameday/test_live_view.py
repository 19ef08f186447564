"""``gameday serve`` on a terminal shows a live view: the next fires and outcomes."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT


def test_serve_on_a_terminal_shows_the_next_fires_and_stops_on_sigterm(tmp_path):
    experiment = tmp_path / "freeze.yaml"
    experiment.write_text(
        "version: 1\ntitle: t\ntargets:\n  box: {select: {name: cd-none}}\n"
        "method:\n  - {fault: container.pause, target: box, duration: 1s}\n"
    )
    file = tmp_path / "gameday.yaml"
    file.write_text(
        "version: 1\nkind: gameday\ntitle: Terminal drills\ntimezone: UTC\n"
        "drills:\n  - {name: '[bold]hourly', experiment: freeze.yaml, when: {every: 1h}}\n"
    )
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos", "gameday", "serve", str(file)],
        cwd=ROOT,
        env={**os.environ, "CHAOSDRILL_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "120"},
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"[bold]hourly" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                seen += os.read(leader, 65536)
        process.send_signal(signal.SIGTERM)
        # keep reading while it stops: a full terminal buffer would block its last writes
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):  # EIO once the last writer is gone
                    seen += os.read(leader, 65536)
        assert process.wait(1) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    text = seen.decode(errors="replace")
    assert "Terminal drills: next fires" in text
    assert "[bold]hourly" in text  # a drill's name is text, never markup
    assert "serving" in text
