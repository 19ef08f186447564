"""The plugin pass of validation: names, parameters and references.

Everything a plugin defines (fault and probe names and parameters, target
kinds and selectors) is checked here, so ``chaosdrill validate`` catches a
misspelt parameter before a run ever starts.

It is also the one validation of a fault (or probe) given from code
(``api.fault``, ``api.wait_until``): the session hands its call to the same
checks with a :class:`CallProblems` report, so a mistake reads the same in
code as in a file, with the call's argument in place of ``FILE:LINE:COL``.

The pass works on :class:`Parts` rather than on a whole :class:`Experiment`:
when the experiment as a whole is invalid, each target and step is validated
on its own and the ones that are fine are still checked here. A user then
sees every problem in one run, not a second batch after fixing the first.
"""

from __future__ import annotations

import difflib
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from chaos.experiment.actions import ACTIONS
from chaos.experiment.model import (
    ACTION_STEP_KEYS,
    CONTINUOUS_PROBE_KEYS,
    FAULT_STEP_KEYS,
    GUARD_KEYS,
    METHOD_PROBE_KEYS,
    PROBE_STEP_KEYS,
    STEP_SECTIONS,
    ActionStep,
    Experiment,
    FaultStep,
    MethodProbe,
    ProbeStep,
    TargetSpec,
    method_kind,
    without_tag,
)
from chaos.targets.base import empty_criteria

if TYPE_CHECKING:
    from chaos.registry import Registry

DataPath = tuple[Any, ...]
"""Where a value is in the experiment document: ``("method", 0, "timeout")``."""


class Report(ABC):
    """Where problems go: a file's (:class:`~chaos.experiment.problems.FileProblems`,
    with positions) or a call's (:class:`CallProblems`).

    ``at_value``/``at_key`` take a message as it is; :meth:`errors` words
    pydantic's errors (their ``loc`` relative to ``prefix``) with
    :func:`unknown_key`, :func:`missing_key` and :func:`invalid_value`, once for
    every kind of report: a report says only where a value is
    (:meth:`value_at`) and how that place is named (:meth:`describe`).
    """

    root_model: type[BaseModel] | None = None
    """The model of the whole document, for the keys allowed where one is unknown."""
    explained: Collection[DataPath] = frozenset()
    """Values that already have a problem of their own: that they are also
    invalid is not news."""

    @abstractmethod
    def at_value(self, path: DataPath, message: str) -> None: ...

    @abstractmethod
    def at_key(self, path: DataPath, message: str) -> None: ...

    @abstractmethod
    def value_at(self, path: DataPath) -> DataPath:
        """The value the user wrote that ``path`` (a pydantic error's place) is in."""

    @abstractmethod
    def describe(self, path: DataPath) -> str:
        """How a problem names the value at ``path`` (``method[0].timeout``)."""

    def errors(
        self,
        errors: list[Any],
        prefix: DataPath,
        *,
        model: type[BaseModel] | None = None,
        owner: str = "",
    ) -> None:
        """Report pydantic ``errors`` (their ``loc`` is relative to ``prefix``)."""
        by_value: dict[DataPath, list[str]] = {}
        for error in errors:
            path = without_tag((*prefix, *error["loc"]))
            loc = path[len(prefix) :]
            kind = error["type"]
            if kind == "extra_forbidden":
                allowed = fields_at(model or self.root_model, loc[:-1])
                self.at_key(path, unknown_key(loc[-1], owner, allowed))
            elif kind == "missing":
                parent = self.value_at(path[:-1])
                self.at_value(parent, missing_key(self.describe(parent), loc[-1]))
            elif kind == "invalid_key" or loc[-1:] == ("[key]",):
                self.key_not_string(path[:-1], path[-1] if kind == "invalid_key" else None)
            else:
                at = self.value_at(path)
                if at not in self.explained:
                    by_value.setdefault(at, []).append(error_text(error))
        for at, messages in by_value.items():
            self.at_value(at, invalid_value(self.describe(at), messages))

    def key_not_string(self, parent_or_key: DataPath, label: Any) -> None:
        """A key that is not a string (YAML reads ``1:``, ``null:`` or a date so).

        A ``[key]`` error's path ends with the key itself; an ``invalid_key``
        error names its key by ``repr`` in ``label`` and the path is the mapping.
        """
        key_path = parent_or_key if label is None else (*parent_or_key, label)
        self.at_key(key_path, _key_not_string(self.describe(key_path[:-1]), key_path[-1]))

    def pydantic(
        self,
        exc: ValidationError,
        prefix: DataPath,
        *,
        model: type[BaseModel] | None = None,
        owner: str = "",
    ) -> None:
        """Report each error of ``exc``, in our own words."""
        self.errors(exc.errors(include_url=False), prefix, model=model, owner=owner)


