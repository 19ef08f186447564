"""A Docker client whose every call is bounded, and retried when that is safe.

Every request carries the engine timeout. A call that times out raises
:class:`chaos.errors.EngineTimeout` naming the call (``engine call unpause
3f2a9c1b0d4e timed out after 15s``), never a bare transport error. Calls
that can be repeated without effect are tried again with a backoff first:
every GET (inspect, list, ping, version, logs), the unpause of a paused
container and the start of a stopped one.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import requests.exceptions

from chaos.errors import EngineTimeout

RETRIES = 2
"""Extra attempts of an idempotent call after a timeout."""
BACKOFF = 0.5
"""Seconds before the first retry; doubled before the next."""

_local = threading.local()


@contextlib.contextmanager
def single_attempt() -> Iterator[None]:
    """Calls made by this thread inside the block are not retried: for a caller
    that has a better way out of a timeout than asking again."""
    before = getattr(_local, "single", False)
    _local.single = True
    try:
        yield
    finally:
        _local.single = before


_REPEATABLE_POST = re.compile(r"/containers/[^/]+/(unpause|start)$")
_VERSIONED = re.compile(r"^/v[0-9.]+")


def describe_call(method: str, url: str) -> str:
    """``unpause 3f2a9c1b0d4e``, ``inspect 3f2a9c1b0d4e``, or ``GET /info``."""
    path = url.split("://", 1)[-1].split("?", 1)[0]
    path = _VERSIONED.sub("", path[path.find("/") :] if "/" in path else "/")
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] in {"containers", "exec", "networks", "images", "volumes"}:
        obj = parts[1][:12]
        verb = parts[2] if len(parts) > 2 else method.lower()
        if verb == "json":
            verb = "inspect"
        return f"{verb} {obj}"
    return f"{method} {path}"


def _timed_out(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    # a read timeout while the body streams arrives as a ConnectionError
    return isinstance(exc, requests.exceptions.ConnectionError) and "timed out" in str(exc)


class BoundedAPIClient(docker.APIClient):  # type: ignore[misc]
    """``docker.APIClient`` whose every request is bounded and, when safe, retried.

    docker-py's client is a ``requests.Session``: every engine call it makes
    (inspect, exec, attach, a streamed log) goes through ``Session.request``,
    the public method this class overrides, with the client's ``timeout``.
    """

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        verb = method.decode() if isinstance(method, bytes) else str(method)
        target = url.decode() if isinstance(url, bytes) else str(url)
        verb = verb.upper()
        if verb == "GET":
            repeatable = True
        elif verb == "POST":
            repeatable = bool(_REPEATABLE_POST.search(target.split("?", 1)[0]))
        else:
            repeatable = False
        kwargs.setdefault("timeout", self.timeout)

        def send(url: str, **kwargs: Any) -> Any:
            return super(BoundedAPIClient, self).request(method, url, *args, **kwargs)

        return self._bounded(verb, target, send, repeatable, kwargs)

    def _bounded(
        self,
        method: str,
        url: str,
        send: Callable[..., Any],
        repeatable: bool,
        kwargs: dict[str, Any],
    ) -> Any:
        single = getattr(_local, "single", False)
        attempts = 1 + (RETRIES if repeatable and not single else 0)
        for attempt in range(attempts):
            try:
                return send(url, **kwargs)
            except Exception as exc:
                if not _timed_out(exc):
                    raise
                if attempt + 1 >= attempts:
                    timeout = kwargs.get("timeout", self.timeout)
                    tries = f" ({attempts} attempts)" if attempts > 1 else ""
                    raise EngineTimeout(
                        f"engine call {describe_call(method, url)} timed out after "
                        f"{_seconds(timeout)}{tries}"
                    ) from exc
                time.sleep(BACKOFF * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def unpause(self, container: Any) -> None:
        try:
            super().unpause(container)
        except docker.errors.APIError as exc:
            # a retried unpause whose first attempt got through finds it unpaused
            if "is not paused" not in str(exc.explanation or ""):
                raise


class BoundedDockerClient(docker.DockerClient):  # type: ignore[misc]
    """``docker.DockerClient`` over :class:`BoundedAPIClient`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.api = BoundedAPIClient(*args, **kwargs)


def _seconds(timeout: Any) -> str:
    if isinstance(timeout, tuple):
        timeout = max(t for t in timeout if t is not None)
    try:
        return f"{float(timeout):g}s"
    except (TypeError, ValueError):
        return "the engine timeout"
