"""Short-lived helper containers that do a fault's work next to its target.

A helper runs the one command a fault needs (kill a PID through the host PID
namespace, later iptables or tc inside a target's network namespace), is
labelled with the run so leftovers can be found, and is always removed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.docker_client import describe_engine_error
from chaos.errors import ChaosError, InjectionFailed

if TYPE_CHECKING:
    from chaos.runtime import Runtime

HELPER_TIMEOUT = 30.0
ENGINE_SOCKET = "/var/run/docker.sock"
"""Where the engine's socket is on the engine's own host (mounted into watchdogs)."""
HOST_CGROUPS = "/host/sys/fs/cgroup"
"""Where a helper that asks for it sees the host's cgroup filesystem."""


@dataclass(frozen=True)
class HelperCommand:
    """A command a helper container runs on the engine's host, with no chaosdrill there.

    Faults describe their revert this way (see :meth:`chaos.fault.Fault.watchdog`)
    so that a watchdog container can undo them after the runner is gone.
    """

    argv: tuple[str, ...]
    network_of: str | None = None
    """Join this container's network namespace (``network_mode: container:<id>``)."""
    cap_add: tuple[str, ...] = ()
    engine_socket: bool = False
    """Mount the engine's socket at the same path, to call its API with curl."""
    host_cgroups: bool = False
    """Mount the host's cgroup filesystem at ``HOST_CGROUPS`` (read-write): to
    thaw a container whose engine API is wedged."""
    network_mode: str | None = None
    """Docker network mode when not joining a container: ``host`` lets a
    watchdog reach engines published on this host's loopback (a Swarm lab)."""
    image: str | None = None
    """Image to run it in; None means the watchdog image (iptables, tc, curl).
    Swarm faults use the swarm node image, which has the docker CLI."""
    files: tuple[tuple[str, str], ...] = ()
    """Files of the engine's host mounted read-only: (host path, path inside), such
    as the client certificate a swarm watchdog needs for TLS engines."""

    def container_options(self) -> dict[str, Any]:
        mode = f"container:{self.network_of}" if self.network_of else self.network_mode or "none"
        options: dict[str, Any] = {"network_mode": mode}
        if self.cap_add:
            options["cap_add"] = list(self.cap_add)
        volumes: dict[str, dict[str, str]] = {}
        if self.engine_socket:
            volumes[ENGINE_SOCKET] = {"bind": ENGINE_SOCKET, "mode": "rw"}
        for source, inside in self.files:
            volumes[source] = {"bind": inside, "mode": "ro"}
        if self.host_cgroups:
            volumes["/sys/fs/cgroup"] = {"bind": HOST_CGROUPS, "mode": "rw"}
        if volumes:
            options["volumes"] = volumes
        return options


def engine_call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[str, ...]:
    """argv for a helper to call the engine API (curl over the mounted socket)."""
    import json

    argv = (
        "curl", "-sS", "--max-time", "20", "--unix-socket", ENGINE_SOCKET,
        "-X", method, f"http://localhost{path}",
    )  # fmt: skip
    if body is not None:
        argv += ("-H", "Content-Type: application/json", "-d", json.dumps(body))
    return argv


def run_helper(
    runtime: Runtime,
    command: list[str],
    *,
    purpose: str,
    image: str | None = None,
    error: type[ChaosError] = InjectionFailed,
    stdin: bytes | None = None,
    **options: Any,
) -> tuple[int, str]:
    """Run ``command`` (an argv list) in a helper container; return (exit code, output).

    ``image`` defaults to the runtime's helper image; failures to start or
    wait for the helper raise ``error`` naming ``purpose``. ``stdin`` is
    written to the command's standard input: values that may be secret (a
    URL with a password, a token header) go there, never into ``command``,
    which ``docker inspect`` and ``ps`` show to anyone who looks.
    """
    import docker.errors

    client = runtime.docker
    image = image or runtime.helper_image
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise error(
            f"{purpose}: helper image {image} is not on the engine; "
            "build it with `chaosdrill images build` (no registry needed)"
        ) from None
    except Exception as exc:
        raise error(f"{purpose}: {describe_engine_error(exc)}") from None
    container = None
    try:
        container = client.containers.create(
            image,
            command=command,
            labels=runtime.helper_labels(),
            network_mode=options.pop("network_mode", "none"),
            stdin_open=stdin is not None,
            **options,
        )
        if stdin is not None:
            _start_with_stdin(client, container, stdin)
        else:
            container.start()
        result = container.wait(timeout=HELPER_TIMEOUT)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return int(result.get("StatusCode", -1)), output
    except Exception as exc:
        raise error(f"{purpose}: helper container failed: {describe_engine_error(exc)}") from None
    finally:
        if container is not None:
            # a leftover is labelled with the run, so it can be found and removed
            with contextlib.suppress(Exception):
                container.remove(force=True)


def _start_with_stdin(client: Any, container: Any, data: bytes) -> None:
    """Start ``container`` and feed ``data`` to its standard input, then close it
    (the container was created with ``stdin_open``, so it reads to end of file)."""
    import socket

    attached = client.api.attach_socket(container.id, params={"stdin": 1, "stream": 1})
    raw = getattr(attached, "_sock", attached)
    try:
        container.start()
        raw.sendall(data)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)
    finally:
        with contextlib.suppress(Exception):
            attached.close()
