"""Swarm service faults: kill tasks anywhere, scale, roll out a bad update, rebalance.

They act through a manager's API, except ``service.kill_tasks``, which kills
each task's container through the engine of the node it runs on (from the
inventory): Swarm sees the task die exactly as it would after a crash there.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import Field

from chaos.docker_client import post_json
from chaos.faults.swarm_commands import on_any_manager
from chaos.plugin_api import (
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    Params,
    RevertFailed,
    hookimpl,
)
from chaos.signals import SignalName
from chaos.swarm.cluster import MUST_EXIST, hostname

if TYPE_CHECKING:
    import docker

    from chaos.plugin_api import Registry

MARKER = "chaosdrill.injection"
"""Service label set by a fault's update, so a watchdog acts only on its own change."""


def _swarm(ctx: FaultContext, error: type[ChaosError], what: str, action: Any) -> Any:
    return ctx.runtime.swarm.call_as(error, what, action)


def inspect_service(ctx: FaultContext, error: type[ChaosError]) -> dict[str, Any]:
    return _swarm(
        ctx,
        error,
        f"inspecting service {ctx.target.name}",
        lambda c: c.api.inspect_service(ctx.target.id),
    )


def update_service(
    ctx: FaultContext,
    change: Any,
    error: type[ChaosError],
    what: str,
    *,
    rollback: bool = False,
    missing_ok: bool = False,
) -> dict[str, Any] | None:
    """Apply ``change(spec) -> spec`` to the service, or roll it back to its
    previous spec; return the spec it had before (None: the service is gone
    and ``missing_ok``)."""

    def post(client: docker.DockerClient, version: int, spec: dict[str, Any]) -> Any:
        # the SDK's update_service has no rollback and rebuilds the spec; post it as read
        api = client.api
        params = {"version": version, **({"rollback": "previous"} if rollback else {})}
        path = f"/services/{quote(ctx.target.id, safe='')}/update"
        return post_json(api, path, spec, params=params)

    before = ctx.runtime.swarm.versioned_update(
        error,
        what,
        lambda c: c.api.inspect_service(ctx.target.id),
        (lambda spec: spec) if rollback else change,
        post,
        gone=None if missing_ok else MUST_EXIST,
    )
    return None if before is None else before["Spec"]


def _replicas(spec: dict[str, Any]) -> int | None:
    replicated = (spec.get("Mode") or {}).get("Replicated")
    return int(replicated.get("Replicas", 1)) if replicated is not None else None


class KillTasksParams(Params):
    count: int | Literal["all"] = 1
    node: str | None = None
    """Only tasks on this node (hostname)."""
    role: Literal["manager", "worker"] | None = None
    """Only tasks on nodes of this role."""
    signal: SignalName = "SIGKILL"


class ServiceKillTasks(Fault):
    name = "service.kill_tasks"
    summary = "kill N running task containers of a service, on whichever node runs them"
    Params = KillTasksParams
    target_kinds = ("service",)

    def inject(self, ctx: FaultContext, params: KillTasksParams) -> dict[str, Any]:
        cluster = ctx.runtime.swarm
        what = f"service.kill_tasks on {ctx.target.name}"
        tasks = _swarm(
            ctx,
            InjectionFailed,
            what,
            lambda c: c.api.tasks(filters={"service": ctx.target.id, "desired-state": "running"}),
        )
        nodes = {n["ID"]: n for n in _swarm(ctx, InjectionFailed, what, lambda c: c.api.nodes())}
        candidates = []
        for task in tasks:
            status = task.get("Status") or {}
            container = (status.get("ContainerStatus") or {}).get("ContainerID")
            node = nodes.get(task.get("NodeID", ""))
            if status.get("State") != "running" or not container or node is None:
                continue
            name = hostname(node)
            if params.node is not None and name != params.node:
                continue
            if params.role is not None and node["Spec"].get("Role") != params.role:
                continue
            candidates.append((name, task.get("Slot") or 0, task["ID"], container))
        candidates.sort()
        wanted = len(candidates) if params.count == "all" else params.count
        if len(candidates) < wanted:
            where = (
                f" on {params.node}"
                if params.node
                else (f" on {params.role}s" if params.role else "")
            )
            raise InjectionFailed(
                f"{what}: {wanted} task(s) wanted, {len(candidates)} running{where}"
            )
        killed = []
        for name, slot, task_id, container in candidates[:wanted]:
            try:
                client = cluster.client(name)
                client.api.kill(container, signal=params.signal)
            except Exception as exc:
                raise InjectionFailed(
                    f"{what}: killing task {task_id[:12]} on {name}: {exc}"
                ) from None
            killed.append(
                {"task": task_id, "slot": slot, "node": name, "container": container[:12]}
            )
        return {"killed": killed}


class ScaleParams(Params):
    replicas: int = Field(ge=0)


