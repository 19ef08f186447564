"""Durations as written in experiments: ``100ms``, ``10s``, ``1m30s``, ``2h`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """Return seconds as a float; raise ValueError with a helpful message."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10s or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if not text or pos != len(text):
            raise ValueError(
                f"invalid duration {value!r}: use a number with a unit, e.g. 500ms, 10s, 1m30s, 2h"
            )
    else:
        raise ValueError(f"expected a duration such as 10s or 500ms, got {type(value).__name__}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Short human form: ``250ms``, ``12.5s``, ``3m05s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: s, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "description": "seconds"},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h)\s*)+$"},
            ]
        }
    ),
]
"""A duration in seconds, parsed once at load time."""
