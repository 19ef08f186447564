"""Connecting to the Docker engine, and turning SDK errors into our own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from chaos.errors import ChaosError, EngineUnreachable

if TYPE_CHECKING:
    import docker

POOL_SIZE = 64
"""Connections kept to the engine: probes and faults call it from many threads."""

CONNECT_TIMEOUT = float(os.environ.get("CHAOSDRILL_ENGINE_TIMEOUT", "30"))


def connect(base_url: str | None = None) -> docker.DockerClient:
    """Return a client that has answered a ping; raise EngineUnreachable otherwise."""
    import docker

    where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        if base_url:
            client = docker.DockerClient(
                base_url=base_url, timeout=CONNECT_TIMEOUT, max_pool_size=POOL_SIZE
            )
        else:
            client = docker.from_env(timeout=CONNECT_TIMEOUT, max_pool_size=POOL_SIZE)
        client.ping()
    except Exception as exc:
        raise EngineUnreachable(
            f"cannot reach the Docker engine at {where}: {describe_engine_error(exc)}"
        ) from None
    return client


def describe_engine_error(exc: BaseException) -> str:
    """One line for an SDK or transport error, without the noise."""
    import docker.errors

    if isinstance(exc, docker.errors.NotFound):
        return f"not found: {exc.explanation or exc}"
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    text = str(exc)
    for marker in (
        "Connection refused",
        "Connection reset by peer",
        "No such file or directory",
        "timed out",
        "Read timed out",
    ):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def engine_errors(error: type[ChaosError], what: str) -> Iterator[None]:
    """Re-raise any SDK or transport failure inside the block as ``error(what: reason)``."""
    try:
        yield
    except ChaosError:
        raise
    except Exception as exc:
        raise error(f"{what}: {describe_engine_error(exc)}") from exc
