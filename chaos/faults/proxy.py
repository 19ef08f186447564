"""Proxy and HTTP faults: latency, bandwidth, timeouts, resets and HTTP errors, no netem needed.

Each injection puts a small proxy (:mod:`chaos.faults.proxy_server`) in the
target's network namespace and redirects the chosen TCP traffic through it
with an iptables ``nat`` rule in a chain of its own (see
:mod:`chaos.faults.proxy_helper`): the connections into the target on
``port`` (``direction: ingress``), or from the target to ``to``
(``direction: egress``). Reverting removes the rule, then the proxy; the
watchdog armed before the injection does the same at the deadline.

On a Swarm service the proxy goes next to every running task, through the
engine of the node that runs it (as ``service.kill_tasks`` reaches them), and
the watchdog undoes the injection on every node's engine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from chaos.faults import proxy_helper
from chaos.faults.network import container_addresses
from chaos.faults.swarm_commands import on_every_node
from chaos.labels import LABEL_CARRIES, LABEL_LEDGER
from chaos.netns import chain_name
from chaos.plugin_api import (
    Duration,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    Params,
    Regex,
    RevertFailed,
    describe_engine_error,
    engine_errors,
    hookimpl,
)

if TYPE_CHECKING:
    import docker

    from chaos.plugin_api import Registry, TargetRef


class ToParams(Params):
    """Where egress traffic goes: an address or another target, and a port."""

    address: str | None = None
    """An IPv4 address or network (CIDR)."""
    target: str | None = None
    """Another target of the experiment: every address of its containers (a
    service: its virtual IPs)."""
    port: int = Field(ge=1, le=65535)

    @field_validator("address")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                return str(ipaddress.IPv4Network(value, strict=False))
            except ValueError as exc:
                raise ValueError(f"invalid IPv4 address or network: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_destination(self) -> ToParams:
        if (self.address is None) == (self.target is None):
            raise ValueError("to takes an address or a target (one of them), and a port")
        return self


class ProxyParams(Params):
    """Which traffic goes through the proxy."""

    port: int | None = Field(default=None, ge=1, le=65535)
    """``direction: ingress``: the target's TCP port whose incoming connections go through."""
    direction: Literal["ingress", "egress"] = "ingress"
    """``ingress``: connections into the target on ``port``; ``egress``: the
    target's connections to ``to``."""
    to: ToParams | None = None
    """``direction: egress``: ``{address: IP, port: N}`` or ``{target: NAME, port: N}``."""

    @model_validator(mode="after")
    def _direction(self) -> ProxyParams:
        if self.direction == "ingress":
            if self.port is None:
                raise ValueError(
                    "direction: ingress needs a port (the target's TCP port, e.g. port: 8080)"
                )
            if self.to is not None:
                raise ValueError("to goes with direction: egress; ingress takes a port only")
        else:
            if self.to is None:
                raise ValueError(
                    "direction: egress needs to: {address: IP, port: N} or {target: NAME, port: N}"
                )
            if self.port is not None:
                raise ValueError("with direction: egress the port goes in to: {..., port: N}")
        return self


class LatencyParams(ProxyParams):
    delay: Duration = Field(gt=0)
    jitter: Duration = 0.0
    """Each delay is drawn uniformly from ``delay - jitter`` to ``delay + jitter`` (never below 0)."""
    per: Literal["connection", "chunk"] = "connection"
    """``connection``: once, before the connection goes on; ``chunk``: every chunk
    of the answer (data back to the side that connected)."""


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?(?:/s)?\s*$", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_rate(value: Any) -> int:
    """Bytes a second from ``65536``, ``64KiB``, ``1MB/s``."""
    if isinstance(value, bool):
        raise ValueError("expected bytes a second, such as 65536 or 64KiB")
    if isinstance(value, (int, float)):
        rate = float(value)
    else:
        match = _RATE.match(str(value))
        if match is None:
            raise ValueError(
                f"expected bytes a second, such as 65536, 64KiB or 1MB/s, got {value!r}"
            )
        rate = float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    if rate < 1:
        raise ValueError(f"the rate must be at least 1 byte a second, got {value!r}")
    return int(rate)


