"""Stress faults: CPU, memory and I/O load that counts against the target's own limits.

Each runs stress-ng (or, to push a container out of memory, a small hog) in
a helper container that joins the target's PID namespace and its cgroup
(:mod:`chaos.faults.cgroups`): the load shows in the target's ``docker
stats``, is throttled by its CPU quota and charged to its memory limit, and
ends with the target. Removing the helper ends the load; the watchdog does
that at the deadline if the runner is gone, and stress-ng's own ``--timeout``
stops it shortly after in any case.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from chaos.faults import fault_helpers
from chaos.faults.cgroups import CgroupInfo, cgroup_info, join_argv, join_options
from chaos.faults.placements import (
    TARGET_KINDS,
    Placement,
    TaskParams,
    forget,
    placements,
    recorded_placements,
)
from chaos.faults.sizes import ByteSize, show_size
from chaos.plugin_api import (
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    RevertFailed,
    describe_engine_error,
    hookimpl,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry


def inspect_running(where: Placement, error: type[ChaosError], what: str) -> dict[str, Any]:
    """The target container's inspect data; it must be running and not paused."""
    try:
        info = where.client.api.inspect_container(where.container_id)
    except Exception as exc:
        raise error(f"{what}: inspecting {where.where}: {describe_engine_error(exc)}") from None
    state = info.get("State") or {}
    if not state.get("Running") or state.get("Paused"):
        status = "paused" if state.get("Paused") else state.get("Status")
        raise error(f"{what}: container {where.where} is not running ({status})")
    return info


def engine_cgroups(where: Placement, error: type[ChaosError], what: str) -> CgroupInfo:
    try:
        return cgroup_info(where.client.info())
    except Exception as exc:
        raise error(
            f"{what}: asking the engine of {where.where}: {describe_engine_error(exc)}"
        ) from None


class HelperFault(Fault):
    """A fault carried by one helper per target container (see :mod:`fault_helpers`)."""

    reversible = True
    target_kinds = TARGET_KINDS

    @abstractmethod
    def start_one(
        self, ctx: FaultContext, params: Any, where: Placement, index: int
    ) -> dict[str, Any]:
        """Start the helper on one container; return what to record about it."""

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        started: list[dict[str, Any]] = []
        done: list[Placement] = []
        service = ctx.target.kind == "service"
        try:
            for index, where in enumerate(placements(ctx, params, InjectionFailed)):
                done.append(where)  # before the start: a helper that failed half-way goes too
                record = self.start_one(ctx, params, where, index + 1 if service else 0)
                started.append({**where.to_json(), **record})
        except BaseException:
            for where in done:  # all or nothing
                with contextlib.suppress(ChaosError):
                    fault_helpers.stop_all(ctx, where, InjectionFailed)
            forget(ctx.injection_id)
            raise
        return {"placements": started}

    def revert(self, ctx: FaultContext, params: Any, state: dict[str, Any]) -> dict[str, Any]:
        wheres = recorded_placements(ctx, state)
        if wheres is None:  # nothing recorded: every engine the helpers may be on
            wheres = self._every_engine(ctx)
        stopped = []
        for where in wheres:
            stopped += fault_helpers.stop_all(ctx, where, RevertFailed)
        forget(ctx.injection_id)
        return {"helpers_stopped": len(stopped)}

    @staticmethod
    def _every_engine(ctx: FaultContext) -> list[Placement]:
        if ctx.target.kind != "service":
            return [Placement(ctx.runtime.docker, ctx.target.id, ctx.target.name)]
        cluster = ctx.runtime.swarm
        found = []
        for node in cluster.inventory.nodes:
            try:
                found.append(Placement(cluster.client(node.name), "", "", node.name))
            except ChaosError as exc:
                raise RevertFailed(str(exc)) from None
        return found

    def undo(self, ctx: FaultContext, params: Any) -> fault_helpers.Undo | None:
        """What undoes the fault directly when its helper could not (see
        :class:`fault_helpers.Undo`); None when stopping the helper is all it takes."""
        return None

    def watchdog(self, ctx: FaultContext, params: Any) -> HelperCommand | None:
        return fault_helpers.watchdog(ctx, self.undo(ctx, params), params)


class StressFault(HelperFault):
    """stress-ng (or a program of its own) in the target's cgroup."""

    @abstractmethod
    def command(
        self, ctx: FaultContext, params: Any, where: Placement, info: dict[str, Any]
    ) -> list[str]:
        """The load's argv, run once the helper has joined the target's cgroup."""

    def start_one(
        self, ctx: FaultContext, params: Any, where: Placement, index: int
    ) -> dict[str, Any]:
        what = f"{self.name} on {where.where}"
        info = inspect_running(where, InjectionFailed, what)
        cgroups = engine_cgroups(where, InjectionFailed, what)
        argv = join_argv(cgroups, self.command(ctx, params, where, info))
        helper = fault_helpers.start(
            ctx,
            where,
            index,
            argv,
            purpose=what,
            error=InjectionFailed,
            killed_is_done=bool(getattr(params, "oom", False)),
            **join_options(cgroups),
        )
        return {"helper": helper[:12], **cgroups.to_json()}


