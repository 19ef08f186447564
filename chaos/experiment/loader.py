"""Reads an experiment file and returns a validated experiment, or every problem in it.

Validation runs in three passes that all report ``FILE:LINE:COL: message``:
YAML syntax and duplicate keys, the format itself (the pydantic model), and
what plugins define (fault and probe names, their parameters, target kinds
and selectors, references between sections).
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.errors import InvalidExperiment, Problem, UsageError
from chaos.experiment.configuration import resolve_configuration, substitute
from chaos.experiment.model import Experiment
from chaos.experiment.yamlpos import Path as DataPath
from chaos.experiment.yamlpos import Positions, YamlProblem, parse

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
        if file.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = file.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected an experiment file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidExperiment([Problem(str(path), line, 1, "file is not valid UTF-8")]) from None
    return load_text(text, str(path), plugins=plugins, base_dir=file.parent)


def load_text(
    text: str, filename: str = "<string>", *, plugins: Any = None, base_dir: Path | None = None
) -> LoadedExperiment:
    """Validate experiment source text; ``filename`` is used in messages."""
    from chaos.experiment.validate import validate_plugins
    from chaos.plugins import default_plugins

    plugins = plugins or default_plugins()
    try:
        data, positions, yaml_problems = parse(text)
    except YamlProblem as exc:
        raise InvalidExperiment([Problem(filename, exc.line, exc.column, exc.message)]) from None
    report = _Report(filename, positions)
    for p in yaml_problems:
        report.problems.append(Problem(filename, p.line, p.column, p.message))
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        report.at_value((), f"an experiment must be a mapping of keys, this file is {kind}")
        raise InvalidExperiment(report.problems)

    base_dir = base_dir or Path.cwd()
    values, secrets, config_problems = resolve_configuration(data.get("configuration"), base_dir)
    body = {k: v for k, v in data.items() if k != "configuration"}
    body, ref_problems = substitute(body, values)
    for cp in (*config_problems, *ref_problems):
        report.at_value(cp.path, cp.message)
    body["configuration"] = data.get("configuration", {})
    _name_unnamed_steps(body)

    try:
        experiment = Experiment.model_validate(body)
    except ValidationError as exc:
        report.pydantic(exc, prefix=())
        raise InvalidExperiment(report.problems) from None
    params = validate_plugins(experiment, plugins.registry, report)
    if report.problems:
        raise InvalidExperiment(report.problems)
    return LoadedExperiment(filename, experiment, data, secrets, params)


def _name_unnamed_steps(body: dict[str, Any]) -> None:
    """Give steps without a name one derived from their fault or probe."""
    for section, kind_key in (
        ("method", "fault"),
        ("steady_state", "probe"),
        ("probes", "probe"),
        ("guards", "probe"),
    ):
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


def did_you_mean(word: Any, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Report:
    """Collects problems and turns data paths into positions."""

    def __init__(self, filename: str, positions: Positions):
        self.filename = filename
        self.positions = positions
        self.problems: list[Problem] = []

    def at_value(self, path: DataPath, message: str) -> None:
        line, col = self.positions.of_value(tuple(path))
        self.problems.append(Problem(self.filename, line, col, message))

    def at_key(self, path: DataPath, message: str) -> None:
        line, col = self.positions.of_key(tuple(path))
        self.problems.append(Problem(self.filename, line, col, message))

    def pydantic(
        self,
        exc: ValidationError,
        prefix: DataPath,
        *,
        model: type[BaseModel] | None = None,
        owner: str = "",
    ) -> None:
        """Report each pydantic error at its position, in our own words."""
        self.errors(exc.errors(include_url=False), prefix, model=model, owner=owner)

    def errors(
        self,
        errors: list[Any],
        prefix: DataPath,
        *,
        model: type[BaseModel] | None = None,
        owner: str = "",
    ) -> None:
        seen: set[tuple[DataPath, str]] = set()
        for error in errors:
            loc = tuple(error["loc"])
            path = (*prefix, *loc)
            kind = error["type"]
            if kind == "extra_forbidden":
                allowed = _fields_at(model or Experiment, loc[:-1])
                where = f" of {owner}" if owner else ""
                hint = did_you_mean(loc[-1], allowed)
                takes = f"; accepted: {', '.join(allowed)}" if allowed and not hint else ""
                message = f"unknown key {loc[-1]!r}{where}{hint}{takes}"
                self._once(seen, path, message, key=True)
            elif kind == "missing":
                where = _dotted(path[:-1]) or "the experiment"
                self._once(seen, path[:-1], f"{where}: missing required key {loc[-1]!r}")
            else:
                msg = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                self._once(seen, path, f"{_dotted(path)}: {msg}")

    def _once(
        self, seen: set[tuple[DataPath, str]], path: DataPath, message: str, key: bool = False
    ) -> None:
        if (path, message) in seen:
            return
        seen.add((path, message))
        (self.at_key if key else self.at_value)(path, message)


def _dotted(path: DataPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: DataPath) -> list[str]:
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
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            models = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(models) != 1:
                return annotation
            annotation = models[0]
        else:
            return annotation
