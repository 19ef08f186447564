"""Discovery, scheduling, score and reports on plain data: no engine needed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chaos.errors import UsageError
from chaos.exitcodes import ExitCode
from chaos.report import markdown, write
from chaos.report.junit import render as render_junit
from chaos.suite.discover import Found, case_name, discover, is_experiment_file
from chaos.suite.result import CaseResult, CaseVerdict, ProbeFigures, SuiteResult
from chaos.suite.schedule import conflict, next_to_start
from chaos.suite.score import judge, resilience_score
from tests.suite.helpers import properties, validate_junit

P, F, A, E, INV = (
    CaseVerdict.PASSED,
    CaseVerdict.FAILED,
    CaseVerdict.ABORTED,
    CaseVerdict.ERROR,
    CaseVerdict.INVALID,
)


def case(verdict: CaseVerdict, weight: float = 1.0, name: str = "x", **kw) -> CaseResult:
    reasons = () if verdict is P else (f"{name} {verdict.value}",)
    return CaseResult(Path(f"{name}.yaml"), name, name.title(), weight, verdict, reasons, **kw)


# --- score and exit code -------------------------------------------------------------


def test_score_is_the_weighted_share_of_passed_experiments():
    assert resilience_score([case(P), case(F)]) == 50.0
    assert resilience_score([case(P, 3), case(F, 1)]) == 75.0
    assert resilience_score([case(P, 1), case(INV, 2)]) == 33.3  # invalid counts as not passed
    assert resilience_score([case(P, 0.5), case(P, 0.25)]) == 100.0
    assert resilience_score([case(E), case(A)]) == 0.0
    assert resilience_score([]) == 0.0


def test_without_a_threshold_every_experiment_must_pass():
    assert judge([case(P), case(P)])[0] is ExitCode.PASSED
    assert judge([case(P), case(F)])[0] is ExitCode.FAILED
    assert judge([case(F), case(INV)])[0] is ExitCode.INVALID
    assert judge([case(F), case(INV), case(A)])[0] is ExitCode.ABORTED
    assert judge([case(A), case(E), case(INV)])[0] is ExitCode.ERROR
    message = judge([case(P), case(F), case(F)])[1]
    assert message == "2 of 3 experiments did not pass (2 failed)"
    assert judge([])[0] is ExitCode.INVALID


def test_a_threshold_tolerates_failures_while_the_weighted_score_meets_it():
    cases = [case(P, 3), case(F, 1)]  # 75
    assert judge(cases, 75) == (
        ExitCode.PASSED,
        "resilience score 75 meets --fail-under 75 (1 failed experiment tolerated)",
    )
    assert judge(cases, 75.1) == (
        ExitCode.FAILED,
        "resilience score 75 is below --fail-under 75.1 (1 failed)",
    )
    assert judge(cases, 0)[0] is ExitCode.PASSED
    assert judge([case(P)], 100)[0] is ExitCode.PASSED


def test_error_aborted_and_invalid_fail_the_suite_whatever_the_score():
    code, message = judge([case(P, 99), case(INV, 1)], 50)
    assert code is ExitCode.INVALID
    assert "whatever the score" in message
    assert judge([case(P, 99), case(A, 1)], 0)[0] is ExitCode.ABORTED
    assert judge([case(P, 99), case(E, 1), case(F)], 0)[0] is ExitCode.ERROR


# --- scheduling ----------------------------------------------------------------------


def keys(*ids: str, kind: str = "container") -> frozenset[tuple[str, str]]:
    return frozenset((kind, i) for i in ids)


def test_conflicts_are_shared_objects_and_whole_swarm_faults():
    assert conflict(keys("a", "b"), keys("b"))
    assert not conflict(keys("a"), keys("b"))
    assert not conflict(keys(), keys("a"))
    assert conflict(None, keys())
    assert conflict(keys("s1", kind="swarm"), keys("n1", kind="node"))
    assert conflict(keys("w", kind="service"), keys("s1", kind="swarm"))
    assert not conflict(keys("n1", kind="node"), keys("n2", kind="node"))
    assert not conflict(keys("s1", kind="swarm"), keys("c1"))


def schedule(experiments: dict[str, frozenset | None], jobs: int) -> list[set[str]]:
    """Simulate the runner: every running experiment lasts one round."""
    pending, rounds = list(experiments), []
    while pending:
        running: dict[str, frozenset | None] = {}
        while len(running) < jobs:
            pick = next_to_start(pending, list(running.values()), experiments.__getitem__)
            if pick is None:
                break
            name = pending.pop(pick[0])
            running[name] = pick[1]
        assert running, "nothing could start with nothing running"
        rounds.append(set(running))
    return rounds


def test_greedy_schedule_never_runs_two_experiments_on_one_object():
    rounds = schedule(
        {"a1": keys("a"), "a2": keys("a"), "b": keys("b"), "ab": keys("a", "b"), "c": keys("c")},
        jobs=3,
    )
    assert rounds == [{"a1", "b", "c"}, {"a2"}, {"ab"}]


def test_an_experiment_that_cannot_be_planned_runs_alone_and_holds_back_the_rest():
    rounds = schedule({"a": keys("a"), "broken": None, "b": keys("b"), "c": keys("c")}, jobs=4)
    assert rounds == [{"a"}, {"broken"}, {"b", "c"}]


def test_keys_are_resolved_lazily_in_order_until_one_fits():
    asked = []

    def keys_of(name):
        asked.append(name)
        return keys(name[0])

    assert next_to_start(["a2", "b1", "c1"], [keys("a")], keys_of) == (1, keys("b"))
    assert asked == ["a2", "b1"]
    assert next_to_start(["x"], [None], keys_of) is None


# --- discovery -----------------------------------------------------------------------

EXPERIMENT = """\
version: 1
title: t
method:
  - {fault: container.kill, target: web}
