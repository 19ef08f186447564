"""Finding the experiments of a suite.

* A **file** named on the command line is an experiment, whatever it holds:
  if it is not one, it is reported ``invalid`` with the loader's problems.
* A **directory** is searched recursively (hidden directories such as
  ``.git`` are skipped) for ``*.yaml`` and ``*.yml`` files (``*.chaos.yaml``
  included). Such a file is an experiment when its top level is a mapping
  with both a ``version`` and a ``method`` key. So that a syntax error cannot
  hide a broken experiment, a file that is not valid YAML is one when it has
  lines starting with ``version:`` and ``method:``. Every other YAML file (an
  inventory, a compose file, CI configuration) is skipped and listed as
  skipped, never run.

Files are taken in the order given, each directory's files sorted by path;
a file reached twice is run once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.errors import UsageError

SUFFIXES = (".yaml", ".yml")
"""Files a directory search considers (``.chaos.yaml`` ends in ``.yaml``)."""
NAME_SUFFIXES = (".chaos.yaml", ".chaos.yml", ".yaml", ".yml", ".json")
"""Stripped from file names to make case names."""
MAX_SNIFF_BYTES = 2 * 1024 * 1024
_TOP_LEVEL_KEY = "^{key}[ \t]*:"


@dataclass(frozen=True)
class Found:
    path: Path
    root: Path
    """The argument it was found under (itself for a file)."""


@dataclass(frozen=True)
class Discovery:
    experiments: tuple[Found, ...]
    skipped: tuple[Path, ...]
    """YAML files under the directories that are not experiments."""


def discover(paths: list[str | Path]) -> Discovery:
    """Every experiment under ``paths``; raise UsageError for a missing path or
    when nothing at all is found."""
    if not paths:
        raise UsageError("suite: name at least one file or directory")
    found: list[Found] = []
    skipped: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        root = Path(raw)
        if root.is_dir():
            for path in _walk(root):
                if not _take(path, seen):
                    continue
                if is_experiment_file(path):
                    found.append(Found(path, root))
                else:
                    skipped.append(path)
        elif root.exists():
            if _take(root, seen):
                found.append(Found(root, root))
        else:
            raise UsageError(f"{raw}: no such file or directory")
    if not found:
        where = ", ".join(str(p) for p in paths)
        extra = {
            0: "",
            1: " (1 YAML file that is not an experiment)",
        }.get(len(skipped), f" ({len(skipped)} YAML files that are not experiments)")
        raise UsageError(f"no experiments found under {where}{extra}")
    return Discovery(tuple(found), tuple(skipped))


def _walk(root: Path) -> list[Path]:
    files = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(directory) / n for n in names if n.lower().endswith(SUFFIXES))
    return sorted(files)


def _take(path: Path, seen: set[Path]) -> bool:
    key = path.resolve()
    if key in seen:
        return False
    seen.add(key)
    return True


def is_experiment_file(path: Path) -> bool:
    """The directory rule: a YAML mapping with top-level ``version`` and ``method``."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SNIFF_BYTES + 1)
    except OSError:
        return True  # unreadable: let the loader say why
    if len(raw) > MAX_SNIFF_BYTES:
        return True  # the loader reports the size
    text = raw.decode("utf-8", "replace")
    data = read_yaml(text)
    if isinstance(data, dict):
        return "version" in data and "method" in data
    if data is _UNPARSABLE:
        return all(
            re.search(_TOP_LEVEL_KEY.format(key=key), text, re.MULTILINE)
            for key in ("version", "method")
        )
    return False


_UNPARSABLE = object()


def read_yaml(text: str) -> Any:
    """The document, or a marker when it is not (one) valid YAML document."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)
    except Exception:  # YAMLError, or several documents, or a value YAML cannot build
        return _UNPARSABLE


def without_suffix(name: str) -> str:
    """``web.chaos.yaml`` -> ``web``: the name of an experiment file without its suffix."""
    for suffix in NAME_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def case_name(found: Found, cwd: Path | None = None) -> str:
    """A stable dotted name for the file: its path relative to the working
    directory (or, outside it, to the directory holding the argument), without
    the suffix, ``/`` as ``.`` and other dots as ``_``."""
    path = found.path.resolve()
    base = (cwd or Path.cwd()).resolve()
    try:
        relative = path.relative_to(base)
    except ValueError:
        anchor = found.root.resolve().parent
        try:
            relative = path.relative_to(anchor)
        except ValueError:
            relative = Path(path.name)
    text = without_suffix(relative.as_posix())
    return ".".join(part.replace(".", "_") for part in text.split("/") if part) or "experiment"
