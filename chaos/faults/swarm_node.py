"""Swarm node faults: drain a node, stop, pause or isolate it, lose managers.

``node.drain`` is a swarm API call and works on any swarm. The others act on
the node itself through its node controller (see :mod:`chaos.swarm.control`):
the lab's, or a platform plugin's. ``swarm.lose_managers`` takes away just
enough managers to test Raft: ``count: quorum`` loses the smallest number
that breaks the majority (2 of 3, 3 of 5).
"""

from __future__ import annotations

import contextlib
import shlex
import threading
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from chaos.faults.swarm_commands import local_engine_command, on_any_manager
from chaos.plugin_api import (
    Action,
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    NodeController,
    Params,
    RevertFailed,
    hookimpl,
)
from chaos.swarm.cluster import MUST_EXIST, hostname, leader_of
from chaos.swarm.control import controller_for, run_all

if TYPE_CHECKING:
    from chaos.plugin_api import Registry

GONE = "gone"


def _swarm(ctx: FaultContext, error: type[ChaosError], what: str, action: Any) -> Any:
    return ctx.runtime.swarm.call_as(error, what, action)


def set_availability(
    ctx: FaultContext,
    node_id: str,
    availability: str,
    error: type[ChaosError],
    *,
    missing_ok: bool = False,
) -> str:
    """Set a node's availability; return what it was (GONE for a node that left)."""

    def change(spec: dict[str, Any]) -> dict[str, Any] | None:
        if spec.get("Availability", "active") == availability:
            return None
        spec["Availability"] = availability
        return spec

    node = ctx.runtime.swarm.versioned_update(
        error,
        f"setting node {ctx.target.name} to {availability}",
        lambda c: c.api.inspect_node(node_id),
        change,
        lambda c, version, spec: c.api.update_node(node_id, version, spec),
        gone=None if missing_ok else MUST_EXIST,
    )
    return GONE if node is None else str(node["Spec"].get("Availability", "active"))


class DrainParams(Params):
    availability: Literal["drain", "pause"] = "drain"
    """``drain`` moves the node's tasks away; ``pause`` only stops new ones."""


class NodeDrain(Fault):
    name = "node.drain"
    summary = "set a node's availability to drain (or pause), restoring what it was"
    Params = DrainParams
    target_kinds = ("node",)
    reversible = True

    def before(self, ctx: FaultContext, params: DrainParams) -> dict[str, Any]:
        node = _swarm(
            ctx, InjectionFailed, "inspecting the node", lambda c: c.api.inspect_node(ctx.target.id)
        )
        return {"availability_before": node["Spec"].get("Availability", "active")}

    def inject(self, ctx: FaultContext, params: DrainParams) -> dict[str, Any]:
        before = set_availability(ctx, ctx.target.id, params.availability, InjectionFailed)
        return {"availability_before": before}

    def revert(
        self, ctx: FaultContext, params: DrainParams, state: dict[str, Any]
    ) -> dict[str, Any]:
        before = state.get("availability_before")
        if not isinstance(before, str):
            raise RevertFailed(
                f"node {ctx.target.name}: no availability was recorded before the drain, so "
                "there is nothing known to restore; set it by hand (docker node update "
                "--availability ...)"
            )
        if set_availability(ctx, ctx.target.id, before, RevertFailed, missing_ok=True) == GONE:
            return {"node": GONE}
        return {"availability": before}

    def watchdog(self, ctx: FaultContext, params: DrainParams) -> HelperCommand | None:
        # read before the injection: restoring it is harmless if the drain never happened
        node = _swarm(
            ctx, InjectionFailed, "inspecting the node", lambda c: c.api.inspect_node(ctx.target.id)
        )
        before = node["Spec"].get("Availability", "active")
        argv = ["docker", "node", "update", "--availability", before, ctx.target.id]
        return on_any_manager(ctx, shlex.join(argv))


def _controller(ctx: FaultContext, node_name: str) -> NodeController:
    cluster = ctx.runtime.swarm
    try:
        node = cluster.node(node_name)
    except ChaosError as exc:
        raise InjectionFailed(str(exc)) from None
    return controller_for(ctx.runtime, node, cluster.inventory)


class PowerParams(Params):
    graceful: bool = False
    """``node.stop`` only: let the node shut down (SIGTERM) instead of losing power."""


class NodePowerFault(Fault):
    """Base of faults that act on a node through its controller."""

    @property
    @abstractmethod
    def action(self) -> Action:
        """What the controller does to the node."""

    target_kinds = ("node",)
    reversible = True
    Params = PowerParams

    def inject(self, ctx: FaultContext, params: Params) -> dict[str, Any]:
        controller = _controller(ctx, ctx.target.name)
        graceful = bool(getattr(params, "graceful", False))
        return controller.apply(self.action, ctx.injection_id, graceful=graceful)

    def revert(self, ctx: FaultContext, params: Params, state: dict[str, Any]) -> None:
        _controller(ctx, ctx.target.name).undo(self.action, ctx.injection_id)

    def watchdog(self, ctx: FaultContext, params: Params) -> HelperCommand | None:
        argv = _controller(ctx, ctx.target.name).undo_argv(self.action, ctx.injection_id)
        return local_engine_command(ctx, argv) if argv else None


class NodeStop(NodePowerFault):
    name = "node.stop"
    summary = "stop a node (power loss, or a graceful shutdown), start it again after"
    action: Action = "stop"


