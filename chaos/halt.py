"""The kill switch: one flag file that halts every chaosdrill run on this host.

``chaosdrill halt`` writes ``halt.json`` into the state directory (the one the
fault ledger lives in, :func:`chaos.state.default_state_dir`); ``chaosdrill
resume`` removes it. While it is there, every run (``chaosdrill run``,
``chaosdrill suite``, faults injected from code, the pytest ``chaos``
fixture) that is going reverts its faults at once and ends ``aborted`` with a
reason of kind ``halted``, and no new one starts. Runs notice it through
:class:`HaltWatcher`, a thread that looks at the file every
:data:`POLL_INTERVAL` (one ``lstat`` while there is no halt), and check it
again just before each injection: a fault is never injected after a halt.

The flag is written to a temporary file and linked into place, so a reader
never sees half of it and a second halt never overwrites the first. Whatever
is in the file, a run must not crash on it and must not ignore it: a flag
that cannot be read (broken JSON, too large, wrong types, a symbolic link) is
a halt all the same, with a reason that says why and how to lift it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaos.state import UnsafeStateDir, default_state_dir, ensure_private_dir, open_private
from chaos.text import printable

__all__ = [
    "HALT_FILE",
    "POLL_INTERVAL",
    "HaltFlag",
    "HaltState",
    "HaltWatcher",
    "current_user",
]

HALT_FILE = "halt.json"
MAX_FLAG_BYTES = 64 * 1024
"""A larger flag is not read (it is a halt all the same: see :meth:`HaltFlag.status`)."""
MAX_REASON = 1000
"""Characters of a reason kept when a halt is written."""
POLL_INTERVAL = 0.2
"""Seconds between two looks at the flag while a run goes on."""
NO_REASON = "no reason given"
RESUME_HINT = "lift it with `chaosdrill resume`"


@dataclass(frozen=True)
class HaltState:
    """A halt in force: why, by whom, when (UTC, ISO 8601), from which process and host.

    ``readable`` is False when the flag is there but could not be read; ``reason``
    then says why (``halt flag unreadable: ...``) and the other fields are empty.
    """

    reason: str
    user: str = ""
    at: str = ""
    pid: int | None = None
    host: str = ""
    readable: bool = True
    path: str = ""

    @property
    def message(self) -> str:
        """``halted: <reason> (by <user> at <time>)``: what runs and the CLI say."""
        reason = printable(self.reason)
        if not self.readable:
            return f"halted: {reason} ({printable(self.path)}); {RESUME_HINT}"
        return f"halted: {reason} (by {printable(self.user)} at {printable(self.at)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "halted": True,
            "reason": self.reason,
            "user": self.user,
            "at": self.at,
            "pid": self.pid,
            "host": self.host,
            "readable": self.readable,
            "message": self.message,
            "path": self.path,
        }


class HaltFlag:
    """The halt flag of one state directory (default: :func:`default_state_dir`)."""

    def __init__(self, state_dir: str | Path | None = None):
        self.dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self.path = self.dir / HALT_FILE

    def is_set(self) -> bool:
        """Whether there is a flag at all (one ``lstat``): the cheap question."""
        try:
            os.lstat(self.path)
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot tell: fail safe
        return True

    def status(self) -> HaltState | None:
        """The halt in force, or None. Never raises: a flag that cannot be read
        is a halt whose reason says why (fail safe)."""
        if not self.is_set():
            return None
        try:
            return self._read()
        except FileNotFoundError:
            return None  # resumed between the two looks
        except _Unreadable as exc:
            return self._unreadable(str(exc))
        except Exception as exc:  # anything else the file can do to us: still a halt
            return self._unreadable(f"{type(exc).__name__}: {exc}")

    def halt(
        self,
        reason: str | None = None,
        *,
        user: str | None = None,
        now: datetime | None = None,
    ) -> tuple[HaltState, bool]:
        """Halt every run: write the flag unless there is one already.

        Returns the halt in force and whether this call made it (False: the
        flag was there, and is left as it was). Raises UnsafeStateDir when the
        state directory cannot be used, OSError when the flag cannot be written.
        """
        existing = self.status()
        if existing is not None:
            return existing, False
        ensure_private_dir(self.dir)
        text = (reason or "").strip()[:MAX_REASON] or NO_REASON
        when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        state = HaltState(
            reason=text,
            user=user or current_user(),
            at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            pid=os.getpid(),
            host=socket.gethostname(),
            path=str(self.path),
        )
        payload = {k: v for k, v in state.to_json().items() if k in _FIELDS}
        data = (json.dumps(payload, sort_keys=True) + "\n").encode()
        tmp = self.dir / f".{HALT_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, self.path)  # atomic, and never over another halt's flag
            except FileExistsError:
                current = self.status()
                if current is not None:
                    return current, False
                os.replace(tmp, self.path)
            except OSError:  # a filesystem without hard links: rename, as atomic
                os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _sync_dir(self.dir)
        return state, True

    def resume(self) -> HaltState | None:
        """Lift the halt; return the one lifted (readable or not), or None if there was none."""
        state = self.status()
        if state is None:
            return None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:  # a directory planted there, say
            raise UnsafeStateDir(
                f"cannot remove the halt flag {self.path}: {exc.strerror}; remove it by hand"
            ) from None
        _sync_dir(self.dir)
        return state

    # -- reading ------------------------------------------------------------------

    def _read(self) -> HaltState:
        try:
            fd = open_private(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except Exception as exc:
            if not os.path.lexists(self.path):
                raise FileNotFoundError(str(self.path)) from None
            raise _Unreadable(str(exc)) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _Unreadable("not a regular file")
        with os.fdopen(fd, "rb") as source:
            data = source.read(MAX_FLAG_BYTES + 1)
        if len(data) > MAX_FLAG_BYTES:
            raise _Unreadable(f"larger than {MAX_FLAG_BYTES} bytes")
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Unreadable(f"not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise _Unreadable(f"not a JSON object but {type(record).__name__}")
        for key, kind in _FIELDS.items():
            value = record.get(key)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise _Unreadable(f"field {key!r} is {type(value).__name__}, not {kind.__name__}")
        reason = record.get("reason")
        if not isinstance(reason, str):
            raise _Unreadable("no reason")
        return HaltState(
            reason=reason[:MAX_REASON] or NO_REASON,
            user=(record.get("user") or "unknown")[:200],
            at=(record.get("at") or "unknown time")[:64],
            pid=record.get("pid"),
            host=(record.get("host") or "")[:255],
            path=str(self.path),
        )

    def _unreadable(self, why: str) -> HaltState:
        return HaltState(
            reason=f"halt flag unreadable: {why[:300]}", readable=False, path=str(self.path)
        )


_FIELDS: dict[str, type] = {"reason": str, "user": str, "at": str, "pid": int, "host": str}
"""What the flag file holds, and the type of each."""


class _Unreadable(Exception):
    pass


def _sync_dir(path: Path) -> None:
    """Make the flag's appearance (or removal) durable; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def current_user() -> str:
    """Who is halting: the user behind ``sudo`` if any, else this process's user."""
    sudo = os.environ.get("SUDO_USER")
    if sudo:
        return sudo
    try:
        return getpass.getuser()
    except Exception:
        return f"uid {os.geteuid()}"


class HaltWatcher:
    """A daemon thread that calls ``on_halt(state)`` once, when a halt appears.

    It looks at the flag at once when started, then every ``interval``
    seconds, until :meth:`stop`. ``on_halt`` runs on the watcher's thread.
    """

    def __init__(
        self,
        flag: HaltFlag,
        on_halt: Callable[[HaltState], None],
        *,
        interval: float = POLL_INTERVAL,
    ):
        self.flag = flag
        self._on_halt = on_halt
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="chaosdrill-halt", daemon=True)
        self.fired: HaltState | None = None

    def start(self) -> HaltWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self.flag.is_set():
                state = self.flag.status()
                if state is not None and not self._stop.is_set():
                    self.fired = state
                    with contextlib.suppress(Exception):  # the callback's own to report
                        self._on_halt(state)
                    return
            self._stop.wait(self._interval)
