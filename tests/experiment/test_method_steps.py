"""Validation of the method's action and probe steps and of a target's ``where``:
every problem at its ``FILE:LINE:COL``, naming the step or the target."""

from __future__ import annotations

import json

import pytest

from chaos.errors import InvalidExperiment
from chaos.experiment.loader import load_text
from chaos.experiment.model import ActionStep, FaultStep, MethodProbe
from tests.conftest import cli

HEADER = "version: 1\ntitle: t\ntargets:\n  web: {select: {name: web}}\nmethod:\n"
"""Five lines: a document's first step is on line 6."""


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidExperiment) as info:
        load_text(text, "exp.yaml")
    return [str(p) for p in info.value.problems]


def test_a_method_mixes_faults_actions_and_probe_steps():
    loaded = load_text(
        HEADER
        + "  - {action: exec, target: web, command: [sh, -c, 'echo v > /tmp/k']}\n"
        + "  - {name: kick, action: http, url: 'http://127.0.0.1:1/', method: POST, at: 1s}\n"
        + "  - {fault: container.kill, target: web, at: 2s}\n"
        + "  - {probe: exec, target: web, command: [cat, /tmp/k], at: 3s,"
        + " expect: {stdout_regex: v}}\n",
        "exp.yaml",
    )
    method = loaded.experiment.method
    assert [type(s) for s in method] == [ActionStep, ActionStep, FaultStep, MethodProbe]
    assert [s.name for s in method] == ["exec#1", "kick", "container.kill#3", "exec#4"]
    assert [s.at for s in method] == [0.0, 1.0, 2.0, 3.0]
    assert loaded.params_for("method", 0).command == ["sh", "-c", "echo v > /tmp/k"]
    assert loaded.params_for("method", 1).method == "POST"
    assert loaded.params_for("method", 3).expect.stdout_regex == "v"
    assert loaded.experiment.faults == [method[2]]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "  - {action: exce, target: web, command: [x]}\n",
            "6:14: unknown action 'exce' (did you mean 'exec'?); known: exec, http",
        ),
        ("  - {action: exec, target: web}\n", "6:5: method[0]: missing required key 'command'"),
        (
            "  - {action: exec, target: web, command: []}\n",
            "6:42: method[0].command: List should have at least 1 item",
        ),
        (
            "  - {action: exec, target: web, command: [x], at: soon}\n",
            "6:51: method[0].at: invalid duration 'soon'",
        ),
        (
            "  - {probe: exe, target: web, command: [x], at: 1s}\n",
            "6:13: unknown probe 'exe' (did you mean 'exec'?)",
        ),
        (
            "  - {probe: exec, target: web, command: [x], at: -1s}\n",
            "6:50: method[0].at: invalid duration '-1s'",
        ),
        (
            "  - {action: http, target: web, url: 'http://127.0.0.1:1/'}\n",
            "6:20: action http does not take a target",
        ),
        (
            "  - {action: http, url: 'ftp://127.0.0.1/'}\n",
            "6:25: method[0].url: expected an http:// or https:// URL",
        ),
        (
            "  - {action: exec, command: [x]}\n",
            "6:5: method[0]: action exec needs a target (or a container)",
        ),
        (
            "  - {action: exec, target: wbe, command: [x]}\n",
            "6:28: target 'wbe' is not defined (did you mean 'web'?); defined: web",
        ),
        (
            "  - {action: exec, target: web, command: [x], timout: 1s}\n",
            "6:47: 'timout' is not a parameter of action exec (did you mean 'timeout'?)",
        ),
        (
            "  - {action: exec, fault: container.kill, target: web, command: [x]}\n",
            "6:5: method[0]: a method step needs exactly one of fault, action or probe",
        ),
    ],
)
def test_bad_steps_are_reported_at_their_place(step, message):
    found = problems(HEADER + step)
    assert len(found) == 1, found
    assert found[0].startswith(f"exp.yaml:{message}"), found


def test_step_names_are_unique_across_faults_actions_and_probe_steps():
    found = problems(
        HEADER
        + "  - {name: a, fault: container.kill, target: web}\n"
        + "  - {name: a, action: exec, target: web, command: [x]}\n"
    )
    assert found == ["exp.yaml:7:12: duplicate method step name 'a'"]


@pytest.mark.parametrize(
    ("where", "messages"),
    [
        (
            "{probe: exe, command: [x]}",
            ["3:45: unknown probe 'exe' (did you mean 'exec'?)"],
        ),
        (
            "{probe: http, url: 'http://127.0.0.1:1/'}",
            ["3:45: target 'web': where needs a probe that looks at each candidate; probe http"],
        ),
        ("{probe: exec}", ["3:37: targets.web.where: missing required key 'command'"]),
        (
            "{probe: exec, container: x, command: [y], expect: {stdout: a}}",
            [
                "3:51: target 'web': where checks each candidate itself; remove 'container'",
                "3:88: unknown key 'stdout' of probe exec (did you mean 'stdout_regex'?)",
            ],
        ),
    ],
)
def test_bad_where_is_reported_at_its_place(where, messages):
    found = problems(
        "version: 1\ntitle: t\ntargets:\n"
        f"  web: {{select: {{name: web}}, where: {where}}}\n"
        "method:\n  - {fault: container.kill, target: web}\n"
    )
    assert len(found) == len(messages), found
    for got, want in zip(found, messages, strict=True):
        assert got.startswith(f"exp.yaml:{want}".replace("3:", "4:", 1)), found


def test_validate_command_reports_bad_steps_with_exit_2(experiment_file):
    path = experiment_file("""
        version: 1
        title: broken steps
        targets:
          web: {select: {name: web}}
        method:
          - {action: exce, target: web, command: [x]}
          - {action: exec, target: web}
          - {probe: nope, target: web, at: 2s}
    """)
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"{path}:6:14: unknown action 'exce'")
    assert lines[1] == f"{path}:7:5: method[1]: missing required key 'command'"
    assert lines[2].startswith(f"{path}:8:13: unknown probe 'nope'")
    assert "Traceback" not in proc.stdout + proc.stderr


def test_schema_has_action_and_probe_steps_and_where():
    proc = cli("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    branches = schema["properties"]["method"]["items"]["oneOf"]
    titles = {b["title"] for b in branches}
    assert {"action exec", "action http", "probe exec", "fault container.crash"} <= titles
    exec_action = next(b for b in branches if b["title"] == "action exec")
    assert {"action", "command"} <= set(exec_action["required"])
    assert {"at", "target", "expect", "timeout"} <= set(exec_action["properties"])
    http_action = next(b for b in branches if b["title"] == "action http")
    assert "target" not in http_action["properties"] and "url" in http_action["required"]
    probe_step = next(b for b in branches if b["title"] == "probe exec")
    assert "at" in probe_step["properties"] and "interval" not in probe_step["properties"]
    where = schema["$defs"]["TargetSpec"]["properties"]["where"]["oneOf"]
    exec_where = next(b for b in where if b["properties"]["probe"]["const"] == "exec")
    assert "command" in exec_where["required"] and "container" not in exec_where["properties"]
