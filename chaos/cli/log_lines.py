"""How the long-running commands stamp their log lines."""

from __future__ import annotations

import logging
from datetime import datetime, timezone


class UtcFormatter(logging.Formatter):
    """``2026-12-07T09:00:00.003Z message``: UTC, ISO 8601, to the millisecond."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = datetime.fromtimestamp(record.created, timezone.utc)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
