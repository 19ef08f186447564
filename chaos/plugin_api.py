"""Everything a plugin imports, from one module: ``from chaos.plugin_api import ...``.

The built-in faults (``chaos.faults.*``), probes (``probes.*``), target kinds
(``chaos.targets.*``) and the lab's node controller import from here too, and
register through the same hooks (:mod:`chaos.hookspecs`): a third-party plugin
can do anything they do. What is named here is the stable plugin API.

* Interfaces: :class:`Fault` (with :class:`FaultContext`), :class:`Probe`
  (returning a :class:`Check`), :class:`TargetKind` (with its
  :class:`Selector`, resolving to :class:`TargetRef`), :class:`NodeController`
  (with :class:`ControlSettings`); :class:`Registry` is what registration hooks
  receive, :data:`hookimpl` marks a hook implementation, and
  ``chaosdrill_run_finished`` receives a :class:`RunResult`,
  ``chaosdrill_gameday_event`` a :class:`GameDayEvent`.
* Parameters: :class:`Params` is the base of every parameter model;
  :data:`Duration`, :data:`Interval`, :data:`Timeout` and :data:`Regex` parse
  the format's notations; :func:`search` and :func:`fullmatch` match a
  ``Regex`` (RE2: linear time, whatever the input).
* The engine: :class:`Runtime` (``runtime.docker`` is a connected docker-py
  client whose every call is bounded by the engine timeout;
  ``runtime.swarm`` the swarm under test; chaosdrill's own containers carry
  the label :data:`LABEL_HELPER`, never a target), :func:`engine_errors` and
  :func:`describe_engine_error` to word the engine's failures.
* Commands: :func:`exec_run` runs a command in a container (the one exec
  function: it refuses a container a pause holds and never outlives its
  timeout); :func:`run_in_netns` runs one in a container's network namespace;
  :func:`run_helper` runs one in a helper container; a :class:`HelperCommand`
  describes a revert for a fault's watchdog (:func:`engine_call` builds one
  that calls the engine API; a command of its own finds the engine's socket at
  :data:`ENGINE_SOCKET` when it asks for ``engine_socket=True``).
* HTTP: :func:`send_http` sends one request from this process, bounded in
  time and size (an :class:`HttpAnswer` with at most :data:`HTTP_MAX_BODY`
  bytes of body, or :class:`RequestFailed` saying why none came);
  :class:`HttpRequest` holds the parameters the ``http`` probe and action
  share (extend it for a request of your own), :class:`HttpExpect` their
  ``expect:``.
* Errors: raise :class:`InjectionFailed` or :class:`RevertFailed` from a
  fault, :class:`TargetError` from a target kind.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from chaos.container_exec import ExecResult, ExecTimedOut, exec_run
from chaos.docker_client import describe_engine_error, engine_errors
from chaos.durations import Duration, Interval, Timeout
from chaos.errors import ChaosError, InjectionFailed, RevertFailed, TargetError, UsageError
from chaos.fault import Fault, FaultContext
from chaos.gameday.events import GameDayEvent
from chaos.helper_containers import ENGINE_SOCKET, HelperCommand, engine_call, run_helper
from chaos.hookspecs import hookimpl
from chaos.http_request import HTTP_MAX_BODY, HttpAnswer, HttpExpect, HttpRequest, RequestFailed
from chaos.http_request import send as send_http
from chaos.labels import LABEL_HELPER
from chaos.netns import run_in_netns
from chaos.params import Params
from chaos.patterns import Regex, fullmatch, search
from chaos.probe import DEADLINE_GRACE, HELPER_GRACE, Check, Probe
from chaos.registry import Registry
from chaos.swarm.control import Action, ControlSettings, NodeController
from chaos.targets.base import Selector, TargetKind, TargetRef

if TYPE_CHECKING:
    from chaos.engine.result import RunResult, Verdict
    from chaos.runtime import Runtime
    from chaos.swarm.inventory import Inventory, InventoryNode

_ON_FIRST_USE = {
    "RunResult": "chaos.engine.result",
    "Verdict": "chaos.engine.result",
    "Runtime": "chaos.runtime",
    "Inventory": "chaos.swarm.inventory",
    "InventoryNode": "chaos.swarm.inventory",
}
"""Names whose modules load when a plugin first reaches for them: what only a
run uses (the engine, a run's result) costs ``chaosdrill validate`` nothing."""


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEADLINE_GRACE",
    "ENGINE_SOCKET",
    "HELPER_GRACE",
    "HTTP_MAX_BODY",
    "LABEL_HELPER",
    "Action",
    "ChaosError",
    "Check",
    "ControlSettings",
    "Duration",
    "ExecResult",
    "ExecTimedOut",
    "Fault",
    "FaultContext",
    "GameDayEvent",
    "HelperCommand",
    "HttpAnswer",
    "HttpExpect",
    "HttpRequest",
    "InjectionFailed",
    "Interval",
    "Inventory",
    "InventoryNode",
    "NodeController",
    "Params",
    "Probe",
    "Regex",
    "Registry",
    "RequestFailed",
    "RevertFailed",
    "RunResult",
    "Runtime",
    "Selector",
    "TargetError",
    "TargetKind",
    "TargetRef",
    "Timeout",
    "UsageError",
    "Verdict",
    "describe_engine_error",
    "engine_call",
    "engine_errors",
    "exec_run",
    "fullmatch",
    "hookimpl",
    "run_helper",
    "run_in_netns",
    "search",
    "send_http",
]
