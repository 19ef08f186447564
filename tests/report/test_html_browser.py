"""Report pages of real runs, opened in a real headless Chromium: nothing leaves the
page, nothing logs an error, the verdict and reasons are visible, and the timeline's
lanes and red spans sit where the journal's times put them (measured on screen)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chaosdrill, host_port
from tests.report.suites import suite_page

pytestmark = pytest.mark.docker

PIXEL = 1.5
"""How far a drawn edge may sit from where the journal's time puts it, in CSS pixels."""


def _run(experiment_file: Any, tmp_path: Path, body: str, code: int) -> tuple[Path, Any]:
    from chaos.report.html import read_journal

    path = experiment_file(body)
    run = uuid.uuid4().hex[:6]
    reports = tmp_path / f"reports-{run}"
    page = tmp_path / f"run-{run}.html"
    done = chaosdrill("run", str(path), "--report-dir", str(reports), "--html", str(page))
    assert done.returncode == code, done.stdout + done.stderr
    journal, _ = read_journal(next(reports.glob("*/journal.json")))
    return page, journal


def _experiment(group: str, port: int, *, title: str, tolerance: str, guard: str = "") -> str:
    return f"""
        version: 1
        title: {title}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{port}/", timeout: 300ms}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 300ms, duration: 1500ms}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{port}/",
             interval: 100ms, timeout: 200ms, tolerance: {tolerance}}}
        {guard}
        recovery: {{within: 10s}}
    """


def _check_in_browser(browser: Any, page: Path, journal: Any, name: str) -> None:
    browser.open(page)
    assert browser.requests() == [], "the page reached for something outside itself"
    errors = [m for m in browser.console({"SEVERE"})]
    assert errors == [], errors
    shot = browser.screenshot(name)
    assert shot.stat().st_size > 1000

    verdict = browser.rect("#verdict")
    assert verdict.width > 0 and verdict.height > 0
    text = browser.script("return document.querySelector('#verdict').innerText")
    assert journal.verdict in text.lower()
    shown = browser.script(
        "return Array.from(document.querySelectorAll('li.reason')).map(e => e.innerText)"
    )
    assert len(shown) == len(journal.reasons)
    for reason, line in zip(journal.reasons, shown, strict=True):
        if reason.source:
            assert reason.source in line

    lanes = browser.script(
        "return Array.from(document.querySelectorAll('#timeline [data-lane]'))"
        ".map(e => e.getAttribute('data-lane'))"
    )
    for fault in journal.faults:
        assert lanes.count(f"fault:{fault.step}") == 1, lanes
    for probe in journal.probes:
        assert lanes.count(f"probe:{probe.name}") == 1, lanes
    for guard in journal.guards:
        assert lanes.count(f"guard:{guard.name}") == 1, lanes

    svg = browser.rect("#timeline")
    x0 = float(browser.script("return document.querySelector('#timeline').dataset.x0"))
    per_s = float(browser.script("return document.querySelector('#timeline').dataset.pxPerS"))
    drawn_width = float(
        browser.script("return document.querySelector('#timeline').viewBox.baseVal.width")
        or svg.width
    )
    scale = svg.width / drawn_width  # CSS pixels per SVG unit (1 when not scaled)

    def screen_x(t: float) -> float:
        return svg.x + (x0 + t * per_s) * scale

    fault = journal.faults[0]
    [span] = browser.rects("#timeline rect.fault-span")
    assert span.x == pytest.approx(screen_x(fault.applied_at), abs=PIXEL)
    assert span.right == pytest.approx(screen_x(fault.reverted_at), abs=PIXEL)
    outages = journal.probes[0].summary.outages
    assert outages, "the pause was seen by the probe"
    drawn = browser.rects("#timeline rect.outage")
    assert len(drawn) >= len(outages)
    for outage in outages:
        assert any(
            r.x == pytest.approx(screen_x(outage.start), abs=PIXEL)
            and r.right == pytest.approx(screen_x(outage.end), abs=PIXEL)
            for r in drawn
        ), (outage, drawn)


def test_passed_failed_and_aborted_run_pages_in_a_real_browser(
    browser, containers, experiment_file, tmp_path
):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(publish=True, labels={"grp": group})
    port = host_port(web)
    passed, passed_journal = _run(
        experiment_file,
        tmp_path,
        _experiment(group, port, title="passes", tolerance="{max_outage: 10s}"),
        0,
    )
    failed, failed_journal = _run(
        experiment_file,
        tmp_path,
        _experiment(group, port, title="fails", tolerance="{max_outage: 200ms}"),
        1,
    )
    guard = (
        "guards:\n"
        f'          - {{name: web-up, probe: http, url: "http://127.0.0.1:{port}/", '
        "interval: 100ms, timeout: 200ms, breach_after: 2}"
    )
    aborted, aborted_journal = _run(
        experiment_file,
        tmp_path,
        _experiment(group, port, title="aborts", tolerance="{max_outage: 10s}", guard=guard),
        3,
    )
    assert passed_journal.verdict == "passed"
    assert failed_journal.verdict == "failed"
    assert aborted_journal.verdict == "aborted"
    _check_in_browser(browser, passed, passed_journal, "passed")
    _check_in_browser(browser, failed, failed_journal, "failed")
    browser.open(aborted)
    assert browser.requests() == [] and browser.console({"SEVERE"}) == []
    assert (
        "aborted" in browser.script("return document.querySelector('#verdict').innerText").lower()
    )
    assert (
        browser.script(
            "return document.querySelectorAll('#timeline [data-lane=\"guard:web-up\"]').length"
        )
        == 1
    )
    browser.screenshot("aborted")

    phone = browser.reopen()
    phone.open(failed)
    assert phone.requests() == [] and phone.console({"SEVERE"}) == []
    width = phone.script("return document.documentElement.scrollWidth")
    assert width <= phone.viewport()[0] + 1, "the page is wider than a phone"
    phone.screenshot("failed-phone")


def test_a_suite_page_in_a_real_browser(browser, containers, tmp_path):
    group = f"g{uuid.uuid4().hex[:10]}"
    web = containers.run(publish=True, labels={"grp": group})
    out = suite_page(tmp_path, group, host_port(web))
    browser.open(out)
    assert browser.requests() == [] and browser.console({"SEVERE"}) == []
    rows = browser.script(
        "return Array.from(document.querySelectorAll('#run-table tr.run'))"
        ".map(e => e.dataset.verdict)"
    )
    assert sorted(rows) == ["error", "passed"] or sorted(rows) == ["failed", "passed"], rows
    score = browser.rect("#score")
    assert score.width > 0
    browser.screenshot("suite")