def _key_not_string(where: str, key: Any) -> str:
    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
    return f"{where}: key {shown!r} must be a string: put it in quotes"


def fields_at(model: type[BaseModel] | None, loc: DataPath) -> list[str]:
    """The field names of the model found by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part) if isinstance(part, str) else None
            if info is None:
                return []
            current = info.annotation
        elif typing.get_origin(current) in (list, tuple) or typing.get_origin(current) is dict:
            args = typing.get_args(current)
            current = args[-1] if args else Any
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(models) != 1:
                return annotation
            annotation = models[0]
        else:
            return annotation


STEP_KEYS = {
    "method": FAULT_STEP_KEYS,
    "steady_state": PROBE_STEP_KEYS,
    "probes": CONTINUOUS_PROBE_KEYS,
    "guards": GUARD_KEYS,
}
"""The keys each section's steps take themselves; every other key is a parameter."""

KIND_KEY = {"method": "fault", "steady_state": "probe", "probes": "probe", "guards": "probe"}
"""The key naming a step's plugin in each section (in the method, a fault's:
see :func:`kind_key` for its other steps)."""

METHOD_STEP_KEYS = {
    "fault": FAULT_STEP_KEYS,
    "action": ACTION_STEP_KEYS,
    "probe": METHOD_PROBE_KEYS,
}
"""The keys each kind of method step takes itself."""


def kind_key(section: str, step: Any) -> str | None:
    """The key naming what ``step`` is: ``fault``, ``action`` or ``probe`` in the
    method (None when it names none, or several), ``probe`` elsewhere."""
    return method_kind(step) if section == "method" else KIND_KEY.get(section)


def _adapter(section: str) -> Any:
    """A validator of one step of ``section`` (the method's steps are a union)."""
    from pydantic import TypeAdapter

    model = STEP_SECTIONS[section]
    return model if isinstance(model, type) else TypeAdapter(model)


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
    kinds_only: list[tuple[str, int, str, str]] = field(default_factory=list)
    """``(section, index, key, name)`` of steps that are invalid as steps (``key``
    is ``fault``, ``action`` or ``probe``): only that name can still be checked."""

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
        kinds_only: list[tuple[str, int, str, str]] = []
        for section in STEP_SECTIONS:
            items = body.get(section)
            steps[section] = []
            if not isinstance(items, list):
                continue
            model = _adapter(section)
            for index, item in enumerate(items):
                step = _valid(model, item)
                key = kind_key(section, item) if isinstance(item, dict) else None
                if step is not None:
                    steps[section].append((index, step))
                elif key is not None and isinstance(item.get(key), str):
                    kinds_only.append((section, index, key, item[key]))
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
            where = raw.get("where") if isinstance(raw, dict) else None
            if isinstance(where, dict) and isinstance(where.get("probe"), str):
                names["probes"].add(where["probe"])
    for section in KIND_KEY:
        items = body.get(section)
        if not isinstance(items, list):
            continue
        for item in items:
            key = kind_key(section, item) if isinstance(item, dict) else None
            if key in ("fault", "probe") and isinstance(item.get(key), str):
                names["faults" if key == "fault" else "probes"].add(item[key])
    return names


def _valid(model: Any, value: Any) -> Any:
    try:
        if isinstance(model, type):
            return model.model_validate(value)
        return model.validate_python(value)
    except ValidationError:
        return None


def validate_plugins(
    parts: Parts, registry: Registry, report: Report
) -> dict[tuple[str, Any], BaseModel]:
    """Check ``parts`` against the plugins; return validated parameters per ``(section, index)``."""
    checker = _Checker(parts, registry, report)
    for name, spec in parts.targets.items():
        checker.target(name, spec)
    for section, steps in parts.steps.items():
        checker.unique_names(section, steps)
        for index, step in steps:
            if isinstance(step, FaultStep):
                checker.fault_step(index, step)
            elif isinstance(step, ActionStep):
                checker.action_step(index, step)
            else:
                checker.probe_step(section, index, step)
    for section, index, key, name in parts.kinds_only:
        checker.known_kind(section, index, name, key)
    return checker.params


