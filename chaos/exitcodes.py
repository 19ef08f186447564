"""Process exit codes: stable, documented, and shared by every front end."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What `chaosdrill` returns. The numbers are part of the public interface."""

    PASSED = 0
    FAILED = 1
    INVALID = 2
    ABORTED = 3
    ERROR = 4
