"""Container faults: kill, crash, stop, restart, pause and remove.

``container.kill`` and ``container.crash`` both end the main process, but
Docker sees them differently. A kill through the API is recorded as a manual
stop, so a container with ``restart: always`` stays down: it tests what
happens when someone (or something) stops a container. ``container.crash``
kills the process from outside Docker, through the host PID namespace, which
is exactly what a segfault or the OOM killer looks like to Docker: the restart
policy applies and ``RestartCount`` goes up. Use ``crash`` to test recovery
from a crash, ``kill`` to test an operator's or orchestrator's stop.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, Literal

from chaos import cgroup_freezer, pausing
from chaos.cgroup_freezer import Freezer, FreezerError
from chaos.docker_client import is_engine_timeout
from chaos.helper_containers import ENGINE_SOCKET, HOST_CGROUPS
from chaos.plugin_api import (
    Duration,
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
    run_helper,
)
from chaos.signals import SignalName, signal_number

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef


def _inspect(runtime: Runtime, target: TargetRef, error: type[Exception]) -> dict[str, Any]:
    with engine_errors(error, f"inspecting container {target.name}"):  # type: ignore[arg-type]
        return runtime.docker.api.inspect_container(target.id)


def _require_running(runtime: Runtime, target: TargetRef) -> dict[str, Any]:
    info = _inspect(runtime, target, InjectionFailed)
    state = info["State"]
    if not state.get("Running"):
        raise InjectionFailed(f"container {target.name} is not running ({state.get('Status')})")
    return info


def _is_gone(exc: BaseException) -> bool:
    import docker.errors

    return isinstance(exc, docker.errors.NotFound)


class KillParams(Params):
    signal: SignalName = "SIGKILL"


class ContainerKill(Fault):
    name = "container.kill"
    summary = "send a signal through the Docker API (Docker treats SIGKILL as a manual stop)"
    Params = KillParams

    def inject(self, ctx: FaultContext, params: KillParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        _require_running(runtime, target)
        with engine_errors(InjectionFailed, f"killing container {target.name}"):
            runtime.docker.api.kill(target.id, signal=params.signal)
        return {"signal": params.signal}


class CrashParams(Params):
    signal: SignalName = "SIGKILL"
    via: Literal["auto", "host", "helper"] = "auto"
    """``host`` kills from this process (engine on this host, run as root);
    ``helper`` starts a short-lived container with the host PID namespace;
    ``auto`` uses ``host`` when the PID can be verified as the container's."""


CRASH_SCRIPT = 'grep -q "$1" "/proc/$2/cgroup" && kill -"$3" "$2"'
"""Run in the helper: kill PID $2 with signal $3 only if it belongs to container $1."""