"""


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_discovery_takes_yaml_experiments_and_skips_other_yaml(tmp_path):
    write_files(
        tmp_path,
        {
            "b.yaml": EXPERIMENT,
            "a/one.chaos.yaml": EXPERIMENT,
            "a/two.yml": EXPERIMENT,
            "a/broken.yaml": "version: 1\ntitle: [unclosed\nmethod: []\n",
            "inventory.yaml": "name: prod\nnodes: [{name: m1, role: manager}]\n",
            "compose.yml": "services: {web: {image: nginx}}\n",
            "list.yaml": "- version: 1\n  method: []\n",
            "notes.txt": EXPERIMENT,
            ".hidden/x.yaml": EXPERIMENT,
        },
    )
    found = discover([tmp_path])
    names = [f.path.relative_to(tmp_path).as_posix() for f in found.experiments]
    assert names == ["a/broken.yaml", "a/one.chaos.yaml", "a/two.yml", "b.yaml"]
    skipped = sorted(p.relative_to(tmp_path).as_posix() for p in found.skipped)
    assert skipped == ["compose.yml", "inventory.yaml", "list.yaml"]


def test_a_named_file_is_always_an_experiment_and_each_file_runs_once(tmp_path):
    write_files(tmp_path, {"inv.yaml": "name: prod\nnodes: []\n", "e.yaml": EXPERIMENT})
    assert not is_experiment_file(tmp_path / "inv.yaml")
    found = discover([tmp_path / "inv.yaml", tmp_path, tmp_path / "e.yaml"])
    assert [f.path.name for f in found.experiments] == ["inv.yaml", "e.yaml"]


def test_discovery_errors_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="nope: no such file or directory"):
        discover([tmp_path / "nope"])
    write_files(tmp_path, {"inv.yaml": "name: prod\n"})
    with pytest.raises(
        UsageError, match=r"no experiments found under .*\(1 YAML file that is not an experiment\)"
    ):
        discover([tmp_path])


def test_case_names_come_from_the_path(tmp_path):
    root = tmp_path / "experiments"
    file = root / "swarm" / "drain.worker.chaos.yaml"
    assert case_name(Found(file, root), cwd=tmp_path) == "experiments.swarm.drain_worker"
    outside = Path("/elsewhere")
    assert case_name(Found(file, root), cwd=outside) == "experiments.swarm.drain_worker"
    assert case_name(Found(file, file), cwd=outside) == "drain_worker"


# --- reports -------------------------------------------------------------------------


def sample_suite(**kw) -> SuiteResult:
    probe = ProbeFigures("probes", "web-availability", 0.75, 1.5, 1.25)
    cases = (
        case(
            P,
            2,
            "ok",
            started=1.0,
            duration=2.5,
            journal_path=Path("r/ok/journal.json"),
            probes=(probe,),
            time_to_recover=0.5,
        ),
        case(F, 1, "weak", started=1.0, duration=3.0),
        case(A, 1, "guarded", started=1.0, duration=1.0),
        case(E, 1, "broken", started=1.0),
        CaseResult(
            Path("bad.yaml"),
            "bad",
            "bad.yaml",
            1.0,
            INV,
            ("bad.yaml:3:5: unknown fault 'x'", "bad.yaml:4:1: one | two <b>\x01"),
        ),
    )
    code, message = judge(cases, kw.get("fail_under"))
    return SuiteResult(
        cases,
        resilience_score(cases),
        code,
        message,
        started_at="2024-05-01T10:00:00",
        duration=9.5,
        **kw,
    )


def test_junit_follows_the_jenkins_schema_and_says_why(tmp_path):
    root = validate_junit(render_junit(sample_suite(fail_under=30)))
    suite = root.find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "chaosdrill",
        "5",
        "2",
        "2",
    )
    by_class = {tc.get("classname"): tc for tc in suite.iter("testcase")}
    assert by_class["ok"].find("failure") is None and by_class["ok"].get("time") == "2.500"
    failure = by_class["weak"].find("failure")
    assert (failure.get("type"), failure.get("message")) == ("failed", "weak failed")
    assert by_class["guarded"].find("failure").get("type") == "aborted"
    assert by_class["broken"].find("error").get("type") == "error"
    invalid = by_class["bad"].find("error")
    assert invalid.get("type") == "invalid"
    assert invalid.get("message") == "bad.yaml:3:5: unknown fault 'x'"
    assert invalid.text.splitlines()[1] == "bad.yaml:4:1: one | two <b>\ufffd"
    props = properties(root)
    assert props["resilience_score"] == "33.3" and props["fail_under"] == "30"
    assert props["ok.verdict"] == "passed" and props["ok.weight"] == "2"
    assert props["ok.journal"] == "r/ok/journal.json"
    assert props["ok.probe.web-availability.availability"] == "0.7500"
    assert props["ok.probe.web-availability.time_to_recover"] == "1.250"
    assert props["ok.time_to_recover"] == "0.500"
    assert "availability 75.0%" in by_class["ok"].find("system-out").text


def test_markdown_has_the_score_on_top_and_one_row_per_experiment(tmp_path):
    text = markdown.render(sample_suite())
    lines = text.splitlines()
    assert lines[0] == "## chaosdrill resilience suite"
    assert lines[2].startswith("**Resilience score: 33.3 / 100** (1 of 5 experiments passed")
    header = lines.index("| experiment | verdict | weight | duration | reason |")
    rows = lines[header + 2 :]
    assert len(rows) == 5
    assert rows[0].startswith("| Ok<br>`ok.yaml` | ✅ passed | 2 | 2.5s |")
    assert "| ❌ failed | 1 | 3.0s | weak failed |" in rows[1]
    assert rows[4].endswith("| bad.yaml:3:5: unknown fault 'x' (+1 more) |")
    assert "| - |" in rows[4]  # never ran: no duration
    path = tmp_path / "summary.md"
    path.write_text("earlier step\n")
    write("markdown", sample_suite(), path, append=True)
    assert path.read_text() == "earlier step\n\n" + text


# --- the weight field ----------------------------------------------------------------

VALID = EXPERIMENT.replace("method:", "targets:\n  web: {select: {name: web}}\nmethod:")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "weight: Input should be greater than 0"),
        ("-1", "weight: Input should be greater than 0"),
        ("true", "weight: must be a number, not a boolean"),
        (".inf", "weight: Input should be a finite number"),
        ("heavy", "weight: Input should be a valid number, unable to parse string as a number"),
    ],
)
def test_weight_must_be_a_positive_number(value, message):
    from chaos.errors import InvalidExperiment
    from chaos.experiment.loader import load_text

    with pytest.raises(InvalidExperiment) as raised:
        load_text(VALID.replace("title: t\n", f"title: t\nweight: {value}\n"), "w.yaml")
    assert [str(p) for p in raised.value.problems] == [f"w.yaml:3:9: {message}"]


def test_weight_defaults_to_one_and_is_in_the_schema():
    from chaos.experiment.loader import load_text
    from chaos.plugins import default_plugins
    from chaos.schema import experiment_schema

    assert load_text(VALID, "w.yaml").experiment.weight == 1.0
    text = VALID.replace("title: t\n", "title: t\nweight: 2.5\n")
    assert load_text(text, "w.yaml").experiment.weight == 2.5
    schema = experiment_schema(default_plugins().registry)
    assert schema["properties"]["weight"]["exclusiveMinimum"] == 0
