"""The proxy helper container and its iptables ``nat`` rules, on any engine.

An injection starts one helper per target container, on the engine that runs
it: the fault helper image, in the container's network namespace
(``network_mode: container:<id>``) with ``NET_ADMIN``, running
:mod:`chaos.faults.proxy_server` as the unprivileged user :data:`PROXY_UID`.
The rules go into a ``nat`` chain of the injection's own
(:func:`chaos.netns.chain_name`), applied with one ``iptables-restore
--noflush`` transaction exec'd as root in the helper:

* ingress: ``PREROUTING``, TCP to the port from outside (not ``lo``) is
  redirected to the proxy, which forwards it to where it was addressed (the
  container's own address: a locally made connection never passes
  ``PREROUTING``, so it is not redirected again);
* egress: ``OUTPUT``, TCP to the destination's addresses and port is
  redirected, except what :data:`PROXY_UID` sends (the proxy's own
  connections onwards).

Every helper carries the labels :data:`LABEL_PROXY` (the injection) and
:data:`LABEL_PROXY_TARGET` (the container whose namespace it shares), so a
revert, a watchdog or ``chaosdrill recover`` finds them all from the
injection id alone: the rules go first, then the helper.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.images import FAULT_HELPER_IMAGE
from chaos.netns import APPLY_RULES, chain_name
from chaos.plugin_api import (
    ChaosError,
    HelperCommand,
    InjectionFailed,
    RevertFailed,
    describe_engine_error,
    exec_run,
)

if TYPE_CHECKING:
    import docker

    from chaos.plugin_api import Runtime

PROXY_UID = 47474
"""The proxy's user: the egress rule exempts what it sends, so nothing loops."""
LABEL_PROXY = "chaosdrill.proxy"
LABEL_PROXY_TARGET = "chaosdrill.proxy.target"
CODE_DIR = "/opt/chaosdrill-proxy"
READY_WITHIN = 20.0
"""Seconds the proxy may take to listen (python starting on a loaded machine)."""
MODULES = ("proxy_wire.py", "proxy_server.py")

REVERT_NAT = """
c="$1"
for hook in PREROUTING OUTPUT; do
  while iptables -w 5 -t nat -D "$hook" -j "$c" 2>/dev/null; do :; done
done
iptables -w 5 -t nat -F "$c" 2>/dev/null; iptables -w 5 -t nat -X "$c" 2>/dev/null
if iptables -w 5 -t nat -S "$c" >/dev/null 2>&1; then echo "chain $c still present"; exit 1; fi
exit 0
"""
"""Remove the injection's own nat chain ($1) and the jumps to it. Idempotent."""

WATCHDOG_LOCAL = (
    REVERT_NAT.replace("exit 0\n", "")
    + """
curl -sS --max-time 20 --unix-socket "$3" -o /dev/null -X DELETE \
  "http://localhost/containers/$2?force=1"
"""
)
"""A container target's dead man's switch, run in its namespace: the rules
($1, the chain), then the helper ($2, its name) through the engine socket ($3)."""


def proxy_name(injection_id: str, target_id: str) -> str:
    """One helper per injection and target container (two tasks may share a node)."""
    return f"chaosdrill-proxy-{injection_id}-{target_id[:12]}"


def nat_rules(
    chain: str, hook: str, matches: list[str], proxy_port: int, *, own_uid: int | None = None
) -> str:
    """The ``iptables-restore`` text: the chain, one REDIRECT per match, the jump."""
    lines = ["*nat", f":{chain} - [0:0]"]
    owner = f" -m owner ! --uid-owner {own_uid}" if own_uid is not None else ""
    for match in matches:
        lines.append(f"-A {chain} -p tcp {match}{owner} -j REDIRECT --to-ports {proxy_port}")
    lines += [f"-I {hook} 1 -j {chain}", "COMMIT"]
    return "\n".join(lines)


def ingress_rules(chain: str, port: int, proxy_port: int) -> str:
    return nat_rules(chain, "PREROUTING", [f"! -i lo --dport {port}"], proxy_port)


def egress_rules(chain: str, addresses: list[str], port: int, proxy_port: int) -> str:
    matches = [f"-d {address} --dport {port}" for address in addresses]
    return nat_rules(chain, "OUTPUT", matches, proxy_port, own_uid=PROXY_UID)


