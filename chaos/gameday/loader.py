"""Reads a game day file and returns a validated game day, or every problem in it.

Problems read ``FILE:LINE:COL: message``, worded as an experiment file's are
(:class:`~chaos.experiment.problems.FileProblems`): YAML syntax, then the
model (:mod:`chaos.gameday.model`) and the checks across the document
(:mod:`chaos.gameday.checks`), which both run, so one pass reports all.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.errors import InvalidExperiment, Problem, UsageError
from chaos.experiment.problems import FileProblems
from chaos.experiment.yamlpos import YamlProblem, parse
from chaos.gameday.checks import check_document
from chaos.gameday.model import Drill, GameDay

MAX_FILE_BYTES = 2 * 1024 * 1024

_KIND = re.compile(r"""^kind[ \t]*:[ \t]*["']?gameday["']?[ \t]*(#.*)?$""", re.MULTILINE)


@dataclass(frozen=True)
class LoadedGameDay:
    """A validated game day and where its relative paths start."""

    path: str
    gameday: GameDay
    base_dir: Path

    def resolve(self, written: str) -> Path:
        """A path as written in the file, relative to the file's directory."""
        return self.base_dir / written

    def target(self, drill: Drill) -> Path:
        """The drill's experiment file or suite path."""
        return self.resolve(drill.target)

    def inventory(self, drill: Drill) -> Path | None:
        return None if drill.inventory is None else self.resolve(drill.inventory)


def is_gameday(path: str | Path) -> bool:
    """Whether ``path`` looks like a game day file (a top-level ``kind: gameday``)."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(MAX_FILE_BYTES)
    except OSError:
        return False
    return _KIND.search(head.decode("utf-8", "replace")) is not None


def load_gameday(path: str | Path) -> LoadedGameDay:
    """Load and validate ``path``; raise InvalidExperiment (its problems) or UsageError."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected a game day file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InvalidExperiment(
            [Problem(str(path), line, column, "file is not valid UTF-8")]
        ) from None
    return load_gameday_text(text, str(path), base_dir=file.parent)


def load_gameday_text(
    text: str, filename: str = "<string>", *, base_dir: Path | None = None
) -> LoadedGameDay:
    """Validate game day source text; ``filename`` is used in messages."""
    base = base_dir if base_dir is not None else Path.cwd()
    report = FileProblems(filename, root_model=GameDay, root_name="the game day")
    data = _parse(text, report)
    gameday: GameDay | None = None
    try:
        gameday = GameDay.model_validate(data)
    except ValidationError as exc:
        report.pydantic(exc, prefix=())
    for path, message in check_document(data, base):
        report.at_value(path, f"{report.describe(path)}: {message}")
    if gameday is None or report.problems:
        raise InvalidExperiment(report.finish())
    return LoadedGameDay(filename, gameday, base)


def _parse(text: str, report: FileProblems) -> dict[str, Any]:
    """The file as a mapping, or raise: nothing else can be checked without one."""
    try:
        text.encode("utf-8")
        data, positions, yaml_problems = parse(text)
    except UnicodeEncodeError as exc:  # a lone surrogate: only from a str given in code
        report.at_value((), f"invalid character at offset {exc.start} (a lone surrogate)")
        raise InvalidExperiment(report.finish()) from None
    except YamlProblem as exc:
        report.at_position((exc.line, exc.column), exc.message)
        raise InvalidExperiment(report.finish()) from None
    report.positions = positions
    for problem in yaml_problems:
        report.at_position((problem.line, problem.column), problem.message)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        report.at_value((), f"a game day must be a mapping of keys, this file is {kind}")
        raise InvalidExperiment(report.finish())
    return data
