"""A pip-installed user's first five minutes, on the real engine.

The wheel is built from this checkout and installed into a fresh virtual
environment (its dependencies come from the system's site-packages; the wheel
itself with ``--no-deps``). Every command then runs from an empty folder, with
no ``PYTHONPATH``: only what the wheel carries is there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaos import demo
from tests.conftest import ROOT
from tests.test_bundled import REPOSITORY_ONLY

pytestmark = pytest.mark.docker

SOURCES = ("pyproject.toml", "README.md", "chaos", "probes", "experiments", "images")
"""What the wheel is built from (chaos/data links into experiments/ and images/)."""


def _no_isolation() -> bool:
    """Build with the system's setuptools when it can make a wheel by itself
    (70.1 and later, or with the ``wheel`` package): no index is needed then."""
    import setuptools

    major, minor = (int(part) for part in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _run(command: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: Any) -> Path:
    """A virtual environment with the wheel of this checkout installed."""
    root = tmp_path_factory.mktemp("pip-user")
    source = root / "src"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(path, source / name)
    wheels = root / "wheels"
    isolation = ["--no-build-isolation"] if _no_isolation() else []
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(wheels), "."],
        cwd=source,
    )
    assert built.returncode == 0, (
        "building the wheel needs setuptools (>= 70.1, or with `wheel`) or an index that has "
        f"them:\n{built.stdout}\n{built.stderr}"
    )
    (wheel,) = wheels.glob("chaosdrill-*.whl")
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", str(root / "venv")])
    assert made.returncode == 0, made.stderr
    python = root / "venv" / "bin" / "python"
    installed = _run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)]
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root / "venv"


@pytest.fixture
def user(venv: Path, tmp_path: Path) -> Iterator[Any]:
    """Runs the venv's ``chaosdrill`` from an empty folder without PYTHONPATH."""
    home = tmp_path / "user"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "chaosdrill"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=home,
            env=env,
        )

    run.home = home  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    yield run


def test_the_venv_runs_the_wheel_not_the_checkout(venv, user):
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import chaos, chaos.scaffold; print(chaos.__file__)"],
        capture_output=True,
        text=True,
        cwd=user.home,
        env=user.env,
    )
    assert proc.returncode == 0, proc.stderr
    module = Path(proc.stdout.strip()).resolve()
    assert module.is_relative_to(venv.resolve()), module
    assert not module.is_relative_to(ROOT)
    assert "site-packages" in module.parts
    dockerfile = user("images", "dockerfile", "netns-helper")
    assert dockerfile.returncode == 0
    assert dockerfile.stdout == (ROOT / "images/netns-helper.Dockerfile").read_text()


def test_first_five_minutes(docker_client, user):
    def ok(proc: subprocess.CompletedProcess[str], code: int = 0) -> str:
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        # a path of the installed package is fine; one relative to a checkout is not
        assert not REPOSITORY_ONLY.search(proc.stdout + proc.stderr)
        return proc.stdout

    demo.down(docker_client)
    try:
        ok(user("demo", "up"))

        passed = json.loads(ok(user("demo", "run", "--json")))
        assert passed["verdict"] == "passed", passed["reasons"]

        weak = ok(user("demo", "run", "api-crash-no-restart", "--plain"), 1)
        assert "example api-crash-no-restart (expected verdict: failed)" in weak
        assert "verdict: FAILED" in weak
        assert "steady state not restored within 10s after the method: api-ok" in weak

        listed = ok(user("demo", "run", "--list"))
        assert "web-survives-crash          passed" in listed

        ok(user("demo", "examples", "mine"))
        copied = user.home / "mine" / "web-survives-crash.yaml"
        assert copied.read_text() == (ROOT / "experiments/web-survives-crash.yaml").read_text()
        assert (user.home / "mine/swarm/lose-quorum.yaml").is_file()
        ok(user("validate", "mine/web-survives-crash.yaml", "mine/api-crash-no-restart.yaml"))

        ok(user("demo", "up"))  # the api again, after the weak example left it down
        told = ok(user("init", "--compose-project", demo.PROJECT))
        assert "validated: first-experiment.yaml is a valid experiment" in told
        assert "run it with: chaosdrill run first-experiment.yaml" in told
        assert "it crashes one replica of web" in told
        text = (user.home / "first-experiment.yaml").read_text()
        for explained in (
            "# Targets: ",
            "# The steady state: ",
            "# The method: ",
            "# Continuous probes: ",
            "# Recovery: ",
            "HEALTHCHECK (every 1s)",
            "answered 200",
        ):
            assert explained in text, explained
        assert ok(user("validate", "first-experiment.yaml")) == "first-experiment.yaml: ok\n"

        again = user("init", "--compose-project", demo.PROJECT)
        assert again.returncode == 2 and "--force overwrites it" in again.stderr

        result = json.loads(ok(user("run", "first-experiment.yaml", "--json")))
        assert result["verdict"] == "passed", result["reasons"]
        assert [f["step"] for f in result["faults"]] == ["crash-web"]
        assert docker_client.containers.get("demo-web").attrs["RestartCount"] >= 1
    finally:
        down = user("demo", "down")
    assert down.returncode == 0, down.stderr
    assert not docker_client.containers.list(all=True, filters={"label": demo.DEMO_LABEL})


def test_init_with_nothing_running_writes_a_template(user):
    proc = user("init", "start", "--label", "chaosdrill.test.nothing=here")
    assert proc.returncode == 0, proc.stderr
    assert (
        "nothing to inspect: no running container is labelled chaosdrill.test.nothing=here"
        in proc.stdout
    )
    assert user("validate", "start/first-experiment.yaml").returncode == 0
