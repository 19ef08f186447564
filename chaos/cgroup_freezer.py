"""A container's freezer cgroup on this host, for thawing it past a wedged engine.

Docker pauses a container by freezing its cgroup. When the engine's API for
that container hangs (an exec frozen half-way through its start holds it),
the only way out is to thaw the cgroup directly: cgroup v1 writes ``THAWED``
to ``freezer.state`` under the freezer hierarchy, cgroup v2 writes ``0`` to
``cgroup.freeze``. Only for an engine on this host, and only as root.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
SEARCH_DEPTH = 4
SETTLE = 2.0
"""How long a freeze or thaw may take to settle."""


class FreezerError(OSError):
    """The cgroup could not be found, read or written; the message names the container."""


@dataclass(frozen=True)
class Freezer:
    path: Path
    v2: bool

    def frozen(self) -> bool:
        try:
            if self.v2:
                events = (self.path / "cgroup.events").read_text()
                return any(line.strip() == "frozen 1" for line in events.splitlines())
            return (self.path / "freezer.state").read_text().strip() != "THAWED"
        except OSError as exc:
            raise FreezerError(f"cannot read {self.path}: {exc.strerror}") from None

    def _write(self, frozen: bool) -> None:
        name, value = (
            ("cgroup.freeze", "1" if frozen else "0")
            if self.v2
            else ("freezer.state", "FROZEN" if frozen else "THAWED")
        )
        try:
            (self.path / name).write_text(value)
        except OSError as exc:
            raise FreezerError(
                f"cannot write {value} to {self.path / name}: {exc.strerror}"
            ) from None

    def _settle(self, frozen: bool) -> bool:
        deadline = time.monotonic() + SETTLE
        while self.frozen() != frozen:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def thaw(self) -> bool:
        """Thaw the cgroup; True once it reads as thawed."""
        self._write(False)
        return self._settle(False)

    def freeze(self) -> bool:
        """Freeze the cgroup; True once it reads as frozen."""
        self._write(True)
        return self._settle(True)


def _is_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def find(container_id: str, pid: int | None = None) -> Freezer:
    """The freezer cgroup of a container of the local engine.

    From ``/proc/<pid>/cgroup`` when the main PID is known, else by searching
    the hierarchy for a directory named after the (full) container id.
    Raises :class:`FreezerError` naming the container when there is none.
    """
    v2 = _is_v2()
    base = CGROUP_ROOT if v2 else CGROUP_ROOT / "freezer"
    if pid:
        path = _from_proc(pid, v2)
        if path is not None and container_id[:12] in str(path):
            found = base / path.relative_to("/")
            if found.is_dir():
                return Freezer(found, v2)
    for candidate in (
        base / "docker" / container_id,
        base / "system.slice" / f"docker-{container_id}.scope",
    ):
        if candidate.is_dir():
            return Freezer(candidate, v2)
    found_path = _search(base, container_id)
    if found_path is None:
        raise FreezerError(f"no freezer cgroup of container {container_id[:12]} under {base}")
    return Freezer(found_path, v2)


def _from_proc(pid: int, v2: bool) -> Path | None:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (v2 and controllers == "") or (not v2 and "freezer" in controllers.split(",")):
            return Path(path)
    return None


def _search(base: Path, container_id: str) -> Path | None:
    if len(container_id) < 12:
        return None
    base_depth = len(base.parts)
    for root, dirs, _ in os.walk(base):
        for name in dirs:
            if container_id in name:
                return Path(root) / name
        if len(Path(root).parts) - base_depth >= SEARCH_DEPTH:
            dirs[:] = []
    return None