def _code_archive() -> bytes:
    """The proxy's modules as a tar for ``/opt``, importable as ``chaos.faults.*``
    (with empty package files: nothing else of chaosdrill goes in)."""
    here = Path(__file__).resolve().parent
    files = {
        "chaos/__init__.py": b"",
        "chaos/faults/__init__.py": b"",
        **{f"chaos/faults/{name}": (here / name).read_bytes() for name in MODULES},
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for directory in (
            "chaosdrill-proxy",
            "chaosdrill-proxy/chaos",
            "chaosdrill-proxy/chaos/faults",
        ):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            archive.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"chaosdrill-proxy/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def start_proxy(
    client: docker.DockerClient,
    *,
    target_id: str,
    target_name: str,
    injection_id: str,
    config: dict[str, Any],
    labels: dict[str, str],
    what: str,
) -> tuple[str, int]:
    """Start the proxy in ``target_id``'s namespace; return (helper id, its port)."""
    import docker.errors

    try:
        client.images.get(FAULT_HELPER_IMAGE)
    except docker.errors.ImageNotFound:
        raise InjectionFailed(
            f"{what}: the fault helper image {FAULT_HELPER_IMAGE} is not on the engine that "
            f"runs {target_name}; build it with `chaosdrill images build` (no registry needed), "
            "or for a lab: `chaosdrill lab load chaosdrill/fault-helper:1`"
        ) from None
    except Exception as exc:
        raise InjectionFailed(f"{what}: {describe_engine_error(exc)}") from None
    container = None
    try:
        container = client.containers.create(
            FAULT_HELPER_IMAGE,
            command=["python3", "-m", "chaos.faults.proxy_server", json.dumps(config)],
            name=proxy_name(injection_id, target_id),
            user=f"{PROXY_UID}:{PROXY_UID}",
            environment={"PYTHONPATH": CODE_DIR, "PYTHONDONTWRITEBYTECODE": "1"},
            network_mode=f"container:{target_id}",
            cap_add=["NET_ADMIN"],
            labels={**labels, LABEL_PROXY: injection_id, LABEL_PROXY_TARGET: target_id},
        )
        client.api.put_archive(container.id, "/opt", _code_archive())
        container.start()
    except Exception as exc:
        detail = describe_engine_error(exc)
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        raise InjectionFailed(f"{what}: starting the proxy helper: {detail}") from None
    return container.id, _wait_ready(client, container, what)


def _wait_ready(client: docker.DockerClient, container: Any, what: str) -> int:
    deadline = time.monotonic() + READY_WITHIN
    while True:
        logs = ""
        with contextlib.suppress(Exception):
            logs = client.api.logs(container.id, stdout=True, stderr=True).decode(
                "utf-8", "replace"
            )
        for line in logs.splitlines():
            if line.startswith("ready "):
                return int(line.split()[1])
        status = ""
        with contextlib.suppress(Exception):
            status = client.api.inspect_container(container.id)["State"]["Status"]
        if status not in ("created", "running") or time.monotonic() > deadline:
            with contextlib.suppress(Exception):
                container.remove(force=True)
            why = "exited" if status not in ("created", "running") else "is not listening"
            raise InjectionFailed(
                f"{what}: the proxy helper {why} after {READY_WITHIN:g}s at most: "
                f"{logs.strip()[-500:] or 'no output'}"
            )
        time.sleep(0.1)


def apply_rules(client: docker.DockerClient, proxy_id: str, rules: str, what: str) -> None:
    """The rules, in one transaction, exec'd as root in the proxy helper."""
    try:
        result = exec_run(client.api, proxy_id, ["sh", "-c", APPLY_RULES, "apply", rules], user="0")
    except Exception as exc:
        raise InjectionFailed(
            f"{what}: applying the redirect: {describe_engine_error(exc)}"
        ) from None
    if result.exit_code != 0:
        raise InjectionFailed(
            f"{what}: iptables-restore failed (exit {result.exit_code}): {result.output.strip()}"
        )


