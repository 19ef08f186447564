"""The HTML pages from hand-built journals: pure rendering (sizes, escaping, positions,
older journals). Pages from real runs: test_html_runs.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from chaos.journal.model import JOURNAL_FORMAT, Journal
from chaos.report.html import index_page, link, parse_journal, read_journal, run_page
from chaos.report.html.timeline import MAX_MARKS, X0
from tests.conftest import cli
from tests.report.html_check import PAYLOAD, Page, assert_inert

DATA = Path(__file__).parent / "data"


def journal_data(samples: int = 300, text: str = "", interval: float = 0.1) -> dict[str, Any]:
    """A failed run's journal: one fault from 2s to 5s, a probe failing during it."""
    samples_list = []
    for i in range(samples):
        t = 0.5 + i * interval
        ok = not 2.2 <= t < 5.1
        samples_list.append(
            {
                "t": round(t, 4),
                "end": round(t + 0.004, 4),
                "at": "2026-12-02T10:00:00.000+00:00",
                "ok": ok,
                "latency": 0.004,
                "detail": "status 200" if ok else f"connection refused {text}",
            }
        )
    end = 0.5 + samples * interval + 1
    failed = sum(1 for s in samples_list if not s["ok"])
    return {
        "format": JOURNAL_FORMAT,
        "run_id": f"run{text}",
        "versions": {"chaosdrill": "0.1.0", "python": "3.11"},
        "experiment": {
            "file": f"exp{text}.yaml",
            "title": f"pause web {text}",
            "tags": [f"tag{text}"],
            "document": {"version": 1, "title": f"pause web {text}", "description": f"d{text}"},
        },
        "started_at": "2026-12-02T10:00:00.000+00:00",
        "ended_at": "2026-12-02T10:01:00.000+00:00",
        "duration": end,
        "seed": 7,
        "phases": [
            {"name": "targets", "t": 0.0, "at": "x"},
            {"name": "steady-state", "t": 0.1, "at": "x"},
            {"name": "method", "t": 0.3, "at": "x"},
            {"name": "recovery", "t": end - 2, "at": "x"},
            {"name": "done", "t": end, "at": "x"},
        ],
        "targets": [
            {
                "name": f"web{text}",
                "kind": "container",
                "mode": "one",
                "seed": 7,
                "candidates": 1,
                "chosen": 1,
                "selected": [
                    {"kind": "container", "id": "abc", "name": f"n{text}", "labels": {"l": text}}
                ],
            }
        ],
        "steady_state_before": [
            {
                "section": "steady_state",
                "name": f"up{text}",
                "probe": "http",
                "samples": samples_list[:1],
            }
        ],
        "recovery": {
            "within": 10.0,
            "started": end - 2,
            "recovered": False,
            "time_to_recover": 3.1,
            "measured_from": f"freeze{text}",
            "back_at": 5.1,
            "decided_at": end,
            "checks": 2,
            "passed_checks": 1,
            "last_failures": [f"up: {text}"],
            "rounds": [
                {"t": end - 2, "end": end - 1.9, "ok": False, "failing": [f"up: {text}"]},
                {"t": end - 1, "end": end - 0.9, "ok": True, "failing": []},
            ],
        },
        "faults": [
            {
                "step": f"freeze{text}",
                "fault": "container.pause",
                "target": f"web{text}",
                "container": {"id": "abc", "name": f"n{text}"},
                "at": 2.0,
                "duration": 3.0,
                "reversible": True,
                "outcome": "revert-failed",
                "injected_at": 1.99,
                "applied_at": 2.0,
                "revert_started": 5.0,
                "error": f"engine said {text}",
            }
        ],
        "probes": [
            {
                "section": "probes",
                "name": f"avail{text}",
                "probe": "http",
                "interval": interval,
                "tolerance": {"min_availability": 0.99, "max_outage": 1.0},
                "samples": samples_list,
                "summary": {
                    "samples": samples,
                    "ok": samples - failed,
                    "failed": failed,
                    "availability": 0.876543,
                    "probed": end,
                    "down": 2.9,
                    "longest_outage": 2.9,
                    "outages": [{"start": 2.2, "end": 5.1, "recovered": True}],
                    "max_latency": 0.004,
                    "time_to_recover": 2.9,
                },
                "violations": [{"message": f"outage too long {text}", "t": 2.2}],
                "window": {
                    "start": 0.3,
                    "end": end - 2,
                    "ok": False,
                    "detail": f"window {text}",
                    "series": [
                        {
                            "series": f'errors{{job="{text}"}}',
                            "points": 3,
                            "values": [[1764669600.0 + k, str(k)] for k in range(3)],
                        }
                    ],
                },
            }
        ],
        "verdict": "failed",
        "reasons": [
            {
                "kind": "tolerance",
                "message": f"probe avail: outage of 2.9s exceeds max_outage 1s {text}",
                "source": f"avail{text}",
                "phase": "method",
                "at": 2.2,
                "faults": [f"freeze{text}"],
            }
        ],
        "exit_code": 1,
    }


