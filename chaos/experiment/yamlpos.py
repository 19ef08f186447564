"""YAML parsing that remembers where every key and value came from.

PyYAML's composer already knows each node's position; we build plain Python
data from the node tree and keep a map from the data path (a tuple of keys
and list indexes, the same shape as a pydantic error ``loc``) to its 1-based
line and column, so every later error can name ``FILE:LINE:COL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:  # the C composer is much faster when available
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[Any, ...]


@dataclass
class Positions:
    """Where each path's key and value start (1-based line, column)."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def of_value(self, path: Path) -> tuple[int, int]:
        """Position of the value at ``path``, or of its nearest ancestor."""
        return self._nearest(self.values, path)

    def of_key(self, path: Path) -> tuple[int, int]:
        """Position of the key naming ``path`` (its value's, for list items)."""
        if path in self.keys:
            return self.keys[path]
        return self._nearest(self.values, path)

    @staticmethod
    def _nearest(table: dict[Path, tuple[int, int]], path: Path) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            if path[:end] in table:
                return table[path[:end]]
        return (1, 1)


class YamlProblem(Exception):
    def __init__(self, line: int, column: int, message: str):
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def _pos(mark: yaml.Mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def parse(text: str) -> tuple[Any, Positions, list[YamlProblem]]:
    """Parse one YAML document. Syntax errors raise :class:`YamlProblem`;
    duplicate keys and unusable keys are returned as problems."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise YamlProblem(line, col, f"YAML syntax: {message}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"YAML syntax: {exc}") from None
    finally:
        loader.dispose()
    positions = Positions()
    problems: list[YamlProblem] = []
    if node is None:
        return None, positions, problems
    data = _build(loader, node, (), positions, problems, set())
    return data, positions, problems


def _build(
    loader: Any,
    node: yaml.Node,
    path: Path,
    positions: Positions,
    problems: list[YamlProblem],
    active: set[int],
) -> Any:
    positions.values.setdefault(path, _pos(node.start_mark))
    if id(node) in active:  # a recursive alias: YAML allows it, experiments cannot use it
        problems.append(YamlProblem(*_pos(node.start_mark), "recursive YAML alias"))
        return None
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        try:
            loader.flatten_mapping(node)  # resolves "<<" merge keys
        except yaml.MarkedYAMLError as exc:
            problems.append(YamlProblem(*_pos(exc.problem_mark), f"YAML: {exc.problem}"))
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    YamlProblem(*_pos(key_node.start_mark), "keys must be plain scalars")
                )
                continue
            key = _scalar(loader, key_node, problems)
            if key in result:
                problems.append(YamlProblem(*_pos(key_node.start_mark), f"duplicate key {key!r}"))
            child = (*path, key)
            positions.keys.setdefault(child, _pos(key_node.start_mark))
            result[key] = _build(loader, value_node, child, positions, problems, active)
        active.discard(id(node))
        return result
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        items = [
            _build(loader, item, (*path, index), positions, problems, active)
            for index, item in enumerate(node.value)
        ]
        active.discard(id(node))
        return items
    return _scalar(loader, node, problems)


def _scalar(loader: Any, node: yaml.Node, problems: list[YamlProblem]) -> Any:
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or node.start_mark
        problems.append(YamlProblem(*_pos(mark), f"YAML: {exc.problem}"))
        return None
    except (ValueError, OverflowError) as exc:
        problems.append(YamlProblem(*_pos(node.start_mark), f"YAML: {exc}"))
        return None
    try:
        hash(value)
    except TypeError:
        return str(value)
    return value