class ServiceScale(Fault):
    name = "service.scale"
    summary = "scale a replicated service to N replicas, restoring its count after"
    Params = ScaleParams
    target_kinds = ("service",)
    reversible = True

    def _set(
        self, ctx: FaultContext, replicas: int, error: type[ChaosError], missing_ok: bool = False
    ) -> int | None:
        """Scale to ``replicas``; return the count before (None: the service is gone)."""

        def change(spec: dict[str, Any]) -> dict[str, Any]:
            if _replicas(spec) is None:
                raise error(f"service {ctx.target.name} is global: it cannot be scaled")
            spec["Mode"]["Replicated"]["Replicas"] = replicas
            return spec

        what = f"scaling {ctx.target.name} to {replicas}"
        before = update_service(ctx, change, error, what, missing_ok=missing_ok)
        return None if before is None else int(_replicas(before) or 0)

    def before(self, ctx: FaultContext, params: ScaleParams) -> dict[str, Any]:
        replicas = _replicas(inspect_service(ctx, InjectionFailed)["Spec"])
        if replicas is None:
            raise InjectionFailed(f"service {ctx.target.name} is global: it cannot be scaled")
        return {"replicas_before": int(replicas)}

    def inject(self, ctx: FaultContext, params: ScaleParams) -> dict[str, Any]:
        return {"replicas_before": self._set(ctx, params.replicas, InjectionFailed)}

    def revert(
        self, ctx: FaultContext, params: ScaleParams, state: dict[str, Any]
    ) -> dict[str, Any]:
        before = state.get("replicas_before")
        if not isinstance(before, int) or isinstance(before, bool):
            raise RevertFailed(
                f"service {ctx.target.name}: no replica count was recorded before scaling, so "
                "there is nothing known to restore; scale it by hand"
            )
        if self._set(ctx, before, RevertFailed, missing_ok=True) is None:
            return {"service": "gone"}
        return {"replicas": before}

    def watchdog(self, ctx: FaultContext, params: ScaleParams) -> HelperCommand | None:
        replicas = _replicas(inspect_service(ctx, InjectionFailed)["Spec"])
        if replicas is None:
            return None
        argv = [
            "docker",
            "service",
            "update",
            "--detach",
            "--replicas",
            str(replicas),
            ctx.target.id,
        ]
        return on_any_manager(ctx, shlex.join(argv))


BROKEN_IMAGE = "chaosdrill/does-not-exist:broken"
BROKEN_COMMAND = ["/chaosdrill-bad-update-no-such-binary"]


class BadUpdateParams(Params):
    breaks: Literal["command", "image", "healthcheck"] = "command"
    """What the update breaks: a command that cannot start, an image no node
    has, or a healthcheck that never passes."""
    image: str | None = None
    """Roll out this image instead (``breaks: image``)."""
    command: list[str] | None = None
    """Roll out this command instead (``breaks: command``)."""


class ServiceBadUpdate(Fault):
    name = "service.bad_update"
    summary = "roll out a broken image, command or healthcheck; observe whether Swarm rolls back"
    Params = BadUpdateParams
    target_kinds = ("service",)
    reversible = True

    def inject(self, ctx: FaultContext, params: BadUpdateParams) -> dict[str, Any]:
        def change(spec: dict[str, Any]) -> dict[str, Any]:
            container = spec["TaskTemplate"]["ContainerSpec"]
            if params.breaks == "image":
                container["Image"] = params.image or BROKEN_IMAGE
            elif params.breaks == "command":
                container["Command"] = params.command or BROKEN_COMMAND
                container.pop("Args", None)
            else:
                container["Healthcheck"] = {
                    "Test": ["CMD", "/chaosdrill-failing-healthcheck"],
                    "Interval": 1_000_000_000,
                    "Timeout": 1_000_000_000,
                    "Retries": 1,
                    "StartPeriod": 0,
                }
            spec["TaskTemplate"]["ForceUpdate"] = (
                int(spec["TaskTemplate"].get("ForceUpdate", 0)) + 1
            )
            spec.setdefault("Labels", {})[MARKER] = ctx.injection_id
            return spec

        before = update_service(ctx, change, InjectionFailed, f"bad update of {ctx.target.name}")
        update = before.get("UpdateConfig") or {}
        return {
            "breaks": params.breaks,
            "failure_action": update.get("FailureAction", "pause"),
            "monitor_s": (update.get("Monitor") or 5_000_000_000) / 1e9,
        }

    def revert(
        self, ctx: FaultContext, params: BadUpdateParams, state: dict[str, Any]
    ) -> dict[str, Any]:
        info = ctx.runtime.swarm.call_as(
            RevertFailed,
            f"inspecting service {ctx.target.name}",
            lambda c: c.api.inspect_service(ctx.target.id),
            gone=None,
        )
        if info is None:
            return {"service": "gone"}
        update_status = info.get("UpdateStatus") or {}
        observed = {
            "update_state": update_status.get("State"),
            "update_message": update_status.get("Message"),
        }
        if (info["Spec"].get("Labels") or {}).get(MARKER) != ctx.injection_id:
            return {**observed, "rolled_back_by": "swarm"}
        what = f"rolling back {ctx.target.name}"
        if update_service(ctx, None, RevertFailed, what, rollback=True, missing_ok=True) is None:
            return {**observed, "service": "gone"}
        return {**observed, "rolled_back_by": "chaosdrill"}

    def watchdog(self, ctx: FaultContext, params: BadUpdateParams) -> HelperCommand | None:
        service = shlex.quote(ctx.target.id)
        snippet = (
            f"m=$(docker service inspect -f '{{{{index .Spec.Labels \"{MARKER}\"}}}}' {service}) || exit 1; "
            f'[ "$m" != {shlex.quote(ctx.injection_id)} ] || docker service rollback --detach {service}'
        )
        return on_any_manager(ctx, snippet)


class ServiceRebalance(Fault):
    name = "service.rebalance"
    summary = "force an update: Swarm reschedules every task (the spread may change)"
    target_kinds = ("service",)

    def inject(self, ctx: FaultContext, params: Params) -> dict[str, Any]:
        def change(spec: dict[str, Any]) -> dict[str, Any]:
            template = spec["TaskTemplate"]
            template["ForceUpdate"] = int(template.get("ForceUpdate", 0)) + 1
            return spec

        update_service(ctx, change, InjectionFailed, f"rebalancing {ctx.target.name}")
        return {}


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in (ServiceKillTasks, ServiceScale, ServiceBadUpdate, ServiceRebalance):
        registry.add_fault(fault)
