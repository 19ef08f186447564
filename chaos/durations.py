"""Durations as written in experiments and game days: ``100ms``, ``10s``, ``1m30s``, ``2h``,
``2d`` or a number of seconds."""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", re.ASCII)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

MAX_SECONDS = 366 * 24 * 3600.0
"""The longest duration accepted. Anything longer is a typo, and the engine
waits on these values: a timeout beyond what the platform's clock can hold
(about 292 years) would crash a run instead of being reported here."""

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"
"""The JSON schema form of what :func:`parse_duration` accepts as a string."""

_HINT = "use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"


def parse_duration(value: object) -> float:
    """Return seconds as a float; raise ValueError with a helpful message."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10s or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        raise ValueError(f"expected a duration such as 10s or 500ms, got {type(value).__name__}")
    if math.isnan(seconds):
        raise ValueError(f"invalid duration {_short(value)}: {_HINT}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {_short(value)}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration {_short(value)} is too long: at most 366 days")
    return seconds


def _parse_text(value: str) -> float:
    text = value.strip()
    pos = 0
    seconds = 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid duration {_short(value)}: {_HINT}")
    return seconds


def _short(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: messages quote what the user wrote."""
    try:
        text = repr(value)
    except ValueError:  # an int with more digits than Python will print
        return "a number that large"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_duration(seconds: float) -> str:
    """Short human form: ``250ms``, ``12.5s``, ``3m05s``, ``1h02m03s``.

    Rounding happens before the unit is chosen, so 0.9996 is ``1s`` and
    59.97 is ``1m00s`` (never ``1000ms`` or ``60s``).
    """
    if not math.isfinite(seconds):
        raise ValueError(f"not a finite duration: {seconds!r}")
    if seconds < 0:
        return "-" + format_duration(-seconds)
    millis = round(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    tenths = round(seconds * 10)
    if tenths < 600:
        whole, tenth = divmod(tenths, 10)
        return f"{whole}s" if tenth == 0 else f"{whole}.{tenth}s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: s, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "description": "seconds"},
                {"type": "string", "pattern": DURATION_PATTERN},
            ]
        }
    ),
]
"""A duration in seconds, parsed once at load time."""


MIN_INTERVAL = 0.01
"""The shortest polling interval (10ms): a shorter one is a busy loop."""


def check_interval(seconds: float) -> float:
    """``seconds`` if it is a usable polling interval; raise ValueError otherwise."""
    if seconds < MIN_INTERVAL:
        raise ValueError(
            f"must be at least 10ms, got {seconds:g}s: a shorter interval polls in a busy loop"
        )
    return seconds


def check_timeout(seconds: float) -> float:
    """``seconds`` if it is a usable timeout; raise ValueError otherwise."""
    if seconds <= 0:
        raise ValueError(
            f"must be greater than 0, got {seconds:g}s: a zero timeout fails every sample "
            "(e.g. 500ms, 2s)"
        )
    return seconds


Interval = Annotated[
    Duration,
    AfterValidator(check_interval),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "minimum": MIN_INTERVAL,
                    "description": "seconds, at least 0.01",
                },
                {"type": "string", "pattern": DURATION_PATTERN, "description": "at least 10ms"},
            ]
        }
    ),
]
"""A polling interval, at least :data:`MIN_INTERVAL`."""

Timeout = Annotated[
    Duration,
    AfterValidator(check_timeout),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "description": "seconds"},
                {"type": "string", "pattern": DURATION_PATTERN, "description": "greater than 0"},
            ]
        }
    ),
]
"""How long a probe waits for an answer: greater than 0."""