def render(data: dict[str, Any]) -> str:
    return run_page(Journal.model_validate(data), data)


def test_a_typical_run_page_is_small_and_complete():
    data = journal_data(300)
    text = render(data)
    assert len(text.encode()) < 500 * 1024
    page = Page(text)
    assert page.find("span", id="verdict") and ">failed<" in text
    assert assert_inert(text) == data
    for lane in ("phases", "fault:freeze", "steady:up", "probe:avail", "series:avail", "recovery"):
        assert page.find("g", data_lane=lane), lane
    # 300 samples, the steady-state check before the method, two recovery rounds
    assert len(page.find("g", data_ok="false")) + len(page.find("g", data_ok="true")) == 303
    # the reason in words: which probe, when, during which fault
    assert "at 2.2s into the run, in the method phase, while freeze was in effect" in text
    assert 'data-figure="availability" data-ok="false"' in text and "87.7%" in text


def test_ten_thousand_samples_render_thinned_with_exact_numbers():
    data = journal_data(10_000, interval=0.01)
    text = render(data)
    page = Page(text)
    lane_marks = [a for a in page.find("g") if (a.get("class") or "").startswith("sample ")]
    # the steady-state check's one sample, and the probe's at most MAX_MARKS buckets
    assert 2 <= len(lane_marks) <= MAX_MARKS + 1
    counted = sum(int(a.get("data-count") or 1) for a in lane_marks)
    assert counted == 10_001, "every sample is in one mark"
    assert page.find("g", data_samples="10000")
    embedded = assert_inert(text)
    assert len(embedded["probes"][0]["samples"]) == 10_000
    assert embedded == data
    assert "87.7%" in text  # the table's figures come from the summary, not the drawing
    for line in re.findall(r'<polyline class="latency" points="([^"]*)"', text):
        assert len(line.split()) <= 400


def test_the_timeline_maps_times_to_pixels_by_its_documented_scale():
    data = journal_data(300)
    text = render(data)
    page = Page(text)
    svg = page.find("svg", id="timeline")[0]
    x0, per_s = float(svg["data-x0"]), float(svg["data-px-per-s"])
    assert x0 == X0 and per_s > 0
    span = next(a for a in page.find("rect") if "fault-span" in (a.get("class") or ""))
    assert float(span["data-start"]) == 2.0
    assert float(span["x"]) == pytest.approx(x0 + 2.0 * per_s, abs=0.01)
    assert float(span["data-end"]) == pytest.approx(float(svg["data-duration"]))  # never reverted
    outage = page.find("rect", data_outage_start="2.2")[0]
    assert outage["data-outage-end"] == "5.1"
    assert float(outage["x"]) == pytest.approx(x0 + 2.2 * per_s, abs=0.01)
    assert float(outage["width"]) == pytest.approx(2.9 * per_s, abs=0.02)
    assert page.find("g", data_t="5")  # the revert-failed mark, at the revert's start
    ttr = page.find("g", data_ttr="3.1")[0]
    assert (ttr["data-ttr-from"], ttr["data-ttr-to"]) == ("2", "5.1")