def remove_proxies(
    client: docker.DockerClient,
    injection_id: str,
    helper_labels: dict[str, str],
    what: str,
    targets: tuple[str, ...] = (),
) -> list[str]:
    """Undo an injection on one engine: for every helper of it, the rules in its
    target's namespace, then the helper; and the rules in ``targets`` (container
    ids known from the step or the state) even when no helper is found there
    (someone removed it: its rule still redirects to nothing). Returns the
    targets it undid; raises RevertFailed (after trying them all) when a rule
    could not be removed."""
    try:
        found = client.api.containers(all=True, filters={"label": f"{LABEL_PROXY}={injection_id}"})
    except Exception as exc:
        raise RevertFailed(
            f"{what}: listing its proxy helpers: {describe_engine_error(exc)}"
        ) from None
    problems: list[str] = []
    undone: list[str] = []
    chain = chain_name(injection_id)
    for summary in found:
        target = (summary.get("Labels") or {}).get(LABEL_PROXY_TARGET, "")
        try:
            _revert_rules(client, summary, target, chain, helper_labels)
        except ChaosError as exc:
            problems.append(str(exc))
            continue  # the helper stays: it is what finds the rules again
        with contextlib.suppress(Exception):
            client.api.remove_container(summary["Id"], force=True)
        undone.append(target[:12])
    for target in targets:
        if any(target[:12] == done[:12] for done in undone):
            continue
        try:
            _revert_rules(client, {}, target, chain, helper_labels)
        except ChaosError as exc:
            problems.append(str(exc))
            continue
        undone.append(target[:12])
    if problems:
        raise RevertFailed(f"{what}: " + "; ".join(problems))
    return undone


def _revert_rules(
    client: docker.DockerClient,
    summary: dict[str, Any],
    target: str,
    chain: str,
    helper_labels: dict[str, str],
) -> None:
    """REVERT_NAT in the proxy helper when it runs, else in a one-off helper in the
    target's namespace; a target that is gone took its rules with it."""
    import docker.errors

    argv = ["sh", "-c", REVERT_NAT, "revert", chain]
    if summary.get("State") == "running":
        with contextlib.suppress(Exception):
            result = exec_run(client.api, summary["Id"], argv, user="0")
            if result.exit_code == 0:
                return
    try:
        info = client.api.inspect_container(target)
    except docker.errors.NotFound:
        return
    except Exception as exc:
        raise RevertFailed(f"inspecting {target[:12]}: {describe_engine_error(exc)}") from None
    if not info["State"].get("Running"):
        return  # a stopped container's namespace, and its rules, are gone
    try:
        client.containers.run(
            FAULT_HELPER_IMAGE,
            argv,
            remove=True,
            network_mode=f"container:{target}",
            cap_add=["NET_ADMIN"],
            labels=helper_labels,
            stderr=True,
        )
    except Exception as exc:
        raise RevertFailed(
            f"removing the redirect from {target[:12]}: {describe_engine_error(exc)}"
        ) from None


def local_watchdog(runtime: Runtime, target_id: str, injection_id: str) -> HelperCommand:
    """A container target's switch: in its namespace, on its engine (the runtime's)."""
    from chaos.helper_containers import ENGINE_SOCKET

    return HelperCommand(
        (
            "sh",
            "-c",
            WATCHDOG_LOCAL,
            "revert",
            chain_name(injection_id),
            proxy_name(injection_id, target_id),
            ENGINE_SOCKET,
        ),
        network_of=target_id,
        cap_add=("NET_ADMIN",),
        engine_socket=True,
    )


def node_snippet(injection_id: str) -> str:
    """For a swarm watchdog: undo the injection on the engine at ``$DOCKER_HOST``."""
    chain = shlex.quote(chain_name(injection_id))
    revert = shlex.quote(REVERT_NAT)
    image = shlex.quote(FAULT_HELPER_IMAGE)
    label = shlex.quote(f"label={LABEL_PROXY}={injection_id}")
    target = shlex.quote(f'{{{{index .Config.Labels "{LABEL_PROXY_TARGET}"}}}}')
    return (
        f"for p in $(docker ps -aq --filter {label}); do "
        f't=$(docker inspect -f {target} "$p") || continue; '
        f'docker run --rm --network "container:$t" --cap-add NET_ADMIN --label chaosdrill.helper=1 '
        f"{image} sh -c {revert} revert {chain}; "
        f'docker rm -f "$p" >/dev/null; done'
    )
