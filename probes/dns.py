"""``dns``: a name resolves from inside a container's network namespace.

Docker's embedded DNS server (127.0.0.11, which resolves container names and
network aliases on user-defined networks) only answers inside a container's
network namespace, so the lookup cannot be made from the host. The probe runs
``getent ahostsv4`` (the name on its standard input) under ``timeout`` in a short-lived
``chaosdrill/netns-helper:1`` container that joins the container's namespace
(``network_mode: container:<id>``, no extra capability). Docker shares the
container's ``/etc/resolv.conf`` and ``/etc/hosts`` with the helper, so the
lookup asks the same servers, in the same order, as the container's own
(glibc) programs do.

Starting the helper costs about 0.3 s per container per sample on top of the
lookup itself: keep the sampling ``interval`` well above that. A paused
container is still probed (its namespace answers); a stopped or missing one
is a failed check naming it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from chaos.plugin_api import DEADLINE_GRACE, HELPER_GRACE, Check, Params, Probe, Timeout, hookimpl
from probes._containers import (
    HelperUnavailable,
    inspect_all,
    run_in_netns_of,
    seconds,
    usable,
    within_helper_timeout,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef

HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")
"""Letters, digits, ``_``, ``-`` and dots; never a leading ``-`` (not an option)."""

NOT_FOUND = 2
"""getent's exit code when the key is not found (NXDOMAIN, or no server answered)."""
TIMED_OUT = 124
"""coreutils ``timeout``'s exit code when it had to stop the command."""


class DnsParams(Params):
    host: str = Field(min_length=1, max_length=253)
    """The name to resolve, as the container would (e.g. another container's name)."""
    container: str | None = None
    """Container name or id; or give the step a ``target``."""
    expect_address: str | None = None
    """An IPv4 address that must be among the answers."""
    timeout: Timeout = 2.0
    """For the lookup, not counting the helper's start-up."""

    @field_validator("host")
    @classmethod
    def _hostname(cls, value: str) -> str:
        if not HOSTNAME.match(value):
            raise ValueError(
                f"expected a host name (letters, digits, '-', '_', '.'), got {value!r}"
            )
        return value

    @field_validator("expect_address")
    @classmethod
    def _ipv4(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise ValueError(f"expected an IPv4 address, got {value!r}") from None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        return within_helper_timeout(value, "the dns probe")


RESOLVE = 'read -r name; exec getent ahostsv4 -- "$name"'
"""Resolve the name read from standard input. Constant: nothing is interpolated."""


class DnsProbe(Probe):
    name = "dns"
    summary = "a name resolves (getent) inside the container's network namespace"
    Params = DnsParams
    accepts_target = True

    def deadline(self, params: Any, targets: tuple[TargetRef, ...] = ()) -> float:
        """The check runs a helper container in each container's namespace, one after another: its own timeout, each."""
        each = params.timeout + DEADLINE_GRACE + HELPER_GRACE
        return each * max(1, 1 if params.container else len(targets))

    def check(self, runtime: Runtime, params: DnsParams, targets: tuple[TargetRef, ...]) -> Check:
        results = inspect_all(runtime, params.container, targets)
        if not results:
            return Check(False, "no container to resolve from (the target selected none)")
        details = []
        for item in results:
            container_id, problem = usable(item)
            if container_id is None:
                return Check(False, problem)
            ok, detail = self._resolve(runtime, container_id, item.label, params)
            if not ok:
                return Check(False, detail)
            details.append(detail)
        return Check(True, "; ".join(details))

    @staticmethod
    def _resolve(
        runtime: Runtime, container_id: str, label: str, params: DnsParams
    ) -> tuple[bool, str]:
        # the name comes on standard input: a helper's arguments are visible to anyone
        argv = ["timeout", seconds(params.timeout), "sh", "-c", RESOLVE, "dns"]
        try:
            code, output = run_in_netns_of(
                runtime,
                container_id,
                argv,
                f"dns probe in {label}",
                stdin=f"{params.host}\n".encode(),
            )
        except HelperUnavailable as exc:
            return False, str(exc)
        if code == TIMED_OUT:
            return False, f"{label}: {params.host} did not resolve within {params.timeout:g}s"
        if code == NOT_FOUND:
            return False, f"{label}: {params.host} does not resolve"
        if code != 0:
            tail = output.strip().splitlines()[-1:] or [""]
            return False, f"{label}: resolving {params.host} failed (exit {code}) {tail[0]}".strip()
        addresses = parse_ahosts(output)
        if not addresses:
            return False, f"{label}: {params.host} resolved to no IPv4 address"
        found = ", ".join(addresses)
        if params.expect_address and params.expect_address not in addresses:
            return (
                False,
                f"{label}: {params.host} -> {found}, not {params.expect_address}",
            )
        return True, f"{label}: {params.host} -> {found}"


def parse_ahosts(output: str) -> list[str]:
    """The distinct IPv4 addresses of ``getent ahostsv4`` output, in its order.

    Each line is ``ADDRESS SOCKTYPE [CANONICAL NAME]``; the same address comes
    once per socket type.
    """
    found: dict[str, None] = {}
    for line in output.splitlines():
        first = line.split(maxsplit=1)[:1]
        if not first:
            continue
        try:
            found[str(ipaddress.IPv4Address(first[0]))] = None
        except ValueError:
            continue  # not an answer line (a message from the helper)
    return list(found)


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(DnsProbe)