def test_every_outside_string_is_escaped():
    data = journal_data(50, text=PAYLOAD)
    text = render(data)
    embedded = assert_inert(text)
    assert embedded == data, "the embedded journal reads back exactly"
    # shown as text, control characters written out
    assert "&lt;script&gt;" in text and "\\x1b[2J" in text and "\\x07" in text
    index = index_page([(Journal.model_validate(data), None)] * 2)
    assert "&lt;script&gt;" in index
    assert_inert(index, embedded=False)
    with pytest.raises(AssertionError):  # the check itself sees a live payload
        assert_inert(text.replace("&lt;script&gt;", "<script>", 1))


def test_links_are_relative_paths_never_urls(tmp_path):
    assert link(tmp_path / "a" / "journal.json", tmp_path / "index.html") == "./a/journal.json"
    assert link(tmp_path / "javascript:x", tmp_path / "i.html") == "./javascript:x"
    assert link(tmp_path / "j.json", tmp_path / "sub" / "i.html") == "../j.json"


def test_a_version_2_journal_still_reads(tmp_path):
    source = DATA / "journal-v2.json"
    journal, data = read_journal(source)
    assert data["format"] == "chaosdrill.journal/2" and journal.recovery.rounds == []
    out = tmp_path / "page.html"
    done = cli("report", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert assert_inert(text) == data
    page = Page(text)
    assert page.find("g", data_lane="fault:freeze") and page.find("g", data_lane="recovery")
    assert "round ok" not in text  # no rounds to draw


def test_unknown_journal_formats_are_refused(tmp_path):
    with pytest.raises(Exception, match="is not one this chaosdrill reads"):
        parse_journal({**journal_data(3), "format": "chaosdrill.journal/9"})
    bad = tmp_path / "journal.json"
    bad.write_text(json.dumps({"format": "chaosdrill.journal/1"}))
    done = cli("report", str(bad), "-o", str(tmp_path / "x.html"))
    assert done.returncode == 2 and "journal/1" in done.stderr
    assert not (tmp_path / "x.html").exists()


def test_the_index_shows_trends_across_runs_of_one_experiment(tmp_path):
    for i, samples in enumerate((100, 200, 300)):
        folder = tmp_path / "reports" / f"run{i}"
        folder.mkdir(parents=True)
        data = journal_data(samples)
        data["started_at"] = f"2026-12-0{i + 1}T10:00:00.000+00:00"
        data["verdict"] = ["passed", "failed", "passed"][i]
        (folder / "journal.json").write_text(json.dumps(data))
    out = tmp_path / "index.html"
    done = cli("report", str(tmp_path / "reports"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert_inert(text, embedded=False)
    page = Page(text)
    assert len(page.find("tr", **{"class": "run"})) == 3
    trend = page.find("tr", **{"class": "trend"})
    assert len(trend) == 1
    verdicts = [a["data-verdict"] for a in page.find("span") if "data-verdict" in a]
    assert verdicts == ["passed", "failed", "passed"]  # oldest first
    assert page.find("svg", data_spark="availability")
    assert page.find("svg", data_spark="time-to-recover")
    hrefs = [a["href"] for a in page.find("a")]
    assert sorted(hrefs) == [f"./reports/run{i}/journal.json" for i in range(3)]
    assert "prefers-color-scheme: dark" in text and "@media print" in text


def test_help_does_not_import_the_renderer():
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "chaos", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0 and "chaos.cli.main" in done.stderr
    assert "jinja2" not in done.stderr and "chaos.report" not in done.stderr
