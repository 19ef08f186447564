"""Watchdog commands for swarm faults: docker CLI snippets run against the managers.

A swarm fault's dead man's switch runs in the swarm node image (it has the
docker CLI), with host networking so that engines published on this host's
loopback (a lab) are reachable, and the local engine's socket mounted. The
snippet is tried against each manager in turn until one succeeds, because the
manager chaosdrill used may be the node the fault took away.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.helpers import HelperCommand

if TYPE_CHECKING:
    from chaos.fault import FaultContext

ON_ANY_MANAGER = 'snippet="$1"; shift; for h in "$@"; do DOCKER_HOST="$h" sh -c "$snippet" && exit 0; done; exit 1'


def manager_endpoints(ctx: FaultContext) -> list[str]:
    """Manager endpoints a watchdog can use with no credentials: plain tcp or unix."""
    inventory = ctx.runtime.swarm.inventory
    return [
        m.endpoint
        for m in inventory.managers
        if m.tls is None and m.endpoint.startswith(("tcp://", "unix://"))
    ]


def on_any_manager(ctx: FaultContext, snippet: str) -> HelperCommand | None:
    """A watchdog command running ``snippet`` (sh, docker CLI) on the first manager that
    accepts it; None when no manager endpoint is usable without credentials."""
    endpoints = manager_endpoints(ctx)
    if not endpoints:
        return None
    return HelperCommand(
        ("sh", "-c", ON_ANY_MANAGER, "watchdog", snippet, *endpoints),
        network_mode="host",
        engine_socket=True,
        image=ctx.runtime.swarm_node_image,
    )


def local_engine_command(ctx: FaultContext, argv: tuple[str, ...]) -> HelperCommand:
    """A watchdog command run against the local engine (a node controller's undo)."""
    return HelperCommand(
        argv, network_mode="host", engine_socket=True, image=ctx.runtime.swarm_node_image
    )
