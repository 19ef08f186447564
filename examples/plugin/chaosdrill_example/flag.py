"""``example.flag``: a flag file the application watches, present for the fault's duration.

Many services read a file as a switch: a maintenance page, a load balancer
health check that answers 503 while ``/tmp/drain`` exists, a feature that
turns off. This fault creates such a file inside each target container and
removes it at the end, so an experiment can see what the rest of the system
does while one instance is switched.

What makes it safe, and what every fault should copy:

* **It never destroys anything.** The file is created only if nothing exists
  at the path (``set -C``), and it holds a token naming this injection
  (``chaosdrill <injection id>``). A revert removes the file only while it
  still holds that token: a file someone else put there, before or during the
  fault, is left alone.
* **The revert needs nothing but the ledger.** The token comes from
  ``ctx.injection_id``, which is recorded before the injection, and the path
  from the parameters: ``chaosdrill recover`` in another process, after a
  runner that died half-way through ``inject``, can revert it.
* **Reverting twice is reverting once.** A second revert finds no file of
  ours and succeeds; so does a revert of a fault that was never injected.
* **A dead man's switch.** :meth:`FlagFile.watchdog` gives the engine a
  command for a helper container that removes the file (same token check)
  through the engine's API at the deadline, even when the runner was
  SIGKILLed. It is armed before ``inject`` runs, which is why it must be,
  and is, harmless when the file was never created.
* **Only the target.** Every call names ``ctx.target.id``, the engine id
  the target resolved to; nothing is looked up by name.

The target container needs ``sh``, ``grep`` and ``rm`` (any image with a
shell: busybox, Alpine, Debian); a container without them is refused at
injection with the engine's message.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import field_validator

from chaos.plugin_api import (
    ENGINE_SOCKET,
    ChaosError,
    Fault,
    FaultContext,
    HelperCommand,
    InjectionFailed,
    Params,
    RevertFailed,
    describe_engine_error,
    exec_run,
)

if TYPE_CHECKING:
    from chaos.plugin_api import ExecResult, Runtime, TargetRef

EXEC_TIMEOUT = 10.0
"""Seconds one command in the target may take."""

CREATE = """\
[ -e "$1" ] && { echo "$1 exists already: refusing to overwrite it" >&2; exit 3; }
set -C
printf '%s\\n' "$2" > "$1"
"""
"""Create the file only where nothing is (``set -C``: no overwrite, even in a race)."""

REMOVE = """\
if grep -qxF "$2" "$1" 2>/dev/null; then rm -f "$1"; fi
! grep -qxF "$2" "$1" 2>/dev/null
"""
"""Remove the file if it holds our token; fail only if it still does afterwards."""

WATCHDOG = """\
sock=$1; id=$2; body=$3
exec_id=$(curl -sS --max-time 10 --unix-socket "$sock" -H 'Content-Type: application/json' \\
  -X POST -d "$body" "http://localhost/containers/$id/exec" \\
  | sed -n 's/.*"Id":"\\([0-9a-f]*\\)".*/\\1/p')
[ -n "$exec_id" ] || exit 0
curl -sS --max-time 10 --unix-socket "$sock" -H 'Content-Type: application/json' \\
  -X POST -d '{"Detach":true,"Tty":false}' "http://localhost/exec/$exec_id/start"
"""
"""The watchdog's program (in chaosdrill's netns-helper image: sh, curl, sed): run
:data:`REMOVE` in the target through the engine API (create an exec, start it).
A target that is gone or not running cannot exec: nothing is done, and the
ledger entry stays open for ``chaosdrill recover``."""


class FlagParams(Params):
    path: str
    """Absolute path of the flag file inside the container (``/tmp/maintenance``)."""

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or value.rstrip("/") == "":
            raise ValueError("must be an absolute path to a file, such as /tmp/maintenance")
        if any(c in value for c in "\n\r\0"):
            raise ValueError("must not contain a line break or a NUL character")
        return value


def token(injection_id: str) -> str:
    """What the file holds: names the injection, so only its own revert removes it."""
    return f"chaosdrill {injection_id}"


class FlagFile(Fault):
    """Create a flag file in each target container for the fault's duration.

    The file is created only where nothing exists and removed at the end only
    while it still holds this injection's token; a watchdog removes it at the
    deadline if the runner is gone.
    """

    name = "example.flag"
    summary = (
        "create a flag file in the container (a maintenance or drain switch); removed at the end"
    )
    Params = FlagParams
    reversible = True

    def inject(self, ctx: FaultContext, params: FlagParams) -> dict[str, Any]:
        result = _run(ctx, ["sh", "-c", CREATE, "flag", params.path, token(ctx.injection_id)])
        if result is None:
            raise InjectionFailed(f"container {ctx.target.name} is gone")
        if result.exit_code != 0:
            raise InjectionFailed(
                f"creating {params.path} in {ctx.target.name} "
                f"(exit {result.exit_code}): {result.output.strip()}"
            )
        return {"path": params.path}

    def revert(self, ctx: FaultContext, params: FlagParams, state: dict[str, Any]) -> dict | None:
        result = _run(
            ctx, ["sh", "-c", REMOVE, "flag", params.path, token(ctx.injection_id)], RevertFailed
        )
        if result is None:
            return {"container": "gone"}  # and the file with it
        if result.exit_code != 0:
            raise RevertFailed(
                f"{params.path} in {ctx.target.name} still holds this fault's token "
                f"(exit {result.exit_code}): {result.output.strip()}"
            )
        return None

    def watchdog(self, ctx: FaultContext, params: FlagParams) -> HelperCommand:
        body = json.dumps(
            {"Cmd": ["sh", "-c", REMOVE, "flag", params.path, token(ctx.injection_id)]}
        )
        return HelperCommand(
            ("sh", "-c", WATCHDOG, "flag-watchdog", ENGINE_SOCKET, ctx.target.id, body),
            engine_socket=True,
        )


def _run(
    ctx: FaultContext, argv: list[str], error: type[ChaosError] = InjectionFailed
) -> ExecResult | None:
    """Run ``argv`` in the target; None when the container no longer exists."""
    return run_in(ctx.runtime, ctx.target, argv, error)


def run_in(
    runtime: Runtime, target: TargetRef, argv: list[str], error: type[ChaosError]
) -> ExecResult | None:
    """``exec_run`` in ``target``, its failures worded as ``error``; None when it is gone."""
    import docker.errors

    try:
        return exec_run(
            runtime.docker.api, target.id, argv, label=target.name, timeout=EXEC_TIMEOUT
        )
    except docker.errors.NotFound:
        return None
    except ChaosError as exc:  # paused by a run, or still running at the timeout
        raise error(str(exc)) from None
    except Exception as exc:  # not running, refused: the engine's words
        raise error(f"{target.name}: {describe_engine_error(exc)}") from None
