"""Text from outside (a target's output, an HTTP body, an engine message) made safe to print.

A container under test can write anything to its stdout, and an exec probe or
an http probe with ``from:`` quotes it in its detail. Printed raw, an escape
sequence would clear the operator's terminal, retitle it or hide a line; so
control characters are shown escaped (``\\x1b``, ``\\n``), the rest as is.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls, DEL, line and paragraph separators and the
bidirectional overrides that reorder how a line reads."""


def _escaped(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with every control character escaped; one line, unchanged otherwise.

    Idempotent: escaped text has no control characters left to escape.
    """
    return _CONTROL.sub(_escaped, text)
