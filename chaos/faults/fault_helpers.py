"""Long-lived helper containers that carry a resource fault for its whole duration.

Stress, disk fill and process pause each run a helper next to the target
(``chaosdrill/fault-helper:1``: Python, stress-ng, procps, util-linux) that
*is* the fault while it runs: stopping it ends the fault (stress-ng dies, the
fill file is removed, the stopped processes are continued). Helpers carry
the run's helper labels and :data:`LABEL_INJECTION`, and are named after the
injection, so the revert, the watchdog (armed before the injection) and
``chaosdrill recover`` all find exactly this injection's helpers.

Each helper also bounds itself: its program stops on its own at the fault's
revert time plus :data:`SELF_STOP_AFTER`, a last line of defence behind the
watchdog. A helper shares the target's PID namespace, so it also ends with
the target: a fault never outlives the container it acts on.
"""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import time
from typing import TYPE_CHECKING, Any

from chaos.faults.placements import Placement
from chaos.faults.swarm_commands import on_every_node
from chaos.helper_containers import ENGINE_SOCKET
from chaos.images import FAULT_HELPER_IMAGE
from chaos.plugin_api import (
    ChaosError,
    FaultContext,
    HelperCommand,
    describe_engine_error,
    exec_run,
)

if TYPE_CHECKING:
    import docker

LABEL_INJECTION = "chaosdrill.injection"
FAULT_HELPER_IMAGE_ENV = "CHAOSDRILL_FAULT_HELPER_IMAGE"
SELF_STOP_AFTER = 30.0
"""Seconds after the planned revert at which a helper stops by itself (the
watchdog fires after its grace, 5 s by default, well before)."""
UNBOUNDED = 24 * 3600.0
"""How long a helper may run when the fault has no revert time (injected from
code without a duration)."""
STOP_TIMEOUT = 10
"""Seconds a helper gets to undo its fault on SIGTERM before it is killed."""
START_CHECK = 0.5
"""Seconds after the start at which a helper must still be running."""


def helper_image() -> str:
    return os.environ.get(FAULT_HELPER_IMAGE_ENV, FAULT_HELPER_IMAGE)


def helper_name(injection_id: str, index: int = 0) -> str:
    return f"chaosdrill-fault-{injection_id}" + (f"-{index}" if index else "")


def seconds_left(ctx: FaultContext) -> int:
    """Whole seconds a helper may run: until the revert time plus :data:`SELF_STOP_AFTER`."""
    if ctx.revert_at is None:
        return int(UNBOUNDED)
    return max(1, math.ceil(ctx.revert_at - time.time() + SELF_STOP_AFTER))


def check_image(where: Placement, error: type[ChaosError], purpose: str) -> str:
    import docker.errors

    image = helper_image()
    try:
        where.client.images.get(image)
    except docker.errors.ImageNotFound:
        if where.node is not None:
            raise error(
                f"{purpose}: the helper image {image} is not on node {where.node}; copy it "
                f"into the swarm's nodes (a lab: chaosdrill lab load {image})"
            ) from None
        raise error(
            f"{purpose}: the helper image {image} is not on the engine; build it with "
            "`chaosdrill images build` (no registry needed)"
        ) from None
    except Exception as exc:
        raise error(f"{purpose}: {describe_engine_error(exc)}") from None
    return image


def start(
    ctx: FaultContext,
    where: Placement,
    index: int,
    command: list[str],
    *,
    purpose: str,
    error: type[ChaosError],
    **options: Any,
) -> str:
    """Start the helper that carries the fault on ``where``; return its id.

    It joins the target's PID namespace (``pid_mode: container:<id>``) and has
    no network. A helper that is not running :data:`START_CHECK` seconds later
    is removed and its output becomes the error.
    """
    image = check_image(where, error, purpose)
    client: docker.DockerClient = where.client
    labels = {**ctx.runtime.helper_labels(), LABEL_INJECTION: ctx.injection_id}
    container = None
    try:
        container = client.containers.run(
            image,
            command=command,
            name=helper_name(ctx.injection_id, index),
            labels=labels,
            detach=True,
            network_mode="none",
            pid_mode=f"container:{where.container_id}",
            **options,
        )
        time.sleep(START_CHECK)
        container.reload()
        if container.status != "running":
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
            code = container.attrs["State"].get("ExitCode")
            raise error(f"{purpose}: the helper stopped at once (exit {code}): {output.strip()}")
        return str(container.id)
    except ChaosError:
        _remove(container)
        raise
    except Exception as exc:
        _remove(container)
        raise error(f"{purpose}: helper container failed: {describe_engine_error(exc)}") from None


