"""Watchdog commands for swarm faults: docker CLI snippets run against the managers.

A swarm fault's dead man's switch runs in the swarm node image (it has the
docker CLI), with host networking so that engines published on this host's
loopback (a lab) are reachable, and the local engine's socket mounted. The
snippet is tried against each manager in turn until one succeeds, because the
manager chaosdrill used may be the node the fault took away.

A manager behind TLS is reached with the inventory's client files, mounted
read-only into the watchdog (``DOCKER_TLS_VERIFY=1``, ``DOCKER_CERT_PATH``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.plugin_api import HelperCommand

if TYPE_CHECKING:
    from chaos.plugin_api import FaultContext, InventoryNode

ON_ANY_MANAGER = (
    'snippet="$1"; shift; for e in "$@"; do h="${e%%|*}"; c="${e#"$h"}"; c="${c#|}"; '
    'if [ -n "$c" ]; then DOCKER_HOST="$h" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$c" '
    'sh -c "$snippet" && exit 0; else DOCKER_HOST="$h" sh -c "$snippet" && exit 0; fi; '
    "done; exit 1"
)
"""Each argument after the snippet is ``ENDPOINT`` or ``ENDPOINT|CERT_DIR``."""
CERTS_INSIDE = "/chaosdrill-tls"
"""Where a watchdog finds client files: ``/chaosdrill-tls/N/{ca,cert,key}.pem``."""


def _tls_files(node: InventoryNode) -> tuple[str, str, str] | None:
    """The node's (ca, cert, key) as absolute host paths, when the docker CLI can use
    them: all three given and the server verified."""
    tls = node.tls
    if tls is None or not (tls.verify and tls.ca and tls.cert and tls.key):
        return None
    ca, cert, key = (str(Path(p).resolve()) for p in (tls.ca, tls.cert, tls.key))
    return ca, cert, key


def manager_endpoints(ctx: FaultContext) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """Manager endpoints a watchdog can use (``ENDPOINT`` or ``ENDPOINT|CERT_DIR``), and
    the client files to mount for them: plain tcp, unix, and tcp with TLS files."""
    return engine_endpoints(ctx.runtime.swarm.inventory.managers)


def engine_endpoints(
    nodes: Sequence[InventoryNode],
) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    """:func:`manager_endpoints` for any nodes (in the order given)."""
    endpoints: list[str] = []
    cert_dirs: dict[tuple[str, str, str], str] = {}
    for node in nodes:
        if not node.endpoint.startswith(("tcp://", "unix://")):
            continue
        if node.tls is None:
            endpoints.append(node.endpoint)
            continue
        files = _tls_files(node)
        if files is None:
            continue
        directory = cert_dirs.setdefault(files, f"{CERTS_INSIDE}/{len(cert_dirs)}")
        endpoints.append(f"{node.endpoint}|{directory}")
    mounts = tuple(
        (source, f"{directory}/{name}")
        for files, directory in cert_dirs.items()
        for source, name in zip(files, ("ca.pem", "cert.pem", "key.pem"), strict=True)
    )
    return endpoints, mounts


def on_any_manager(ctx: FaultContext, snippet: str) -> HelperCommand | None:
    """A watchdog command running ``snippet`` (sh, docker CLI) on the first manager that
    accepts it; None when no manager endpoint is usable (ssh, or TLS without the
    ca, cert and key files)."""
    endpoints, files = manager_endpoints(ctx)
    if not endpoints:
        return None
    return HelperCommand(
        ("sh", "-c", ON_ANY_MANAGER, "watchdog", snippet, *endpoints),
        network_mode="host",
        engine_socket=True,
        image=ctx.runtime.swarm_node_image,
        files=files,
    )


ON_EVERY_NODE = (
    'snippet="$1"; shift; failed=0; for e in "$@"; do h="${e%%|*}"; c="${e#"$h"}"; c="${c#|}"; '
    'if [ -n "$c" ]; then DOCKER_HOST="$h" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$c" '
    'sh -c "$snippet" || failed=1; else DOCKER_HOST="$h" sh -c "$snippet" || failed=1; fi; '
    "done; exit $failed"
)
"""Like :data:`ON_ANY_MANAGER`, but the snippet runs against every endpoint."""


def on_every_node(ctx: FaultContext, snippet: str) -> HelperCommand | None:
    """A watchdog command running ``snippet`` (sh, docker CLI) against every node's
    engine (a fault's helpers on whichever node runs them); None when no node has
    an endpoint a watchdog can use."""
    endpoints, files = engine_endpoints(ctx.runtime.swarm.inventory.nodes)
    if not endpoints:
        return None
    return HelperCommand(
        ("sh", "-c", ON_EVERY_NODE, "watchdog", snippet, *endpoints),
        network_mode="host",
        engine_socket=True,
        image=ctx.runtime.swarm_node_image,
        files=files,
    )


def local_engine_command(ctx: FaultContext, argv: tuple[str, ...]) -> HelperCommand:
    """A watchdog command run against the local engine (a node controller's undo)."""
    return HelperCommand(
        argv, network_mode="host", engine_socket=True, image=ctx.runtime.swarm_node_image
    )
