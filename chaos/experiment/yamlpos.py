"""YAML parsing that remembers where every key and value came from.

PyYAML's composer already knows each node's position; we build plain Python
data from the node tree and keep a map from the data path (a tuple of keys
and list indexes, the same shape as a pydantic error ``loc``) to its 1-based
line and column, so every later error can name ``FILE:LINE:COL``.

An experiment is small, so the parser refuses what only a hostile or broken
file contains instead of exhausting the stack or memory on it: nesting deeper
than :data:`MAX_DEPTH`, and anchors and aliases that expand to more than
:data:`MAX_VALUES` values or :data:`MAX_EXPANDED_SIZE` characters. Aliases
are counted as if expanded but never copied: a string used a thousand times
is one object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.reader import ReaderError

try:  # the C composer is much faster when available
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Path = tuple[Any, ...]

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists. An experiment needs about six; the
C composer recurses once per level and crashes the process (not just raises)
somewhere past 20,000."""

MAX_VALUES = 100_000
"""Most values (scalars, lists, mappings) a document may expand to, counting
every use of an alias: a few nested aliases can otherwise stand for billions."""

MAX_EXPANDED_SIZE = 16 * 1024 * 1024
"""Largest size a document may expand to, counting one per value plus the
characters of every string, every use of an alias counted again. The same
limit applies once more after ``${name}`` substitution
(:func:`chaos.experiment.configuration.substitute`)."""

TOO_LARGE = (
    "the document expands to more than 16 MiB ({limit} characters){when}: "
    "look for aliases or ${{}} references that repeat large parts"
)
"""The message for :data:`MAX_EXPANDED_SIZE`, with ``when`` saying at which stage."""

MAX_INT_DIGITS = 1000
"""Longer integers are refused before Python's own, less helpful, limit applies."""

MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_TAG = "tag:yaml.org,2002:value"
INT_TAG = "tag:yaml.org,2002:int"

_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


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


def position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index``, counting YAML's line breaks."""
    before = text[:index]
    breaks = list(_LINE_BREAK.finditer(before))
    if not breaks:
        return (1, index + 1)
    return (len(breaks) + 1, index - breaks[-1].end() + 1)


def parse(text: str) -> tuple[Any, Positions, list[YamlProblem]]:
    """Parse one YAML document. Syntax errors raise :class:`YamlProblem`;
    duplicate keys and unusable keys or values are returned as problems."""
    _check_depth(text)
    loader = _Loader(text)
    try:
        with _syntax_errors(text):
            node = loader.get_single_node()
    finally:
        loader.dispose()
    builder = _Builder(loader)
    if node is None:
        return None, builder.positions, builder.problems
    data = builder.build(node, ())
    return data, builder.positions, builder.problems


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream, before the (recursive) composer sees it.

    The parser is a state machine, so this pass costs no stack; it also
    reports syntax errors, with the same messages the composer would give.
    """
    loader = _Loader(text)
    depth = 0
    try:
        with _syntax_errors(text):
            while loader.check_event():
                event = loader.get_event()
                if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise YamlProblem(
                            *_pos(event.start_mark), f"nested deeper than {MAX_DEPTH} levels"
                        )
                elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                    depth -= 1
    finally:
        loader.dispose()


@contextmanager
def _syntax_errors(text: str) -> Iterator[None]:
    """Turn PyYAML's exceptions into :class:`YamlProblem` with a position."""
    try:
        yield
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        if _char_at(text, line, col) == "\t" and "tab" not in message:
            message += " (a tab: YAML is indented with spaces)"
        raise YamlProblem(line, col, f"YAML syntax: {message}") from None
    except ReaderError as exc:
        line, col = position_of(text, _char_index(text, exc.position))
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else "byte"
        raise YamlProblem(
            line, col, f"YAML syntax: unacceptable character {what}: {exc.reason}"
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 1, f"YAML syntax: {exc}") from None


def _char_at(text: str, line: int, column: int) -> str:
    lines = _LINE_BREAK.split(text)
    if line <= len(lines) and column <= len(lines[line - 1]):
        return lines[line - 1][column - 1]
    return ""


def _char_index(text: str, position: int) -> int:
    """A reader error's position as a character index: the C reader counts UTF-8 bytes."""
    if _Loader is yaml.SafeLoader:  # pragma: no cover - the pure-Python reader counts characters
        return position
    return len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))


class _Builder:
    """Builds plain data from the node tree, recording positions and problems."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.positions = Positions()
        self.problems: list[YamlProblem] = []
        self._active: set[int] = set()
        """Collections being built: meeting one again means a recursive alias."""
        self._count = 0
        self._size = 0
        """Characters and values built so far, aliases counted at every use."""

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(YamlProblem(*_pos(node.start_mark), message))

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.positions.values.setdefault(path, _pos(node.start_mark))
        self._count += 1
        if self._count > MAX_VALUES:
            raise YamlProblem(
                *_pos(node.start_mark),
                f"the document expands to more than {MAX_VALUES} values "
                "(look for aliases that repeat large parts)",
            )
        self._size += 1 + (len(node.value) if isinstance(node, yaml.ScalarNode) else 0)
        if self._size > MAX_EXPANDED_SIZE:
            raise YamlProblem(
                *_pos(node.start_mark),
                TOO_LARGE.format(limit=MAX_EXPANDED_SIZE, when=" after aliases"),
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self._active:  # YAML allows it, experiments cannot use it
            self.problem(node, "recursive YAML alias")
            return None
        if len(path) >= MAX_DEPTH:  # only reachable through aliases: text depth is checked
            self.problem(node, f"nested deeper than {MAX_DEPTH} levels")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        """Build a mapping; ``<<`` merge keys fill in keys it does not set itself.

        Merges are resolved here rather than by PyYAML so that a key that
        overrides a merged one is not reported as a duplicate, and so that a
        merge of a mapping into itself is caught as recursion.
        """
        result: dict[Any, Any] = {}
        sources: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, "keys must be plain scalars")
                continue
            if key_node.tag == MERGE_TAG:
                sources.extend(self.merge_sources(value_node))
                continue
            key = self.scalar(key_node)
            if key in result:
                self.problem(key_node, f"duplicate key {key!r}")
            child = (*path, key)
            self.positions.keys.setdefault(child, _pos(key_node.start_mark))
            result[key] = self.build(value_node, child)
        for source in sources:  # earlier sources win over later ones, as in YAML
            merged = self.build(source, path)
            if isinstance(merged, dict):
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result

    def merge_sources(self, node: yaml.Node) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode):
            mappings = [item for item in node.value if isinstance(item, yaml.MappingNode)]
            if len(mappings) == len(node.value):
                return mappings
        self.problem(node, "a merge key (<<) takes a mapping or a list of mappings")
        return []

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == VALUE_TAG:  # the YAML 1.1 "=" key: just a string here
            return node.value
        if node.tag == INT_TAG and len(node.value) > MAX_INT_DIGITS:
            self.problem(node, f"integer with more than {MAX_INT_DIGITS} digits")
            return None
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or node.start_mark
            self.problems.append(YamlProblem(*_pos(mark), f"YAML: {exc.problem}"))
            return None
        except (ValueError, OverflowError) as exc:
            self.problem(node, f"YAML: {exc}")
            return None
        try:
            hash(value)
        except TypeError:
            return str(value)
        return value
