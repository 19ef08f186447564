"""Fixtures for tests against the real Docker engine.

Every container and network a test creates carries the label
``chaosdrill.test`` and is removed by the fixture that made it, even when the
test fails; a session-wide sweep removes leftovers of an earlier, killed run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

TEST_LABEL = "chaosdrill.test"
SESSION_LABEL = "chaosdrill.test.session"
SESSION = str(os.getpid())
"""The pytest process that owns a resource: sessions running side by side
never remove each other's containers."""
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

pytest_plugins = ["tests.session_lab"]  # the session's Swarm lab: the `session_lab` fixture


ENGINE_FIXTURES = frozenset(
    {
        "docker_client", "images", "containers", "net", "session_lab", "healthy_lab",
        "chaos", "docker_engine", "swarm_lab",
    }
)  # fmt: skip
"""Fixtures that need a Docker engine: a test that uses one is marked ``docker``."""


SERVER_FIXTURES = frozenset({"local_prometheus", "local_pushgateway", "browser", "browser_module"})
"""Fixtures that start a real server process on this machine (Prometheus, a
Pushgateway, Chromium): a test that uses one is marked ``server``."""


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Mark every test that needs the engine ``docker``, so ``pytest -m "not docker"``
    is the engine-free run, and every test that starts a real server process
    ``server``, so ``-m "not docker and not server"`` is pure logic (parsing,
    scheduling math, rendering, stub servers inside the test process)."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if ENGINE_FIXTURES & used:
            item.add_marker(pytest.mark.docker)
        if SERVER_FIXTURES & used:
            item.add_marker(pytest.mark.server)


ENGINE_MODULE = re.compile(r"^pytestmark = pytest\.mark\.docker$", re.MULTILINE)
"""A test module whose every test needs the engine says so on a line of its own."""


def pytest_ignore_collect(collection_path: Path, config: Any) -> bool | None:
    """With ``-m "not docker"`` (alone or joined by ``and``), a module whose every
    test is marked ``docker`` is not imported: each of its tests would be deselected.
    Its import errors show in the runs that select its tests."""
    if collection_path.suffix != ".py" or not _engine_left_out(config.option.markexpr):
        return None
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if ENGINE_MODULE.search(collection_path.read_text(encoding="utf-8")):
            return True
    return None


def _engine_left_out(markexpr: str | None) -> bool:
    """The marker expression is a conjunction with ``not docker`` as one of its terms."""
    if not markexpr or "(" in markexpr or re.search(r"\bor\b", markexpr):
        return False
    return "not docker" in (" ".join(term.split()) for term in re.split(r"\band\b", markexpr))


def labels_for_test(test_name: str) -> dict[str, str]:
    return {TEST_LABEL: test_name, SESSION_LABEL: SESSION}


def _is_leftover(labels: dict[str, str]) -> bool:
    """Ours, or left by a test session whose process is gone."""
    owner = labels.get(SESSION_LABEL, "")
    if owner == SESSION or not owner.isdigit():
        return True
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _sweep(client: Any) -> None:
    # summaries, not Container objects: listing those inspects every container, and
    # one that another session is wedging on purpose must not fail this session
    for summary in client.api.containers(all=True, filters={"label": TEST_LABEL}):
        if _is_leftover(summary.get("Labels") or {}):
            with contextlib.suppress(Exception):
                client.api.remove_container(summary["Id"], force=True)
    for network in client.networks.list(filters={"label": TEST_LABEL}):
        if _is_leftover(network.attrs.get("Labels") or {}):
            with contextlib.suppress(Exception):
                network.remove()


