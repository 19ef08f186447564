"""Reading a rendered page back: its elements, attributes and embedded journal."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

PAYLOADS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "\x07\x1b[2J\x00")
"""Planted in every string a page shows: markup that must stay text, control characters."""
PAYLOAD = "".join(PAYLOADS)

URL = re.compile(r"^\s*(https?:)?//", re.I)


class Page(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if (tag is None or t == tag)
            and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]


def assert_inert(text: str, embedded: bool = True) -> Any:
    """Nothing in the page runs or loads: the journal's JSON is the only script (an
    index page has none), no
    ``on*`` attribute, no ``img``/``iframe``/``object``/``link``, no URL in ``src`` or
    ``href``, no raw control character. Returns the embedded journal."""
    page = Page(text)
    scripts = [attrs for attrs, _ in page.scripts]
    assert scripts == ([{"type": "application/json", "id": "journal"}] if embedded else [])
    for tag, attrs in page.tags:
        assert tag not in {"img", "iframe", "object", "embed", "link", "base", "meta"} or (
            tag == "meta" and "http-equiv" not in attrs
        ), (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in {"src", "href", "xlink:href", "action", "formaction"}:
                assert value is not None and not URL.match(value), (tag, name, value)
                assert not value.strip().lower().startswith(("javascript:", "data:")), value
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text), "a raw control character"
    if not embedded:
        return None
    assert "</script" not in page.scripts[0][1].lower()
    return json.loads(page.scripts[0][1])
