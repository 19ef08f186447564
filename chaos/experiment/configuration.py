"""``configuration:`` values, ``${name}`` references and secrets.

A configuration value written as ``{env: NAME}`` or ``{file: PATH}`` is a
secret: its value is used by probes and faults but replaced by ``***`` in
every journal, console line and error message (see :class:`chaos.redaction.Redactor`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.experiment.yamlpos import MAX_EXPANDED_SIZE, TOO_LARGE
from chaos.experiment.yamlpos import Path as DataPath

__all__ = [
    "ConfigProblem",
    "Configuration",
    "resolve_configuration",
    "substitute",
]

REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
SECRET_SOURCES = ("env", "file")
MAX_SECRET_BYTES = 64 * 1024
SECRET_DIRS_ENV = "CHAOSDRILL_SECRET_DIRS"
"""Directories (``os.pathsep``-separated) from which ``{file: PATH}`` may read
besides the experiment's own directory."""


@dataclass(frozen=True)
class ConfigProblem:
    path: DataPath
    message: str


class TooLarge(Exception):
    """Substitution would make the document larger than :data:`MAX_EXPANDED_SIZE`."""

    def __init__(self, path: DataPath, message: str):
        super().__init__(message)
        self.path, self.message = path, message


@dataclass(frozen=True)
class Configuration:
    """The ``configuration:`` section once resolved."""

    values: dict[str, Any]
    secrets: frozenset[str]
    """Every non-empty secret value, for the :class:`Redactor`."""
    unresolved: frozenset[str]
    """Names that are defined but whose value could not be found (an unset
    environment variable, say): already reported where they are defined, so
    ``${name}`` references to them are not reported again as unknown."""
    problems: list[ConfigProblem]


def resolve_configuration(configuration: Any, base_dir: Path) -> Configuration:
    """Resolve every value; secret files are read relative to ``base_dir``."""
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    unresolved: set[str] = set()
    problems: list[ConfigProblem] = []
    if not isinstance(configuration, dict):
        configuration = {}  # the model reports the wrong type
    for name, raw in configuration.items():
        path = ("configuration", name)
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            problems.append(ConfigProblem(path, f"invalid configuration name {name!r}"))
            continue
        if isinstance(raw, dict):
            value = _secret(raw, base_dir, path, problems)
            if value is None:
                unresolved.add(name)
                continue
            values[name] = value
            if value:
                secrets.add(value)
        elif isinstance(raw, list):
            problems.append(ConfigProblem(path, "configuration values must be scalars"))
            unresolved.add(name)
        else:
            values[name] = raw
    return Configuration(values, frozenset(secrets), frozenset(unresolved), problems)


def _secret(
    raw: dict[Any, Any], base_dir: Path, path: DataPath, problems: list[ConfigProblem]
) -> str | None:
    if len(raw) != 1 or next(iter(raw)) not in SECRET_SOURCES:
        problems.append(
            ConfigProblem(path, "a configuration mapping must be {env: NAME} or {file: PATH}")
        )
        return None
    source, ref = next(iter(raw.items()))
    if not isinstance(ref, str) or not ref:
        problems.append(ConfigProblem((*path, source), f"{source}: expects a non-empty string"))
        return None
    if source == "env":
        if ref not in os.environ:
            problems.append(
                ConfigProblem((*path, source), f"environment variable {ref} is not set")
            )
            return None
        return os.environ[ref]
    value, problem = _read_secret_file(base_dir, ref)
    if problem:
        problems.append(
            ConfigProblem((*path, source), f"cannot read secret file {ref!r}: {problem}")
        )
    return value


def allowed_secret_dirs(base_dir: Path) -> list[Path]:
    """Where secret files may be: the experiment's directory, then every
    directory listed in :data:`SECRET_DIRS_ENV`, symlinks resolved."""
    listed = os.environ.get(SECRET_DIRS_ENV, "").split(os.pathsep)
    return [base_dir.resolve(), *(Path(d).expanduser().resolve() for d in listed if d)]


