"""Regular expressions written in experiments, matched in linear time.

Every user pattern (``name_regex`` in selectors, ``body_regex``,
``stdout_regex``) is RE2 syntax, compiled and matched by ``google-re2``
through :func:`search` and :func:`fullmatch` only. RE2 never backtracks,
so a pattern such as ``(a+)+$`` costs time proportional to the text, not
exponential in it: a target's output cannot stall a probe or a selector.
The price is that RE2 has no backreferences and no lookaround; such a
pattern is refused when the experiment is validated, with what to write
instead.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from pydantic import AfterValidator

# re2 itself is imported by compile_pattern, and the patterns below are compiled
# on the first error: validating a file that holds no pattern needs neither

_BACKREFERENCE = (
    "backreferences are not supported (RE2 matches in linear time): "
    "write the repeated text out, e.g. (ab)\\1 as (ab)(ab)"
)
_LOOKAROUND = (
    "lookahead and lookbehind are not supported (RE2 matches in linear time): "
    "match the surrounding text itself, e.g. foo(?=bar) as foobar"
)

_CONSTRUCTS: list[tuple[str, str]] = [
    (r"\(\?P=", _BACKREFERENCE),
    (r"\(\?<?[=!]", _LOOKAROUND),
]
"""What the pattern itself holds, for errors that only name ``(?P``."""

_HINTS: list[tuple[str, str]] = [
    (r"invalid escape sequence: \\[1-9]", _BACKREFERENCE),
    (r"invalid perl operator: \(\?<?[=!]", _LOOKAROUND),
    (r"invalid escape sequence: \\Z", "write \\z (or $) for the end of the text"),
    (
        r"bad repetition operator: [*+?}]\+",
        "possessive quantifiers are not supported and not needed: RE2 never backtracks, "
        "write x* for x*+",
    ),
    (r"invalid repetition size", "a repetition count is at most 1000"),
    (r"pattern too large", "the pattern is too large: make it shorter"),
]
"""What RE2 says, and what to write instead."""


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 pattern; raise ValueError saying what is wrong and what to write."""
    import re2

    options = re2.Options()
    options.log_errors = False  # the reason is in the exception: nothing on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else "cannot compile"
        reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        hint = next((h for rx, h in _HINTS if re.search(rx, reason)), "")
        if not hint and "invalid perl operator" in reason:  # RE2 names only the first chars
            hint = next((h for rx, h in _CONSTRUCTS if re.search(rx, pattern)), "")
        raise ValueError(
            f"invalid regular expression (RE2 syntax): {reason}" + (f"; {hint}" if hint else "")
        ) from None
    except (TypeError, OverflowError) as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``.

    As in Python, ``$`` also matches before a final newline (RE2's ``$`` is
    the very end of the text): ``^ok$`` matches ``echo ok``'s output.
    """
    compiled = compile_pattern(pattern)
    if compiled.search(text) is not None:
        return True
    return text.endswith("\n") and compiled.search(text[:-1]) is not None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches the whole of ``text``."""
    return compile_pattern(pattern).fullmatch(text) is not None


def _compiles(value: str) -> str:
    compile_pattern(value)
    return value


Regex = Annotated[str, AfterValidator(_compiles)]
"""A pattern parameter: compiled by RE2 at load time, so bad patterns are refused early."""
