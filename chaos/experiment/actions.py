"""The actions a method step can take besides faults: their names and parameters.

An action is something the experiment does on purpose, at a moment of the
method, that is not a fault: write a canary key before a crash
(``action: exec``), call an endpoint that starts a failover (``action:
http``). It is not reverted and has no watchdog; it either does what it
says (its exit code or status is the expected one) or the run ends
``error`` (reason ``action_failed``). Running them is the engine's
(:mod:`chaos.engine.actions`); this module only says what they take, for
validation and the schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from chaos.durations import Timeout
from chaos.http_request import HttpRequest
from chaos.params import Params
from chaos.patterns import Regex


class ExecExpect(Params):
    exit_code: int = 0
    stdout_regex: Regex | None = None
    """A regular expression that must be found in the command's stdout."""


class ExecActionParams(Params):
    """``action: exec``: an argv run in each container of the step's ``target``
    (or in ``container``), as is, never through a shell."""

    command: list[str] = Field(min_length=1)
    container: str | None = None
    """A container name or id, instead of the step's ``target``."""
    user: str | None = None
    expect: ExecExpect = ExecExpect()
    timeout: Timeout = 10.0


class HttpActionParams(HttpRequest):
    """``action: http``: one request from this process."""

    timeout: Timeout = 5.0


@dataclass(frozen=True)
class ActionType:
    name: str
    summary: str
    Params: type[Params]
    takes_target: bool
    """True: it acts on the containers of the step's ``target`` (or a ``container``)."""


ACTIONS: dict[str, ActionType] = {
    "exec": ActionType(
        "exec",
        "run a command (argv list) in each container of the target; "
        "it must exit as expected (0 by default)",
        ExecActionParams,
        takes_target=True,
    ),
    "http": ActionType(
        "http",
        "send one HTTP request; it must answer with an expected status (below 400 by default)",
        HttpActionParams,
        takes_target=False,
    ),
}
"""Every action a method step can take, by name."""