class _Checker:
    """The checks of one plugin pass; collects validated parameters as it goes."""

    def __init__(self, parts: Parts, registry: Registry, report: Report):
        self.parts = parts
        self.registry = registry
        self.report = report
        self.params: dict[tuple[str, Any], BaseModel] = {}

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
        if spec.where is not None:
            self.where(name, spec)

    def where(self, name: str, spec: TargetSpec) -> None:
        """``where``: a known probe that looks at a target, with valid parameters
        and no container of its own (each candidate is its container)."""
        assert spec.where is not None
        where = ("targets", name, "where")
        probe_name = spec.where.probe
        if probe_name not in self.registry.probes:
            self.report.at_value(
                (*where, "probe"), unknown_kind("probe", probe_name, self.registry)
            )
            return
        probe = self.registry.probes[probe_name].cls
        if not probe.accepts_target:
            self.report.at_value(
                (*where, "probe"),
                f"target {name!r}: where needs a probe that looks at each candidate; "
                f"probe {probe_name} takes no target (exec, container.health and dns do)",
            )
            return
        params = dict(spec.where.params)
        for own in ("container", "target"):
            if own in params:
                self.report.at_key(
                    (*where, own),
                    f"target {name!r}: where checks each candidate itself; "
                    f"remove {own!r} (the probe runs on the candidate)",
                )
                params.pop(own)
        checked = check_params(
            self.report, where, params, probe.Params, ("probe",), f"probe {probe_name}"
        )
        if checked is not None:
            self.params[("where", name)] = checked

    def unique_names(self, section: str, steps: list[tuple[int, Any]]) -> None:
        seen: set[str] = set()
        for index, step in steps:
            if step.name in seen:
                self.report.at_value(
                    (section, index, "name"), f"duplicate {section} step name {step.name!r}"
                )
            seen.add(step.name)

    def known_kind(self, section: str, index: int, name: str, key: str | None = None) -> bool:
        """Report an unknown fault, probe or action name; True if it is known."""
        key = key or KIND_KEY[section]
        if key == "action":
            if name in ACTIONS:
                return True
            self.report.at_value((section, index, key), unknown_name("action", name, ACTIONS))
            return False
        table = self.registry.faults if key == "fault" else self.registry.probes
        if name in table:
            return True
        self.report.at_value((section, index, key), unknown_kind(key, name, self.registry))
        return False

    def action_step(self, index: int, step: ActionStep) -> None:
        where = ("method", index)
        if not self.known_kind("method", index, step.action, "action"):
            return
        action = ACTIONS[step.action]
        container = step.params.get("container")
        if not action.takes_target:
            if step.target is not None:
                self.report.at_key(
                    (*where, "target"), f"action {action.name} does not take a target"
                )
        elif step.target is not None and container is not None:
            self.report.at_key(
                (*where, "container"),
                f"action {action.name}: give a target or a container, not both",
            )
        elif step.target is None and container is None:
            self.report.at_value(
                where, f"method[{index}]: action {action.name} needs a target (or a container)"
            )
        elif step.target is not None:
            self.reference((*where, "target"), step.target)
        self.step_params(
            "method", index, step, action.Params, f"action {action.name}", ACTION_STEP_KEYS
        )

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
        if not self.known_kind(section, index, step.probe, "probe"):
            return
        probe = self.registry.probes[step.probe].cls
        if step.target is not None:
            if not probe.accepts_target:
                self.report.at_key((*where, "target"), f"probe {probe.name} does not take a target")
            else:
                self.reference((*where, "target"), step.target)
        keys = METHOD_PROBE_KEYS if isinstance(step, MethodProbe) else STEP_KEYS[section]
        self.step_params(section, index, step, probe.Params, f"probe {probe.name}", keys)

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
        self,
        section: str,
        index: int,
        step: Any,
        model: type[BaseModel],
        owner: str,
        keys: tuple[str, ...] | None = None,
    ) -> None:
        where = (section, index)
        step_keys = keys if keys is not None else STEP_KEYS[section]
        params = check_params(self.report, where, step.params, model, step_keys, owner)
        if params is not None:
            self.params[where] = params