class CpuParams(TaskParams):
    workers: int = Field(default=1, ge=1, le=64)
    """stress-ng CPU workers (each loads at most one CPU)."""
    load: int = Field(default=100, ge=1, le=100)
    """Percent of one CPU each worker keeps busy."""


class StressCpu(StressFault):
    name = "stress.cpu"
    summary = "load the container's CPUs (stress-ng in its cgroup); stopped at the end"
    Params = CpuParams

    def command(
        self, ctx: FaultContext, params: CpuParams, where: Placement, info: dict[str, Any]
    ) -> list[str]:
        return [
            "stress-ng", "--cpu", str(params.workers), "--cpu-load", str(params.load),
            "--timeout", f"{fault_helpers.seconds_left(ctx)}s",
        ]  # fmt: skip


class MemoryParams(TaskParams):
    bytes: ByteSize | None = None
    """How much memory to hold (``256m``, ``1g``)."""
    percent: float | None = Field(default=None, gt=0, le=100)
    """How much, as a share of the container's memory limit."""
    oom: bool = False
    """Push the container over its memory limit: the kernel's OOM killer ends it
    (Docker reports ``OOMKilled``, the restart policy applies)."""

    @model_validator(mode="after")
    def _one_amount(self) -> MemoryParams:
        if self.bytes is not None and self.percent is not None:
            raise ValueError("give bytes or percent, not both")
        if self.bytes is None and self.percent is None and not self.oom:
            raise ValueError("give bytes or percent (of the memory limit), or oom: true")
        return self


OOM_HOG = r"""
import os, signal, sys, time
seconds, processes = int(sys.argv[1]), int(sys.argv[2])
me = os.getpid()
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != me:
        try:
            with open("/proc/" + pid + "/oom_score_adj", "w") as fh:
                fh.write("1000")
        except OSError:
            pass
children = []
for _ in range(processes):
    child = os.fork()
    if child == 0:
        held = []
        while True:
            held.append(b"\x01" * (1 << 20))
            time.sleep(0.002)
    children.append(child)
def stop(*_):
    for child in children:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
time.sleep(seconds)
stop()
"""
"""Pushes the container out of memory so that the OOM killer takes the
container's own processes, as a leak in the application would: their
``oom_score_adj`` is raised to 1000 (raising needs no privilege), and the
memory is held by several processes, each far smaller than any of them
scores. stress-ng's memory workers make themselves the OOM killer's first
choice instead, and keeping them out needs CAP_SYS_RESOURCE. When the
container's main process dies, its PID namespace ends, and the hog with it."""
OOM_PROCESSES = 8


class StressMemory(StressFault):
    name = "stress.memory"
    summary = "hold memory charged to the container's limit (oom: true pushes it over)"
    Params = MemoryParams

    def command(
        self, ctx: FaultContext, params: MemoryParams, where: Placement, info: dict[str, Any]
    ) -> list[str]:
        what = f"{self.name} on {where.where}"
        limit = int((info.get("HostConfig") or {}).get("Memory") or 0)
        if params.oom:
            if limit <= 0:
                raise InjectionFailed(
                    f"{what}: the container has no memory limit, so oom: true would exhaust "
                    "the host's memory; give it a limit (docker run --memory) first"
                )
            seconds = fault_helpers.seconds_left(ctx)
            return ["python3", "-c", OOM_HOG, str(seconds), str(OOM_PROCESSES)]
        if params.percent is not None:
            if limit <= 0:
                raise InjectionFailed(
                    f"{what}: percent is a share of the memory limit, and the container has "
                    "none; give bytes instead"
                )
            size = int(limit * params.percent / 100)
        else:
            size = int(params.bytes or 0)
        if limit > 0 and size >= limit:
            raise InjectionFailed(
                f"{what}: {show_size(size)} is not below the container's memory limit "
                f"({show_size(limit)}); use oom: true to push it over the limit"
            )
        return [
            "stress-ng", "--vm", "1", "--vm-bytes", str(size), "--vm-hang", "0",
            "--vm-keep", "--timeout", f"{fault_helpers.seconds_left(ctx)}s",
        ]  # fmt: skip


class IoParams(TaskParams):
    workers: int = Field(default=1, ge=1, le=16)
    """stress-ng hdd workers: each writes, reads back and removes a file."""
    bytes: ByteSize = 256 * 1024**2
    """How much each worker writes before it starts over."""


class StressIo(StressFault):
    name = "stress.io"
    summary = "disk I/O load (stress-ng hdd workers) charged to the container's cgroup"
    Params = IoParams

    def command(
        self, ctx: FaultContext, params: IoParams, where: Placement, info: dict[str, Any]
    ) -> list[str]:
        return [
            "stress-ng", "--hdd", str(params.workers), "--hdd-bytes", str(params.bytes),
            "--temp-path", "/tmp", "--timeout", f"{fault_helpers.seconds_left(ctx)}s",
        ]  # fmt: skip


STRESS_FAULTS = (StressCpu, StressMemory, StressIo)


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in STRESS_FAULTS:
        registry.add_fault(fault)
