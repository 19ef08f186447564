"""Dead man's switches: reverting a fault at its deadline without the runner.

For every reversible fault that can describe its revert as a helper command
(:meth:`chaos.fault.Fault.watchdog`), the engine starts a watchdog container
before the injection. It sleeps until the fault's planned revert time
plus a grace period, then runs the revert command and removes itself. The
runner disarms it (kills it) after a normal revert, so it only ever fires when
the runner could not revert: killed with SIGKILL, machine gone, or hung.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING

from chaos.docker_client import engine_errors
from chaos.errors import InjectionFailed
from chaos.helper_containers import HelperCommand

if TYPE_CHECKING:
    from chaos.runtime import Runtime

GRACE_ENV = "CHAOSDRILL_WATCHDOG_GRACE"
DEFAULT_GRACE = 5.0
LABEL_WATCHDOG = "chaosdrill.watchdog"
LABEL_TARGET = "chaosdrill.target"
LABEL_LEDGER = "chaosdrill.ledger"
"""The ledger the watchdog's entry is in (:attr:`chaos.ledger.Ledger.identity`)."""
WATCHDOG_IMAGE_ENV = "CHAOSDRILL_WATCHDOG_IMAGE"

SLEEP_THEN_RUN = 'sleep "$1"; shift; exec "$@"'
"""The watchdog's whole program: sleep, then run the revert argv as given."""


def grace() -> float:
    try:
        return float(os.environ.get(GRACE_ENV, DEFAULT_GRACE))
    except ValueError:
        return DEFAULT_GRACE


def watchdog_image(runtime: Runtime) -> str:
    return os.environ.get(WATCHDOG_IMAGE_ENV, runtime.netns_image)


def arm(
    runtime: Runtime,
    injection_id: str,
    target_id: str,
    fire_at: float,
    command: HelperCommand,
    ledger_id: str = "",
) -> str:
    """Start a watchdog that runs ``command`` at wall time ``fire_at``; return its id."""
    import docker.errors

    delay = max(0.0, fire_at - time.time())
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
    with engine_errors(InjectionFailed, f"arming the watchdog of {injection_id}"):
        container = runtime.docker.containers.run(
            image,
            command=["sh", "-c", SLEEP_THEN_RUN, "watchdog", f"{delay:.3f}", *command.argv],
            detach=True,
            auto_remove=True,
            labels=labels,
            name=f"chaosdrill-watchdog-{injection_id}",
            **command.container_options(),
        )
    return container.id


def disarm(runtime: Runtime, container_id: str) -> None:
    """Stop a watchdog before it fires. One that is already gone is fine."""
    with contextlib.suppress(Exception):
        runtime.docker.api.remove_container(container_id, force=True)
