"""``resource.limit``: lower a container's CPU, memory and PID limits, restored after.

Through Docker's update API (``POST /containers/{id}/update``), posted as JSON
through the SDK's public low-level client, because docker-py's
``update_container`` has no ``pids_limit``. The limits before are read and
recorded (:meth:`Fault.before`) before anything changes, and the revert (or
the watchdog, armed with the same values) writes exactly those back.

The update API reads 0 as "leave unchanged", so a limit the container did not
have cannot be taken away again the way it was: a missing memory limit cannot
be restored at all (the step is refused when it would lower one), and a
missing CPU limit comes back as ``CpuQuota: -1`` (no limit, which the kernel
reads the same) with the period that was set.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from chaos.docker_client import post_json
from chaos.faults.placements import (
    TARGET_KINDS,
    Placement,
    TaskParams,
    forget,
    placements,
    recorded_placements,
)
from chaos.faults.sizes import ByteSize, show_size
from chaos.faults.swarm_commands import on_every_node
from chaos.plugin_api import (
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    RevertFailed,
    describe_engine_error,
    engine_call,
    hookimpl,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry

CPU_PERIOD = 100_000
"""CFS period (µs) used when the container had no CPU limit of its own."""
LIMIT_FIELDS = ("NanoCpus", "CpuQuota", "CpuPeriod", "Memory", "MemorySwap", "PidsLimit")


class LimitParams(TaskParams):
    cpus: float | None = Field(default=None, gt=0, le=1024)
    """CPUs the container may use (``0.5`` is half of one)."""
    memory: ByteSize | None = None
    """Memory limit (``128m``); the container must already have one, higher."""
    pids_limit: int | None = Field(default=None, ge=1)
    """Most processes and threads the container may have at once."""

    @model_validator(mode="after")
    def _something(self) -> LimitParams:
        if self.cpus is None and self.memory is None and self.pids_limit is None:
            raise ValueError("give at least one of cpus, memory, pids_limit")
        if self.memory is not None and self.memory < 6 * 1024**2:
            raise ValueError("memory must be at least 6m (Docker's minimum)")
        return self


def read_limits(host_config: dict[str, Any]) -> dict[str, int]:
    """The limits as Docker's update API takes them (missing and null are 0)."""
    return {key: int(host_config.get(key) or 0) for key in LIMIT_FIELDS}


def lowered(before: dict[str, int], params: LimitParams, what: str) -> dict[str, int]:
    """The update body that applies ``params`` to a container whose limits are ``before``.

    A limit is only ever lowered: a value above the one in force is refused.
    """
    body: dict[str, int] = {}
    if params.cpus is not None:
        nano = round(params.cpus * 1e9)
        current = _cpus(before)
        if current is not None and nano >= current:
            raise InjectionFailed(
                f"{what}: cpus {params.cpus:g} does not lower the limit in force "
                f"({current / 1e9:g} CPUs)"
            )
        if before["NanoCpus"] > 0:
            body["NanoCpus"] = nano
        else:
            period = before["CpuPeriod"] or CPU_PERIOD
            body["CpuPeriod"] = period
            body["CpuQuota"] = max(1000, round(params.cpus * period))
    if params.memory is not None:
        if before["Memory"] <= 0:
            raise InjectionFailed(
                f"{what}: the container has no memory limit, and Docker's update API cannot "
                "remove one once set, so lowering it could not be undone; give the container "
                "a memory limit first, or leave memory out"
            )
        if params.memory >= before["Memory"]:
            raise InjectionFailed(
                f"{what}: memory {show_size(params.memory)} does not lower the limit in force "
                f"({show_size(before['Memory'])})"
            )
        body["Memory"] = params.memory
        swap = before["MemorySwap"]
        if swap > 0:  # keep the same amount of swap on top of the new limit
            body["MemorySwap"] = params.memory + max(0, swap - before["Memory"])
    if params.pids_limit is not None:
        if before["PidsLimit"] > 0 and params.pids_limit >= before["PidsLimit"]:
            raise InjectionFailed(
                f"{what}: pids_limit {params.pids_limit} does not lower the limit in force "
                f"({before['PidsLimit']})"
            )
        body["PidsLimit"] = params.pids_limit
    return body


def _cpus(limits: dict[str, int]) -> int | None:
    """The CPU limit in force, in nano-CPUs; None for none."""
    if limits["NanoCpus"] > 0:
        return limits["NanoCpus"]
    if limits["CpuQuota"] > 0:
        return round(limits["CpuQuota"] * 1e9 / (limits["CpuPeriod"] or CPU_PERIOD))
    return None


