"""The plugin pass of validation: names, parameters and references.

Everything a plugin defines (fault and probe names and parameters, target
kinds and selectors) is checked here, so ``chaosdrill validate`` catches a
misspelt parameter before a run ever starts.

The pass works on :class:`Parts` rather than on a whole :class:`Experiment`:
when the experiment as a whole is invalid, each target and step is validated
on its own and the ones that are fine are still checked here. A user then
sees every problem in one run, not a second batch after fixing the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from chaos.experiment.model import (
    CONTINUOUS_PROBE_KEYS,
    FAULT_STEP_KEYS,
    GUARD_KEYS,
    PROBE_STEP_KEYS,
    STEP_SECTIONS,
    Experiment,
    FaultStep,
    ProbeStep,
    TargetSpec,
)
from chaos.targets.base import empty_criteria

if TYPE_CHECKING:
    from chaos.experiment.loader import _Report
    from chaos.registry import Registry

STEP_KEYS = {
    "method": FAULT_STEP_KEYS,
    "steady_state": PROBE_STEP_KEYS,
    "probes": CONTINUOUS_PROBE_KEYS,
    "guards": GUARD_KEYS,
}
"""The keys each section's steps take themselves; every other key is a parameter."""

KIND_KEY = {"method": "fault", "steady_state": "probe", "probes": "probe", "guards": "probe"}
"""The key naming a step's plugin in each section."""


@dataclass(frozen=True)
class Parts:
    """The targets and steps the plugin pass checks."""

    target_names: frozenset[str] | None
    """Every target name defined, valid or not (a step naming a broken target
    is not told that it is undefined); None when ``targets`` itself is broken,
    which turns reference checks off."""
    targets: dict[str, TargetSpec]
    steps: dict[str, list[tuple[int, Any]]]
    """Per section, ``(index, step)`` of each step that is valid as a step."""
    kinds_only: list[tuple[str, int, str]] = field(default_factory=list)
    """``(section, index, fault or probe name)`` of steps that are invalid as
    steps: only their fault or probe name can still be checked."""

    @classmethod
    def of(cls, experiment: Experiment) -> Parts:
        return cls(
            target_names=frozenset(experiment.targets),
            targets=dict(experiment.targets),
            steps={s: list(enumerate(getattr(experiment, s))) for s in STEP_SECTIONS},
        )

    @classmethod
    def salvage(cls, body: dict[str, Any]) -> Parts:
        """The parts of an invalid experiment that are valid on their own.

        Their model errors are not reported here: validating the whole
        experiment already did.
        """
        raw_targets = body.get("targets", {})
        target_names: frozenset[str] | None = None
        targets: dict[str, TargetSpec] = {}
        if isinstance(raw_targets, dict):
            named = {n: raw for n, raw in raw_targets.items() if isinstance(n, str)}
            target_names = frozenset(named)
            for name, raw in named.items():
                spec = _valid(TargetSpec, raw)
                if spec is not None:
                    targets[name] = spec
        steps: dict[str, list[tuple[int, Any]]] = {}
        kinds_only: list[tuple[str, int, str]] = []
        for section, model in STEP_SECTIONS.items():
            items = body.get(section)
            steps[section] = []
            if not isinstance(items, list):
                continue
            for index, item in enumerate(items):
                step = _valid(model, item)
                if step is not None:
                    steps[section].append((index, step))
                elif isinstance(item, dict) and isinstance(item.get(KIND_KEY[section]), str):
                    kinds_only.append((section, index, item[KIND_KEY[section]]))
        return cls(target_names, targets, steps, kinds_only)


def named_types(body: dict[str, Any]) -> dict[str, set[str]]:
    """The target kinds, faults and probes ``body`` names, valid or not.

    Keyed like the registry's tables, for :func:`chaos.plugins.plugins_for`.
    A target without a ``kind`` is a ``container``, as in :class:`TargetSpec`.
    """
    names: dict[str, set[str]] = {"target_kinds": set(), "faults": set(), "probes": set()}
    targets = body.get("targets")
    if isinstance(targets, dict):
        for raw in targets.values():
            kind = raw.get("kind", "container") if isinstance(raw, dict) else None
            if isinstance(kind, str):
                names["target_kinds"].add(kind)
    for section, key in KIND_KEY.items():
        items = body.get(section)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and isinstance(item.get(key), str):
                names["faults" if key == "fault" else "probes"].add(item[key])
    return names


