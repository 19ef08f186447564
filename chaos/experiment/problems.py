"""The problems of a file, each at its ``FILE:LINE:COL``.

A :class:`~chaos.experiment.validate.Report` that knows where every key and
value of a YAML document is (:class:`~chaos.experiment.yamlpos.Positions`).
Experiments use it, and so can any other file chaosdrill reads with the same
parser and a pydantic model of its own (``root_model`` and ``root_name``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pydantic import BaseModel

from chaos.errors import Problem
from chaos.experiment.validate import DataPath, Report, _key_not_string
from chaos.experiment.yamlpos import Positions
from chaos.redaction import Redactor

__all__ = ["FileProblems", "dotted"]


class FileProblems(Report):
    """Collects problems and turns data paths into positions."""

    def __init__(
        self,
        filename: str,
        *,
        root_model: type[BaseModel] | None = None,
        root_name: str = "the file",
    ):
        self.filename = filename
        self.root_model = root_model
        self.root_name = root_name
        """How a problem names the whole document (``the experiment``)."""
        self.positions = Positions()
        self.redactor = Redactor()
        self.problems: list[Problem] = []
        self.explained: set[DataPath] = set()
        """Values that already have a problem (an unknown ``${name}`` in them):
        that their value is then also invalid is not news."""

    def at_position(self, position: tuple[int, int], message: str) -> None:
        self.problems.append(Problem(self.filename, *position, message))

    def at_value(self, path: DataPath, message: str) -> None:
        self.at_position(self.positions.of_value(tuple(path)), message)

    def at_key(self, path: DataPath, message: str) -> None:
        self.at_position(self.positions.of_key(tuple(path)), message)

    def finish(self) -> list[Problem]:
        """The problems with secrets masked, each once, in file order."""
        unique = {
            dataclasses.replace(p, message=_one_line(self.redactor.text(p.message))): None
            for p in self.problems
        }
        return sorted(unique, key=lambda p: (p.line, p.column))

    def value_at(self, path: DataPath) -> DataPath:
        """The longest start of ``path`` that exists in the file.

        Errors inside a union carry the branch (``int``, ``list[int]``) in
        their ``loc``; the user wrote one value and should read about that.
        """
        while path and path not in self.positions.values:
            path = path[:-1]
        return path

    def describe(self, path: DataPath) -> str:
        return dotted(path) or self.root_name

    def key_not_string(self, parent_or_key: DataPath, label: Any) -> None:
        """As the base does, but an ``invalid_key`` error's ``repr`` of its key is
        matched to the key as written, so the problem points at it."""
        if label is None:
            key_path: DataPath = parent_or_key
        else:
            key_path = next(
                (
                    p
                    for p in self.positions.keys
                    if p[:-1] == parent_or_key and label in (p[-1], repr(p[-1]))
                ),
                (*parent_or_key, label),
            )
        self.at_key(key_path, _key_not_string(self.describe(key_path[:-1]), key_path[-1]))


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(message: str) -> str:
    """Escape control characters (a key may hold a newline): one problem, one line."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], message)


def dotted(path: DataPath) -> str:
    """``("method", 0, "timeout")`` as ``method[0].timeout``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
