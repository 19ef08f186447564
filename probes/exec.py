"""``exec``: a command run inside a container exits as expected.

The command is an argv list handed to Docker as is: it is never joined into
a shell string, so configuration values cannot inject shell syntax. Write
``[sh, -c, "..."]`` yourself when you want a shell.

A failed sample's detail ends with what the command wrote: the last
:data:`TAIL_CHARS` characters of its stdout and of its stderr, each
(``web-1: exit 3 (expected 0); stdout: ...; stderr: ...``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pydantic import Field

from chaos.plugin_api import (
    DEADLINE_GRACE,
    ChaosError,
    Check,
    Params,
    Probe,
    Regex,
    Timeout,
    describe_engine_error,
    exec_run,
    hookimpl,
    search,
)
from probes._containers import inspect_all

if TYPE_CHECKING:
    from chaos.plugin_api import Registry, Runtime, TargetRef


TAIL_CHARS = 1024
"""How much of the end of each stream (stdout, stderr) a failed sample's detail keeps."""


class ExecExpect(Params):
    exit_code: int = 0
    stdout_regex: Regex | None = None


class ExecParams(Params):
    command: list[str] = Field(min_length=1)
    container: str | None = None
    """Container name or id; or give the step a ``target``."""
    user: str | None = None
    expect: ExecExpect = ExecExpect()
    timeout: Timeout = 5.0


class ExecProbe(Probe):
    name = "exec"
    summary = "a command (argv list) inside a container exits as expected"
    Params = ExecParams
    accepts_target = True
    max_in_flight = 1
    """One exec at a time: each is work for the engine, and a pause waits for execs under way."""

    def deadline(self, params: Any, targets: tuple[TargetRef, ...] = ()) -> float:
        """The check runs the command in each container, one after another: its own timeout, each."""
        each = params.timeout + DEADLINE_GRACE
        return each * max(1, 1 if params.container else len(targets))

    def check(self, runtime: Runtime, params: ExecParams, targets: tuple[TargetRef, ...]) -> Check:
        results = inspect_all(runtime, params.container, targets)
        if not results:
            return Check(False, "no container to run in (the target selected none)")
        details = []
        for item in results:
            if item.info is None:
                return Check(False, f"{item.label}: {item.problem}")
            state = item.info["State"]
            if state.get("Paused"):
                return Check(False, f"{item.label}: paused")
            if not state.get("Running"):
                return Check(False, f"{item.label}: not running")
            ok, detail = self._run(runtime, item.info["Id"], item.label, params)
            if not ok:
                return Check(False, detail)
            details.append(detail)
        return Check(True, "; ".join(details))

    @staticmethod
    def _run(
        runtime: Runtime, container_id: str, label: str, params: ExecParams
    ) -> tuple[bool, str]:
        api = runtime.docker.api
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                result = exec_run(
                    api,
                    container_id,
                    params.command,
                    label=label,
                    user=params.user,
                    timeout=params.timeout,
                )
                outcome["stdout"], outcome["stderr"] = result.stdout, result.stderr
                outcome["exit"] = result.exit_code
            except ChaosError as exc:  # paused, or still running at the timeout
                outcome["error"] = str(exc)
            except Exception as exc:  # turned into a failed check below
                outcome["error"] = f"{label}: {describe_engine_error(exc)}"

        # exec_run is bounded by the timeout and every engine call by the
        # engine timeout, so the worker always ends; the sample does not wait
        # longer than the probe's timeout for it
        worker = threading.Thread(target=work, daemon=True, name=f"exec-probe-{label}")
        worker.start()
        worker.join(params.timeout + 0.5)
        if worker.is_alive():
            return False, f"{label}: command still running after {params.timeout:g}s"
        if "error" in outcome:
            return False, str(outcome["error"])
        exit_code, stdout = outcome.get("exit"), str(outcome.get("stdout", ""))
        output = tails(stdout, str(outcome.get("stderr", "")))
        if exit_code != params.expect.exit_code:
            return False, f"{label}: exit {exit_code} (expected {params.expect.exit_code}){output}"
        if params.expect.stdout_regex and not search(params.expect.stdout_regex, stdout):
            return False, f"{label}: output does not match {params.expect.stdout_regex!r}{output}"
        return True, f"{label}: exit {exit_code}"


def tail(text: str, limit: int = TAIL_CHARS) -> str:
    """The end of ``text``, at most ``limit`` characters, from a line start when one is
    near enough; ``...`` marks a cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    end = text[-limit:]
    newline = end.find("\n")
    if 0 <= newline < limit // 2:
        end = end[newline + 1 :]
    return "..." + end


def tails(stdout: str, stderr: str) -> str:
    """``; stdout: ...; stderr: ...`` for the streams that said anything."""
    return "".join(
        f"; {name}: {tail(text)}"
        for name, text in (("stdout", stdout), ("stderr", stderr))
        if text.strip()
    )


@hookimpl
def chaosdrill_register_probes(registry: Registry) -> None:
    registry.add_probe(ExecProbe)
