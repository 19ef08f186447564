"""The plugin author's reference: every hook chaosdrill calls.

A plugin is a module (or any object) with functions named after these hooks
and decorated with :data:`hookimpl`::

    from chaos.plugin_api import Fault, Params, hookimpl


    class Slow(Fault):
        name = "myteam.slow"
        ...


    @hookimpl
    def chaosdrill_register_faults(registry):
        registry.add_fault(Slow)

Publish it under the entry point group ``chaosdrill`` in your package's
``pyproject.toml``::

    [project.entry-points.chaosdrill]
    myteam = "myteam_chaos.plugin"

Built-in faults (``chaos.faults.*``), probes (``probes.*``) and target kinds
(``chaos.targets.*``) are plugins registered through these same hooks.

Name your faults and probes ``<entry point name>.<something>`` (``myteam.slow``
above): ``chaosdrill validate`` then imports only the plugins a file names,
finding yours by that prefix. Any other name still works; a file using it is
checked against every installed plugin, which takes longer.

Rules that hold for every hook:

* Hooks are called with keyword arguments only; an implementation may accept
  any subset of the documented arguments, by name.
* None of these hooks is ``firstresult``: every implementation is called and
  return values are ignored unless a hook says otherwise.
* A plugin whose entry point cannot be imported, that implements a hook not
  listed here, or whose registration hook raises is reported under the
  plugin's name by ``chaosdrill plugins`` (exit code 4) and the other plugins
  still load.
* ``CHAOSDRILL_DISABLE_PLUGINS=name,other`` skips plugins by entry point name
  or, for built-ins, by module name (``probes.http``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from chaos.engine.result import RunResult
    from chaos.gameday.events import GameDayEvent
    from chaos.registry import Registry

PROJECT = "chaosdrill"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorates a plugin's hook implementations (``@hookimpl``)."""


@hookspec
def chaosdrill_register_faults(registry: Registry) -> None:
    """Register fault types with ``registry.add_fault(FaultClass)``.

    ``registry`` is the :class:`chaos.registry.Registry` every command looks
    types up in. Called once per plugin when the plugin manager is built,
    before any experiment is loaded. ``FaultClass`` subclasses
    :class:`chaos.fault.Fault`; its ``Params`` model is used to validate
    experiments and appears in ``chaosdrill schema`` and ``chaosdrill
    plugins``. ``add_fault`` raises :class:`chaos.registry.RegistrationError`
    for a name that is already taken, a class that leaves ``inject``
    abstract, or a parameter named like a step key (``name``, ``target``,
    ``at``, ``duration``...); the error is reported against this plugin.
    """


@hookspec
def chaosdrill_register_probes(registry: Registry) -> None:
    """Register probe types with ``registry.add_probe(ProbeClass)``.

    ``registry`` is the same :class:`chaos.registry.Registry` and the same
    rules apply as for :func:`chaosdrill_register_faults`; ``ProbeClass``
    subclasses :class:`chaos.probe.Probe` and implements ``check``. Its
    ``Params`` must not use the names of step keys (``interval``,
    ``tolerance``, ``breach_after``...).
    """


@hookspec
def chaosdrill_register_target_kinds(registry: Registry) -> None:
    """Register target kinds with ``registry.add_target_kind(KindClass)``.

    ``registry`` is the same :class:`chaos.registry.Registry`. Called for
    every plugin before the fault and probe hooks. ``KindClass`` subclasses
    :class:`chaos.targets.TargetKind`, validates ``select:`` with its
    ``Selector`` model and turns it into candidate objects. The name becomes a
    valid ``kind:`` value in experiments.
    """


@hookspec
def chaosdrill_register_node_controllers(registry: Registry) -> None:
    """Register node controllers with ``registry.add_node_controller(ControllerClass)``.

    ``registry`` is the same :class:`chaos.registry.Registry`. A node controller
    (:class:`chaos.swarm.control.NodeController`) knows how to stop, pause and
    isolate a swarm node on one platform, and how to undo it. Its ``name`` is
    the ``control.type`` that inventory nodes use to pick it, and its
    ``Control`` model validates the rest of their ``control`` mapping. The lab
    registers ``lab``; a cloud or hypervisor plugin would register its own, and
    node power faults (``node.stop``, ``node.pause``, ``node.partition``,
    ``swarm.lose_managers``) then work on that platform unchanged.
    """


@hookspec
def chaosdrill_run_finished(result: RunResult) -> None:
    """Called once after every run, whatever its verdict, after the journal is written.

    ``result`` is the :class:`chaos.engine.result.RunResult` that
    :func:`chaos.api.run` returns: the verdict, its reasons, the journal and
    the journal's path (None when no report directory was given). Use it to
    notify, export or render reports: read a reason's fields (``kind``,
    ``source``, ``phase``, ``at``, ``faults``) rather than its ``message``,
    which is written for people. An exception raised here is reported and
    does not change the verdict.

    Faults injected from code are a run too: a fault session
    (``api.session``, ``api.fault``, the pytest ``chaos`` fixture) that
    started a fault calls this hook once, when it closes, with a result of the
    same shape describing what it injected: its run id, every fault's
    record (``journal.faults``) and target (``journal.targets``), the reasons
    (a fault that could not be injected or reverted, a signal) and their
    verdict; ``journal.experiment["title"]`` is ``faults injected from
    code`` and ``journal_path`` is None (a session writes no journal file).
    """


@hookspec
def chaosdrill_gameday_event(event: GameDayEvent) -> None:
    """Called for each moment of a game day that people may want to hear about.

    ``event`` is a :class:`chaos.gameday.events.GameDayEvent` (frozen; its
    ``to_json()`` has a stable shape, ``schema`` ``chaosdrill.gameday-event/1``).
    Its ``kind`` says what happened: ``announce`` (a drill fires in ``lead``
    seconds, at ``scheduled``), ``started``, ``finished`` (with ``verdict``,
    ``reasons`` and the ``journal`` path), ``skipped`` (``reason`` says why:
    outside its window, another drill still running...), ``halted`` and
    ``resumed`` (the whole schedule), and ``interrupted`` (a fire left
    running by a process that died). Every event names the game day
    (``gameday``, its title, and ``file``) and, but for ``halted`` and
    ``resumed``, the ``drill``.

    Implementations must not block: the caller runs them on a notification
    thread, never the drill's, one event at a time in order, and bounds each
    call; a call that overruns is left behind and later events may be
    dropped. An exception raised here is logged under the plugin's name and
    changes nothing else. The built-in webhook notifier
    (:mod:`chaos.gameday.webhook`) is one implementation.
    """
