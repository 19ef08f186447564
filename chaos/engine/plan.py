"""Planning a run: resolve every target once and bind steps to what they act on.

A plan is what ``--dry-run`` prints and exactly what ``run`` then executes:
the containers chosen here are the only ones any fault will touch.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chaos.engine.sampling import BoundProbe
from chaos.engine.where import check_where
from chaos.errors import ChaosError, InvalidTarget
from chaos.experiment.actions import ACTIONS, ActionType
from chaos.experiment.loader import LoadedExperiment
from chaos.experiment.model import ActionStep, FaultStep, MethodProbe, TargetSpec
from chaos.fault import Fault
from chaos.targets import TargetRef
from chaos.targets.base import empty_criteria
from chaos.targets.selection import NoneKept, Selection, choose, default_max_targets

if TYPE_CHECKING:
    from chaos.plugins import Plugins
    from chaos.registry import Registry
    from chaos.runtime import Runtime


@dataclass(frozen=True)
class PlannedFault:
    index: int
    step: FaultStep
    fault: Fault
    params: Any
    selection: Selection
    selections: dict[str, tuple[TargetRef, ...]]
    """Every target of the run, for faults whose parameters name other targets."""


@dataclass(frozen=True)
class PlannedAction:
    """An action step bound to what it acts on."""

    index: int
    step: ActionStep
    action: ActionType
    params: Any
    targets: tuple[TargetRef, ...]
    """The chosen objects of its ``target``; empty for ``container`` or an ``http`` action."""


@dataclass(frozen=True)
class PlannedCheck:
    """A probe step of the method: checked once, at its ``at``."""

    index: int
    step: MethodProbe
    bound: BoundProbe


@dataclass(frozen=True)
class Plan:
    loaded: LoadedExperiment
    selections: dict[str, Selection]
    faults: tuple[PlannedFault, ...]
    steady_state: tuple[BoundProbe, ...]
    probes: tuple[BoundProbe, ...]
    guards: tuple[BoundProbe, ...]
    actions: tuple[PlannedAction, ...] = ()
    checks: tuple[PlannedCheck, ...] = ()

    @property
    def experiment(self):
        return self.loaded.experiment


def resolve_seed(explicit: int | None) -> int:
    """The run's seed: the one given, or a fresh one that the journal records."""
    return explicit if explicit is not None else random.SystemRandom().randrange(2**31)


def check_selector(registry: Registry, name: str, spec: TargetSpec) -> None:
    """Refuse a selector with an empty criterion (raises InvalidTarget, exit 2):
    validation already did, but this is the last look before the engine is asked."""
    selector = registry.target_kinds[spec.kind].cls.Selector
    problems = empty_criteria(selector, spec.select)
    if problems:
        key, message = problems[0]
        raise InvalidTarget(
            f"target {name!r} {message}" if key is None else f"target {name!r}: {message}"
        )


def check_selectors(loaded: LoadedExperiment, registry: Registry) -> None:
    """Input a run or a plan needs before it touches anything, as UsageError (exit 2):
    :func:`check_selector` for every target, and the blast-radius limit's setting."""
    for name, spec in loaded.experiment.targets.items():
        check_selector(registry, name, spec)
    default_max_targets()


def acted_on(loaded: LoadedExperiment, registry: Registry) -> set[str]:
    """The targets that fault steps act on: each step's target and the targets
    its parameters name (a partition's ``from``). Probe-only targets are not."""
    names = set()
    for index, step in enumerate(loaded.experiment.method):
        if not isinstance(step, FaultStep):
            continue  # an action or a probe step is not a fault
        names.add(step.target)
        fault = registry.faults[step.fault].cls()
        for referenced in fault.references(loaded.params_for("method", index)).values():
            names.update(referenced)
    return names


def resolve_target(
    registry: Registry,
    runtime: Runtime,
    name: str,
    spec: TargetSpec,
    seed: int,
    *,
    acted_upon: bool = True,
) -> Selection:
    """Resolve one validated target: its kind's candidates, then mode, seed and
    limits (raises InvalidTarget / TargetError / EngineUnreachable before
    anything is touched).

    ``seed`` is the run's; a target's own ``seed`` wins. Experiments and faults
    injected from code (:mod:`chaos.engine.session`) both resolve through here.
    A ``where`` probe is checked on every candidate the selector matched,
    and only those it holds for are left to the mode.
    """
    check_selector(registry, name, spec)
    kind = registry.target_kinds[spec.kind].cls()
    selector = kind.Selector.model_validate(spec.select)
    target_seed = spec.seed if spec.seed is not None else seed
    try:
        candidates = kind.candidates(runtime, selector)
        where = None
        if spec.where is not None:
            where = check_where(registry, runtime, name, spec.where, candidates)
            candidates = where.kept
            if where.examined and not candidates and not spec.allow_empty:
                empty = Selection(name, spec, 0, (), target_seed, where)
                raise NoneKept(where.refusal(name, spec), empty)
        selection = choose(name, spec, candidates, target_seed, acted_on=acted_upon)
        return dataclasses.replace(selection, where=where) if where is not None else selection
    except ChaosError as exc:  # the message may quote a selector value that is a secret
        message = runtime.redactor.text(str(exc))
        if message == str(exc):
            raise
        if isinstance(exc, NoneKept):
            raise NoneKept(message, exc.selection) from None
        raise type(exc)(message) from None


def make_plan(loaded: LoadedExperiment, plugins: Plugins, runtime: Runtime, seed: int) -> Plan:
    """Resolve targets (raises TargetError / EngineUnreachable) and bind every step."""
    registry = plugins.registry
    experiment = loaded.experiment
    check_selectors(loaded, registry)
    faulted = acted_on(loaded, registry)
    selections = {
        name: resolve_target(registry, runtime, name, spec, seed, acted_upon=name in faulted)
        for name, spec in experiment.targets.items()
    }

    faults = tuple(
        PlannedFault(
            index,
            step,
            registry.faults[step.fault].cls(),
            loaded.params_for("method", index),
            selections[step.target],
            {name: sel.chosen for name, sel in selections.items()},
        )
        for index, step in enumerate(experiment.method)
        if isinstance(step, FaultStep)
    )
    actions = tuple(
        PlannedAction(
            index,
            step,
            ACTIONS[step.action],
            loaded.params_for("method", index),
            selections[step.target].chosen if step.target else (),
        )
        for index, step in enumerate(experiment.method)
        if isinstance(step, ActionStep)
    )
    checks = tuple(
        PlannedCheck(
            index,
            step,
            BoundProbe(
                "method",
                step.name,
                registry.probes[step.probe].cls(),
                loaded.params_for("method", index),
                selections[step.target].chosen if step.target else (),
            ),
        )
        for index, step in enumerate(experiment.method)
        if isinstance(step, MethodProbe)
    )

    def bind(section: str) -> tuple[BoundProbe, ...]:
        bound = []
        for index, step in enumerate(getattr(experiment, section)):
            targets = selections[step.target].chosen if step.target else ()
            bound.append(
                BoundProbe(
                    section,
                    step.name,
                    registry.probes[step.probe].cls(),
                    loaded.params_for(section, index),
                    targets,
                )
            )
        return tuple(bound)

    return Plan(
        loaded,
        selections,
        faults,
        bind("steady_state"),
        bind("probes"),
        bind("guards"),
        actions,
        checks,
    )
