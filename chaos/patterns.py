"""A regular expression parameter, compiled once at load time to reject bad patterns early."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_compiles)]
