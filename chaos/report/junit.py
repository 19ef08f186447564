"""JUnit XML, as Jenkins, GitLab and most CI systems read it (the Ant/Jenkins schema).

One ``<testsuite name="chaosdrill">`` inside ``<testsuites>``, one
``<testcase>`` per experiment: ``classname`` from the file's path, ``name``
its title, ``time`` the run's duration. A failed experiment has a
``<failure type="failed">``, an aborted one a ``<failure type="aborted">``
(a guard breach is a finding, like a failure), whose ``message`` is the first
reason and whose text is every reason, one per line; an errored or invalid
one has an ``<error type="error|invalid">`` the same way (for an invalid
file, every ``FILE:LINE:COL: message``).

The Jenkins schema allows ``<properties>`` on the test suite only, so the
figures of each experiment are suite properties named after its case
(``<classname>.verdict``, ``.weight``, ``.journal``, ``.time_to_recover``,
``.reason.kind``, ``.reason.source``, ``.reason.phase``, ``.reason.at``,
``.reason.faults`` of the deciding reason, ``.probe.<name>.availability``,
``.probe.<name>.longest_outage``, ``.probe.<name>.time_to_recover``,
``.guard.<name>...``), beside the suite's own (``resilience_score``,
``fail_under``, ``exit_code``, ``jobs``); each test case's ``<system-out>``
says the same in words. Time-to-recover runs from the first fault taking
effect until the system (or the probe) was back and stable.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET

from chaos.suite.result import CaseResult, CaseVerdict, ProbeFigures, SuiteResult

SUITE_NAME = "chaosdrill"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry, even escaped (control characters in a probe's detail)."""

_ELEMENT = {
    CaseVerdict.FAILED: "failure",
    CaseVerdict.ABORTED: "failure",
    CaseVerdict.ERROR: "error",
    CaseVerdict.INVALID: "error",
}


def render(suite: SuiteResult) -> str:
    failures = suite.count(CaseVerdict.FAILED) + suite.count(CaseVerdict.ABORTED)
    errors = suite.count(CaseVerdict.ERROR) + suite.count(CaseVerdict.INVALID)
    counts = {
        "tests": str(len(suite.cases)),
        "failures": str(failures),
        "errors": str(errors),
        "time": _seconds(suite.duration),
    }
    root = ET.Element("testsuites", {"name": SUITE_NAME, **counts})
    element = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE_NAME,
            **counts,
            "skipped": "0",
            "timestamp": suite.started_at,
            "hostname": _text(socket.gethostname()),
        },
    )
    properties = ET.SubElement(element, "properties")
    for name, value in _properties(suite):
        ET.SubElement(properties, "property", {"name": _text(name), "value": _text(value)})
    for case in suite.cases:
        _testcase(element, case)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testcase(parent: ET.Element, case: CaseResult) -> None:
    element = ET.SubElement(
        parent,
        "testcase",
        {"classname": _text(case.name), "name": _text(case.title), "time": _seconds(case.duration)},
    )
    tag = _ELEMENT.get(case.verdict)
    if tag is not None:
        problem = ET.SubElement(
            element,
            tag,
            {"type": case.verdict.value, "message": _text(case.first_reason or case.verdict.value)},
        )
        problem.text = _text("\n".join(case.reasons))
    out = ET.SubElement(element, "system-out")
    out.text = _text("\n".join(_describe(case)))


def _properties(suite: SuiteResult) -> list[tuple[str, str]]:
    props = [
        ("resilience_score", f"{suite.score:g}"),
        ("fail_under", "" if suite.fail_under is None else f"{suite.fail_under:g}"),
        ("exit_code", str(int(suite.exit_code))),
        ("result", suite.message),
        ("jobs", str(suite.jobs)),
    ]
    for case in suite.cases:
        prefix = case.name
        props += [
            (f"{prefix}.verdict", case.verdict.value),
            (f"{prefix}.weight", f"{case.weight:g}"),
            (f"{prefix}.file", str(case.path)),
        ]
        if case.journal_path is not None:
            props.append((f"{prefix}.journal", str(case.journal_path)))
        if case.time_to_recover is not None:
            props.append((f"{prefix}.time_to_recover", _seconds(case.time_to_recover)))
        props += _reason(prefix, case)
        for probe in case.probes:
            key = f"{prefix}.{_kind(probe)}.{probe.name}"
            if probe.availability is not None:
                props.append((f"{key}.availability", f"{probe.availability:.4f}"))
            props.append((f"{key}.longest_outage", _seconds(probe.longest_outage)))
            if probe.time_to_recover is not None:
                props.append((f"{key}.time_to_recover", _seconds(probe.time_to_recover)))
    return props


def _reason(prefix: str, case: CaseResult) -> list[tuple[str, str]]:
    """The deciding reason's fields, for programs that read the report."""
    if case.run is None or not case.run.reasons:
        return []
    reason = case.run.reasons[0]
    props = [(f"{prefix}.reason.kind", reason.kind)]
    if reason.source is not None:
        props.append((f"{prefix}.reason.source", reason.source))
    if reason.phase is not None:
        props.append((f"{prefix}.reason.phase", reason.phase))
    if reason.at is not None:
        props.append((f"{prefix}.reason.at", _seconds(reason.at)))
    if reason.faults:
        props.append((f"{prefix}.reason.faults", ",".join(reason.faults)))
    return props


def _describe(case: CaseResult) -> list[str]:
    lines = [f"verdict: {case.verdict.value}", f"file: {case.path}", f"weight: {case.weight:g}"]
    if case.journal_path is not None:
        lines.append(f"journal: {case.journal_path}")
    if case.time_to_recover is not None:
        lines.append(
            f"back and stable {case.time_to_recover:.2f}s after the first fault took effect"
        )
    for probe in case.probes:
        lines.append(f"{_kind(probe)} {probe.name}: {describe_probe(probe)}")
    lines += [f"reason: {reason}" for reason in case.reasons]
    return lines


def describe_probe(probe: ProbeFigures) -> str:
    """``availability 95.5%, longest outage 1.20s, time to recover 1.10s``."""
    parts = []
    if probe.availability is not None:
        parts.append(f"availability {probe.availability * 100:.1f}%")
    parts.append(f"longest outage {probe.longest_outage:.2f}s")
    if probe.time_to_recover is not None:
        parts.append(f"time to recover {probe.time_to_recover:.2f}s")
    return ", ".join(parts)


def _kind(probe: ProbeFigures) -> str:
    return "guard" if probe.section == "guards" else "probe"


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)
