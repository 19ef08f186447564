"""Sizes in bytes as experiments write them: ``512m``, ``1GiB``, ``64k``, or a number."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: Any) -> int:
    """Bytes; units are powers of 1024 (``k``, ``m``, ``g``, ``t``, with or without
    ``b``/``ib``), as Docker's ``--memory`` reads them."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a string such as 512m")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        unit = match.group(2).lower() if match else ""
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"invalid size {value!r}: write a number of bytes or one with a unit "
                "(k, m, g, t: powers of 1024), such as 512m or 1g"
            )
        size = int(float(match.group(1)) * _UNITS[unit])
    else:
        raise ValueError("a size is a number of bytes or a string such as 512m")
    if size < 1:
        raise ValueError("a size must be at least 1 byte")
    return size


SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([kKmMgGtT]([iI]?[bB])?|[bB])?\s*$"

ByteSize = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "description": "bytes"},
                {"type": "string", "pattern": SIZE_PATTERN},
            ]
        }
    ),
]
"""A size in bytes, parsed by :func:`parse_size`."""


def show_size(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"