def restoring(before: dict[str, int], applied: dict[str, int]) -> dict[str, int]:
    """The update body that puts back what ``applied`` changed."""
    body: dict[str, int] = {}
    if "NanoCpus" in applied:
        body["NanoCpus"] = before["NanoCpus"]
    if "CpuQuota" in applied:
        body["CpuQuota"] = before["CpuQuota"] if before["CpuQuota"] > 0 else -1
        body["CpuPeriod"] = before["CpuPeriod"] or applied["CpuPeriod"]
    if "Memory" in applied:
        body["Memory"] = before["Memory"]
        if before["MemorySwap"]:
            body["MemorySwap"] = before["MemorySwap"]
    if "PidsLimit" in applied:
        body["PidsLimit"] = before["PidsLimit"]  # 0: unlimited again
    return body


def _update(where: Placement, body: dict[str, int], error: type[ChaosError], what: str) -> None:
    try:
        post_json(where.client.api, f"/containers/{where.container_id}/update", body)
    except Exception as exc:
        raise error(f"{what}: updating {where.where}: {describe_engine_error(exc)}") from None


def _inspect_limits(where: Placement, error: type[ChaosError], what: str) -> dict[str, int]:
    try:
        info = where.client.api.inspect_container(where.container_id)
    except Exception as exc:
        raise error(f"{what}: inspecting {where.where}: {describe_engine_error(exc)}") from None
    return read_limits(info.get("HostConfig") or {})


class ResourceLimit(Fault):
    name = "resource.limit"
    summary = "lower the container's CPU, memory and PID limits; the exact limits come back after"
    Params = LimitParams
    target_kinds = TARGET_KINDS
    reversible = True

    def before(self, ctx: FaultContext, params: LimitParams) -> dict[str, Any]:
        """Every chosen container's limits, and the update that lowers them."""
        recorded = []
        for where in placements(ctx, params, InjectionFailed):
            what = f"{self.name} on {where.where}"
            limits = _inspect_limits(where, InjectionFailed, what)
            body = lowered(limits, params, what)
            recorded.append(
                {**where.to_json(), "before": limits, "restore": restoring(limits, body)}
            )
        return {"placements": recorded}

    def inject(self, ctx: FaultContext, params: LimitParams) -> dict[str, Any]:
        recorded = []
        for where in placements(ctx, params, InjectionFailed):
            what = f"{self.name} on {where.where}"
            limits = _inspect_limits(where, InjectionFailed, what)
            body = lowered(limits, params, what)
            _update(where, body, InjectionFailed, what)
            recorded.append(
                {
                    **where.to_json(),
                    "before": limits,
                    "applied": body,
                    "restore": restoring(limits, body),
                }
            )
        return {"placements": recorded}

    def revert(
        self, ctx: FaultContext, params: LimitParams, state: dict[str, Any]
    ) -> dict[str, Any]:
        import docker.errors

        wheres = recorded_placements(ctx, state) or []
        records = state.get("placements") or []
        restored = []
        for where, record in zip(wheres, records, strict=False):
            body = record.get("restore") if isinstance(record, dict) else None
            if not isinstance(body, dict) or not body:
                raise RevertFailed(
                    f"{self.name} on {where.where}: the limits before were not recorded; "
                    "set them back by hand (docker update)"
                )
            what = f"reverting {self.name} on {where.where}"
            try:
                post_json(where.client.api, f"/containers/{where.container_id}/update", body)
            except docker.errors.NotFound:
                continue  # the container is gone, and its limits with it
            except Exception as exc:
                raise RevertFailed(f"{what}: {describe_engine_error(exc)}") from None
            restored.append({"container": where.container_id[:12], "limits": body})
        forget(ctx.injection_id)
        return {"restored": restored}

    def watchdog(self, ctx: FaultContext, params: LimitParams) -> HelperCommand | None:
        """Write the limits read now (before the injection) back: harmless when the
        limits were never lowered."""
        records = self.before(ctx, params)["placements"]
        if ctx.target.kind != "service":
            body = records[0]["restore"]
            return HelperCommand(
                engine_call("POST", f"/containers/{ctx.target.id}/update", body),
                engine_socket=True,
            )
        calls = []
        for record in records:
            # every node's engine is asked; only the one that runs the container has it
            container = shlex.quote(record["container"])
            calls.append(
                f"if docker inspect {container} >/dev/null 2>&1; then "
                f"docker update {_cli_flags(record['restore'])} {container} >/dev/null; fi"
            )
        return on_every_node(ctx, "; ".join(calls) + "; true")


def _cli_flags(body: dict[str, int]) -> str:
    """``docker update`` flags for an update body."""
    flags = {
        "NanoCpus": lambda v: f"--cpus {v / 1e9:g}",
        "CpuQuota": lambda v: f"--cpu-quota {v}",
        "CpuPeriod": lambda v: f"--cpu-period {v}",
        "Memory": lambda v: f"--memory {v}",
        "MemorySwap": lambda v: f"--memory-swap {v}",
        "PidsLimit": lambda v: f"--pids-limit {v if v > 0 else -1}",
    }
    return " ".join(flags[key](value) for key, value in body.items() if key in flags)


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    registry.add_fault(ResourceLimit)
