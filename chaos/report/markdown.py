"""A Markdown summary of a suite: the resilience score on top, then one table row
per experiment (experiment, verdict, weight, duration, first reason).

GitHub renders it as a job summary (``$GITHUB_STEP_SUMMARY``), GitLab and
most review tools as a comment or an artifact.
"""

from __future__ import annotations

import html
import re

from chaos.suite.result import CaseResult, CaseVerdict, SuiteResult

MARK = {
    CaseVerdict.PASSED: "✅ passed",
    CaseVerdict.FAILED: "❌ failed",
    CaseVerdict.ABORTED: "⛔ aborted",
    CaseVerdict.ERROR: "💥 error",
    CaseVerdict.INVALID: "⚠️ invalid",
}


def render(suite: SuiteResult) -> str:
    passed = [case for case in suite.cases if case.passed]
    total_weight = sum(case.weight for case in suite.cases)
    passed_weight = sum(case.weight for case in passed)
    outcome = "passed" if suite.passed else f"did not pass (exit code {int(suite.exit_code)})"
    threshold = (
        f", threshold {suite.fail_under:g}" if suite.fail_under is not None else ", all must pass"
    )
    lines = [
        "## chaosdrill resilience suite",
        "",
        f"**Resilience score: {suite.score:g} / 100** ({len(passed)} of "
        f"{len(suite.cases)} experiments passed, weight {passed_weight:g} of "
        f"{total_weight:g}{threshold})",
        "",
        f"The suite {outcome}: {_cell(suite.message)}.",
        "",
        "| experiment | verdict | weight | duration | reason |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    lines += [_row(case) for case in suite.cases]
    if suite.skipped:
        lines += ["", f"Skipped {len(suite.skipped)} YAML file(s) that are not experiments:"]
        lines += [f"- `{path}`" for path in suite.skipped]
    return "\n".join(lines) + "\n"


def _row(case: CaseResult) -> str:
    experiment = f"{_cell(case.title)}<br>`{_code(str(case.path))}`"
    reason = _cell(case.first_reason)
    if len(case.reasons) > 1:
        reason += f" (+{len(case.reasons) - 1} more)"
    duration = f"{case.duration:.1f}s" if case.started is not None else "-"
    return f"| {experiment} | {MARK[case.verdict]} | {case.weight:g} | {duration} | {reason} |"


_MARKUP = re.compile(r"([\\`*_\[\]|])")


def _cell(text: str) -> str:
    """Text that stays inside one table cell and is shown as written."""
    text = _MARKUP.sub(r"\\\1", html.escape(text, quote=False))
    return "<br>".join(text.splitlines())


def _code(text: str) -> str:
    return text.replace("`", "'").replace("|", "\\|")
