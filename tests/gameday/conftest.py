"""Game day tests: every one gets a private state directory under its tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("CHAOSDRILL_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def gameday_file(tmp_path: Path) -> Path:
    path = tmp_path / "ops" / "friday drills.yaml"
    path.parent.mkdir()
    path.write_text("version: 1\n")
    return path


def python(code: str, **kwargs) -> subprocess.Popen[str]:
    """Start a Python process running ``code`` with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_line(process: subprocess.Popen[str], expected: str) -> str:
    """Read the process's next line of output and check it (the process is ready)."""
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != expected:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"expected {expected!r}, got {line!r}; stderr: {err}")
    return line