class BandwidthParams(ProxyParams):
    rate: int
    """Bytes a second, each way, per connection: ``65536``, ``64KiB``, ``1MB/s``."""

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> int:
        return parse_rate(value)


class ResetParams(ProxyParams):
    after: int = Field(default=0, ge=0)
    """Bytes passed (both ways) before the reset; 0: reset at once, before anything passes."""


Method = Literal["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]


class HttpParams(ProxyParams):
    percent: float = Field(default=100, gt=0, le=100)
    """Share of the matching requests acted on."""
    path: Regex | None = None
    """RE2 pattern searched in the request target (path and query); none: every path."""
    method: Method | list[Method] | None = None
    """A method or a list of them; none: every method."""

    @field_validator("path")
    @classmethod
    def _python_re(cls, value: str | None) -> str | None:
        """The proxy matches with Python's ``re`` (the helper has no RE2): the pattern
        must mean the same to both, so it must compile there too."""
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"the proxy cannot use this pattern ({exc}); write it without "
                    "RE2-only syntax (\\z: $, \\pN: [0-9])"
                ) from None
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.upper()
        if isinstance(value, list):
            return [v.upper() if isinstance(v, str) else v for v in value]
        return value

    def rule(self) -> dict[str, Any]:
        methods = [self.method] if isinstance(self.method, str) else self.method
        return {"percent": self.percent, "path": self.path, "methods": methods}


class AbortParams(HttpParams):
    status: int = Field(default=503, ge=200, le=599)
    """The status the proxy answers with, itself (the target never sees the request)."""


class HttpDelayParams(HttpParams):
    delay: Duration = Field(gt=0)
    jitter: Duration = 0.0


