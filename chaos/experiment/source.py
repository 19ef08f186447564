"""Reading a chaosdrill YAML file: within bounds, as UTF-8, into a mapping whose
every key and value has a position.

Experiments and game days are read alike: a file too large, unreadable or not
UTF-8 is refused before parsing, and a file that does not parse to a mapping
stops validation with its ``FILE:LINE:COL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaos.errors import InvalidExperiment, Problem, UsageError
from chaos.experiment.problems import FileProblems
from chaos.experiment.yamlpos import YamlProblem, parse, position_of

__all__ = ["MAX_FILE_BYTES", "parse_mapping", "read_source"]

MAX_FILE_BYTES = 2 * 1024 * 1024

_KINDS = {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}


def read_source(path: str | Path, what: str) -> str:
    """The text of ``path`` (``what`` it should be, for messages: "an experiment
    file"); raise UsageError when it cannot be read, InvalidExperiment when it is
    not UTF-8 (at the first bad byte)."""
    try:
        # read up to the limit rather than trust the size: /dev/zero has size 0
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, expected {what}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: file is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        raise InvalidExperiment(
            [Problem(str(path), line, column, "file is not valid UTF-8")]
        ) from None


def parse_mapping(text: str, report: FileProblems, what: str) -> dict[Any, Any]:
    """The text as a mapping, with ``report`` given its positions, or raise:
    nothing else can be checked without one. ``what`` names the document in the
    message when it is not a mapping ("an experiment")."""
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
        report.at_value((), f"{what} must be a mapping of keys, this file is {kind}")
        raise InvalidExperiment(report.finish())
    return data


def _surrogate(text: str) -> int | None:
    """Index of the first lone surrogate: text from a file never has one, but
    text handed in from code may, and YAML cannot encode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None