def _valid(model: type[BaseModel], value: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def validate_plugins(
    parts: Parts, registry: Registry, report: _Report
) -> dict[tuple[str, int], BaseModel]:
    """Check ``parts`` against the plugins; return validated parameters per ``(section, index)``."""
    checker = _Checker(parts, registry, report)
    for name, spec in parts.targets.items():
        checker.target(name, spec)
    for section, steps in parts.steps.items():
        checker.unique_names(section, steps)
        for index, step in steps:
            if section == "method":
                checker.fault_step(index, step)
            else:
                checker.probe_step(section, index, step)
    for section, index, kind in parts.kinds_only:
        checker.known_kind(section, index, kind)
    return checker.params


class _Checker:
    """The checks of one plugin pass; collects validated parameters as it goes."""

    def __init__(self, parts: Parts, registry: Registry, report: _Report):
        self.parts = parts
        self.registry = registry
        self.report = report
        self.params: dict[tuple[str, int], BaseModel] = {}

    def target(self, name: str, spec: TargetSpec) -> None:
        kind = self.registry.target_kinds.get(spec.kind)
        if kind is None:
            self.report.at_value(
                ("targets", name, "kind"),
                unknown_name("target kind", spec.kind, self.registry.target_kinds),
            )
            return
        selector = kind.cls.Selector
        where = ("targets", name, "select")
        try:
            selector.model_validate(spec.select)
        except ValidationError as exc:
            self.report.pydantic(exc, where, model=selector, owner=f"a {spec.kind} selector")
        except Exception as exc:  # a plugin's validator must not take the loader down
            self.report.at_value(where, _plugin_bug(f"target kind {spec.kind}", exc))
        for key, message in empty_criteria(selector, spec.select):
            if key is None:
                self.report.at_key(where, f"target {name!r} {message}")
            else:
                self.report.at_value((*where, key), f"target {name!r}: {message}")

    def unique_names(self, section: str, steps: list[tuple[int, Any]]) -> None:
        seen: set[str] = set()
        for index, step in steps:
            if step.name in seen:
                self.report.at_value(
                    (section, index, "name"), f"duplicate {section} step name {step.name!r}"
                )
            seen.add(step.name)

    def known_kind(self, section: str, index: int, name: str) -> bool:
        """Report an unknown fault or probe name; True if it is known."""
        key = KIND_KEY[section]
        table = self.registry.faults if key == "fault" else self.registry.probes
        if name in table:
            return True
        broken = ", ".join(sorted({f.plugin for f in self.registry.failures}))
        note = f" (plugins that failed to load: {broken}; see chaosdrill plugins)" if broken else ""
        self.report.at_value(
            (section, index, key), f"unknown {key} {name!r}{did_you_mean(name, table)}{note}"
        )
        return False

    def fault_step(self, index: int, step: FaultStep) -> None:
        where = ("method", index)
        if not self.known_kind("method", index, step.fault):
            return
        fault = self.registry.faults[step.fault].cls
        if self.reference((*where, "target"), step.target):
            spec = self.parts.targets.get(step.target)
            known_kind = spec is not None and spec.kind in self.registry.target_kinds
            if known_kind and spec.kind not in fault.target_kinds:
                self.report.at_value(
                    (*where, "target"),
                    f"fault {fault.name} acts on {', '.join(fault.target_kinds)}, "
                    f"but target {step.target!r} is a {spec.kind}",
                )
        if fault.reversible and step.duration is None:
            self.report.at_key(where, f"fault {fault.name} is reversible and needs a duration")
        self.step_params("method", index, step, fault.Params, f"fault {fault.name}")
        params = self.params.get(where)
        if params is not None:
            for key, names in fault().references(params).items():
                for position, name in enumerate(names):
                    self.reference((*where, key, position), name)

    def probe_step(self, section: str, index: int, step: ProbeStep) -> None:
        where = (section, index)
        if not self.known_kind(section, index, step.probe):
            return
        probe = self.registry.probes[step.probe].cls
        if step.target is not None:
            if not probe.accepts_target:
                self.report.at_key((*where, "target"), f"probe {probe.name} does not take a target")
            else:
                self.reference((*where, "target"), step.target)
        self.step_params(section, index, step, probe.Params, f"probe {probe.name}")

    def reference(self, path: tuple[Any, ...], name: str) -> bool:
        """Report a reference to an undefined target; True if it is defined."""
        defined = self.parts.target_names
        if defined is None or name in defined:
            return True
        listed = ", ".join(sorted(defined)) or "none"
        self.report.at_value(
            path,
            f"target {name!r} is not defined{did_you_mean(name, defined)}; defined: {listed}",
        )
        return False

    def step_params(
        self, section: str, index: int, step: Any, model: type[BaseModel], owner: str
    ) -> None:
        where = (section, index)
        try:
            self.params[where] = model.model_validate(step.params)
        except ValidationError as exc:
            self.param_errors(exc, where, model, STEP_KEYS[section], owner)
        except Exception as exc:  # a plugin's validator must not take the loader down
            self.report.at_value(where, _plugin_bug(owner, exc))

    def param_errors(
        self,
        exc: ValidationError,
        where: tuple[Any, ...],
        model: type[BaseModel],
        step_keys: tuple[str, ...],
        owner: str,
    ) -> None:
        others = []
        written = [info.alias or name for name, info in model.model_fields.items()]
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden" and len(loc) == 1:
                hint = did_you_mean(loc[0], [*step_keys, *written])
                takes = ", ".join(written) or "no parameters"
                self.report.at_key(
                    (*where, *loc),
                    f"{loc[0]!r} is not a parameter of {owner}{hint}; it takes: {takes}",
                )
            else:
                others.append(error)
        self.report.errors(others, where, model=model, owner=owner)


def _plugin_bug(owner: str, exc: Exception) -> str:
    return (
        f"{owner}: its parameters could not be checked "
        f"({type(exc).__name__}: {str(exc)[:200]}); this is a bug in the plugin"
    )


def unknown_name(what: str, name: Any, known: Iterable[str]) -> str:
    """``unknown <what> 'x' (did you mean 'y'?); known: a, b, c``."""
    known = sorted(known)
    return f"unknown {what} {name!r}{did_you_mean(name, known)}; known: {', '.join(known)}"


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
