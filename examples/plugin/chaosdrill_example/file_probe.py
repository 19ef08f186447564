"""``example.file``: a file exists (or not) in every container of the target.

With ``present: false`` it is the steady state that says no flag file is
left over (``example.flag``'s, or anyone's); with ``contains`` it checks
what a file says (a status file, a rendered configuration). A failed check
is data, not an error: ``Check(False, "...")`` names the container and what
was wrong; a container that cannot be looked into (paused, stopped, gone)
fails the check with the engine's reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.plugin_api import ChaosError, Check, Probe, Regex, Timeout, search
from chaosdrill_example.flag import FlagParams, run_in

if TYPE_CHECKING:
    from chaos.plugin_api import Runtime, TargetRef

READ_LIMIT = 65536
"""Bytes of the file read for ``contains``: a check stays cheap whatever the file."""

LOOK = f"""\
[ -e "$1" ] || exit 3
head -c {READ_LIMIT} "$1"
"""
"""Exit 3 when nothing is at the path, else print the start of the file."""


class FileParams(FlagParams):
    present: bool = True
    """``false``: the check passes when nothing exists at the path."""
    contains: Regex | None = None
    """An RE2 pattern the file's start must match (with ``present: true``)."""
    timeout: Timeout = 5.0
    """For the look into each container."""


class FileProbe(Probe):
    """Look at a path in every container of the step's target."""

    name = "example.file"
    summary = "a file exists (or not, present: false) in every container of the target"
    Params = FileParams
    accepts_target = True
    max_in_flight = 1
    """One look at a time: each is an exec, work for the engine."""

    def deadline(self, params: Any, targets: tuple[TargetRef, ...] = ()) -> float:
        """One exec per container, one after another: the timeout, each."""
        return (params.timeout + 1.0) * max(1, len(targets))

    def check(self, runtime: Runtime, params: FileParams, targets: tuple[TargetRef, ...]) -> Check:
        if not targets:
            return Check(False, "no container to look in (the target selected none)")
        seen = []
        for target in targets:
            try:
                result = run_in(
                    runtime, target, ["sh", "-c", LOOK, "look", params.path], ChaosError
                )
            except ChaosError as exc:
                return Check(False, str(exc))
            if result is None:
                return Check(False, f"{target.name}: container gone")
            exists = result.exit_code == 0
            if result.exit_code not in (0, 3):
                return Check(False, f"{target.name}: exit {result.exit_code}: {result.stderr}")
            if exists != params.present:
                state = "exists" if exists else "is missing"
                return Check(False, f"{target.name}: {params.path} {state}")
            if exists and params.contains and not search(params.contains, result.stdout):
                return Check(False, f"{target.name}: {params.path} does not match the pattern")
            seen.append(target.name)
        state = "present" if params.present else "absent"
        return Check(True, f"{params.path} {state} in {', '.join(seen)}")
