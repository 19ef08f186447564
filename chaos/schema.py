"""The JSON Schema of the experiment format, including every plugin's parameters.

The base comes from the pydantic model; each step list is then narrowed to a
``oneOf`` with one branch per registered fault or probe, so an editor can
complete and check parameters as ``chaosdrill validate`` does.
"""

from __future__ import annotations

import copy
from typing import Any

from chaos.experiment.actions import ACTIONS
from chaos.experiment.model import (
    ActionStep,
    ContinuousProbe,
    Experiment,
    FaultStep,
    Guard,
    MethodProbe,
    ProbeStep,
)
from chaos.registry import Registry

SCHEMA_ID = "https://chaosdrill.dev/schema/experiment-1.json"


def experiment_schema(registry: Registry) -> dict[str, Any]:
    schema = Experiment.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "chaosdrill experiment"
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]
    props["configuration"] = {
        "type": "object",
        "description": "values usable as ${name}; {env: NAME} and {file: PATH} are secrets",
        "additionalProperties": {
            "anyOf": [
                {"type": ["string", "number", "boolean", "null"]},
                {
                    "type": "object",
                    "properties": {"env": {"type": "string"}},
                    "required": ["env"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {"file": {"type": "string"}},
                    "required": ["file"],
                    "additionalProperties": False,
                },
            ]
        },
    }
    kinds = {name: reg.cls for name, reg in registry.target_kinds.items()}
    target_def = defs.get("TargetSpec")
    if target_def and kinds:
        target_def["properties"]["kind"]["enum"] = sorted(kinds)
        selectors = []
        for kind in kinds.values():
            selector = kind.Selector.model_json_schema()
            defs.update(selector.pop("$defs", {}))
            selectors.append(selector)
        target_def["properties"]["select"] = {"anyOf": selectors}
        where_branches = []
        for name, reg in sorted(registry.probes.items()):
            if not reg.cls.accepts_target:
                continue
            branch = _step_branch(None, "probe", name, reg.cls.Params, defs)
            for own in ("container", "target"):
                branch["properties"].pop(own, None)
            where_branches.append(branch)
        if where_branches:
            target_def["properties"]["where"] = {
                "description": "keep only the candidates for which this probe holds",
                "oneOf": where_branches,
            }

    fault_branches = []
    for name, reg in sorted(registry.faults.items()):
        fault = reg.cls
        branch = _step_branch(FaultStep, "fault", name, fault.Params, defs)
        branch["description"] = fault.summary
        if fault.reversible:
            branch["required"] = sorted({*branch.get("required", []), "duration"})
        fault_branches.append(branch)
    action_branches = []
    for name, action in sorted(ACTIONS.items()):
        branch = _step_branch(ActionStep, "action", name, action.Params, defs)
        branch["description"] = action.summary
        if not action.takes_target:
            branch["properties"].pop("target", None)
        action_branches.append(branch)
    check_branches = []
    for name, reg in sorted(registry.probes.items()):
        branch = _step_branch(MethodProbe, "probe", name, reg.cls.Params, defs)
        branch["description"] = f"checked once at its at: {reg.cls.summary}"
        if not reg.cls.accepts_target:
            branch["properties"].pop("target", None)
        check_branches.append(branch)
    props["method"]["items"] = {"oneOf": [*fault_branches, *action_branches, *check_branches]}

    for section, model in (
        ("steady_state", ProbeStep),
        ("probes", ContinuousProbe),
        ("guards", Guard),
    ):
        branches = []
        for name, reg in sorted(registry.probes.items()):
            branch = _step_branch(model, "probe", name, reg.cls.Params, defs)
            branch["description"] = reg.cls.summary
            if not reg.cls.accepts_target:
                branch["properties"].pop("target", None)
            branches.append(branch)
        props[section]["items"] = {"oneOf": branches}
    return schema


def _step_branch(
    step_model: type | None, key: str, name: str, params_model: type, defs: dict[str, Any]
) -> dict[str, Any]:
    """One branch of a step list's ``oneOf``: the step's own keys (none for
    ``step_model`` None, as in a target's ``where``), the plugin's parameters
    and ``key`` (``fault``, ``action``, ``probe``) fixed to ``name``."""
    step = (
        {} if step_model is None else copy.deepcopy(step_model.model_json_schema())  # type: ignore[attr-defined]
    )
    defs.update(step.pop("$defs", {}))
    params = params_model.model_json_schema()  # type: ignore[attr-defined]
    defs.update(params.pop("$defs", {}))
    properties = {**step.get("properties", {}), **params.get("properties", {})}
    properties[key] = {"const": name}
    required = sorted({*step.get("required", []), *params.get("required", []), key})
    return {
        "type": "object",
        "title": f"{key} {name}",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