class ContainerCrash(Fault):
    name = "container.crash"
    summary = "kill the main process through the host PID namespace, like a real crash"
    Params = CrashParams

    def inject(self, ctx: FaultContext, params: CrashParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        info = _require_running(runtime, target)
        pid = int(info["State"]["Pid"])
        before = int(info.get("RestartCount", 0))
        via = params.via
        if via == "auto":
            via = (
                "host"
                if runtime.engine_is_local and _pid_is_container(pid, target.id)
                else "helper"
            )
        if via == "host":
            self._kill_on_host(target, pid, params.signal)
        else:
            self._kill_with_helper(runtime, target, pid, params.signal)
        return {"pid": pid, "signal": params.signal, "via": via, "restart_count_before": before}

    @staticmethod
    def _kill_on_host(target: TargetRef, pid: int, sig: str) -> None:
        import os

        if not _pid_is_container(pid, target.id):
            raise InjectionFailed(
                f"process {pid} of container {target.name} is not visible from this host; "
                "use via: helper for a remote engine"
            )
        try:
            os.kill(pid, signal_number(sig))
        except ProcessLookupError:
            raise InjectionFailed(
                f"container {target.name}: process {pid} is already gone"
            ) from None
        except PermissionError:
            raise InjectionFailed(
                f"container {target.name}: not allowed to signal process {pid} (run as root, "
                "or use via: helper)"
            ) from None

    @staticmethod
    def _kill_with_helper(runtime: Runtime, target: TargetRef, pid: int, sig: str) -> None:
        exit_code, output = run_helper(
            runtime,
            ["sh", "-c", CRASH_SCRIPT, "crash", target.id, str(pid), sig.removeprefix("SIG")],
            purpose=f"crash {target.name}",
            pid_mode="host",
        )
        if exit_code != 0:
            raise InjectionFailed(
                f"container {target.name}: helper could not kill process {pid} "
                f"(exit {exit_code}): {output.strip() or 'process not found in the container'}"
            )


def _pid_is_container(pid: int, container_id: str) -> bool:
    try:
        with open(f"/proc/{pid}/cgroup") as fh:
            return container_id in fh.read()
    except OSError:
        return False


class StopParams(Params):
    timeout: Duration = 10.0
    """Seconds Docker waits after SIGTERM before SIGKILL."""


class ContainerStop(Fault):
    name = "container.stop"
    summary = "stop the container (SIGTERM, then SIGKILL after timeout); started again at the end"
    Params = StopParams
    reversible = True

    def inject(self, ctx: FaultContext, params: StopParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        _require_running(runtime, target)
        with engine_errors(InjectionFailed, f"stopping container {target.name}"):
            runtime.docker.api.stop(target.id, timeout=max(0, round(params.timeout)))
        return {}

    def revert(self, ctx: FaultContext, params: StopParams, state: dict[str, Any]) -> None:
        runtime, target = ctx.runtime, ctx.target
        try:
            info = runtime.docker.api.inspect_container(target.id)
        except Exception as exc:
            if _is_gone(exc):
                return  # removed meanwhile: nothing left to start
            raise RevertFailed(
                f"inspecting container {target.name}: {describe_engine_error(exc)}"
            ) from None
        if info["State"].get("Running"):
            return  # something else already started it again
        with engine_errors(RevertFailed, f"starting container {target.name}"):
            runtime.docker.api.start(target.id)
        # done only once it shows: running again
        state_after = _inspect(runtime, target, RevertFailed)["State"]
        if not state_after.get("Running"):
            raise RevertFailed(
                f"container {target.name} was started but is not running "
                f"({state_after.get('Status')}, exit code {state_after.get('ExitCode')})"
            )

    def watchdog(self, ctx: FaultContext, params: StopParams) -> HelperCommand:
        return HelperCommand(
            engine_call("POST", f"/containers/{ctx.target.id}/start"), engine_socket=True
        )


class RestartParams(Params):
    timeout: Duration = 10.0


class ContainerRestart(Fault):
    name = "container.restart"
    summary = "restart the container through the Docker API"
    Params = RestartParams

    def inject(self, ctx: FaultContext, params: RestartParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        _require_running(runtime, target)
        with engine_errors(InjectionFailed, f"restarting container {target.name}"):
            runtime.docker.api.restart(target.id, timeout=max(0, round(params.timeout)))
        return {}


class ContainerPause(Fault):
    name = "container.pause"
    summary = "freeze every process of the container (cgroup freezer); unpaused at the end"
    reversible = True

    def inject(self, ctx: FaultContext, params: Params) -> dict[str, Any]:
        """One engine call: the pause itself. The engine refuses a container
        that is not running or already paused; only then is it inspected, to
        say which (a paused one is someone else's fault: never stacked on)."""
        runtime, target = ctx.runtime, ctx.target
        # announced before the pause call: no exec of this process starts in it from now on
        pausing.hold(target.id, runtime.run_id)
        try:
            runtime.docker.api.pause(target.id)
        except Exception as exc:
            if is_engine_timeout(exc):
                # it may be frozen with its API wedged: held as injected, so that the
                # revert (or the watchdog, or recover) thaws it
                return {"pause": f"no answer: {describe_engine_error(exc)}"}
            pausing.release(target.id, runtime.run_id)
            info = _require_running(runtime, target)  # gone or not running: says so
            if info["State"].get("Paused"):
                raise InjectionFailed(
                    f"container {target.name} is already paused; refusing to stack on another pause"
                ) from None
            raise InjectionFailed(
                f"pausing container {target.name}: {describe_engine_error(exc)}"
            ) from None
        except BaseException:
            pausing.release(target.id, runtime.run_id)
            raise
        return {}

    def revert(self, ctx: FaultContext, params: Params, state: dict[str, Any]) -> dict[str, Any]:
        observed = unpause_verified(ctx.runtime, ctx.target)
        pausing.release(ctx.target.id, ctx.runtime.run_id)
        return observed

    def watchdog(self, ctx: FaultContext, params: Params) -> HelperCommand:
        return HelperCommand(
            ("sh", "-c", UNPAUSE_OR_THAW, "unpause", ctx.target.id, ENGINE_SOCKET, HOST_CGROUPS),
            engine_socket=True,
            host_cgroups=True,
        )


UNPAUSE_OR_THAW = r"""
id="$1"; sock="$2"; cg="$3"
call() {
  curl -s --max-time 10 --unix-socket "$sock" -o /dev/null -w '%{http_code}' \
    -X POST "http://localhost/containers/$id/$1"
}
freeze() {
  # cgroup v1 (also when a v2 hierarchy is mounted beside it): the freezer
  # hierarchy alone, which is what Docker freezes; else cgroup v2
  if [ -d "$cg/freezer" ]; then
    for d in $(find "$cg/freezer" -maxdepth 4 -type d -name "*$id*" 2>/dev/null); do
      echo "$1" > "$d/freezer.state"
    done
  elif [ -f "$cg/cgroup.controllers" ]; then
    for d in $(find "$cg" -maxdepth 4 -type d -name "*$id*" 2>/dev/null); do
      if [ "$1" = FROZEN ]; then echo 1; else echo 0; fi > "$d/cgroup.freeze"
    done
  fi
}
case "$(call unpause)" in 204|404) exit 0 ;; esac
freeze THAWED
sleep 1
if curl -s --max-time 10 --unix-socket "$sock" "http://localhost/containers/$id/json" \
    | grep -q '"Paused":true'; then
  freeze FROZEN
  call unpause
fi
"""
"""The pause's dead man's switch: unpause through the engine; when the engine
does not answer (wedged) or says the container is not paused, thaw its
freezer cgroup directly, and let the engine unpause a pause it still records."""


UNPAUSE_VERIFY_WITHIN = 15.0
"""How long an unpause may take to show (through the API) once it was done."""


def unpause_verified(runtime: Runtime, target: TargetRef) -> dict[str, Any]:
    """Unpause the container and verify that it is no longer paused.

    The unpause comes first, and when the engine says it is done the kernel's
    own view confirms it (the freezer cgroup reads thawed, when the engine is
    on this host), so a plain revert costs one engine call. Anything else
    (a refusal, a cgroup still frozen, an engine elsewhere) goes through the
    careful path: inspect, unpause, until the API says not paused and the
    cgroup is thawed. When the engine does not answer for the container (an
    exec frozen in it wedges every call), its freezer cgroup is thawed
    directly, if the engine is on this host. Returns what was observed
    (``{}``, or how it was unwedged); raises RevertFailed, naming the
    container, when the unpause cannot be verified.
    """
    from chaos.bounded_client import single_attempt

    api = runtime.docker.api
    local = runtime.engine_is_local
    try:
        # a wedged container answers no retry either: go to the thaw at once
        with single_attempt() if local else contextlib.nullcontext():
            api.unpause(target.id)
    except Exception as exc:
        if _is_gone(exc):
            return {"container": "gone"}
        if is_engine_timeout(exc):
            return _unwedge(runtime, target, f"unpause: {describe_engine_error(exc)}")
        return _unpause_carefully(runtime, target)  # e.g. "not paused": thawed behind its back
    freezer = None
    if local:
        with contextlib.suppress(FreezerError):
            freezer = cgroup_freezer.find(target.id)
            if not freezer.frozen():
                return {}
    _verify_unpaused(runtime, target, freezer)
    return {}


def _unpause_carefully(runtime: Runtime, target: TargetRef) -> dict[str, Any]:
    """Inspect first, then unpause what the engine records as paused, then verify."""
    from chaos.bounded_client import single_attempt

    api = runtime.docker.api
    try:
        with single_attempt() if runtime.engine_is_local else contextlib.nullcontext():
            info = api.inspect_container(target.id)
    except Exception as exc:
        if _is_gone(exc):
            return {"container": "gone"}
        if not is_engine_timeout(exc):
            raise RevertFailed(
                f"inspecting container {target.name}: {describe_engine_error(exc)}"
            ) from None
        return _unwedge(runtime, target, f"inspect: {describe_engine_error(exc)}")
    freezer = None
    if runtime.engine_is_local:
        with contextlib.suppress(FreezerError):
            freezer = cgroup_freezer.find(target.id, info["State"].get("Pid"))
    if info["State"].get("Paused"):
        try:
            api.unpause(target.id)
        except Exception as exc:
            if _is_gone(exc):
                return {"container": "gone"}
            if is_engine_timeout(exc):
                return _unwedge(runtime, target, f"unpause: {describe_engine_error(exc)}")
            # e.g. "not paused" after a thaw behind Docker's back: settled below
    _verify_unpaused(runtime, target, freezer)
    return {}


UNWEDGE_SETTLE = 1.0
"""After a thaw, calls the engine had queued (a pause, an unpause) may still
run: the unpause is verified again this much later."""


def _unwedge(runtime: Runtime, target: TargetRef, wedged: str) -> dict[str, Any]:
    freezer = _thaw_wedged(runtime, target, wedged)
    _verify_unpaused(runtime, target, freezer)
    time.sleep(UNWEDGE_SETTLE)
    _verify_unpaused(runtime, target, freezer)
    return {"thawed": str(freezer.path), "engine": wedged}


def _thaw_wedged(runtime: Runtime, target: TargetRef, wedged: str) -> Freezer:
    if not runtime.engine_is_local:
        raise RevertFailed(
            f"unpausing container {target.name}: {wedged}; the engine is not on this host, "
            "so its freezer cgroup cannot be thawed from here"
        )
    try:
        freezer = cgroup_freezer.find(target.id)
        if not freezer.thaw():
            raise FreezerError(f"{freezer.path} still reads as frozen after the thaw")
    except FreezerError as exc:
        raise RevertFailed(
            f"unpausing container {target.name}: {wedged}; thawing its cgroup failed: {exc}"
        ) from None
    return freezer


def _verify_unpaused(runtime: Runtime, target: TargetRef, freezer: Freezer | None) -> None:
    """Until the API says not paused (and the cgroup, when at hand, is thawed):
    bring Docker's record and the cgroup into agreement, then unpause."""
    from chaos.bounded_client import single_attempt

    api = runtime.docker.api
    deadline = time.monotonic() + UNPAUSE_VERIFY_WITHIN
    last = ""
    while True:
        try:
            with single_attempt() if freezer is not None else contextlib.nullcontext():
                info = api.inspect_container(target.id)
            paused = bool(info["State"].get("Paused"))
            frozen = freezer is not None and freezer.frozen()
            if not paused and not frozen:
                return
            if paused and freezer is not None and not frozen:
                # thawed behind Docker's back: Docker's unpause would fail with "not
                # paused", so freeze it again and let Docker do the unpause it records
                freezer.freeze()
                api.unpause(target.id)
            elif paused:
                api.unpause(target.id)
            elif freezer is not None:
                freezer.thaw()  # frozen behind Docker's back
            last = "still paused" if paused else f"cgroup {freezer.path if freezer else ''} frozen"
        except Exception as exc:
            if _is_gone(exc):
                return
            last = describe_engine_error(exc) if not isinstance(exc, OSError) else str(exc)
            if freezer is not None and is_engine_timeout(exc):
                # wedged again (a pause call that was still queued froze it while
                # an exec started): thaw again
                with contextlib.suppress(FreezerError):
                    freezer.thaw()
        if time.monotonic() >= deadline:
            raise RevertFailed(
                f"container {target.name}: the unpause could not be verified within "
                f"{UNPAUSE_VERIFY_WITHIN:g}s ({last})"
            )
        time.sleep(0.2)


class RemoveParams(Params):
    force: bool = True
    """Remove a running container (kill it first)."""
    volumes: bool = False
    """Also remove its anonymous volumes."""


class ContainerRemove(Fault):
    name = "container.remove"
    summary = "remove the container (irreversible: tests that something recreates it)"
    Params = RemoveParams

    def inject(self, ctx: FaultContext, params: RemoveParams) -> dict[str, Any]:
        runtime, target = ctx.runtime, ctx.target
        _inspect(runtime, target, InjectionFailed)
        with engine_errors(InjectionFailed, f"removing container {target.name}"):
            runtime.docker.api.remove_container(target.id, force=params.force, v=params.volumes)
        return {}


BUILTIN_CONTAINER_FAULTS = (
    ContainerKill,
    ContainerCrash,
    ContainerStop,
    ContainerRestart,
    ContainerPause,
    ContainerRemove,
)


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    for fault in BUILTIN_CONTAINER_FAULTS:
        registry.add_fault(fault)
