"""Dead man's switches: reverting a fault at its deadline without the runner.

For every reversible fault that can describe its revert as a helper command
(:meth:`chaos.fault.Fault.watchdog`), the engine starts a watchdog container
before the fault is injected. A run arms them all before its method begins,
while the steady state is checked, so at a fault's ``at`` only the injection
itself happens; code injecting one fault at a time (:mod:`chaos.engine.session`)
arms its watchdog just before the injection.

A watchdog waits for its deadline, then runs the revert command and removes
itself. The deadline is a file inside the watchdog (wall-clock seconds on the
engine's host), given when it is armed or written later with
:func:`set_deadline`, and only ever moved later. A watchdog that has no
deadline after :data:`IDLE_LIMIT` seconds exits without doing anything: its
run died before the method, so there is nothing to revert. The runner disarms
(kills) a watchdog after a normal revert, so it only ever fires when the runner
could not revert: killed with SIGKILL, machine gone, or hung.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tarfile
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from chaos.docker_client import engine_errors
from chaos.errors import InjectionFailed
from chaos.helper_containers import HelperCommand
from chaos.labels import LABEL_LEDGER

if TYPE_CHECKING:
    from chaos.runtime import Runtime

GRACE_ENV = "CHAOSDRILL_WATCHDOG_GRACE"
DEFAULT_GRACE = 5.0
LABEL_WATCHDOG = "chaosdrill.watchdog"
LABEL_TARGET = "chaosdrill.target"
WATCHDOG_IMAGE_ENV = "CHAOSDRILL_WATCHDOG_IMAGE"
IDLE_LIMIT = 900
"""Seconds an armed watchdog waits for a deadline before it exits untouched."""
DEADLINE_DIR = "/tmp"
DEADLINE_FILE = "chaosdrill-deadline"

WAIT_THEN_RUN = f"""
f={DEADLINE_DIR}/{DEADLINE_FILE}
[ -n "$1" ] && echo "$1 set" > "$f"
idle=$2; shift 2; waited=0
while [ ! -s "$f" ]; do
  [ "$waited" -ge "$idle" ] && exit 0
  sleep 1; waited=$((waited + 1))
done
while :; do
  d=; tag=; read -r d tag < "$f"
  case "$tag:$d" in set:*[!0-9]*|set:) sleep 1; continue;; set:*) ;; *) sleep 1; continue;; esac
  now=$(date +%s)
  [ "$now" -ge "$d" ] && break
  sleep $((d - now))
done
exec "$@"
"""
"""The watchdog's whole program: wait for a deadline (an argument, or a file
written later), sleep until it, re-read it (it may have moved later), then run
the revert argv as given. A line without its ``set`` tag (a write still in
progress) is never taken for a deadline."""


def grace() -> float:
    try:
        return float(os.environ.get(GRACE_ENV, DEFAULT_GRACE))
    except ValueError:
        return DEFAULT_GRACE


def watchdog_image(runtime: Runtime) -> str:
    return os.environ.get(WATCHDOG_IMAGE_ENV, runtime.netns_image)


_offsets: weakref.WeakKeyDictionary[Runtime, float] = weakref.WeakKeyDictionary()
_offsets_lock = threading.Lock()


def engine_clock_offset(runtime: Runtime) -> float:
    """Seconds the engine host's clock is ahead of ours (0 for a local engine).

    Deadlines are wall-clock times on the engine's host, where the watchdog runs.
    """
    if runtime.engine_is_local:
        return 0.0
    with _offsets_lock, contextlib.suppress(TypeError):  # TypeError: not weakly referable
        if runtime in _offsets:
            return _offsets[runtime]
    offset = 0.0
    with contextlib.suppress(Exception):  # unknown: assume the clocks agree
        asked = time.time()
        stamp = str(runtime.docker.info().get("SystemTime", ""))
        answered = time.time()
        offset = _parse_engine_time(stamp) - (asked + answered) / 2
    with _offsets_lock, contextlib.suppress(TypeError):
        _offsets[runtime] = offset
    return offset


def _parse_engine_time(stamp: str) -> float:
    """``2026-12-02T07:50:00.123456789Z`` (nanoseconds, or an offset) to epoch seconds."""
    head, dot, rest = stamp.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        stamp = f"{head}.{digits[:6]}{zone}"
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def engine_deadline(runtime: Runtime, fire_at: float) -> int:
    """``fire_at`` (our wall clock) as whole seconds on the engine host's clock, rounded up."""
    return math.ceil(fire_at + engine_clock_offset(runtime))


def arm(
    runtime: Runtime,
    injection_id: str,
    target_id: str,
    command: HelperCommand,
    ledger_id: str = "",
    fire_at: float | None = None,
) -> str:
    """Start a watchdog that runs ``command`` at its deadline; return its id.

    ``fire_at`` (wall time) sets the deadline now; None arms it without one,
    to be given by :func:`set_deadline` (it exits untouched after
    :data:`IDLE_LIMIT` seconds without).
    """
    import docker.errors

    labels = {
        **runtime.helper_labels(),
        LABEL_WATCHDOG: injection_id,
        LABEL_TARGET: target_id,
        LABEL_LEDGER: ledger_id,
    }
    image = command.image or watchdog_image(runtime)
    try:
        runtime.docker.images.get(image)
    except docker.errors.ImageNotFound:
        raise InjectionFailed(
            f"the watchdog image {image} is not on the engine, so this fault would have no "
            "dead man's switch; build it with `chaosdrill images build` (no registry needed)"
        ) from None
    deadline = "" if fire_at is None else str(engine_deadline(runtime, fire_at))
    with engine_errors(InjectionFailed, f"arming the watchdog of {injection_id}"):
        container = runtime.docker.containers.run(
            image,
            command=[
                "sh",
                "-c",
                WAIT_THEN_RUN,
                "watchdog",
                deadline,
                str(IDLE_LIMIT),
                *command.argv,
            ],
            detach=True,
            auto_remove=True,
            labels=labels,
            name=f"chaosdrill-watchdog-{injection_id}",
            **command.container_options(),
        )
    return container.id


def set_deadline(runtime: Runtime, container_id: str, fire_at: float) -> bool:
    """Give an armed watchdog its deadline (or move it later); False when it is gone.

    One small write into the container (no process started in it).
    """
    line = f"{engine_deadline(runtime, fire_at)} set\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(DEADLINE_FILE)
        info.size = len(line)
        info.mtime = int(time.time())
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(line))
    try:
        return bool(runtime.docker.api.put_archive(container_id, DEADLINE_DIR, buffer.getvalue()))
    except Exception:  # not found, or stopped: it cannot fire any more
        return False


def disarm(runtime: Runtime, container_id: str) -> None:
    """Stop a watchdog before it fires. One that is already gone is fine."""
    with contextlib.suppress(Exception):
        runtime.docker.api.remove_container(container_id, force=True)