CLI_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals a chaosdrill command handles, then ignores once its run is over."""


@pytest.fixture(scope="session")
def state_dirs(tmp_path_factory: Any) -> Callable[[], Path]:
    """New, empty folders under one made for the session (``mktemp`` per test would
    read the whole base folder, thousands of entries, to number each one)."""
    base = tmp_path_factory.mktemp("state")
    numbers = itertools.count()

    def make() -> Path:
        path = base / str(next(numbers))
        path.mkdir(mode=0o700)
        return path

    return make


@pytest.fixture(autouse=True)
def state_dir(state_dirs: Callable[[], Path], monkeypatch: Any) -> Path:
    """A fault ledger of the test's own, shared with the CLI runs it starts."""
    path = state_dirs()
    monkeypatch.setenv("CHAOSDRILL_STATE_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def signal_dispositions() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP as they were before the test, after it: a
    disposition left behind (SIG_IGN above all) is inherited by every process a
    later test starts, which would then never stop on the signal it is sent."""
    before = {signum: signal.getsignal(signum) for signum in CLI_SIGNALS}
    yield
    for signum, handler in before.items():
        if signal.getsignal(signum) is not handler:
            signal.signal(signum, handler)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """The real engine. No engine is a failure, not a skip: CI starts one."""
    from chaos.docker_client import connect

    client = connect()
    _sweep(client)
    yield client
    _sweep(client)
    client.close()


@pytest.fixture(scope="session")
def images(docker_client: Any) -> dict[str, str]:
    """The locally built images (no registry): busybox and the demo web image."""
    from chaos.demo import DEMO_IMAGE, build_demo_image
    from chaos.images import BUSYBOX_IMAGE, ensure_busybox_image

    ensure_busybox_image(docker_client)
    build_demo_image(docker_client)
    return {"busybox": BUSYBOX_IMAGE, "web": DEMO_IMAGE}


@pytest.fixture
def runtime() -> Iterator[Any]:
    """A chaosdrill Runtime (lazy Docker client), closed after the test."""
    from chaos.runtime import Runtime

    rt = Runtime()
    yield rt
    rt.close()


@pytest.fixture
def net(docker_client: Any, request: Any) -> Iterator[Any]:
    """A user-defined bridge network (embedded DNS by container name)."""
    import uuid

    network = docker_client.networks.create(
        f"cdtest-{uuid.uuid4().hex[:8]}", labels=labels_for_test(request.node.name[:60])
    )
    yield network
    network.reload()
    for container in network.containers:  # test containers: removed before their network
        with contextlib.suppress(Exception):
            container.remove(force=True)
    network.remove()


class Containers:
    """Creates labelled test containers and removes them afterwards."""

    def __init__(self, client: Any, images: dict[str, str], test_name: str):
        self.client = client
        self.images = images
        self.test_name = test_name
        self.created: list[Any] = []

    def run(
        self,
        image: str = "web",
        *,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        publish: bool = False,
        wait_healthy: bool = True,
        **options: Any,
    ) -> Any:
        """Start a container; ``publish`` maps port 80 to a free loopback port.

        The host port is fixed (not left to Docker) so it survives a restart.
        """
        run_labels = {**labels_for_test(self.test_name), **(labels or {})}
        if publish:
            options["ports"] = {"80/tcp": ("127.0.0.1", free_port())}
        container = self.client.containers.run(
            self.images.get(image, image),
            name=name,
            detach=True,
            labels=run_labels,
            **options,
        )
        self.created.append(container)
        if wait_healthy and image == "web":
            wait_for(lambda: health(container) == "healthy", 20, f"{container.name} healthy")
        container.reload()
        return container

    def cleanup(self) -> None:
        for container in self.created:
            with contextlib.suppress(Exception):
                container.remove(force=True)


@pytest.fixture
def containers(docker_client: Any, images: dict[str, str], request: Any) -> Iterator[Containers]:
    factory = Containers(docker_client, images, request.node.name[:60])
    yield factory
    factory.cleanup()


def health(container: Any) -> str:
    container.reload()
    state = container.attrs["State"]
    return (state.get("Health") or {}).get("Status", "none")


def host_port(container: Any) -> int:
    container.reload()
    return int(container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """Status of a GET on a loopback URL, or None when it does not answer."""
    assert url.startswith("http://127.0.0.1:"), "tests talk to loopback only"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except Exception:
        return None


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def experiment_file(tmp_path: Path) -> Callable[[str], Path]:
    """Write an experiment (dedented YAML) to a file and return its path."""

    def write(text: str, name: str = "experiment.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


def chaosdrill(*args: str, env: dict[str, str] | None = None, timeout: float = 120, **kw: Any):
    """Run the CLI as users do (``python -m chaos``) and return the CompletedProcess.

    The checkout under test comes first on ``PYTHONPATH``, so a run from another
    working directory (``cwd=``) still runs this code, not an installed copy."""
    import subprocess

    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "chaos", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": path, **(env or {})},
        cwd=kw.pop("cwd", ROOT),
        **kw,
    )


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Call each of ``calls`` on a thread of its own and return what they returned, in
    order (the first one's exception, if any, is raised): for independent waits
    inside one test, such as CLI processes, each checked afterwards as before."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run the CLI in this process (``main(args)``, its output captured) and return
    a CompletedProcess like :func:`chaosdrill`.

    For tests of what a command says and returns: a Python start-up per call
    costs 0.2 to 0.7 s. Tests of the process itself (what a fresh interpreter
    imports, signals, installed plugins found through ``PYTHONPATH``) keep
    :func:`chaosdrill`. ``env`` is set for the call and put back after it."""
    import io
    import subprocess

    from chaos.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = {key: os.environ.get(key) for key in env or {}}
    here = os.getcwd()
    # a command ends by ignoring SIGINT, SIGTERM and SIGHUP (its verdict must get
    # out): put them back, or every process a later test starts inherits SIG_IGN
    handlers = {signum: signal.getsignal(signum) for signum in CLI_SIGNALS}
    try:
        os.environ.update(env or {})
        os.chdir(cwd or ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: usage errors, --help, --version
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(["chaosdrill", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def frozen_guard(containers: Any) -> Iterator[Callable[[str], None]]:
    """Containers (ids) registered here are thawed at teardown, before the
    ``containers`` fixture removes them, and their pauses are withdrawn."""
    from chaos import cgroup_freezer, pausing

    guarded: list[str] = []
    yield guarded.append
    for container_id in guarded:
        with contextlib.suppress(OSError):
            freezer = cgroup_freezer.find(container_id)
            if freezer.frozen():
                freezer.thaw()
        with contextlib.suppress(OSError):  # a v2 hierarchy beside v1 (hybrid)
            unified = Path("/sys/fs/cgroup/unified/docker") / container_id / "cgroup.freeze"
            if unified.exists() and unified.read_text().strip() == "1":
                unified.write_text("0")
        for run_id in pausing.held(container_id):
            pausing.release(container_id, run_id)


@pytest.fixture
def local_prometheus(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start real Prometheus servers on 127.0.0.1 (Debian's binary): ``start(config,
    rules={"rules.yml": text}, port=None)`` writes the files into a folder of the test's
    own and returns the :class:`~chaos.prometheus_process.LocalProcess`;
    every one is stopped at teardown."""
    from chaos.prometheus_process import start_prometheus

    started: list[Any] = []

    def start(config: str, rules: dict[str, str] | None = None, port: int | None = None) -> Any:
        folder = tmp_path / f"prometheus-{len(started)}"
        folder.mkdir()
        for name, text in (rules or {}).items():
            (folder / name).write_text(text)
        (folder / "prometheus.yml").write_text(config)
        started.append(start_prometheus(folder / "prometheus.yml", folder, port=port))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def local_pushgateway(tmp_path: Path) -> Iterator[Any]:
    """A real Pushgateway on 127.0.0.1, stopped at teardown."""
    from chaos.prometheus_process import start_pushgateway

    gateway = start_pushgateway(tmp_path / "pushgateway")
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def browser_module() -> Iterator[Any]:
    """One headless Chromium for a test module (see ``tests/browser.py``); skipped,
    saying why, only where the Chromium binary is absent."""
    from tests import browser as harness

    reason = harness.missing()
    if reason:
        print(f"browser tests skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    started = harness.Browser.start()
    yield started
    started.quit()


@pytest.fixture
def browser(browser_module: Any, request: Any, tmp_path: Path) -> Iterator[Any]:
    """The module's :class:`tests.browser.Browser` at 1280x900, writing screenshots to
    the test's folder; browsers it ``reopen()``-ed are quit when the test ends,
    whatever its outcome. A browser a test broke is replaced for the next one."""
    from tests import browser as harness

    if not browser_module.alive():
        with contextlib.suppress(Exception):
            browser_module.driver.quit()
        fresh = harness.Browser.start()
        browser_module.driver = fresh.driver
    browser_module.output_dir = harness.output_dir(request.node.nodeid, tmp_path)
    try:
        yield browser_module
    finally:
        browser_module.quit_others()