class ProxyFault(Fault):
    """Base of the proxy faults: subclasses say what the proxy does."""

    reversible = True
    target_kinds = ("container", "service")

    @abstractmethod
    def proxy_config(self, params: Any) -> dict[str, Any]:
        """What the proxy does (see :mod:`chaos.faults.proxy_server`): JSON data."""

    def references(self, params: ProxyParams) -> dict[str, list[str]]:
        if params.to is not None and params.to.target is not None:
            return {"to": [params.to.target]}
        return {}

    def inject(self, ctx: FaultContext, params: ProxyParams) -> dict[str, Any]:
        what = f"{self.name} on {ctx.target.name}"
        places = self._places(ctx, what)
        addresses = self._addresses(ctx, params, what) if params.direction == "egress" else []
        chain = chain_name(ctx.injection_id)
        config = self.proxy_config(params)
        labels = {**ctx.runtime.helper_labels(), **_carrier_labels(ctx)}
        started: list[dict[str, Any]] = []
        try:
            for node, client, container_id in places:
                proxy_id, proxy_port = proxy_helper.start_proxy(
                    client,
                    target_id=container_id,
                    target_name=ctx.target.name,
                    injection_id=ctx.injection_id,
                    config=config,
                    labels=labels,
                    what=what,
                )
                if params.direction == "ingress":
                    assert params.port is not None
                    rules = proxy_helper.ingress_rules(chain, params.port, proxy_port)
                else:
                    assert params.to is not None
                    rules = proxy_helper.egress_rules(chain, addresses, params.to.port, proxy_port)
                proxy_helper.apply_rules(client, proxy_id, rules, what)
                started.append(
                    {
                        **({"node": node} if node else {}),
                        "container": container_id[:12],
                        "proxy": proxy_id[:12],
                        "proxy_port": proxy_port,
                    }
                )
        except BaseException:
            for _, client, _ in places:
                # what cannot be undone here, the ledger and the watchdog still hold
                with contextlib.suppress(Exception):
                    proxy_helper.remove_proxies(
                        client, ctx.injection_id, ctx.runtime.helper_labels(), what
                    )
            raise
        return {
            "chain": chain,
            "direction": params.direction,
            **({"addresses": addresses} if addresses else {}),
            "proxies": started,
        }

    def revert(self, ctx: FaultContext, params: ProxyParams, state: dict[str, Any]) -> None:
        what = f"reverting {self.name} on {ctx.target.name}"
        labels = ctx.runtime.helper_labels()
        if ctx.target.kind != "service":
            proxy_helper.remove_proxies(
                ctx.runtime.docker, ctx.injection_id, labels, what, (ctx.target.id,)
            )
            return
        recorded = state.get("proxies")
        tasks: dict[str, list[str]] = {}
        if isinstance(recorded, list):
            for placed in recorded:
                if isinstance(placed, dict) and isinstance(placed.get("node"), str):
                    container = placed.get("container")
                    tasks.setdefault(placed["node"], [])
                    if isinstance(container, str) and container:
                        tasks[placed["node"]].append(container)
        else:  # nothing recorded (the runner died while injecting): every node
            tasks = {node.name: [] for node in ctx.runtime.swarm.inventory.nodes}
        problems = []
        for node, containers in sorted(tasks.items()):
            try:
                client = ctx.runtime.swarm.client(node)
                proxy_helper.remove_proxies(
                    client, ctx.injection_id, labels, f"{what} ({node})", tuple(containers)
                )
            except RevertFailed as exc:
                problems.append(str(exc))
            except Exception as exc:
                problems.append(f"{what} ({node}): {describe_engine_error(exc)}")
        if problems:
            raise RevertFailed("; ".join(problems))

    def watchdog(self, ctx: FaultContext, params: ProxyParams) -> HelperCommand | None:
        if ctx.target.kind == "service":
            return on_every_node(ctx, proxy_helper.node_snippet(ctx.injection_id))
        return proxy_helper.local_watchdog(ctx.runtime, ctx.target.id, ctx.injection_id)

    # -- where the proxies go, and where egress traffic goes --

    def _places(
        self, ctx: FaultContext, what: str
    ) -> list[tuple[str | None, docker.DockerClient, str]]:
        """(node, engine client, container id) for each container to put a proxy next to."""
        if ctx.target.kind != "service":
            with engine_errors(InjectionFailed, f"inspecting container {ctx.target.name}"):
                info = ctx.runtime.docker.api.inspect_container(ctx.target.id)
            if not info["State"].get("Running") or info["State"].get("Paused"):
                raise InjectionFailed(
                    f"{what}: the container is not running ({info['State'].get('Status')})"
                )
            if (info.get("HostConfig") or {}).get("NetworkMode") == "host":
                raise InjectionFailed(
                    f"{what}: the container uses the host's network, so the redirect would be "
                    "the host's own; refused"
                )
            return [(None, ctx.runtime.docker, ctx.target.id)]
        swarm = ctx.runtime.swarm
        tasks = swarm.call_as(
            InjectionFailed,
            what,
            lambda c: c.api.tasks(filters={"service": ctx.target.id, "desired-state": "running"}),
        )
        nodes = {n["ID"]: n for n in swarm.call_as(InjectionFailed, what, lambda c: c.api.nodes())}
        places = []
        for task in tasks:
            status = task.get("Status") or {}
            container = (status.get("ContainerStatus") or {}).get("ContainerID")
            node = nodes.get(task.get("NodeID", ""))
            if status.get("State") != "running" or not container or node is None:
                continue
            name = str(node["Description"]["Hostname"])
            try:
                client = swarm.client(name)
            except Exception as exc:
                raise InjectionFailed(f"{what}: reaching node {name}: {exc}") from None
            places.append((name, client, container))
        if not places:
            raise InjectionFailed(f"{what}: the service has no running task")
        return sorted(places, key=lambda p: (p[0] or "", p[2]))

    def _addresses(self, ctx: FaultContext, params: ProxyParams, what: str) -> list[str]:
        assert params.to is not None
        if params.to.address is not None:
            return [params.to.address]
        refs = ctx.selections.get(params.to.target or "", ())
        found: set[str] = set()
        for ref in refs:
            if ref.id == ctx.target.id:
                continue
            if ref.kind == "service":
                found.update(_virtual_ips(ctx, ref, what))
            else:
                found.update(container_addresses(ctx, ref))
        if not found:
            raise InjectionFailed(f"{what}: to.target {params.to.target} has no IPv4 address")
        return sorted(found)


