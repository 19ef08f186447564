"""One monotonic clock for measuring, UTC wall time for records."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone


class RunClock:
    """Offsets in seconds from the run's start, convertible to UTC timestamps."""

    def __init__(self) -> None:
        self._mono0 = time.monotonic()
        self.started_at = datetime.now(timezone.utc)

    def now(self) -> float:
        """Seconds since the run started (monotonic)."""
        return time.monotonic() - self._mono0

    def wall(self, offset: float) -> str:
        """ISO 8601 UTC time of an offset."""
        return (self.started_at + timedelta(seconds=offset)).isoformat(timespec="milliseconds")

    def epoch(self, offset: float) -> float:
        """An offset as wall-clock seconds (``time.time()``), as deadlines are kept."""
        return time.time() + (offset - self.now())

    def until(self, offset: float) -> float:
        """Seconds left until ``offset`` (never negative)."""
        return max(0.0, offset - self.now())
