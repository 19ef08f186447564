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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.faults.placements import Placement
from chaos.faults.swarm_commands import on_every_node
from chaos.helper_containers import ENGINE_SOCKET
from chaos.images import FAULT_HELPER_IMAGE
from chaos.labels import LABEL_INJECTION
from chaos.plugin_api import (
    ChaosError,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    describe_engine_error,
    exec_run,
)

if TYPE_CHECKING:
    import docker

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
    killed_is_done: bool = False,
    **options: Any,
) -> str:
    """Start the helper that carries the fault on ``where``; return its id.

    It joins the target's PID namespace (``pid_mode: container:<id>``) and has
    no network. A helper that is not running :data:`START_CHECK` seconds later
    is removed and its output becomes the error; with ``killed_is_done``, one
    that was killed (exit 137: the target's PID namespace ended, as when a
    fault makes the OOM killer end the target) has done its work.
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
        code = container.attrs["State"].get("ExitCode")
        if container.status != "running" and not (killed_is_done and code == 137):
            output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
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


NOTES_FILE = "/tmp/chaosdrill-notes"
"""Written into the injection's watchdog after the injection: what only the
injection learnt (the processes it stopped), one ``CONTAINER ITEM`` per line."""
NOTES = "@NOTES@"
"""Stands for the notes of one container in an undo command (replaced by the watchdog)."""


@dataclass(frozen=True)
class Undo:
    """A command that undoes a fault directly, run in a fresh helper in the target's
    PID namespace: what the watchdog runs after stopping the carrying helper, so the
    fault is undone even when that helper was killed without a chance to undo it."""

    argv: tuple[str, ...]
    cap_add: tuple[str, ...] = ()


WATCH_LOCAL = r"""
s="$1"; n="$2"; body="$3"; c="$4"
api() { curl -s --max-time 30 --unix-socket "$s" "$@"; }
api -o /dev/null -X POST "http://localhost/containers/$n/stop?t=$STOP"
api -o /dev/null -X DELETE "http://localhost/containers/$n?force=1"
[ -n "$body" ] || exit 0
notes=$(grep "^$c " "$NOTES" 2>/dev/null | cut -d' ' -f2 | tr '\n' ' ')
body=$(printf '%s' "$body" | sed "s/@NOTES@/$notes/")
id=$(api -H 'Content-Type: application/json' -d "$body" -X POST "http://localhost/containers/create" \
  | sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
[ -n "$id" ] || exit 0
api -o /dev/null -X POST "http://localhost/containers/$id/start"
api -o /dev/null -X POST "http://localhost/containers/$id/wait"
api -o /dev/null -X DELETE "http://localhost/containers/$id?force=1"
exit 0
"""
"""The watchdog's program for a container target: stop the carrying helper (it undoes
its fault on SIGTERM) and remove it, then run the fault's direct undo, if any, in a
fresh helper created through the engine API (none when the target is gone)."""


def watchdog(
    ctx: FaultContext, undo: Undo | None = None, params: Any = None
) -> HelperCommand | None:
    """The dead man's switch of a helper-carried fault, on the run's engine (a
    container target) or on every node's engine (a service target)."""
    import json

    if ctx.target.kind == "service":
        return _watch_service(ctx, undo, params)
    body = ""
    if undo is not None:
        body = json.dumps(
            {
                "Image": helper_image(),
                "Cmd": list(undo.argv),
                "Labels": {**ctx.runtime.helper_labels(), LABEL_INJECTION: ctx.injection_id},
                "HostConfig": {
                    "PidMode": f"container:{ctx.target.id}",
                    "NetworkMode": "none",
                    "CapAdd": list(undo.cap_add),
                },
            }
        )
    script = WATCH_LOCAL.replace("$STOP", str(STOP_TIMEOUT)).replace("$NOTES", NOTES_FILE)
    return HelperCommand(
        ("sh", "-c", script, "watchdog", ENGINE_SOCKET, helper_name(ctx.injection_id), body,
         ctx.target.id[:12]),
        engine_socket=True,
    )  # fmt: skip


def _watch_service(ctx: FaultContext, undo: Undo | None, params: Any) -> HelperCommand | None:
    label = shlex.quote(f"label={LABEL_INJECTION}={ctx.injection_id}")
    snippet = (
        f"ids=$(docker ps -aq --filter {label}) || exit 1; "
        f'[ -z "$ids" ] || {{ docker stop -t {STOP_TIMEOUT} $ids; docker rm -f $ids; }} '
        ">/dev/null"
    )
    if undo is not None:
        from chaos.faults.placements import placements

        image = shlex.quote(helper_image())
        caps = " ".join(f"--cap-add {shlex.quote(c)}" for c in undo.cap_add)
        for where in placements(ctx, params, InjectionFailed):
            c = shlex.quote(where.container_id)
            short = where.container_id[:12]
            argv = " ".join(shlex.quote(a) for a in undo.argv).replace(NOTES, '"$notes"')
            snippet += (
                f"; if docker inspect {c} >/dev/null 2>&1; then "
                f"notes=$(grep '^{short} ' {NOTES_FILE} 2>/dev/null | cut -d' ' -f2 | tr '\\n' ' '); "
                f"docker run --rm --network none --pid container:{c} {caps} {image} {argv} "
                ">/dev/null 2>&1; fi"
            )
    return on_every_node(ctx, snippet + "; true")


def note_for_watchdog(ctx: FaultContext, lines: list[str]) -> None:
    """Add ``lines`` to the watchdog's notes (see :data:`NOTES_FILE`); nothing when
    there is no watchdog. One small write into its container, as its deadline is."""
    import io
    import tarfile

    if ctx.watchdog is None:
        return
    api = ctx.runtime.docker.api
    old = b""
    with contextlib.suppress(Exception):
        stream, _ = api.get_archive(ctx.watchdog, NOTES_FILE)
        packed = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=packed) as archive:
            member = archive.extractfile(archive.getmembers()[0])
            old = member.read() if member else b""
    data = old + "".join(f"{line}\n" for line in lines).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(NOTES_FILE.rsplit("/", 1)[1])
        info.size = len(data)
        info.mtime = int(time.time())
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(data))
    with contextlib.suppress(Exception):
        api.put_archive(ctx.watchdog, NOTES_FILE.rsplit("/", 1)[0], buffer.getvalue())
