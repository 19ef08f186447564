"""Reads a game day file and returns a validated game day, or every problem in it.

Problems read ``FILE:LINE:COL: message``, worded as an experiment file's are
(:class:`~chaos.experiment.problems.FileProblems`): YAML syntax, then the
model (:mod:`chaos.gameday.model`) and the checks across the document
(:mod:`chaos.gameday.checks`), which both run, so one pass reports all.
Relative paths in the file are relative to the file's directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from chaos.errors import InvalidExperiment
from chaos.experiment.problems import FileProblems
from chaos.experiment.source import parse_mapping, read_source
from chaos.gameday.checks import check_document
from chaos.gameday.model import Drill, GameDay


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


def load_gameday(path: str | Path) -> LoadedGameDay:
    """Load and validate ``path``; raise InvalidExperiment (its problems) or UsageError."""
    text = read_source(path, "a game day file")
    return load_gameday_text(text, str(path), base_dir=Path(path).parent)


def load_gameday_text(
    text: str, filename: str = "<string>", *, base_dir: Path | None = None
) -> LoadedGameDay:
    """Validate game day source text; ``filename`` is used in messages."""
    base = base_dir if base_dir is not None else Path.cwd()
    report = FileProblems(filename, root_model=GameDay, root_name="the game day")
    data = parse_mapping(text, report, "a game day")
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
