"""Is the process that injected a fault still running?

A PID alone is not enough: PIDs are reused, after a reboot most of all, and
a fault whose runner "looks alive" forever would never be recovered and
would block its target. A process is named by its host, the kernel's boot
id and its start time (``/proc/<pid>/stat``, field 22); it is alive only
while all four still match.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class ProcessId:
    host: str
    pid: int
    boot_id: str | None = None
    started: int | None = None
    """Start time in clock ticks since boot (``/proc/<pid>/stat`` field 22)."""


@cache
def boot_id() -> str | None:
    try:
        with open(BOOT_ID_FILE) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """The process's start time since boot, or None when it does not exist (or
    there is no /proc to ask)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or ")"
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 overall: fields 3.. start at index 0
    except (IndexError, ValueError):
        return None


def this_process() -> ProcessId:
    pid = os.getpid()
    return ProcessId(socket.gethostname(), pid, boot_id(), start_ticks(pid))


def alive(process: ProcessId) -> bool | None:
    """True or False when it can be told from here; None for a process on
    another host (or one recorded without the facts to tell)."""
    if process.host != socket.gethostname():
        return None
    if process.boot_id is not None and boot_id() is not None and process.boot_id != boot_id():
        return False  # the machine rebooted since: every process of then is gone
    if process.started is not None and os.path.isdir("/proc/self"):
        return start_ticks(process.pid) == process.started
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