class NodePause(NodePowerFault):
    name = "node.pause"
    summary = "freeze a node: it hangs rather than dies, unfrozen after"
    action: Action = "pause"
    Params = Params  # a frozen node has no graceful way to freeze


class NodePartition(NodePowerFault):
    name = "node.partition"
    summary = "cut a node off from every other node of the swarm, rejoined after"
    action: Action = "isolate"
    Params = Params


HOW_ACTIONS: dict[str, Action] = {"stop": "stop", "pause": "pause", "partition": "isolate"}


class LoseManagersParams(Params):
    count: int | Literal["quorum"] = Field(default=1)
    """How many managers to lose; ``quorum`` loses just enough to break the majority."""
    leader_first: bool = False
    """Lose the Raft leader first (forcing an election); otherwise followers go first."""
    how: Literal["stop", "pause", "partition"] = "stop"
    graceful: bool = False


def managers_to_lose(
    nodes: list[dict[str, Any]], params: LoseManagersParams
) -> tuple[list[str], dict[str, int]]:
    """Hostnames of the managers to take away, in order, and the quorum arithmetic."""
    managers = sorted((n for n in nodes if n["Spec"].get("Role") == "manager"), key=hostname)
    total = len(managers)
    majority = total // 2 + 1
    lose = total - majority + 1 if params.count == "quorum" else int(params.count)
    if lose < 1 or lose > total:
        raise InjectionFailed(f"swarm.lose_managers: cannot lose {lose} of {total} manager(s)")
    leader = leader_of(managers)
    followers = [m for m in managers if m is not leader]
    ordered = (
        ([leader] if leader else []) + followers
        if params.leader_first
        else followers + ([leader] if leader else [])
    )
    return [hostname(m) for m in ordered[:lose]], {
        "managers": total,
        "majority": majority,
        "lost": lose,
    }


class SwarmLoseManagers(Fault):
    name = "swarm.lose_managers"
    summary = "stop, pause or partition N managers (count: quorum breaks the Raft majority)"
    Params = LoseManagersParams
    target_kinds = ("swarm",)
    reversible = True

    def __init__(self) -> None:
        self._chosen: dict[str, tuple[list[str], dict[str, int], str | None]] = {}
        self._ids: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def _choose(
        self, ctx: FaultContext, params: LoseManagersParams
    ) -> tuple[list[str], dict[str, int], str | None]:
        """Chosen once per injection (the watchdog is armed before inject runs)."""
        with self._lock:
            if ctx.injection_id not in self._chosen:
                nodes = _swarm(ctx, InjectionFailed, "listing swarm nodes", lambda c: c.api.nodes())
                names, quorum = managers_to_lose(nodes, params)
                leader = leader_of(nodes)
                self._ids[ctx.injection_id] = {hostname(n): n["ID"] for n in nodes}
                self._chosen[ctx.injection_id] = (
                    names,
                    quorum,
                    hostname(leader) if leader else None,
                )
            return self._chosen[ctx.injection_id]

    def holds(self, ctx: FaultContext, params: LoseManagersParams) -> list[str]:
        """The chosen managers' node ids: no other run may fault them meanwhile."""
        names, _, _ = self._choose(ctx, params)
        return [self._ids[ctx.injection_id][name] for name in names]

    def before(self, ctx: FaultContext, params: LoseManagersParams) -> dict[str, Any]:
        """Which managers go, and how: recorded first, so a revert from the ledger
        brings back exactly those."""
        names, quorum, leader = self._choose(ctx, params)
        return {"nodes": names, "leader_before": leader, "how": params.how, **quorum}

    def inject(self, ctx: FaultContext, params: LoseManagersParams) -> dict[str, Any]:
        names, quorum, leader = self._choose(ctx, params)
        action = HOW_ACTIONS[params.how]
        controllers = [_controller(ctx, name) for name in names]
        done: list[NodeController] = []
        try:
            for controller in controllers:
                controller.apply(action, ctx.injection_id, graceful=params.graceful)
                done.append(controller)
        except ChaosError:
            for controller in done:  # all or nothing
                with contextlib.suppress(ChaosError):
                    controller.undo(action, ctx.injection_id)
            raise
        return {"nodes": names, "leader_before": leader, "how": params.how, **quorum}

    def revert(self, ctx: FaultContext, params: LoseManagersParams, state: dict[str, Any]) -> None:
        nodes, how = state.get("nodes"), state.get("how")
        if not isinstance(nodes, list) or how not in HOW_ACTIONS:
            raise RevertFailed(
                "swarm.lose_managers: which managers were taken away was not recorded; "
                "check the swarm's managers by hand"
            )
        action = HOW_ACTIONS[how]
        failures = []
        for name in nodes:
            try:
                _controller(ctx, name).undo(action, ctx.injection_id)
            except ChaosError as exc:
                failures.append(str(exc))
        if failures:
            raise RevertFailed("; ".join(failures))

    def watchdog(self, ctx: FaultContext, params: LoseManagersParams) -> HelperCommand | None:
        names, _, _ = self._choose(ctx, params)
        action = HOW_ACTIONS[params.how]
        argvs = [_controller(ctx, name).undo_argv(action, ctx.injection_id) for name in names]
        if any(argv is None for argv in argvs):
            return None
        return local_engine_command(ctx, run_all([a for a in argvs if a]))


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in (NodeDrain, NodeStop, NodePause, NodePartition, SwarmLoseManagers):
        registry.add_fault(fault)
