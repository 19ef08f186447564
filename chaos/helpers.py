"""Short-lived helper containers that do a fault's work next to its target.

A helper runs the one command a fault needs (kill a PID through the host PID
namespace, later iptables or tc inside a target's network namespace), is
labelled with the run so leftovers can be found, and is always removed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from chaos.docker_client import describe_engine_error
from chaos.errors import InjectionFailed

if TYPE_CHECKING:
    from chaos.runtime import Runtime

HELPER_TIMEOUT = 30.0


def run_helper(
    runtime: Runtime, command: list[str], *, purpose: str, **options: Any
) -> tuple[int, str]:
    """Run ``command`` (an argv list) in a helper container; return (exit code, output)."""
    import docker.errors

    client = runtime.docker
    try:
        client.images.get(runtime.helper_image)
    except docker.errors.ImageNotFound:
        raise InjectionFailed(
            f"{purpose}: helper image {runtime.helper_image} is not on the engine; "
            "build it with `chaosdrill images build` (no registry needed)"
        ) from None
    except Exception as exc:
        raise InjectionFailed(f"{purpose}: {describe_engine_error(exc)}") from None
    container = None
    try:
        container = client.containers.create(
            runtime.helper_image,
            command=command,
            labels=runtime.helper_labels(),
            network_mode=options.pop("network_mode", "none"),
            **options,
        )
        container.start()
        result = container.wait(timeout=HELPER_TIMEOUT)
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return int(result.get("StatusCode", -1)), output
    except Exception as exc:
        raise InjectionFailed(
            f"{purpose}: helper container failed: {describe_engine_error(exc)}"
        ) from None
    finally:
        if container is not None:
            # a leftover is labelled with the run, so it can be found and removed
            with contextlib.suppress(Exception):
                container.remove(force=True)