def check_params(
    report: Report,
    where: DataPath,
    values: dict[str, Any],
    model: type[BaseModel],
    step_keys: tuple[str, ...],
    owner: str,
) -> BaseModel | None:
    """``values`` validated by a fault's or probe's ``Params`` model, or None with
    every problem reported (``owner``: ``fault container.stop``)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        others = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden" and len(loc) == 1:
                report.at_key((*where, *loc), not_a_parameter(loc[0], owner, model, step_keys))
            else:
                others.append(error)
        report.errors(others, where, model=model, owner=owner)
    except Exception as exc:  # a plugin's validator must not take the loader down
        report.at_value(where, _plugin_bug(owner, exc))
    return None


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


# -- the words, for files and for code alike ---------------------------------------------


def unknown_kind(key: str, name: Any, registry: Registry) -> str:
    """``unknown fault 'x' (did you mean 'y'?)``, naming plugins that failed to load."""
    table = registry.faults if key == "fault" else registry.probes
    broken = ", ".join(sorted({f.plugin for f in registry.failures}))
    note = f" (plugins that failed to load: {broken}; see chaosdrill plugins)" if broken else ""
    return f"unknown {key} {name!r}{did_you_mean(name, table)}{note}"


def not_a_parameter(
    key: Any, owner: str, model: type[BaseModel], step_keys: Iterable[str] = ()
) -> str:
    """``'x' is not a parameter of fault f (did you mean 'y'?); it takes: a, b``."""
    written = [info.alias or name for name, info in model.model_fields.items()]
    hint = did_you_mean(key, [*step_keys, *written])
    takes = ", ".join(written) or "no parameters"
    return f"{key!r} is not a parameter of {owner}{hint}; it takes: {takes}"


def unknown_key(key: Any, owner: str, allowed: list[str]) -> str:
    """``unknown key 'x' of a container selector (did you mean 'y'?)``."""
    where = f" of {owner}" if owner else ""
    hint = did_you_mean(key, allowed)
    takes = f"; accepted: {', '.join(allowed)}" if allowed and not hint else ""
    return f"unknown key {key!r}{where}{hint}{takes}"


def missing_key(where: str, key: Any) -> str:
    """``method[0]: missing required key 'target'``."""
    return f"{where}: missing required key {key!r}"


def invalid_value(where: str, messages: list[str]) -> str:
    """``method[0].timeout: invalid duration 'soon'``; several messages for one
    value come from the branches of a union."""
    alternatives = [messages[0], *(m[:1].lower() + m[1:] for m in messages[1:])]
    return f"{where}: {'; or '.join(alternatives)}"


def error_text(error: Any) -> str:
    """A pydantic error's message without pydantic's prefixes."""
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


class CallProblems(Report):
    """The problems of a call from code, in the words a file's problems have.

    A file's problem is located by ``FILE:LINE:COL`` and the value's place in
    the document (``method[0].timeout``); a call's by its owner and argument
    (``fault container.stop: parameter timeout``). The call is checked as a
    one-step document: its targets under ``targets`` (the fault's own named
    ``own_target``, shown as ``target``) and its step at ``(section, 0)``.
    """

    def __init__(self, owner: str, own_target: str | None = None):
        self.owner = owner
        self.own_target = own_target
        self.messages: list[str] = []

    def locate(self, path: DataPath) -> str:
        if path[:1] == ("targets",) and len(path) > 1:
            name = path[1]
            shown = "target" if name == self.own_target else f"targets[{name!r}]"
            return f"{self.owner}: {shown}" + "".join(f".{p}" for p in path[2:3])
        section = path[0] if path else None
        rest = path[2:] if section in STEP_KEYS else path
        if not rest:
            return self.owner
        key = rest[0]
        step_keys = STEP_KEYS.get(section, ()) if isinstance(section, str) else ()
        return f"{self.owner}: {key}" if key in step_keys else f"{self.owner}: parameter {key}"

    def at_value(self, path: DataPath, message: str) -> None:
        self.messages.append(message)

    def at_key(self, path: DataPath, message: str) -> None:
        self.messages.append(message)

    def value_at(self, path: DataPath) -> DataPath:
        # a union's branch or a list index is no argument: the argument is the value
        if path[:1] == ("targets",) or (path and path[0] in STEP_KEYS):
            return path[:3]
        return path[:1]

    def describe(self, path: DataPath) -> str:
        return self.locate(path)

    def value(self, argument: str, message: str) -> None:
        """An argument that is wrong for a reason of its own (a duration that does not parse)."""
        self.messages.append(invalid_value(f"{self.owner}: {argument}", [message]))

    def text(self) -> str:
        """Every problem once, in the order found, on one line."""
        return "; ".join(dict.fromkeys(self.messages))
