"""Swarm service faults: kill tasks anywhere, scale, roll out a bad update, rebalance.

They act through a manager's API, except ``service.kill_tasks``, which kills
each task's container through the engine of the node it runs on (from the
inventory): Swarm sees the task die exactly as it would after a crash there.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from chaos.errors import ChaosError, InjectionFailed, RevertFailed
from chaos.fault import Fault, FaultContext, Params
from chaos.helpers import HelperCommand
from chaos.hookspecs import hookimpl
from chaos.signals import SignalName
from chaos.swarm.cluster import hostname
from chaos.swarm.commands import on_any_manager

if TYPE_CHECKING:
    import docker

    from chaos.registry import Registry

MARKER = "chaosdrill.injection"
"""Service label set by a fault's update, so a watchdog acts only on its own change."""
UPDATE_ATTEMPTS = 5


def _swarm(ctx: FaultContext, error: type[ChaosError], what: str, action: Any) -> Any:
    try:
        return ctx.runtime.swarm.call(what, action)
    except ChaosError as exc:
        raise error(str(exc)) from None
    except Exception as exc:
        raise error(f"{what}: {exc}") from None


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
) -> dict[str, Any]:
    """Apply ``change(spec) -> spec`` to the service (or roll back to its previous
    spec); return the spec it had before. Retries version races."""
    for attempt in range(UPDATE_ATTEMPTS):
        info = inspect_service(ctx, error)
        before = info["Spec"]
        version = info["Version"]["Index"]
        spec = change(_copy(before)) if not rollback else _copy(before)
        params = {"version": version, **({"rollback": "previous"} if rollback else {})}

        def post(client: docker.DockerClient, spec: dict = spec, params: dict = params) -> Any:
            api = client.api
            url = api._url("/services/{0}/update", ctx.target.id)
            return api._result(api._post_json(url, data=spec, params=params), json=True)

        try:
            _swarm(ctx, error, what, post)
            return before
        except error as exc:
            if "out of sequence" not in str(exc) or attempt == UPDATE_ATTEMPTS - 1:
                raise
        time.sleep(0.2)
    raise error(what)  # pragma: no cover


def _copy(spec: dict[str, Any]) -> dict[str, Any]:
    import copy

    return copy.deepcopy(spec)


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

    def _set(self, ctx: FaultContext, replicas: int, error: type[ChaosError]) -> int:
        def change(spec: dict[str, Any]) -> dict[str, Any]:
            if _replicas(spec) is None:
                raise error(f"service {ctx.target.name} is global: it cannot be scaled")
            spec["Mode"]["Replicated"]["Replicas"] = replicas
            return spec

        before = update_service(ctx, change, error, f"scaling {ctx.target.name} to {replicas}")
        return int(_replicas(before) or 0)

    def inject(self, ctx: FaultContext, params: ScaleParams) -> dict[str, Any]:
        return {"replicas_before": self._set(ctx, params.replicas, InjectionFailed)}

    def revert(
        self, ctx: FaultContext, params: ScaleParams, state: dict[str, Any]
    ) -> dict[str, Any]:
        import docker.errors

        before = int(state.get("replicas_before", params.replicas))
        try:
            self._set(ctx, before, RevertFailed)
        except docker.errors.NotFound:
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
        import docker.errors

        try:
            info = inspect_service(ctx, RevertFailed)
        except RevertFailed as exc:
            if "not found" in str(exc):
                return {"service": "gone"}
            raise
        update_status = info.get("UpdateStatus") or {}
        observed = {
            "update_state": update_status.get("State"),
            "update_message": update_status.get("Message"),
        }
        if (info["Spec"].get("Labels") or {}).get(MARKER) != ctx.injection_id:
            return {**observed, "rolled_back_by": "swarm"}
        try:
            update_service(
                ctx, lambda s: s, RevertFailed, f"rolling back {ctx.target.name}", rollback=True
            )
        except docker.errors.NotFound:
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