def _carrier_labels(ctx: FaultContext) -> dict[str, str]:
    """Labels that keep ``chaosdrill recover`` from removing a proxy while its fault
    is open: traffic is redirected to it, and only the revert (rule first) may remove
    it. The ledger is the one the injection's watchdog names; without a watchdog
    (no ledger) the proxy is an ordinary helper."""
    if ctx.watchdog is None:
        return {}
    try:
        info = ctx.runtime.docker.api.inspect_container(ctx.watchdog)
    except Exception:
        return {}
    ledger = ((info.get("Config") or {}).get("Labels") or {}).get(LABEL_LEDGER)
    return {LABEL_CARRIES: ctx.injection_id, LABEL_LEDGER: ledger} if ledger else {}


def _virtual_ips(ctx: FaultContext, ref: TargetRef, what: str) -> list[str]:
    info = ctx.runtime.swarm.call_as(InjectionFailed, what, lambda c: c.api.inspect_service(ref.id))
    ips = (info.get("Endpoint") or {}).get("VirtualIPs") or []
    return [str(vip["Addr"]).split("/")[0] for vip in ips if vip.get("Addr")]


class ProxyLatency(ProxyFault):
    name = "proxy.latency"
    summary = "delay TCP connections or their data through a proxy (no netem needed)"
    Params = LatencyParams

    def proxy_config(self, params: LatencyParams) -> dict[str, Any]:
        return {"delay": params.delay, "jitter": params.jitter, "per": params.per}


class ProxyBandwidth(ProxyFault):
    name = "proxy.bandwidth"
    summary = "limit each TCP connection to a rate in bytes a second, each way"
    Params = BandwidthParams

    def proxy_config(self, params: BandwidthParams) -> dict[str, Any]:
        return {"rate": params.rate}


class ProxyTimeout(ProxyFault):
    name = "proxy.timeout"
    summary = "accept TCP connections and hold them: nothing goes on, nothing answers"
    Params = ProxyParams

    def proxy_config(self, params: ProxyParams) -> dict[str, Any]:
        return {"hold": True}


class ProxyReset(ProxyFault):
    name = "proxy.reset"
    summary = "reset TCP connections (RST) at once or after some bytes"
    Params = ResetParams

    def proxy_config(self, params: ResetParams) -> dict[str, Any]:
        return {"reset_after": params.after}


class HttpAbort(ProxyFault):
    name = "http.abort"
    summary = "answer a share of matching HTTP requests with an error status"
    Params = AbortParams

    def proxy_config(self, params: AbortParams) -> dict[str, Any]:
        return {"http": {"action": "abort", "status": params.status, **params.rule()}}


class HttpDelay(ProxyFault):
    name = "http.delay"
    summary = "delay a share of matching HTTP requests"
    Params = HttpDelayParams

    def proxy_config(self, params: HttpDelayParams) -> dict[str, Any]:
        return {
            "http": {
                "action": "delay",
                "delay": params.delay,
                "jitter": params.jitter,
                **params.rule(),
            }
        }


PROXY_FAULTS = (ProxyLatency, ProxyBandwidth, ProxyTimeout, ProxyReset, HttpAbort, HttpDelay)


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in PROXY_FAULTS:
        registry.add_fault(fault)
