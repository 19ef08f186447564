"""Fixtures for the example plugin's tests, on the real Docker engine.

The ``chaos`` and ``docker_engine`` fixtures come from chaosdrill's pytest
plugin (installed with chaosdrill). Every container made here is labelled
``chaosdrill.test`` with the session's process id, as chaosdrill's own tests
label theirs, and removed even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

ENTRY_POINT = "example = chaosdrill_example.plugin"
LABELS = {"chaosdrill.test": "example-plugin", "chaosdrill.test.session": str(os.getpid())}


@pytest.fixture(scope="session", autouse=True)
def plugin_installed() -> None:
    """These tests are about the installed package: its entry point must be there."""
    found = [f"{ep.name} = {ep.value}" for ep in entry_points(group="chaosdrill")]
    if ENTRY_POINT not in found:
        pytest.fail(
            "the example plugin is not installed (no chaosdrill entry point "
            f"{ENTRY_POINT!r}); install it: pip install -e examples/plugin",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fault ledger of the test's own (also for the processes it starts)."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CHAOSDRILL_STATE_DIR", str(path))
    return path


@dataclass
class Box:
    """A running busybox container and the target spec that selects it alone."""

    container: Any
    target: dict[str, Any]

    def sh(self, script: str) -> tuple[int, str]:
        """Run a shell script in the container, as an operator would with docker exec."""
        code, output = self.container.exec_run(["sh", "-c", script])
        return code, output.decode("utf-8", "replace").strip()


@pytest.fixture
def boxes(docker_engine: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[], Box]]:
    """Makes busybox containers (chaosdrill's locally built image), each with a
    selector of its own; all removed after the test, whatever happened."""
    from chaos.images import BUSYBOX_IMAGE, ensure_busybox_image

    ensure_busybox_image(docker_engine)
    made: list[Any] = []

    def make() -> Box:
        group = f"example-{uuid.uuid4().hex[:10]}"
        container = docker_engine.containers.run(
            BUSYBOX_IMAGE,
            ["sleep", "600"],
            detach=True,
            labels={**LABELS, "chaosdrill.test": request.node.name[:60], "grp": group},
        )
        made.append(container)
        return Box(container, {"select": {"labels": {"grp": group}}})

    try:
        yield make
    finally:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)


@pytest.fixture
def box(boxes: Callable[[], Box]) -> Box:
    """One busybox container for the test."""
    return boxes()
