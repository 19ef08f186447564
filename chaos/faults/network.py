"""Network faults, applied inside the target's own network namespace.

Every fault runs its tools (iptables, tc) in a short-lived helper container
that joins the target's network namespace (``network_mode: container:<id>``,
``NET_ADMIN`` only), so it works the same against a remote engine and touches
nothing outside that container. Rules live in an iptables chain of
chaosdrill's own, named after the injection (``CD-<injection id>``), and
qdiscs carry a handle derived from the injection (``cdXX:``): reverting deletes exactly those,
and the watchdog armed before the injection runs the same revert.

Rules are applied with one ``iptables-restore --noflush`` transaction: all or
nothing. The rules text is built here from validated values and handed to
the helper as one argument; no shell ever parses it.
"""

from __future__ import annotations

import ipaddress
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from chaos.netns import APPLY_QDISC, APPLY_RULES, REVERT, chain_name, qdisc_handle
from chaos.plugin_api import (
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    Params,
    RevertFailed,
    describe_engine_error,
    engine_call,
    engine_errors,
    hookimpl,
    run_in_netns,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, TargetRef

DNS_ADDRESS = "127.0.0.11"
"""Docker's embedded DNS server inside every user-defined network."""


def revert_command(ctx: FaultContext) -> HelperCommand:
    return HelperCommand(
        (
            "sh",
            "-c",
            REVERT,
            "revert",
            chain_name(ctx.injection_id),
            qdisc_handle(ctx.injection_id),
        ),
        network_of=ctx.target.id,
        cap_add=("NET_ADMIN",),
    )


def in_target_netns(
    ctx: FaultContext, argv: list[str], purpose: str, error: type[ChaosError] = InjectionFailed
) -> tuple[int, str]:
    """Run ``argv`` in the target's network namespace with NET_ADMIN: in the
    injection's watchdog when it is up (it already sits there), else in a helper."""
    return run_in_netns(
        ctx.runtime,
        ctx.target.id,
        argv,
        purpose=purpose,
        cap_add=("NET_ADMIN",),
        error=error,
        exec_in=ctx.watchdog,
    )


def container_addresses(ctx: FaultContext, ref: TargetRef) -> list[str]:
    """Every IPv4 address of a container, on all its networks."""
    with engine_errors(InjectionFailed, f"inspecting {ref.name}"):
        info = ctx.runtime.docker.api.inspect_container(ref.id)
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    return sorted({n["IPAddress"] for n in networks.values() if n.get("IPAddress")})


class NetworkFault(Fault):
    """Base of iptables faults: subclasses say which rules go into the chain."""

    reversible = True

    @abstractmethod
    def rules(self, ctx: FaultContext, params: Any) -> list[str]:
        """``-A`` rule bodies for the chain, without ``-A <chain>``."""

    def hooks(self, params: Any) -> tuple[str, ...]:
        return ("INPUT", "OUTPUT")

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        chain = chain_name(ctx.injection_id)
        lines = ["*filter", f":{chain} - [0:0]"]
        lines += [f"-A {chain} {rule}" for rule in self.rules(ctx, params)]
        lines += [f"-I {hook} 1 -j {chain}" for hook in self.hooks(params)]
        lines.append("COMMIT")
        code, output = in_target_netns(
            ctx,
            ["sh", "-c", APPLY_RULES, "apply", "\n".join(lines)],
            f"{self.name} on {ctx.target.name}",
        )
        if code != 0:
            raise InjectionFailed(
                f"{self.name} on {ctx.target.name}: iptables-restore failed "
                f"(exit {code}): {output.strip()}"
            )
        return {"chain": chain, "rules": len(lines) - 3}

    def revert(self, ctx: FaultContext, params: Any, state: dict[str, Any]) -> None:
        revert_netns(ctx, self.name)

    def watchdog(self, ctx: FaultContext, params: Any) -> HelperCommand:
        return revert_command(ctx)


def revert_netns(ctx: FaultContext, fault_name: str) -> None:
    """Run the revert script in the target's namespace; a gone container is fine."""
    import docker.errors

    try:
        ctx.runtime.docker.api.inspect_container(ctx.target.id)
    except docker.errors.NotFound:
        return  # the namespace went with the container
    except Exception as exc:
        raise RevertFailed(f"{fault_name} on {ctx.target.name}: {exc}") from None
    code, output = in_target_netns(
        ctx, list(revert_command(ctx).argv), f"reverting {fault_name}", RevertFailed
    )
    if code != 0:
        raise RevertFailed(f"{fault_name} on {ctx.target.name}: {output.strip()}")


Direction = Literal["both", "ingress", "egress"]


def _hooks(direction: str) -> tuple[str, ...]:
    return {"both": ("INPUT", "OUTPUT"), "ingress": ("INPUT",), "egress": ("OUTPUT",)}[direction]


class PartitionParams(Params):
    from_: list[str] = Field(alias="from", min_length=1)
    """Targets cut off from this step's target."""
    direction: Direction = "both"
    """``both`` cuts every packet between them; ``egress`` only what the target
    sends to them, ``ingress`` only what they send to the target."""

    model_config = {**Params.model_config, "populate_by_name": True}


class NetworkPartition(NetworkFault):
    name = "network.partition"
    summary = "cut traffic between the target and other targets (all their addresses)"
    Params = PartitionParams

    def references(self, params: PartitionParams) -> dict[str, list[str]]:
        return {"from": list(params.from_)}

    def hooks(self, params: PartitionParams) -> tuple[str, ...]:
        return _hooks(params.direction)

    def rules(self, ctx: FaultContext, params: PartitionParams) -> list[str]:
        peers = [ref for name in params.from_ for ref in ctx.selections.get(name, ())]
        addresses = sorted(
            {ip for ref in peers if ref.id != ctx.target.id for ip in container_addresses(ctx, ref)}
        )
        if not addresses:
            raise InjectionFailed(
                f"network.partition on {ctx.target.name}: the peers "
                f"({', '.join(params.from_)}) have no IP address to cut"
            )
        rules = []
        for ip in addresses:
            if params.direction in ("both", "ingress"):
                rules.append(f"-s {ip}/32 -j DROP")
            if params.direction in ("both", "egress"):
                rules.append(f"-d {ip}/32 -j DROP")
        return rules


class DnsParams(Params):
    mode: Literal["drop", "reject"] = "drop"
    """``drop``: queries time out; ``reject``: they fail at once (ICMP unreachable)."""


class NetworkDns(NetworkFault):
    name = "network.dns"
    summary = "name resolution through Docker's embedded DNS (127.0.0.11) fails"
    Params = DnsParams

    def hooks(self, params: DnsParams) -> tuple[str, ...]:
        return ("OUTPUT",)

    def rules(self, ctx: FaultContext, params: DnsParams) -> list[str]:
        # Docker DNATs 127.0.0.11:53 to a random port on the same address, so
        # match the address, not the port.
        target = "DROP" if params.mode == "drop" else "REJECT"
        return [f"-d {DNS_ADDRESS}/32 -j {target}"]


class BlackholeParams(Params):
    address: str | None = None
    """An IPv4 address or network (CIDR)."""
    port: int | None = Field(default=None, ge=1, le=65535)
    protocol: Literal["tcp", "udp", "all"] = "tcp"
    direction: Direction = "egress"

    @field_validator("address")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                return str(ipaddress.IPv4Network(value, strict=False))
            except ValueError as exc:
                raise ValueError(f"invalid IPv4 address or network: {exc}") from None
        return value


class NetworkBlackhole(NetworkFault):
    name = "network.blackhole"
    summary = "drop all traffic to (or from) an address and/or port"
    Params = BlackholeParams

    def hooks(self, params: BlackholeParams) -> tuple[str, ...]:
        return _hooks(params.direction)

    def rules(self, ctx: FaultContext, params: BlackholeParams) -> list[str]:
        if params.address is None and params.port is None:
            raise InjectionFailed("network.blackhole needs an address, a port, or both")
        protocols = (
            ["tcp", "udp"] if params.protocol == "all" and params.port else [params.protocol]
        )
        rules = []
        for proto in protocols:
            for side, addr_flag, port_flag, iface in (
                ("egress", "-d", "--dport", "! -o lo"),
                ("ingress", "-s", "--sport", "! -i lo"),
            ):
                if params.direction not in ("both", side):
                    continue
                parts = [iface]
                if proto != "all":
                    parts.append(f"-p {proto}")
                if params.address:
                    parts.append(f"{addr_flag} {params.address}")
                if params.port:
                    parts.append(f"{port_flag} {params.port}")
                rules.append(" ".join(parts) + " -j DROP")
        return rules


class LossParams(Params):
    percent: float = Field(gt=0, le=100)
    direction: Direction = "both"


class NetworkLoss(NetworkFault):
    name = "network.loss"
    summary = "drop a random share of packets (iptables statistic), loopback excepted"
    Params = LossParams

    def hooks(self, params: LossParams) -> tuple[str, ...]:
        return _hooks(params.direction)

    def rules(self, ctx: FaultContext, params: LossParams) -> list[str]:
        probability = f"{params.percent / 100:.6f}"
        match = f"-m statistic --mode random --probability {probability} -j DROP"
        rules = []
        if params.direction in ("both", "ingress"):
            rules.append(f"! -i lo {match}")
        if params.direction in ("both", "egress"):
            rules.append(f"! -o lo {match}")
        return rules


class QdiscFault(Fault):
    """Base of tc faults: one root qdisc with the injection's own handle on every
    interface but lo."""

    reversible = True
    kind: str = ""
    without_module: str = "on this kernel use network.loss, network.blackhole or network.bandwidth"
    """What to use instead when the kernel lacks the qdisc's module."""

    @abstractmethod
    def qdisc_args(self, params: Any) -> list[str]:
        """Arguments after ``tc qdisc add dev D root handle <handle> <kind>``."""

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        handle = qdisc_handle(ctx.injection_id)
        code, output = in_target_netns(
            ctx,
            ["sh", "-c", APPLY_QDISC, "apply", handle, self.kind, *self.qdisc_args(params)],
            f"{self.name} on {ctx.target.name}",
        )
        if code == 4:
            raise InjectionFailed(
                f"{self.name} on {ctx.target.name}: {output.strip().removeprefix('busy: ')}; "
                "an interface has one root qdisc, so traffic-shaping faults on one container "
                "cannot overlap"
            )
        if code != 0:
            if "qdisc kind is unknown" in output:
                raise InjectionFailed(
                    f"{self.name} needs the kernel module sch_{self.kind} (tc {self.kind}), "
                    f"which this engine's kernel lacks; {self.without_module}"
                )
            raise InjectionFailed(f"{self.name} on {ctx.target.name}: tc failed: {output.strip()}")
        return {"qdisc": self.kind, "handle": handle}

    def revert(self, ctx: FaultContext, params: Any, state: dict[str, Any]) -> None:
        revert_netns(ctx, self.name)

    def watchdog(self, ctx: FaultContext, params: Any) -> HelperCommand:
        return revert_command(ctx)


RATE = r"^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$"


class BandwidthParams(Params):
    rate: str = Field(pattern=RATE)
    """e.g. ``1mbit``, ``256kbit``."""
    burst: str = Field(default="32kbit", pattern=RATE)
    latency: str = Field(default="400ms", pattern=r"^\d+(ms|us|s)$")


class NetworkBandwidth(QdiscFault):
    name = "network.bandwidth"
    summary = "limit the rate of outgoing traffic (tc tbf)"
    Params = BandwidthParams
    kind = "tbf"

    def qdisc_args(self, params: BandwidthParams) -> list[str]:
        return ["rate", params.rate, "burst", params.burst, "latency", params.latency]


class LatencyParams(Params):
    delay: str = Field(pattern=r"^\d+(ms|us|s)$")
    jitter: str | None = Field(default=None, pattern=r"^\d+(ms|us|s)$")
    correlation: float | None = Field(default=None, ge=0, le=100)


class NetworkLatency(QdiscFault):
    name = "network.latency"
    summary = "delay outgoing packets (tc netem: needs sch_netem in the kernel)"
    Params = LatencyParams
    kind = "netem"
    without_module = (
        "use proxy.latency instead: it delays TCP connections through a proxy in the "
        "target's namespace (a port: ingress, or to: egress), no kernel module needed"
    )

    def qdisc_args(self, params: LatencyParams) -> list[str]:
        args = ["delay", params.delay]
        if params.jitter:
            args.append(params.jitter)
            if params.correlation is not None:
                args.append(f"{params.correlation:g}%")
        return args


class PercentParams(Params):
    percent: float = Field(gt=0, le=100)


class NetworkCorrupt(QdiscFault):
    name = "network.corrupt"
    summary = "corrupt a share of outgoing packets (tc netem: needs sch_netem)"
    Params = PercentParams
    kind = "netem"

    def qdisc_args(self, params: PercentParams) -> list[str]:
        return ["corrupt", f"{params.percent:g}%"]


class NetworkDuplicate(QdiscFault):
    name = "network.duplicate"
    summary = "duplicate a share of outgoing packets (tc netem: needs sch_netem)"
    Params = PercentParams
    kind = "netem"

    def qdisc_args(self, params: PercentParams) -> list[str]:
        return ["duplicate", f"{params.percent:g}%"]


class DisconnectParams(Params):
    network: str = Field(min_length=1)
    """The Docker network (name or id) to take the container off."""


class NetworkDisconnect(Fault):
    name = "network.disconnect"
    summary = "disconnect from a Docker network; reconnected with the same aliases"
    Params = DisconnectParams
    reversible = True

    def before(self, ctx: FaultContext, params: DisconnectParams) -> dict[str, Any]:
        """The network, its id, the aliases and the address the revert reconnects with."""
        with engine_errors(InjectionFailed, f"inspecting {ctx.target.name}"):
            info = ctx.runtime.docker.api.inspect_container(ctx.target.id)
        networks = info["NetworkSettings"]["Networks"] or {}
        name, endpoint = _endpoint(networks, params.network)
        if endpoint is None:
            raise InjectionFailed(
                f"{ctx.target.name} is not connected to network {params.network!r} "
                f"(it is on: {', '.join(networks) or 'none'})"
            )
        short_id = ctx.target.id[:12]
        return {
            "network": name,
            "network_id": endpoint["NetworkID"],
            "aliases": [a for a in endpoint.get("Aliases") or [] if a != short_id],
            "address_before": endpoint.get("IPAddress"),
        }

    def inject(self, ctx: FaultContext, params: DisconnectParams) -> dict[str, Any]:
        found = self.before(ctx, params)  # as it is now: the network may have changed since
        name = found["network"]
        with engine_errors(InjectionFailed, f"disconnecting {ctx.target.name} from {name}"):
            ctx.runtime.docker.api.disconnect_container_from_network(
                ctx.target.id, found["network_id"], force=True
            )
        return found

    def revert(
        self, ctx: FaultContext, params: DisconnectParams, state: dict[str, Any]
    ) -> dict[str, Any] | None:
        import docker.errors

        network_id = state.get("network_id")
        if not isinstance(network_id, str) or not network_id:
            raise RevertFailed(
                f"{ctx.target.name}: the network it was taken off was not recorded; "
                "reconnect it by hand"
            )
        api = ctx.runtime.docker.api
        try:
            networks = api.inspect_container(ctx.target.id)["NetworkSettings"]["Networks"] or {}
            if _endpoint(networks, network_id)[1] is None:
                api.connect_container_to_network(
                    ctx.target.id, network_id, aliases=state.get("aliases") or None
                )
            after = _endpoint(
                api.inspect_container(ctx.target.id)["NetworkSettings"]["Networks"] or {},
                network_id,
            )[1]
        except docker.errors.NotFound:
            return None  # the container is gone
        except Exception as exc:
            raise RevertFailed(
                f"reconnecting {ctx.target.name} to {state.get('network')}: "
                f"{describe_engine_error(exc)}"
            ) from None
        address = (after or {}).get("IPAddress")
        return {"address_after": address, "address_changed": address != state.get("address_before")}

    def watchdog(self, ctx: FaultContext, params: DisconnectParams) -> HelperCommand:
        """Reconnect through the engine API, with the aliases the container has now
        (the switch is armed before the disconnect)."""
        body: dict[str, Any] = {"Container": ctx.target.id}
        try:
            networks = ctx.runtime.docker.api.inspect_container(ctx.target.id)["NetworkSettings"]
            _, endpoint = _endpoint(networks["Networks"] or {}, params.network)
        except Exception:
            endpoint = None
        if endpoint is not None:
            short_id = ctx.target.id[:12]
            aliases = [a for a in endpoint.get("Aliases") or [] if a != short_id]
            body["EndpointConfig"] = {"Aliases": aliases}
        return HelperCommand(
            engine_call("POST", f"/networks/{params.network}/connect", body), engine_socket=True
        )


def _endpoint(networks: dict[str, Any], wanted: str) -> tuple[str | None, dict[str, Any] | None]:
    """The container's endpoint on a network given by name or (prefix of) id."""
    for name, endpoint in networks.items():
        if wanted in (name, endpoint.get("NetworkID")) or (
            len(wanted) >= 12 and str(endpoint.get("NetworkID", "")).startswith(wanted)
        ):
            return name, endpoint
    return None, None


NETWORK_FAULTS = (
    NetworkDisconnect,
    NetworkPartition,
    NetworkDns,
    NetworkBlackhole,
    NetworkLoss,
    NetworkBandwidth,
    NetworkLatency,
    NetworkCorrupt,
    NetworkDuplicate,
)


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in NETWORK_FAULTS:
        registry.add_fault(fault)
