"""Every engine call is bounded: a silent engine gives a clear timeout naming the call,
idempotent calls are retried, and the timeout is configurable."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from chaos.docker_client import (
    DEFAULT_ENGINE_TIMEOUT,
    ENGINE_TIMEOUT_ENV,
    client,
    describe_engine_error,
    engine_timeout,
)
from chaos.errors import EngineTimeout, UsageError


class SilentEngine:
    """An HTTP server on 127.0.0.1 that answers only the requests it is told to;
    the others it reads and leaves without an answer (a wedged engine)."""

    def __init__(self, answer: set[int]):
        self.answer = answer
        self.requests: list[str] = []
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        index = len(self.requests)
        self.requests.append(data.split(b"\r\n", 1)[0].decode())
        if index not in self.answer:
            self._held.append(conn)  # never answered
            return
        body = json.dumps({"Id": "c0ffee", "State": {"Paused": False}}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        for conn in self._held:
            conn.close()
        self._server.close()


@contextlib.contextmanager
def engines() -> Iterator[Callable[[set[int]], SilentEngine]]:
    """Makes silent engines, closed at the end."""
    made: list[SilentEngine] = []

    def make(answer: set[int]) -> SilentEngine:
        made.append(SilentEngine(answer))
        return made[-1]

    try:
        yield make
    finally:
        for engine in made:
            engine.close()


def quick_retries(patch: pytest.MonkeyPatch) -> None:
    """Retries back off 0.5 s, 1 s, ...: what is asserted is how many attempts go
    out and what the timeout says, not the pause between them."""
    patch.setattr("chaos.bounded_client.BACKOFF", 0.01)


@pytest.fixture
def engine_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[set[int]], SilentEngine]]:
    quick_retries(monkeypatch)
    with engines() as make:
        yield make


WAITING = (
    "an_idempotent_call_is_retried_then_named_in_the_timeout",
    "a_retry_that_gets_an_answer_succeeds",
    "unpause_is_retried_but_pause_is_not",
    "calls_inside_single_attempt_are_not_retried",
    "a_posted_json_call_is_bounded_and_not_retried",
)
"""The tests below that wait for engine calls to time out: each has engines of its
own (and retries are counted per thread), so the module runs them all at once,
each to its end, before any of their tests reads its outcome."""


@pytest.fixture(scope="module")
def waited() -> dict[str, Future[None]]:
    scenarios = {name: globals()[name] for name in WAITING}

    def run(scenario: Callable[..., None]) -> None:
        with engines() as make:
            scenario(make)

    with pytest.MonkeyPatch.context() as patch:
        quick_retries(patch)
        with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
            outcomes = {name: pool.submit(run, scenario) for name, scenario in scenarios.items()}
    return outcomes


def bounded(engine: SilentEngine, timeout: float = 0.15) -> Any:
    return client(f"tcp://127.0.0.1:{engine.port}", timeout, version="1.41")


def an_idempotent_call_is_retried_then_named_in_the_timeout(engine_factory: Any) -> None:
    engine = engine_factory(answer=set())
    started = time.monotonic()
    with pytest.raises(EngineTimeout) as caught:
        bounded(engine).api.inspect_container("c0ffee")
    assert str(caught.value) == "engine call inspect c0ffee timed out after 0.15s (3 attempts)"
    assert len(engine.requests) == 3
    assert all(r.startswith("GET /v1.41/containers/c0ffee/json") for r in engine.requests)
    assert time.monotonic() - started < 5
    assert describe_engine_error(caught.value) == str(caught.value)


def test_an_idempotent_call_is_retried_then_named_in_the_timeout(waited):
    waited["an_idempotent_call_is_retried_then_named_in_the_timeout"].result()


def a_retry_that_gets_an_answer_succeeds(engine_factory: Any) -> None:
    engine = engine_factory(answer={1})
    info = bounded(engine).api.inspect_container("c0ffee")
    assert info["State"] == {"Paused": False}
    assert len(engine.requests) == 2


def test_a_retry_that_gets_an_answer_succeeds(waited):
    waited["a_retry_that_gets_an_answer_succeeds"].result()


def unpause_is_retried_but_pause_is_not(engine_factory: Any) -> None:
    engine = engine_factory(answer=set())
    api = bounded(engine).api
    with pytest.raises(EngineTimeout, match=r"^engine call pause c0ffee timed out after 0.15s$"):
        api.pause("c0ffee")
    assert len(engine.requests) == 1
    with pytest.raises(EngineTimeout, match=r"^engine call unpause c0ffee .*\(3 attempts\)$"):
        api.unpause("c0ffee")
    assert [r.split(" ")[1].rsplit("/", 1)[-1] for r in engine.requests[1:]] == ["unpause"] * 3


def test_unpause_is_retried_but_pause_is_not(waited):
    waited["unpause_is_retried_but_pause_is_not"].result()


def test_engine_timeout_is_configurable(monkeypatch):
    monkeypatch.delenv(ENGINE_TIMEOUT_ENV, raising=False)
    assert engine_timeout() == DEFAULT_ENGINE_TIMEOUT
    monkeypatch.setenv(ENGINE_TIMEOUT_ENV, "2.5")
    assert engine_timeout() == 2.5
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv(ENGINE_TIMEOUT_ENV, bad)
        with pytest.raises(UsageError, match=f"{ENGINE_TIMEOUT_ENV} must be a number of seconds"):
            engine_timeout()


@pytest.mark.docker
def test_every_client_of_a_run_carries_the_engine_timeout(monkeypatch):
    from chaos.runtime import Runtime

    monkeypatch.setenv(ENGINE_TIMEOUT_ENV, "7")
    runtime = Runtime()
    try:
        assert runtime.docker.api.timeout == 7
        assert runtime.docker.api.ping()
    finally:
        runtime.close()


def calls_inside_single_attempt_are_not_retried(engine_factory: Any) -> None:
    from chaos.bounded_client import single_attempt

    engine = engine_factory(answer=set())
    api = bounded(engine).api
    with single_attempt(), pytest.raises(EngineTimeout) as caught:
        api.inspect_container("c0ffee")
    assert str(caught.value) == "engine call inspect c0ffee timed out after 0.15s"
    assert len(engine.requests) == 1
    with pytest.raises(EngineTimeout, match=r"\(3 attempts\)"):
        api.inspect_container("c0ffee")  # retried again outside the block
    assert len(engine.requests) == 4


def test_calls_inside_single_attempt_are_not_retried(waited):
    waited["calls_inside_single_attempt_are_not_retried"].result()


def test_a_posted_json_call_goes_to_the_versioned_path_and_returns_the_answer(engine_factory):
    from chaos.docker_client import post_json

    engine = engine_factory(answer={0})
    answer = post_json(
        bounded(engine).api, "/services/s1/update", {"Name": "web"}, params={"version": 3}
    )
    assert answer == {"Id": "c0ffee", "State": {"Paused": False}}
    assert engine.requests == ["POST /v1.41/services/s1/update?version=3 HTTP/1.1"]


def a_posted_json_call_is_bounded_and_not_retried(engine_factory: Any) -> None:
    from chaos.docker_client import post_json

    engine = engine_factory(answer=set())
    with pytest.raises(EngineTimeout, match=r"engine call POST /services/s1/update timed out"):
        post_json(bounded(engine).api, "/services/s1/update", {}, params={"version": 3})
    assert len(engine.requests) == 1


def test_a_posted_json_call_is_bounded_and_not_retried(waited):
    waited["a_posted_json_call_is_bounded_and_not_retried"].result()


def test_the_bounded_client_overrides_no_private_docker_py_method():
    import docker

    from chaos.bounded_client import BoundedAPIClient

    private = {n for n in dir(docker.APIClient) if n.startswith("_") and not n.startswith("__")}
    assert not private & set(vars(BoundedAPIClient))
