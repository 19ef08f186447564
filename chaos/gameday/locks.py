"""Locks between the processes of game days: one ``serve`` per file, one drill at a time.

Every lock is an ``flock`` on a file under ``<state dir>/gameday/``. The
kernel releases it when the holder's last descriptor closes, so a holder
killed with SIGKILL frees it at once: no stale lock to clean up. Descriptors
are close-on-exec, so a drill's child processes never inherit a lock.

The holder writes who it is (pid, host, file, drill) into the lock file
after taking the lock; whoever finds the lock taken reads that to say who
holds it. The content is only a description: the ``flock`` is the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaos.errors import ChaosError
from chaos.gameday.history import history_path
from chaos.state import default_state_dir, ensure_private_dir, open_private

SERVE_LOCK = "serve.lock"
DRILL_LOCK = "drill.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its holder wrote it down (None where it could not be read)."""

    pid: int | None
    host: str | None = None
    file: str | None = None
    drill: str | None = None
    since: str | None = None

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid is not None else "pid unknown"
        if self.host and self.host != socket.gethostname():
            who += f" on {self.host}"
        return who

    def skip_reason(self, drill: str, file: str | os.PathLike[str] | None = None) -> str:
        """Why a drill that found this holder does not run: the same drill of the
        same file still running, or another drill."""
        same_file = file is None or self.file is None or _same(self.file, file)
        if self.drill == drill and same_file:
            return f"previous still running ({self.describe()})"
        what = self.drill or "unknown"
        if self.file and not same_file:
            what += f" of {self.file}"
        return f"another drill is running: {what} ({self.describe()})"


class LockHeld(ChaosError):
    """A lock is held by another process: ``holder`` says which."""

    def __init__(self, message: str, holder: Holder):
        super().__init__(message)
        self.holder = holder


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


class FileLock:
    """A non-blocking ``flock`` on one file, with a description of its holder."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, **about: Any) -> Holder | None:
        """Take the lock and describe this process in it (``about``: file, drill);
        return None. When another holds it, return who, and hold nothing."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this lock object")
        ensure_private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return self._holder()
        except BaseException:
            os.close(fd)
            raise
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **{k: (str(v) if v is not None else None) for k, v in about.items()},
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # nobody holds it: no description left behind
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def _holder(self, attempts: int = 20) -> Holder:
        """Read the holder's description; a holder that has just taken the lock may
        not have written it yet, so an empty file is read again for a moment."""
        for _ in range(attempts):
            try:
                fd = open_private(self.path, os.O_RDONLY)
                try:
                    raw = os.read(fd, 65536)
                finally:
                    os.close(fd)
                data = json.loads(raw) if raw else None
            except (ChaosError, ValueError):
                data = None
            if isinstance(data, dict) and isinstance(data.get("pid"), int):
                return Holder(
                    pid=data["pid"],
                    host=_str(data.get("host")),
                    file=_str(data.get("file")),
                    drill=_str(data.get("drill")),
                    since=_str(data.get("since")),
                )
            time.sleep(0.01)
        return Holder(pid=None)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class ServeLock:
    """One ``serve`` per game day file and one per state directory.

    Both locks live in the state directory: ``serve-<file>.lock`` (named like
    the file's history) and ``serve.lock``. The file's lock is taken first, so
    a second ``serve`` of the same file is told that; a ``serve`` of another
    file is told which file the running one serves.
    """

    def __init__(self, gameday_file: str | os.PathLike[str], state_dir: Path | None = None):
        self.file = str(Path(gameday_file).expanduser().resolve())
        folder = (state_dir or default_state_dir()) / "gameday"
        stem = history_path(self.file, state_dir).stem
        self._file_lock = FileLock(folder / f"serve-{stem}.lock")
        self._dir_lock = FileLock(folder / SERVE_LOCK)

    def acquire(self) -> None:
        """Take both locks, or raise :class:`LockHeld` naming the other process."""
        ensure_private_dir(self._dir_lock.path.parent.parent)
        holder = self._file_lock.try_acquire(file=self.file)
        if holder is not None:
            raise LockHeld(
                f"another chaosdrill serve ({holder.describe()}) already runs the game day "
                f"{self.file}; refusing to start a second one",
                holder,
            )
        holder = self._dir_lock.try_acquire(file=self.file)
        if holder is not None:
            self._file_lock.release()
            serves = f"the game day {holder.file}" if holder.file else "a game day"
            raise LockHeld(
                f"another chaosdrill serve ({holder.describe()}) already runs {serves} with "
                f"the state directory {self._dir_lock.path.parent.parent}; one serve per state "
                f"directory: refusing to serve {self.file}",
                holder,
            )

    def release(self) -> None:
        self._dir_lock.release()
        self._file_lock.release()

    def __enter__(self) -> ServeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class DrillLock:
    """The lock a drill holds while it runs, for ``concurrency: forbid``.

    One per state directory, shared by every game day file that uses it (the
    machine's, for root's ``/var/lib/chaosdrill``): at most one such drill
    runs at a time, whichever process started it.
    """

    def __init__(self, state_dir: Path | None = None):
        folder = (state_dir or default_state_dir()) / "gameday"
        self._lock = FileLock(folder / DRILL_LOCK)

    @property
    def path(self) -> Path:
        return self._lock.path

    def try_acquire(self, drill: str, file: str | os.PathLike[str]) -> Holder | None:
        """None when this process now holds the lock; else who does (nothing held).
        :meth:`Holder.skip_reason` words the skip."""
        ensure_private_dir(self.path.parent.parent)
        return self._lock.try_acquire(drill=drill, file=Path(file).expanduser().resolve())

    def release(self) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.held
