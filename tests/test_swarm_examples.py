"""The runnable examples in experiments/swarm/ give the verdict their header promises,
run through the CLI against the session's lab with the demo services deployed."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, chaosdrill
from tests.swarm_support import healthy_lab  # noqa: F401

EXAMPLES = sorted((ROOT / "experiments" / "swarm").glob("*.yaml"))
EXIT_CODES = {"passed": 0, "failed": 1}
RUN_HERE = {
    "drain-worker",
    "kill-tasks-on-worker",
    "bad-update-rolled-back",
    "bad-update-no-rollback",
}
"""The manager-loss examples run in tests/faults/test_swarm_node.py, which watches them closely."""


def expected_verdict(path) -> str:
    found = re.search(r"^# Expected verdict: (\w+)", path.read_text(), re.MULTILINE)
    assert found, f"{path.name} does not say which verdict it expects"
    return found.group(1)


def test_every_example_states_its_verdict_and_is_run_somewhere():
    assert {p.stem for p in EXAMPLES} >= RUN_HERE
    for path in EXAMPLES:
        assert expected_verdict(path) in EXIT_CODES
        assert "--lab lab" in path.read_text()


@pytest.fixture
def demo(session_lab):
    """Freshly deployed for each example: Swarm never moves tasks back after a drain,
    so an example run after another would find a different spread."""
    done = chaosdrill("lab", "demo", "--name", session_lab.name, timeout=180)
    assert done.returncode == 0, done.stderr
    yield session_lab
    done = chaosdrill("lab", "demo", "--name", session_lab.name, "--remove", timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.usefixtures("healthy_lab")
@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.stem in RUN_HERE], ids=lambda p: p.stem)
def test_example_gives_its_verdict(demo, path, tmp_path):
    done = chaosdrill(
        "run", str(path), "--lab", demo.name, "--plain", "--report-dir", str(tmp_path),
        timeout=300,
    )  # fmt: skip
    expected = expected_verdict(path)
    assert done.returncode == EXIT_CODES[expected], done.stdout + done.stderr
    assert f"verdict: {expected.upper()}" in done.stdout
