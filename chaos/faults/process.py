"""``process.kill`` and ``process.pause``: signal processes inside a container by name.

For sidecar-style processes that are not the container's main process (an
agent, a worker, a log shipper). A helper joins the target's PID namespace
(``pid_mode: container:<id>``) and lists its processes; chaosdrill matches
them with the step's RE2 pattern (never a regex engine in the helper), then
the helper signals exactly the processes chosen, each checked by its PID
*and* its start time, so a PID reused meanwhile is never hit.

The namespace's PID 1 (the container's main process) is signalled only when
the pattern matches it, and then through the engine API: the kernel ignores
SIGKILL and SIGSTOP sent to a namespace's init from inside it.

``process.pause`` sends SIGSTOP and records the stopped processes in the
helper, which stays up for the fault's duration: on SIGTERM (the revert, the
watchdog) or at its own deadline it sends them SIGCONT. ``process.kill`` is
one-shot.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, Literal

from chaos.faults import fault_helpers
from chaos.faults.placements import Placement, TaskParams
from chaos.faults.stress import HelperFault, inspect_running
from chaos.plugin_api import (
    InjectionFailed,
    Regex,
    RevertFailed,
    describe_engine_error,
    fullmatch,
    hookimpl,
    search,
)
from chaos.signals import SignalName

if TYPE_CHECKING:
    from chaos.plugin_api import FaultContext, Registry

STOPPED_FILE = "/tmp/chaosdrill-stopped"

HOLD = rf"""
import os, signal, sys, time
def cont(*_):
    try:
        with open("{STOPPED_FILE}") as fh:
            lines = fh.read().split()
    except OSError:
        lines = []
    for item in lines:
        pid, start = item.split(":")
        try:
            with open("/proc/" + pid + "/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[19] != start:
                    continue
            os.kill(int(pid), signal.SIGCONT)
        except (OSError, IndexError):
            pass
    os._exit(0)
with open("/tmp/chaosdrill-hold.pid", "w") as fh:
    fh.write(str(os.getpid()))
signal.signal(signal.SIGTERM, cont)
time.sleep(int(sys.argv[1]))
cont()
"""
"""The helper's main program: at SIGTERM or its deadline, continue every process
recorded as stopped (when its start time still matches)."""

LIST = r"""
import json, os
skip = {os.getpid()}
try:
    skip.add(int(open("/tmp/chaosdrill-hold.pid").read()))
except (OSError, ValueError):
    pass
found = []
for pid in os.listdir("/proc"):
    if not pid.isdigit() or int(pid) in skip:
        continue
    try:
        stat = open("/proc/" + pid + "/stat").read()
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        cmd = open("/proc/" + pid + "/cmdline", "rb").read().rstrip(b"\0").replace(b"\0", b" ")
    except (OSError, ValueError):
        continue
    found.append({"pid": int(pid), "start": fields[19], "state": fields[0], "name": comm,
                  "command": cmd.decode("utf-8", "replace")})
print(json.dumps(found))
"""
"""Lists the namespace's processes (but the helper's own) as JSON."""

SIGNAL = rf"""
import json, os, signal, sys
sig = getattr(signal, sys.argv[1])
record = sys.argv[2] == "record"
done = []
for item in sys.argv[3:]:
    pid, start = item.split(":")
    try:
        with open("/proc/" + pid + "/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[19] != start:
                continue
        if record:
            with open("{STOPPED_FILE}", "a") as fh:
                fh.write(item + "\n")
        if pid != "1":
            os.kill(int(pid), sig)
        done.append(int(pid))
    except (OSError, IndexError):
        pass
print(json.dumps(done))
"""
"""Signals ``pid:start`` items whose start time still matches (PID 1 is only
recorded: the engine signals it); ``record`` first writes them down for the
continue."""


CONTINUE = r"""
for item in $1; do
  pid=${item%%:*}; start=${item#*:}
  now=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)
  [ -n "$now" ] && [ "$now" = "$start" ] && kill -CONT "$pid"
done
exit 0
"""
"""The watchdog's direct undo of a pause: continue the ``pid:start`` items noted
(a PID whose start time changed is another process, left alone)."""


class ProcessParams(TaskParams):
    pattern: Regex
    """RE2 pattern for the processes to hit."""
    match: Literal["name", "command"] = "name"
    """``name``: the pattern must match the whole process name (``comm``, at
    most 15 characters); ``command``: it must occur in the full command line."""


class KillParams(ProcessParams):
    signal: SignalName = "SIGKILL"


def _matches(params: ProcessParams, process: dict[str, Any]) -> bool:
    if params.match == "name":
        return fullmatch(params.pattern, str(process["name"]))
    return search(params.pattern, str(process["command"]))


class ProcessFault(HelperFault):
    """Start the holding helper, list the processes, match, signal."""

    @abstractmethod
    def the_signal(self, params: Any) -> str:
        """The signal sent to the processes chosen."""

    def start_one(
        self, ctx: FaultContext, params: ProcessParams, where: Placement, index: int
    ) -> dict[str, Any]:
        what = f"{self.name} on {where.where}"
        inspect_running(where, InjectionFailed, what)
        seconds = fault_helpers.seconds_left(ctx) if self.reversible else 60
        helper = fault_helpers.start(
            ctx,
            where,
            index,
            ["python3", "-c", HOLD, str(seconds)],
            purpose=what,
            error=InjectionFailed,
        )
        code, output = self._exec(where, helper, ["python3", "-c", LIST], what)
        try:
            processes = json.loads(output)
        except ValueError:
            processes = None
        if code != 0 or not isinstance(processes, list):
            raise InjectionFailed(
                f"{what}: listing processes failed (exit {code}): {output.strip()}"
            )
        chosen = [p for p in processes if _matches(params, p)]
        if not chosen:
            names = ", ".join(sorted({str(p["name"]) for p in processes})) or "none"
            raise InjectionFailed(
                f"{what}: no process matches {params.pattern!r} by {params.match} "
                f"(processes: {names})"
            )
        sig = self.the_signal(params)
        items = [f"{p['pid']}:{p['start']}" for p in chosen]
        if self.reversible:  # noted before the stop: continuing a running process is harmless
            fault_helpers.note_for_watchdog(ctx, [f"{where.container_id[:12]} {i}" for i in items])
        mode = "record" if self.reversible else "once"
        code, output = self._exec(where, helper, ["python3", "-c", SIGNAL, sig, mode, *items], what)
        if code != 0:
            raise InjectionFailed(f"{what}: signalling failed (exit {code}): {output.strip()}")
        if any(p["pid"] == 1 for p in chosen):
            try:
                where.client.api.kill(where.container_id, signal=sig)
            except Exception as exc:
                raise InjectionFailed(
                    f"{what}: signalling the main process: {describe_engine_error(exc)}"
                ) from None
        return {
            "helper": helper[:12],
            "signal": sig,
            "processes": [
                {"pid": p["pid"], "start": p["start"], "name": p["name"]} for p in chosen
            ],
        }

    @staticmethod
    def _exec(where: Placement, helper: str, argv: list[str], what: str) -> tuple[int, str]:
        try:
            return fault_helpers.exec_in(where, helper, argv)
        except Exception as exc:
            raise InjectionFailed(f"{what}: {describe_engine_error(exc)}") from None


class ProcessKill(ProcessFault):
    name = "process.kill"
    summary = "kill processes in the container whose name matches a pattern (not only PID 1)"
    Params = KillParams
    reversible = False

    def the_signal(self, params: KillParams) -> str:
        return params.signal

    def inject(self, ctx: FaultContext, params: Any) -> dict[str, Any]:
        state = super().inject(ctx, params)
        # one-shot: the helper's work is done (it has nothing to continue)
        for where in _placements_of(ctx, state):
            fault_helpers.stop_all(ctx, where, InjectionFailed)
        return state


class ProcessPause(ProcessFault):
    name = "process.pause"
    summary = "SIGSTOP processes in the container matching a pattern; SIGCONT at the end"
    Params = ProcessParams

    def the_signal(self, params: Any) -> str:
        return "SIGSTOP"

    def undo(self, ctx: FaultContext, params: Any) -> fault_helpers.Undo:
        return fault_helpers.Undo(("sh", "-c", CONTINUE, "continue", fault_helpers.NOTES))

    def revert(self, ctx: FaultContext, params: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Continue through the helper (SIGTERM: it continues what it stopped), or,
        when it is gone while the container runs on (killed by force), with a fresh
        helper; the main process also through the engine."""
        observed = super().revert(ctx, params, state)
        for where, record in zip(
            _placements_of(ctx, state), state.get("placements") or [], strict=False
        ):
            processes = [p for p in record.get("processes") or [] if isinstance(p, dict)]
            pids = [p.get("pid") for p in processes]
            if not observed.get("helpers_stopped") and processes:
                observed["continued_by"] = "a fresh helper"
                self._continue(ctx, where, [f"{p.get('pid')}:{p.get('start')}" for p in processes])
            if 1 in pids:
                try:
                    where.client.api.kill(where.container_id, signal="SIGCONT")
                except Exception as exc:
                    import docker.errors

                    if not isinstance(exc, docker.errors.NotFound):
                        raise RevertFailed(
                            f"continuing the main process of {where.where}: "
                            f"{describe_engine_error(exc)}"
                        ) from None
        return observed

    @staticmethod
    def _continue(ctx: FaultContext, where: Placement, items: list[str]) -> None:
        import docker.errors

        what = f"continuing the processes stopped in {where.where}"
        try:
            info = where.client.api.inspect_container(where.container_id)
        except docker.errors.NotFound:
            return  # gone, and its processes with it
        except Exception as exc:
            raise RevertFailed(f"{what}: {describe_engine_error(exc)}") from None
        if not (info.get("State") or {}).get("Running"):
            return  # stopped or restarted: the processes stopped are gone
        fault_helpers.run_once(
            ctx,
            where,
            ["sh", "-c", CONTINUE, "continue", " ".join(items)],
            purpose=what,
            error=RevertFailed,
        )


def _placements_of(ctx: FaultContext, state: dict[str, Any]) -> list[Placement]:
    from chaos.faults.placements import recorded_placements

    return recorded_placements(ctx, state) or []


@hookimpl
def chaosdrill_register_faults(registry: Registry) -> None:
    registry.add_fault(ProcessKill)
    registry.add_fault(ProcessPause)
