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

from chaos.errors import InvalidExperiment, Problem, UsageError
from chaos.experiment.configuration import (
    Configuration,
    TooLarge,
    resolve_configuration,
    substitute,
)
from chaos.experiment.model import Experiment
from chaos.experiment.problems import FileProblems
from chaos.experiment.validate import (
    KIND_KEY,
    Parts,
    did_you_mean,
    named_types,
    validate_plugins,
)
from chaos.experiment.yamlpos import YamlProblem, parse, position_of
from chaos.redaction import Redactor

__all__ = ["LoadedExperiment", "did_you_mean", "load_experiment", "load_text"]

MAX_FILE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class LoadedExperiment:
    """A validated experiment and what the engine needs beside it."""

    path: str
    experiment: Experiment
    document: dict[str, Any]
    """The file as written: ``${name}`` references and secret sources unresolved."""
    secrets: frozenset[str]
    params: dict[tuple[str, int], BaseModel] = field(default_factory=dict)
    """Validated plugin parameters per ``(section, index)``."""

    def params_for(self, section: str, index: int) -> BaseModel:
        return self.params[(section, index)]


def load_experiment(path: str | Path, plugins: Any = None) -> LoadedExperiment:
    """Load and validate ``path``; raise InvalidExperiment or UsageError."""
    file = Path(path)
    try:
        # read up to the limit rather than trust the size: /dev/zero has size 0
        with file.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected an experiment file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise InvalidExperiment(
            [Problem(str(path), line, column, "file is not valid UTF-8")]
        ) from None
    return load_text(text, str(path), plugins=plugins, base_dir=file.parent)


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
    data = _parse(text, report)
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


def _parse(text: str, report: FileProblems) -> dict[Any, Any]:
    """The file as a mapping, or raise: nothing else can be checked without one."""
    bad = _surrogate(text)
    if bad is not None:
        report.at_position(
            position_of(text, bad), f"invalid character U+{ord(text[bad]):04X} (a lone surrogate)"
        )
        raise InvalidExperiment(report.finish())
    try:
        data, positions, yaml_problems = parse(text)
    except YamlProblem as exc:
        report.at_position((exc.line, exc.column), exc.message)
        raise InvalidExperiment(report.finish()) from None
    report.positions = positions
    for p in yaml_problems:
        report.at_position((p.line, p.column), p.message)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {_KINDS.get(type(data), type(data).__name__)}"
        report.at_value((), f"an experiment must be a mapping of keys, this file is {kind}")
        raise InvalidExperiment(report.finish())
    return data


_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}


def _surrogate(text: str) -> int | None:
    """Index of the first lone surrogate: text from a file never has one, but
    ``load_text`` may be handed any ``str``, and YAML cannot encode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


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
    """Give steps without a name one derived from their fault or probe."""
    for section, kind_key in KIND_KEY.items():
        steps = body.get(section)
        if not isinstance(steps, list):
            continue
        for index, step in enumerate(steps):
            if (
                isinstance(step, dict)
                and "name" not in step
                and isinstance(step.get(kind_key), str)
            ):
                step["name"] = f"{step[kind_key]}#{index + 1}"