def _read_secret_file(base_dir: Path, ref: str) -> tuple[str | None, str]:
    """The stripped text of a secret file, or None and why it cannot be used.

    The file must be inside the experiment's directory or one listed in
    :data:`SECRET_DIRS_ENV`, after ``..`` and symlinks are resolved: an
    experiment from elsewhere must not read ``/etc/shadow`` into a probe's
    request. Only regular files are read, and only their first bytes:
    ``/dev/zero`` or a FIFO must not hang ``chaosdrill validate``.
    """
    try:
        file_path = (base_dir / Path(ref).expanduser()).resolve()
        allowed = allowed_secret_dirs(base_dir)
        if not any(file_path.is_relative_to(folder) for folder in allowed):
            return None, (
                f"{str(file_path)!r} is outside the experiment's directory "
                f"({allowed[0]}): list its directory in {SECRET_DIRS_ENV} "
                f"({os.pathsep}-separated) to allow it"
            )
        if not file_path.is_file():
            return None, "not a regular file" if file_path.exists() else "no such file"
        with file_path.open("rb") as handle:
            raw = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        return None, exc.strerror or type(exc).__name__
    except (ValueError, RuntimeError) as exc:  # a NUL byte in the path, an unknown ~user
        return None, str(exc)
    if len(raw) > MAX_SECRET_BYTES:
        return None, f"larger than {MAX_SECRET_BYTES // 1024} KiB"
    try:
        return raw.decode("utf-8").strip(), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def substitute(
    data: Any,
    values: dict[str, Any],
    path: DataPath = (),
    *,
    unresolved: frozenset[str] = frozenset(),
    limit: int = MAX_EXPANDED_SIZE,
) -> tuple[Any, list[ConfigProblem]]:
    """Replace ``${name}`` in every string (``$${`` stays a literal ``${``).

    A string that is exactly one reference takes the value's own type, so
    ``port: ${db_port}`` can be an integer. References to ``unresolved``
    names are left as written without a problem of their own.

    The result counts one per value plus the characters of every string, and
    :class:`TooLarge` is raised, naming the string that crosses it, before
    anything larger than ``limit`` is built: aliases make one string stand
    for thousands, and a reference in it multiplies every one of them.
    """
    problems: list[ConfigProblem] = []
    lengths = {name: len(str(value)) for name, value in values.items()}
    size = 0
    measured: dict[str, int] = {}
    expanded: dict[str, tuple[Any, list[str]]] = {}

    def count(amount: int, where: DataPath) -> None:
        nonlocal size
        size += amount
        if size > limit:
            raise TooLarge(where, TOO_LARGE.format(limit=limit, when=" after ${} substitution"))

    def walk(node: Any, where: DataPath) -> Any:
        count(1, where)
        if isinstance(node, dict):
            return {k: walk(v, (*where, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, (*where, i)) for i, v in enumerate(node)]
        if isinstance(node, str):
            if "$" not in node:
                count(len(node), where)
                return node
            if node not in measured:
                measured[node] = _expanded_length(node)
            count(measured[node], where)
            if node not in expanded:  # an alias repeats a string: expand it once
                found: list[str] = []
                expanded[node] = (_expand(node, found), found)
            result, messages = expanded[node]
            problems.extend(ConfigProblem(where, message) for message in messages)
            return result
        return node

    def _expanded_length(text: str) -> int:
        """The length of ``text`` once expanded, without building it."""
        total = len(text)
        for match in REFERENCE.finditer(text):
            if match.group(0) == "$${":
                total -= 1
            else:
                name = match.group(1).strip()
                if name in lengths and name not in unresolved:
                    total += lengths[name] - len(match.group(0))
        return total

    def _expand(text: str, found: list[str]) -> Any:
        whole = REFERENCE.fullmatch(text)
        if whole and whole.group(0) != "$${":
            name = whole.group(1).strip()
            if name in values:
                return values[name]

        def one(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name = match.group(1).strip()
            if name in unresolved:
                return match.group(0)
            if name not in values:
                known = ", ".join(sorted(values)) or "none"
                found.append(f"unknown configuration value ${{{name}}} (defined: {known})")
                return match.group(0)
            return str(values[name])

        return REFERENCE.sub(one, text)

    return walk(data, path), problems
