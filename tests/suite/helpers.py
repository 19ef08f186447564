"""Shared by the suite tests: the JUnit schema and reading reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def validate_junit(text: str | bytes) -> Any:
    """Parse a JUnit report and validate it against tests/suite/junit.xsd; return the root."""
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(HERE / "junit.xsd")))
    data = text.encode() if isinstance(text, str) else text
    root = etree.fromstring(data)
    assert schema.validate(root), "\n".join(str(e) for e in schema.error_log)
    return root


def properties(root: Any) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in root.iter("property")}
