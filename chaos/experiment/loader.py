"""Reads an experiment file and returns a validated experiment, or every problem in it.

Validation runs in three passes that all report ``FILE:LINE:COL: message``:
YAML syntax and duplicate keys, the format itself (the pydantic model), and
what plugins define (fault and probe names, their parameters, target kinds
and selectors, references between sections).

Only a YAML syntax error, or a file that is not a mapping, stops validation
early. Otherwise the plugin pass runs even when the model pass failed, on
the targets and steps that are valid on their own (see
:class:`~chaos.experiment.validate.Parts`), so one run reports every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.errors import InvalidExperiment
from chaos.experiment.configuration import (
    Configuration,
    TooLarge,
    resolve_configuration,
    substitute,
)
from chaos.experiment.model import Experiment
from chaos.experiment.problems import FileProblems
from chaos.experiment.source import parse_mapping, read_source
from chaos.experiment.validate import (
    KIND_KEY,
    Parts,
    did_you_mean,
    kind_key,
    named_types,
    validate_plugins,
)
from chaos.redaction import Redactor

__all__ = ["LoadedExperiment", "did_you_mean", "load_experiment", "load_text"]


@dataclass(frozen=True)
class LoadedExperiment:
    """A validated experiment and what the engine needs beside it."""

    path: str
    experiment: Experiment
    document: dict[str, Any]
    """The file as written: ``${name}`` references and secret sources unresolved."""
    secrets: frozenset[str]
    params: dict[tuple[str, Any], BaseModel] = field(default_factory=dict)
    """Validated parameters per ``(section, index)`` of each step, and per
    ``("where", target name)`` of each target's ``where`` probe."""

    def params_for(self, section: str, index: int | str) -> BaseModel:
        return self.params[(section, index)]


def load_experiment(path: str | Path, plugins: Any = None) -> LoadedExperiment:
    """Load and validate ``path``; raise InvalidExperiment or UsageError."""
    text = read_source(path, "an experiment file")
    return load_text(text, str(path), plugins=plugins, base_dir=Path(path).parent)


def load_text(
    text: str, filename: str = "<string>", *, plugins: Any = None, base_dir: Path | None = None
) -> LoadedExperiment:
    """Validate experiment source text; ``filename`` is used in messages.

    Every problem found is reported at once: a syntax error stops everything,
    but a file that parses gets both the model pass and the plugin pass, the
    latter on whatever parts of the file are valid on their own.

    Without ``plugins``, only the plugins defining the names the file uses are
    loaded (:func:`chaos.plugins.plugins_for`), or every plugin when one of
    them is unknown: the problems reported are the same either way.
    """
    report = FileProblems(filename, root_model=Experiment, root_name="the experiment")
    data = parse_mapping(text, report, "an experiment")
    config = resolve_configuration(data.get("configuration"), base_dir or Path.cwd())
    report.redactor = Redactor(config.secrets)
    body = _resolve(data, config, report)
    if plugins is None:
        from chaos.plugins import plugins_for

        plugins = plugins_for(named_types(body))
    experiment = _validate_model(body, report)
    parts = Parts.of(experiment) if experiment is not None else Parts.salvage(body)
    params = validate_plugins(parts, plugins.registry, report)
    if experiment is None or report.problems:
        raise InvalidExperiment(report.finish())
    return LoadedExperiment(filename, experiment, data, config.secrets, params)


def _resolve(data: dict[Any, Any], config: Configuration, report: FileProblems) -> dict[str, Any]:
    """The document with ``${name}`` references replaced and unnamed steps named."""
    body = {k: v for k, v in data.items() if k != "configuration"}
    try:
        body, ref_problems = substitute(body, config.values, unresolved=config.unresolved)
    except TooLarge as exc:  # nothing after this could be checked in reasonable memory
        report.at_value(exc.path, exc.message)
        raise InvalidExperiment(report.finish()) from None
    for cp in config.problems:
        report.at_value(cp.path, cp.message)
    for cp in ref_problems:
        report.at_value(cp.path, cp.message)
        report.explained.add(cp.path)
    body["configuration"] = data.get("configuration", {})
    _name_unnamed_steps(body)
    return body


def _validate_model(body: dict[str, Any], report: FileProblems) -> Experiment | None:
    try:
        return Experiment.model_validate(body)
    except ValidationError as exc:
        report.pydantic(exc, prefix=())
        return None


def _name_unnamed_steps(body: dict[str, Any]) -> None:
    """Give steps without a name one derived from their fault, action or probe."""
    for section in KIND_KEY:
        steps = body.get(section)
        if not isinstance(steps, list):
            continue
        for index, step in enumerate(steps):
            if not isinstance(step, dict) or "name" in step:
                continue
            key = kind_key(section, step)
            if key is not None and isinstance(step.get(key), str):
                step["name"] = f"{step[key]}#{index + 1}"
