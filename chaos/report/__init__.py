"""Suite reports: one module per format, each with the same small interface.

Every format module has ``render(suite: SuiteResult) -> str``;
:func:`write` puts a rendered report into a file (``append`` for files that
collect several reports, such as GitHub's ``$GITHUB_STEP_SUMMARY``)::

    from chaos import api
    from chaos.report import write

    suite = api.suite(["experiments"])
    write("junit", suite, "report.xml")
    write("markdown", suite, "summary.md")
    write("html", suite, "report.html")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chaos.suite import SuiteResult

FORMATS = {
    "junit": "chaos.report.junit",
    "markdown": "chaos.report.markdown",
    "html": "chaos.report.html",
}
"""Format name to the module that renders it."""


class Renderer(Protocol):
    def __call__(self, suite: SuiteResult) -> str: ...


def renderer(format: str) -> Renderer:
    """The ``render`` function of a format (raises KeyError for an unknown one)."""
    return importlib.import_module(FORMATS[format]).render


def write(format: str, suite: SuiteResult, path: str | Path, *, append: bool = False) -> Path:
    """Render ``suite`` as ``format`` into ``path`` (parents created); raises OSError."""
    text = renderer(format)(suite)
    target = Path(path)
    if target.parent != Path():
        target.parent.mkdir(parents=True, exist_ok=True)
    if append:
        with target.open("a", encoding="utf-8") as handle:
            if handle.tell() > 0:
                handle.write("\n")
            handle.write(text)
    else:
        target.write_text(text, encoding="utf-8")
    return target
