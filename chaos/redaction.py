"""Keeping secrets out of everything chaosdrill writes or prints.

Two kinds of secret are masked as ``***``: the values of an experiment's
secret configuration (``{env: NAME}``, ``{file: PATH}``), wherever they
turn up after ``${name}`` substitution; and credentials that look like
credentials wherever they come from (a password in a URL, a bearer token,
the value of an ``Authorization`` or ``X-Api-Key`` header, a ``password=``
pair), because parameters given from code or a command line are not
declared as secrets anywhere.

Every user-visible string goes through a :class:`Redactor`: reasons,
problems, console events, the journal, the ledger, reports, messages raised
to pytest, and the report folder's name.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "***"


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """URL password, header-like pair, scheme token. Compiled on first use, not
    at import: ``chaosdrill validate`` on a valid file masks nothing."""
    url_password = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]+(?=@)")
    sensitive_pair = re.compile(
        r"(?i)(?<![\w/.-])(?P<head>(?:proxy-)?authorization|x-api-key|api[-_]?key|x-auth-token"
        r"|cookie|set-cookie|password|passwd|secret|access[-_]?token|client[-_]?secret)"
        r"(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>(?:bearer |basic |token )?)[^\s\"',;}&]+"
    )
    scheme_token = re.compile(
        r"\b(?P<head>[Bb]earer|[Bb]asic|[Dd]igest)(?P<sep>\s+)[A-Za-z0-9._~+/=:-]{6,}"
    )
    return url_password, sensitive_pair, scheme_token


def mask_credentials(text: str) -> str:
    """Mask what looks like a credential: ``https://u:***@host``,
    ``Bearer ***``, ``Authorization: ***``, ``password=***``."""
    if not text:
        return text
    url_password, sensitive_pair, scheme_token = _patterns()
    text = url_password.sub(lambda m: m.group("head") + MASK, text)
    text = sensitive_pair.sub(
        lambda m: m.group("head") + m.group("sep") + m.group("value") + MASK, text
    )
    return scheme_token.sub(lambda m: m.group("head") + m.group("sep") + MASK, text)


class Redactor:
    """Replaces every secret value, and anything that looks like a credential,
    by ``***`` in strings and nested data."""

    MASK = MASK

    def __init__(self, secrets: frozenset[str] | set[str] = frozenset()):
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)

    def __bool__(self) -> bool:
        """True when it knows secret values of its own (credentials are always masked)."""
        return bool(self._secrets)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return mask_credentials(value)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value
