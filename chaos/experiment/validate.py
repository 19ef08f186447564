"""The plugin pass of validation: names, parameters and references.

Runs after the format itself is valid. Everything a plugin defines (fault and
probe names and parameters, target kinds and selectors) is checked here, so
``chaosdrill validate`` catches a misspelt parameter before a run ever starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from chaos.experiment.model import (
    CONTINUOUS_PROBE_KEYS,
    FAULT_STEP_KEYS,
    GUARD_KEYS,
    PROBE_STEP_KEYS,
    Experiment,
    ProbeStep,
)

if TYPE_CHECKING:
    from chaos.experiment.loader import _Report
    from chaos.registry import Registry

PROBE_SECTIONS = {
    "steady_state": PROBE_STEP_KEYS,
    "probes": CONTINUOUS_PROBE_KEYS,
    "guards": GUARD_KEYS,
}


def validate_plugins(
    experiment: Experiment, registry: Registry, report: _Report
) -> dict[tuple[str, int], BaseModel]:
    from chaos.experiment.loader import did_you_mean

    params: dict[tuple[str, int], BaseModel] = {}
    defined = sorted(experiment.targets)

    def unknown_target(path: tuple[Any, ...], name: str) -> None:
        listed = ", ".join(defined) or "none"
        report.at_value(
            path, f"target {name!r} is not defined{did_you_mean(name, defined)}; defined: {listed}"
        )

    for name, spec in experiment.targets.items():
        kind = registry.target_kinds.get(spec.kind)
        if kind is None:
            known = sorted(registry.target_kinds)
            report.at_value(
                ("targets", name, "kind"),
                f"unknown target kind {spec.kind!r}{did_you_mean(spec.kind, known)}; "
                f"known: {', '.join(known)}",
            )
            continue
        try:
            kind.cls.Selector.model_validate(spec.select)
        except ValidationError as exc:
            report.pydantic(
                exc,
                ("targets", name, "select"),
                model=kind.cls.Selector,
                owner=f"a {spec.kind} selector",
            )
        if not spec.select:
            report.at_key(
                ("targets", name, "select"),
                f"target {name!r} needs a select: an empty selector would match everything",
            )

    _unique_names(experiment.method, "method", report)
    for index, step in enumerate(experiment.method):
        where = ("method", index)
        registered = registry.faults.get(step.fault)
        if registered is None:
            report.at_value(
                (*where, "fault"),
                f"unknown fault {step.fault!r}{did_you_mean(step.fault, registry.faults)}",
            )
            continue
        fault = registered.cls
        spec = experiment.targets.get(step.target)
        if spec is None:
            unknown_target((*where, "target"), step.target)
        elif spec.kind not in fault.target_kinds:
            report.at_value(
                (*where, "target"),
                f"fault {fault.name} acts on {', '.join(fault.target_kinds)}, "
                f"but target {step.target!r} is a {spec.kind}",
            )
        if fault.reversible and step.duration is None:
            report.at_key(where, f"fault {fault.name} is reversible and needs a duration")
        model = _validate_params(
            fault.Params, step.params, where, FAULT_STEP_KEYS, f"fault {fault.name}", report
        )
        if model is not None:
            params[("method", index)] = model

    for section, step_keys in PROBE_SECTIONS.items():
        steps: list[ProbeStep] = getattr(experiment, section)
        _unique_names(steps, section, report)
        for index, step in enumerate(steps):
            where = (section, index)
            registered = registry.probes.get(step.probe)
            if registered is None:
                report.at_value(
                    (*where, "probe"),
                    f"unknown probe {step.probe!r}{did_you_mean(step.probe, registry.probes)}",
                )
                continue
            probe = registered.cls
            if step.target is not None:
                if not probe.accepts_target:
                    report.at_key((*where, "target"), f"probe {probe.name} does not take a target")
                elif step.target not in experiment.targets:
                    unknown_target((*where, "target"), step.target)
            model = _validate_params(
                probe.Params, step.params, where, step_keys, f"probe {probe.name}", report
            )
            if model is not None:
                params[(section, index)] = model
    return params


def _validate_params(
    model: type[BaseModel],
    values: dict[str, Any],
    where: tuple[Any, ...],
    step_keys: tuple[str, ...],
    owner: str,
    report: _Report,
) -> BaseModel | None:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        from chaos.experiment.loader import did_you_mean

        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden" and len(loc) == 1:
                accepted = [*step_keys, *model.model_fields]
                hint = did_you_mean(loc[0], accepted)
                takes = ", ".join(model.model_fields) or "no parameters"
                report.at_key(
                    (*where, *loc),
                    f"{loc[0]!r} is not a parameter of {owner}{hint}; it takes: {takes}",
                )
            else:
                report.errors([error], where, model=model, owner=owner)
        return None


def _unique_names(steps: list[Any], section: str, report: _Report) -> None:
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if step.name in seen:
            report.at_value(
                (section, index, "name"), f"duplicate {section} step name {step.name!r}"
            )
        seen.add(step.name)