def run_once(
    ctx: FaultContext,
    where: Placement,
    command: list[str],
    *,
    purpose: str,
    error: type[ChaosError],
    **options: Any,
) -> str:
    """Run a short command in a helper in the target's PID namespace; return its output
    (an exit code other than 0 raises ``error``)."""
    image = check_image(where, error, purpose)
    container = None
    try:
        container = where.client.containers.run(
            image,
            command=command,
            labels={**ctx.runtime.helper_labels(), LABEL_INJECTION: ctx.injection_id},
            detach=True,
            network_mode="none",
            pid_mode=f"container:{where.container_id}",
            **options,
        )
        code = int(container.wait(timeout=30).get("StatusCode", -1))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
    except Exception as exc:
        raise error(f"{purpose}: helper container failed: {describe_engine_error(exc)}") from None
    finally:
        _remove(container)
    if code != 0:
        raise error(f"{purpose}: exit {code}: {output.strip()}")
    return output


def _remove(container: Any) -> None:
    if container is not None:
        with contextlib.suppress(Exception):
            container.remove(force=True)


def helpers_of(ctx: FaultContext, where: Placement) -> list[Any]:
    """This injection's helper containers on ``where``'s engine."""
    return where.client.containers.list(
        all=True, filters={"label": f"{LABEL_INJECTION}={ctx.injection_id}"}
    )


def stop_all(ctx: FaultContext, where: Placement, error: type[ChaosError]) -> list[str]:
    """Stop (SIGTERM: each helper undoes its fault) and remove this injection's helpers
    on ``where``'s engine; return the last lines each printed."""
    try:
        found = helpers_of(ctx, where)
    except Exception as exc:
        raise error(f"finding the helpers on {where.where}: {describe_engine_error(exc)}") from None
    outputs = []
    for container in found:
        try:
            if container.status == "running":
                container.stop(timeout=STOP_TIMEOUT)
            outputs.append(container.logs(tail=5).decode("utf-8", "replace").strip())
            container.remove(force=True)
        except Exception as exc:
            import docker.errors

            if isinstance(exc, docker.errors.NotFound):
                continue
            raise error(
                f"removing helper {container.name} on {where.where}: {describe_engine_error(exc)}"
            ) from None
    return outputs


def exec_in(
    where: Placement, helper_id: str, argv: list[str], timeout: float = 20
) -> tuple[int, str]:
    """Run ``argv`` in a running helper (which sits in the target's PID namespace)."""
    result = exec_run(where.client.api, helper_id, argv, timeout=timeout)
    return (result.exit_code if result.exit_code is not None else -1), result.output


STOP_THEN_REMOVE = (
    'n="$1"; s="$2"; '
    'curl -s --max-time 20 --unix-socket "$s" -o /dev/null -X POST '
    f'"http://localhost/containers/$n/stop?t={STOP_TIMEOUT}"; '
    'code=$(curl -s --max-time 20 --unix-socket "$s" -o /dev/null -w "%{http_code}" '
    '-X DELETE "http://localhost/containers/$n?force=1"); '
    'case "$code" in 204|404) exit 0 ;; *) echo "remove $n: HTTP $code"; exit 1 ;; esac'
)
"""The watchdog's program for a container target: stop the helper (so it undoes its
fault), then remove it; a helper that is already gone is fine."""


def watchdog(ctx: FaultContext) -> HelperCommand | None:
    """The dead man's switch of a helper-carried fault: stop and remove this
    injection's helpers, on the run's engine (a container target) or on every
    node's engine (a service target)."""
    if ctx.target.kind == "service":
        label = shlex.quote(f"label={LABEL_INJECTION}={ctx.injection_id}")
        snippet = (
            f"ids=$(docker ps -aq --filter {label}) || exit 1; "
            f'[ -z "$ids" ] || {{ docker stop -t {STOP_TIMEOUT} $ids; docker rm -f $ids; }} '
            ">/dev/null"
        )
        return on_every_node(ctx, snippet)
    return HelperCommand(
        ("sh", "-c", STOP_THEN_REMOVE, "watchdog", helper_name(ctx.injection_id), ENGINE_SOCKET),
        engine_socket=True,
    )
