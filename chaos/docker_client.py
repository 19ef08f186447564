"""Connecting to the Docker engine, and turning SDK errors into our own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from chaos.errors import ChaosError, EngineTimeout, EngineUnreachable, UsageError

if TYPE_CHECKING:
    import docker

POOL_SIZE = 64
"""Connections kept to the engine: probes and faults call it from many threads."""

ENGINE_TIMEOUT_ENV = "CHAOSDRILL_ENGINE_TIMEOUT"
DEFAULT_ENGINE_TIMEOUT = 15.0
"""Seconds any one engine call may take before it counts as unanswered."""


def engine_timeout() -> float:
    """``$CHAOSDRILL_ENGINE_TIMEOUT`` seconds, else 15; raises UsageError when it is not
    a positive number."""
    raw = os.environ.get(ENGINE_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_ENGINE_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise UsageError(
            f"{ENGINE_TIMEOUT_ENV} must be a number of seconds greater than 0, got {raw!r}"
        )
    return value


def client(base_url: str | None = None, timeout: float | None = None, **options: Any) -> Any:
    """A Docker client (not yet pinged) whose every call is bounded by ``timeout``
    (default: the engine timeout) and retried when idempotent; see
    :mod:`chaos.bounded_client`. ``base_url=None`` reads ``DOCKER_HOST`` and
    the other ``DOCKER_*`` variables."""
    from chaos.bounded_client import BoundedDockerClient

    options.setdefault("max_pool_size", POOL_SIZE)
    timeout = engine_timeout() if timeout is None else timeout
    if base_url:
        return BoundedDockerClient(base_url=base_url, timeout=timeout, **options)
    return BoundedDockerClient.from_env(timeout=timeout, **options)


def post_json(
    api: docker.APIClient,
    path: str,
    body: Any,
    *,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """POST ``body`` as JSON to the engine API ``path`` and return the JSON answer:
    for the calls docker-py has no method for (a service update posted as read,
    a rollback). ``path`` is quoted by the caller (``/services/ID/update``).

    It goes through the client's public interface (a docker-py client is a
    ``requests.Session``), so the client's timeout, and a bounded client's
    bounds, apply as to the SDK's own calls; an error answer raises
    ``docker.errors.APIError`` as they do.
    """
    import docker.errors
    import requests

    response = api.post(
        f"{api.base_url}/v{api.api_version}{path}",
        json=body,
        params=dict(params or {}),
        timeout=api.timeout,
    )
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        raise docker.errors.create_api_error_from_http_exception(exc) from exc
    return response.json()


def connect(base_url: str | None = None) -> docker.DockerClient:
    """Return a client that has answered a ping; raise EngineUnreachable otherwise."""
    where = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    timeout = engine_timeout()
    try:
        engine = client(base_url, timeout)
        engine.ping()
    except Exception as exc:
        raise EngineUnreachable(
            f"cannot reach the Docker engine at {where}: {describe_engine_error(exc)}"
        ) from None
    return engine


def describe_engine_error(exc: BaseException) -> str:
    """One line for an SDK or transport error, without the noise."""
    import docker.errors

    if isinstance(exc, EngineTimeout):
        return str(exc)
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


def is_engine_timeout(exc: BaseException) -> bool:
    """True for an engine call that got no answer in time (as opposed to a refusal)."""
    import requests.exceptions

    if isinstance(exc, (EngineTimeout, requests.exceptions.Timeout)):
        return True
    return "timed out" in str(exc).lower() and not hasattr(exc, "response")
