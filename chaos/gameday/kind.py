"""Telling a game day file from an experiment without loading either model.

``chaosdrill validate`` takes both kinds of file; looking for a top-level
``kind: gameday`` first keeps the game day model (and its pydantic build) out of
the validation of a plain experiment.
"""

from __future__ import annotations

import re
from pathlib import Path

from chaos.experiment.source import MAX_FILE_BYTES

_KIND = re.compile(r"""^kind[ \t]*:[ \t]*["']?gameday["']?[ \t]*(#.*)?$""", re.MULTILINE)


def is_gameday(path: str | Path) -> bool:
    """Whether ``path`` looks like a game day file (a top-level ``kind: gameday``)."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(MAX_FILE_BYTES)
    except OSError:
        return False
    return _KIND.search(head.decode("utf-8", "replace")) is not None
