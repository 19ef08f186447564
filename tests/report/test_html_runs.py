"""HTML pages of real runs against containers the tests start: what the system under
test says is escaped, the timeline's marks sit at the journal's times, and each
command writes its page (run --html, report, suite --html, gameday history --html)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from chaos import api
from chaos.engine.result import Verdict
from chaos.gameday.history import History
from chaos.report.html import read_journal, run_page
from tests.conftest import chaosdrill, host_port
from tests.report.html_check import PAYLOADS, Page, assert_inert
from tests.report.suites import suite_page

pytestmark = pytest.mark.docker

SHOWN = PAYLOADS[0] + PAYLOADS[1] + "\x07\x1b[2J"
"""What a container label, a command's output and a title carry (no NUL: Docker refuses it)."""


def yaml_text(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (control characters escaped)."""
    return json.dumps(text)


@pytest.fixture
def group() -> str:
    return f"g{uuid.uuid4().hex[:10]}"


def test_a_run_page_shows_what_the_target_said_as_text(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(publish=True, labels={"grp": group, "note": SHOWN})
    port = host_port(web)
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    shout = "printf '%s' \"$0\"; exit 3"
    path = experiment_file(f"""
        version: 1
        title: {yaml_text("title " + SHOWN)}
        description: {yaml_text("about " + SHOWN)}
        tags: [{yaml_text(SHOWN)}]
        configuration:
          token: {{env: CHAOSDRILL_TEST_TOKEN}}
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{port}/?t=${{token}}", timeout: 500ms}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 200ms, duration: 600ms}}
        probes:
          - {{name: says, probe: exec, target: web, command: [sh, -c, {yaml_text(shout)}, {yaml_text(SHOWN)}],
             interval: 200ms, timeout: 1s, tolerance: {{min_availability: 0.5}}}}
        recovery: {{within: 5s}}
    """)
    out = tmp_path / "run.html"
    done = chaosdrill(
        "run", str(path), "--report-dir", str(tmp_path / "reports"), "--html", str(out),
        env={"CHAOSDRILL_TEST_TOKEN": secret},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    text = out.read_text()
    journal_path = next((tmp_path / "reports").glob("*/journal.json"))
    journal, data = read_journal(journal_path)
    assert journal.verdict == "failed" and journal.reasons[0].source == "says"
    assert assert_inert(text) == data
    assert secret not in text and "CHAOSDRILL_TEST_TOKEN" in text
    # each planted string reached the page, as text
    assert any("<script>" in s.detail for s in journal.probes[0].samples)
    assert journal.targets[0].selected[0]["labels"]["note"] == SHOWN
    page = Page(text)
    assert page.find("g", data_lane="probe:says") and page.find("tr", data_target="web")
    assert text.count("&lt;img src=x onerror=alert(1)&gt;") >= 4  # title, tag, label, detail
    assert "\\x1b[2J" in text
    # `report` on the journal writes the same page as `run --html`
    again = tmp_path / "again.html"
    assert chaosdrill("report", str(journal_path), "-o", str(again)).returncode == 0
    assert again.read_text() == text


def test_the_timeline_marks_sit_at_the_journal_s_times(
    containers, experiment_file, tmp_path, group
):
    web = containers.run(publish=True, labels={"grp": group})
    path = experiment_file(f"""
        version: 1
        title: pause and watch
        targets:
          web: {{select: {{labels: {{grp: {group}}}}}}}
        steady_state:
          - {{name: up, probe: http, url: "http://127.0.0.1:{host_port(web)}/", timeout: 300ms}}
        method:
          - {{name: freeze, fault: container.pause, target: web, at: 300ms, duration: 1200ms}}
        probes:
          - {{name: avail, probe: http, url: "http://127.0.0.1:{host_port(web)}/",
             interval: 100ms, timeout: 200ms, tolerance: {{max_outage: 5s}}}}
        recovery: {{within: 10s}}
    """)
    result = api.run(api.load(path), report_dir=tmp_path / "reports", handle_signals=False)
    assert result.verdict is Verdict.PASSED, [r.message for r in result.reasons]
    journal = result.journal
    page = Page(run_page(journal))
    svg = page.find("svg", id="timeline")[0]
    x0, per_s = float(svg["data-x0"]), float(svg["data-px-per-s"])
    fault = journal.faults[0]
    span = next(a for a in page.find("rect") if "fault-span" in (a.get("class") or ""))
    assert float(span["data-start"]) == pytest.approx(fault.applied_at, abs=1e-4)
    assert float(span["data-end"]) == pytest.approx(fault.reverted_at, abs=1e-4)
    assert float(span["x"]) == pytest.approx(x0 + fault.applied_at * per_s, abs=0.01)
    outages = journal.probes[0].summary.outages
    assert outages, "the pause was seen"
    drawn = page.find("rect", data_outage_start=f"{outages[0].start:.4f}".rstrip("0").rstrip("."))
    assert drawn and float(drawn[0]["data-outage-end"]) == pytest.approx(outages[0].end, abs=1e-4)
    marks = [a for a in page.find("g") if a.get("class") in ("sample ok", "sample failed")]
    probe = journal.probes[0]
    assert len(marks) == len(probe.samples) + len(journal.steady_state_before[0].samples)
    failed = {float(a["data-t"]) for a in marks if a["class"] == "sample failed"}
    assert failed == {s.t for s in probe.samples if not s.ok}
    rounds = [a for a in page.find("g") if (a.get("class") or "").startswith("round ")]
    assert len(rounds) == journal.recovery.checks == len(journal.recovery.rounds) >= 1
    ttr = page.find("g", **{"class": "ttr"})[0]
    assert float(ttr["data-ttr"]) == pytest.approx(journal.recovery.time_to_recover, abs=1e-4)


def test_suite_html_and_gameday_history_html(containers, experiment_file, tmp_path, group):
    web = containers.run(publish=True, labels={"grp": group})
    out = suite_page(tmp_path, group, host_port(web))
    page = Page(out.read_text())
    assert_inert(out.read_text(), embedded=False)
    assert page.find("span", id="score")[0]["data-score"] == "50.0"
    rows = {a["data-key"]: a["data-verdict"] for a in page.find("tr", **{"class": "run"})}
    assert sorted(rows.values()) == ["failed", "passed"]
    for href in [a["href"] for a in page.find("a")]:
        assert (tmp_path / href).is_file(), href

    # a game day's history: one fire ran (its journal exists), one was skipped
    gameday = tmp_path / "drills.yaml"
    gameday.write_text(
        "version: 1\nkind: gameday\ntitle: Drills\ntimezone: UTC\n"
        "drills:\n  - {name: ok, experiment: experiments/ok.yaml, when: {every: 1h}}\n"
    )
    result = api.run(
        api.load(tmp_path / "experiments" / "ok.yaml"),
        report_dir=tmp_path / "gd",
        handle_signals=False,
    )
    now = datetime.now(timezone.utc)
    with History(gameday) as history:
        fire = history.claim("ok", now, now, "manual")
        history.finish(fire, "passed", "passed", [], journal=result.journal_path)
        history.skip("ok", now.replace(year=now.year - 1), "outside the windows", "scheduled")
    html = tmp_path / "history.html"
    done = chaosdrill("gameday", "history", str(gameday), "--html", str(html), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = Page(html.read_text())
    assert_inert(html.read_text(), embedded=False)
    runs = page.find("tr", **{"class": "run"})
    assert [a["data-verdict"] for a in runs] == ["passed", "skipped"]
    assert runs[0]["data-run-id"] == result.journal.run_id and not runs[1]["data-run-id"]
    assert "outside the windows" in html.read_text()
    (href,) = [a["href"] for a in page.find("a")]
    assert (tmp_path / href).resolve() == Path(result.journal_path).resolve()
    assert os.path.getsize(html) < 500 * 1024
