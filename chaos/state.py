"""The state directory: where the fault ledger and the labs live.

Whoever can write there can make chaosdrill revert (or leave alone) any
fault, so the directory is created private (0700), and one that another
user owns or that anyone may write to is refused rather than used. Files in
it are opened with ``O_NOFOLLOW``: a symlink planted in place of the ledger
cannot redirect a write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from chaos.errors import ChaosError

STATE_DIR_ENV = "CHAOSDRILL_STATE_DIR"


class UnsafeStateDir(ChaosError):
    """The state directory cannot be trusted (owner, permissions, a symlink)."""


def default_state_dir() -> Path:
    """``$CHAOSDRILL_STATE_DIR``, else ``/var/lib/chaosdrill`` for root, else
    ``$XDG_STATE_HOME/chaosdrill`` (``~/.local/state/chaosdrill``)."""
    if os.environ.get(STATE_DIR_ENV):
        return Path(os.environ[STATE_DIR_ENV])
    if os.geteuid() == 0:
        return Path("/var/lib/chaosdrill")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "chaosdrill"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if needed and check it can be trusted; return it.

    Raises UnsafeStateDir when it is not a directory, is owned by another
    user, or is writable by group or others (a shared ``/tmp`` subdirectory,
    say): another user could then plant or remove ledger entries.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(path)
    except OSError as exc:
        raise UnsafeStateDir(f"cannot use the state directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateDir(f"the state directory {path} is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafeStateDir(
            f"the state directory {path} belongs to uid {info.st_uid}, not to this user "
            f"(uid {os.geteuid()}); set {STATE_DIR_ENV} to a directory of your own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeStateDir(
            f"the state directory {path} is writable by other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run `chmod 700 {path}` or set "
            f"{STATE_DIR_ENV} to a private directory"
        )
    return path


def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` that never follows a symlink at ``path`` (raises UnsafeStateDir)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeStateDir(f"{path} is a symbolic link: refusing to follow it") from None
        raise UnsafeStateDir(f"cannot open {path}: {exc.strerror}") from None
