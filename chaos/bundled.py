"""Files that ship inside the package: the example experiments and the registry
Dockerfiles.

A user who installed chaosdrill with pip has no checkout, so whatever a command
offers them (``chaosdrill demo run``, ``demo examples``, ``images dockerfile``)
is read from here. In the repository, ``chaos/data/experiments`` and
``chaos/data/images`` are links to ``experiments/`` and ``images/``, which stay
the files one edits; ``pyproject.toml`` lists what the wheel carries.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from chaos.errors import UsageError

DEFAULT_EXAMPLE = "web-survives-crash"
"""What ``chaosdrill demo run`` runs without a name: the demo survives it."""
DOCKERFILES = ("netns-helper", "fault-helper", "swarm-node")
"""The Dockerfiles that ship (``images/<name>.Dockerfile`` in the repository):
the registry equivalents of the images ``chaosdrill images build`` makes."""

_EXPECTED = re.compile(r"Expected verdict:\s*(passed|failed|aborted|error)\b")
_PROMETHEUS = "chaosdrill demo up --prometheus"
_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One example experiment, described from its own file: the verdict and what
    it needs are stated in its leading comment."""

    name: str
    """The file name without ``.yaml`` (``web-survives-crash``)."""
    title: str
    expected: str
    """The verdict it is written to get against the demo stack."""
    needs_prometheus: bool
    """It needs ``chaosdrill demo up --prometheus``."""


def _data() -> Traversable:
    return resources.files("chaos") / "data"


def _experiments() -> Traversable:
    return _data() / "experiments"


def example_names() -> list[str]:
    """The demo examples (not the Swarm ones), sorted."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in _experiments().iterdir()
        if entry.is_file() and entry.name.endswith(".yaml")
    )


def describe(name: str) -> Example:
    text = example_text(name)
    # the leading comment as one line: a sentence may wrap
    header = " ".join(line.lstrip("#").strip() for line in text.splitlines() if line[:1] == "#")
    expected = _EXPECTED.search(header)
    title = _TITLE.search(text)
    return Example(
        name=name,
        title=title.group(1) if title else name,
        expected=expected.group(1) if expected else "unknown",
        needs_prometheus=_PROMETHEUS in header,
    )


def examples() -> list[Example]:
    return [describe(name) for name in example_names()]


def example_text(name: str) -> str:
    entry = _experiments() / f"{name}.yaml"
    if not entry.is_file():
        known = ", ".join(example_names())
        raise UsageError(f"no example named {name!r}; the examples are: {known}")
    return entry.read_text(encoding="utf-8")


@contextmanager
def example_path(name: str) -> Iterator[Path]:
    """The example as a file on disk, for as long as the block runs (a real path
    even when the package is imported from a zip)."""
    example_text(name)  # a clear error for an unknown name
    with resources.as_file(_experiments() / f"{name}.yaml") as path:
        yield path


def _every_example(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _every_example(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".yaml"):
            yield f"{prefix}{entry.name}", entry


def copy_examples(destination: Path, *, force: bool = False) -> list[Path]:
    """Copy every example (the Swarm ones into ``swarm/``) into ``destination``.

    Nothing is written when a file is already there, unless ``force``: a user's
    edited copy is never overwritten by accident."""
    found = list(_every_example(_experiments()))
    if destination.exists() and not destination.is_dir():
        raise UsageError(f"{destination} exists and is not a directory")
    existing = [relative for relative, _ in found if (destination / relative).exists()]
    if existing and not force:
        shown = ", ".join(str(destination / relative) for relative in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise UsageError(f"{shown}{more} already exist; --force overwrites them")
    written = []
    for relative, entry in found:
        target = destination / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with entry.open("rb") as source, target.open("wb") as copy:
                shutil.copyfileobj(source, copy)
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
        written.append(target)
    return written


def dockerfile(name: str) -> str:
    """The registry Dockerfile of a helper image, by its short name (``netns-helper``)."""
    if name not in DOCKERFILES:
        raise UsageError(f"no Dockerfile named {name!r}; there are: {', '.join(DOCKERFILES)}")
    return (_data() / "images" / f"{name}.Dockerfile").read_text(encoding="utf-8")
