"""Checks of a game day beyond each value on its own: across drills, against the
disk, against the zone.

They read the document as written (plain data), not the model, so they run
and report even when some other part of the file is invalid. Each problem is
``(data path, message)``; the loader turns the path into ``FILE:LINE:COL``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chaos.gameday.clock import exists

DataPath = tuple[Any, ...]


def check_document(document: dict[str, Any], base_dir: Path) -> Iterator[tuple[DataPath, str]]:
    """Every problem the model cannot see in ``document`` (a game day file's data)."""
    drills = document.get("drills")
    if not isinstance(drills, list):
        return
    zone = _zone(document.get("timezone"))
    seen: dict[str, int] = {}
    for index, drill in enumerate(drills):
        if not isinstance(drill, dict):
            continue
        name = drill.get("name")
        if isinstance(name, str):
            if name in seen:
                yield (
                    ("drills", index, "name"),
                    f"duplicate drill name {name!r} (also drills[{seen[name]}])",
                )
            seen.setdefault(name, index)
        yield from _paths(drill, ("drills", index), base_dir)
        when = drill.get("when")
        if zone is not None and isinstance(when, dict):
            for key in ("at", "start"):
                problem = _skipped_time(when.get(key), zone)
                if problem is not None:
                    yield ("drills", index, "when", key), problem


_PATH_KEYS = {
    "experiment": "experiment file",
    "suite": "suite path",
    "inventory": "inventory file",
}


def _paths(
    drill: dict[str, Any], where: DataPath, base_dir: Path
) -> Iterator[tuple[DataPath, str]]:
    for key, what in _PATH_KEYS.items():
        written = drill.get(key)
        if not isinstance(written, str) or not written:
            continue
        path = base_dir / written
        if not path.exists():
            yield (*where, key), f"{what} {written} does not exist (looked for {path})"
        elif key != "suite" and not path.is_file():
            yield (*where, key), f"{what} {written} is not a file ({path})"


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str):
        return None
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return None  # the model reports it


def _skipped_time(value: Any, zone: ZoneInfo) -> str | None:
    """A naive ``at``/``start`` the clock never shows (it jumps over it), or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None  # the model reports it
    if not isinstance(value, datetime) or value.tzinfo is not None or exists(value, zone):
        return None
    return (
        f"{value.isoformat(timespec='minutes')} does not exist in {zone.key}: the clock "
        "skips that hour (daylight saving time); give a time outside it or an offset"
    )
