"""The lab's node controller: a lab node is a container on the local engine.

Stopping a node kills its container (power loss) or stops it gracefully;
pausing freezes it (the node hangs: its peers see a silent manager, not a
dead one); isolating drops every packet between it and the other nodes'
addresses with iptables inside the node, which leaves the node's engine
reachable from this host, so chaosdrill still sees what the node sees.
Every undo is also a docker CLI command for the watchdog.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos import pausing
from chaos.netns import APPLY_RULES, REVERT, chain_name
from chaos.plugin_api import (
    Action,
    ControlSettings,
    InjectionFailed,
    NodeController,
    RevertFailed,
    engine_errors,
    exec_run,
    hookimpl,
)

if TYPE_CHECKING:
    from chaos.plugin_api import Registry

GRACEFUL_STOP_TIMEOUT = 10


class LabControl(ControlSettings):
    lab: str
    container: str
    """Id of the node's container on the local engine."""
    container_name: str | None = None
    network: str | None = None
    engine: str | None = None


class LabNodeController(NodeController):
    name = "lab"
    summary = "nodes of a chaosdrill lab: containers on the local engine"
    Control = LabControl

    @property
    def _container(self) -> str:
        return self.settings.container

    def apply(self, action: Action, tag: str, *, graceful: bool = False) -> dict[str, Any]:
        api = self.runtime.docker.api
        what = f"{action} of lab node {self.node.name}"
        with engine_errors(InjectionFailed, what):
            if action == "stop":
                if graceful:
                    api.stop(self._container, timeout=GRACEFUL_STOP_TIMEOUT)
                else:
                    api.kill(self._container)
                return {"graceful": graceful}
            if action == "pause":
                pausing.hold(self._container, self.runtime.run_id)
                try:
                    api.pause(self._container)
                except BaseException:
                    pausing.release(self._container, self.runtime.run_id)
                    raise
                return {"container": self._container}
        peers = sorted(
            n.address for n in self.inventory.nodes if n.name != self.node.name and n.address
        )
        if not peers:
            raise InjectionFailed(f"{what}: the inventory gives no other node an address")
        chain = chain_name(tag)
        lines = ["*filter", f":{chain} - [0:0]"]
        for ip in peers:
            lines += [f"-A {chain} -s {ip}/32 -j DROP", f"-A {chain} -d {ip}/32 -j DROP"]
        lines += [f"-I INPUT 1 -j {chain}", f"-I OUTPUT 1 -j {chain}", "COMMIT"]
        code, output = self._exec(["sh", "-c", APPLY_RULES, "apply", "\n".join(lines)], what)
        if code != 0:
            raise InjectionFailed(f"{what}: iptables-restore failed (exit {code}): {output}")
        return {"chain": chain, "peers": peers}

    def undo(self, action: Action, tag: str) -> None:
        import docker.errors

        api = self.runtime.docker.api
        what = f"undoing {action} of lab node {self.node.name}"
        try:
            if action == "stop":
                api.start(self._container)
            elif action == "pause":
                if api.inspect_container(self._container)["State"].get("Paused"):
                    api.unpause(self._container)
                pausing.release(self._container, self.runtime.run_id)
            else:
                code, output = self._exec(
                    ["sh", "-c", REVERT, "revert", chain_name(tag)], what, RevertFailed
                )
                if code != 0:
                    raise RevertFailed(f"{what}: {output}")
        except docker.errors.NotFound:
            raise RevertFailed(f"{what}: the node's container is gone") from None
        except docker.errors.APIError as exc:
            raise RevertFailed(f"{what}: {exc.explanation or exc}") from None

    def undo_argv(self, action: Action, tag: str) -> tuple[str, ...]:
        if action == "stop":
            return ("docker", "start", self._container)
        if action == "pause":
            return ("docker", "unpause", self._container)
        return ("docker", "exec", self._container, "sh", "-c", REVERT, "revert", chain_name(tag))

    def _exec(self, argv: list[str], what: str, error: type = InjectionFailed) -> tuple[int, str]:
        with engine_errors(error, what):
            result = exec_run(self.runtime.docker.api, self._container, argv, label=self.node.name)
        code = result.exit_code
        return int(code if code is not None else -1), result.output.strip()


@hookimpl
def chaosdrill_register_node_controllers(registry: Registry) -> None:
    registry.add_node_controller(LabNodeController)
