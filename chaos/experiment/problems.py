"""Problems found in an experiment file, each at its ``FILE:LINE:COL``.

The loader and the plugin pass of validation both report through a
:class:`ProblemReport`: it maps data paths to positions, words pydantic's
errors in the format's own terms and masks secrets in every message.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from chaos.errors import Problem
from chaos.experiment.model import Experiment
from chaos.experiment.yamlpos import Path as DataPath
from chaos.experiment.yamlpos import Positions
from chaos.redaction import Redactor

__all__ = ["ProblemReport", "did_you_mean"]


class ProblemReport:
    """Collects problems and turns data paths into positions."""

    def __init__(self, filename: str):
        self.filename = filename
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
        """Report pydantic ``errors`` (their ``loc`` is relative to ``prefix``)."""
        by_value: dict[DataPath, list[str]] = {}
        for error in errors:
            loc = tuple(error["loc"])
            path = (*prefix, *loc)
            kind = error["type"]
            if kind == "extra_forbidden":
                allowed = _fields_at(model or Experiment, loc[:-1])
                where = f" of {owner}" if owner else ""
                hint = did_you_mean(loc[-1], allowed)
                takes = f"; accepted: {', '.join(allowed)}" if allowed and not hint else ""
                self.at_key(path, f"unknown key {loc[-1]!r}{where}{hint}{takes}")
            elif kind == "missing":
                parent = self._in_file(path[:-1])
                where = _dotted(parent) or "the experiment"
                self.at_value(parent, f"{where}: missing required key {loc[-1]!r}")
            elif kind == "invalid_key" or loc[-1:] == ("[key]",):
                self._key_not_string(path[:-1], path[-1] if kind == "invalid_key" else None)
            else:
                msg = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                at = self._in_file(path)
                if at not in self.explained:
                    by_value.setdefault(at, []).append(msg)
        for path, messages in by_value.items():
            # several messages for one value come from the branches of a union
            alternatives = [messages[0], *(m[:1].lower() + m[1:] for m in messages[1:])]
            self.at_value(path, f"{_dotted(path)}: {'; or '.join(alternatives)}")

    def _in_file(self, path: DataPath) -> DataPath:
        """The longest start of ``path`` that exists in the file.

        Errors inside a union carry the branch (``int``, ``list[int]``) in
        their ``loc``; the user wrote one value and should read about that.
        """
        while path and path not in self.positions.values:
            path = path[:-1]
        return path

    def _key_not_string(self, parent_or_key: DataPath, label: Any) -> None:
        """Report a key that is not a string (YAML reads ``1:``, ``null:`` or a date so).

        A ``[key]`` error's path ends with the key itself; an ``invalid_key``
        error names its key by ``repr`` in ``label`` and the path is the mapping.
        """
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
        key = key_path[-1]
        shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
        where = _dotted(key_path[:-1]) or "the experiment"
        self.at_key(key_path, f"{where}: key {shown!r} must be a string: put it in quotes")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line(message: str) -> str:
    """Escape control characters (a key may hold a newline): one problem, one line."""
    return _CONTROL.sub(lambda m: repr(m.group(0))[1:-1], message)


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
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(models) != 1:
                return annotation
            annotation = models[0]
        else:
            return annotation


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
