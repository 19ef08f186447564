"""The command line as users meet it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT, chaosdrill, cli


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """``chaosdrill schema``'s output, read once for the module."""
    proc = cli("schema")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_help_lists_commands_and_exit_codes():
    proc = chaosdrill("--help")
    assert proc.returncode == 0
    for command in ("run", "suite", "validate", "schema", "plugins", "demo", "images"):
        assert command in proc.stdout
    assert "0 passed, 1 failed, 2 invalid input or usage, 3 aborted, 4 error" in proc.stdout


def test_no_command_is_a_usage_error():
    assert chaosdrill().returncode == 2


def test_version():
    proc = chaosdrill("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("chaosdrill ")


def test_validate_reports_file_line_col_and_exit_2(experiment_file):
    path = experiment_file("""
        version: 1
        title: broken
        targets:
          web: {select: {name: web}}
        method:
          - {fault: container.crsh, target: web}
          - {fault: container.pause, target: wbe, duration: 1s}
    """)
    proc = cli("validate", str(path))
    assert proc.returncode == 2
    lines = proc.stdout.strip().splitlines()
    assert f"{path}:6:13: unknown fault 'container.crsh' (did you mean 'container.crash'?)" in lines
    assert any(
        line.startswith(f"{path}:7:") and "target 'wbe' is not defined" in line for line in lines
    )
    assert "Traceback" not in proc.stdout + proc.stderr


def test_validate_a_valid_file_skips_what_only_runs_and_errors_need():
    """Start-up: no HTTP client stack, no RE2 (the file holds no pattern), no
    credential patterns, no validator of an unused model, no engine side (the
    runtime, a run's result and its journal's models) (each used to cost
    milliseconds on every validate)."""
    script = (
        "import sys\n"
        "from chaos.cli.main import main\n"
        "code = main(['validate', 'experiments/web-survives-crash.yaml'])\n"
        "import chaos.redaction, chaos.experiment.model as m\n"
        "print(code, 'http.client' in sys.modules, 're2' in sys.modules,"
        " chaos.redaction._patterns.cache_info().currsize, m.Guard.__pydantic_complete__)\n"
        "print(sorted(n for n in ('chaos.runtime', 'chaos.engine.result', 'chaos.journal.model',"
        " 'docker', 'rich') if n in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "experiments/web-survives-crash.yaml: ok",
        "0 False False 0 False",
        "[]",
    ]


def test_validate_missing_file_is_a_usage_error(tmp_path):
    proc = cli("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "nope.yaml: no such file" in proc.stdout


def test_run_invalid_file_exits_2_without_traceback(experiment_file, tmp_path):
    path = experiment_file("version: 1\ntitle: [unclosed\n")
    proc = cli("run", str(path), "--report-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{path}:")
    assert "YAML syntax" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_schema_is_json_schema_with_plugin_parameters(schema):
    branches = {
        b["properties"]["fault"]["const"]: b
        for b in schema["properties"]["method"]["items"]["oneOf"]
        if "fault" in b["properties"]  # the method's action and probe steps are beside them
    }
    assert set(branches) >= {"container.kill", "container.crash", "container.pause"}
    assert "signal" in branches["container.kill"]["properties"]
    assert "duration" in branches["container.pause"]["required"]
    probes = schema["properties"]["probes"]["items"]["oneOf"]
    http = next(b for b in probes if b["properties"]["probe"]["const"] == "http")
    assert "url" in http["required"] and "tolerance" in http["properties"]


def test_schema_states_the_minimum_interval_and_timeout(schema):
    probes = schema["properties"]["probes"]["items"]["oneOf"]
    for branch in probes:
        interval = branch["properties"]["interval"]["anyOf"][0]
        assert interval["type"] == "number" and interval["minimum"] == 0.01
    guards = schema["properties"]["guards"]["items"]["oneOf"]
    assert all(b["properties"]["interval"]["anyOf"][0]["minimum"] == 0.01 for b in guards)
    timed = {
        b["properties"]["probe"]["const"]: b["properties"]["timeout"]
        for b in probes
        if "timeout" in b["properties"]
    }
    assert set(timed) >= {"http", "tcp", "dns", "exec"}
    for timeout in timed.values():
        number = next(s for s in timeout["anyOf"] if s.get("type") == "number")
        assert number["exclusiveMinimum"] == 0 and "minimum" not in number


def test_schema_accepts_the_examples(schema):
    import jsonschema
    import yaml

    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)  # once: jsonschema.validate checks it again on every call
    for path in (ROOT / "experiments").glob("*.yaml"):
        validator(schema).validate(yaml.safe_load(path.read_text()))


def test_a_bad_blast_radius_setting_exits_2_before_anything(experiment_file, tmp_path):
    path = experiment_file("""
        version: 1
        title: t
        targets:
          web: {select: {name: chaosdrill-no-such-container}}
        method:
          - {fault: container.kill, target: web}
    """)
    for value in ("abc", "0", "-1"):
        proc = cli(
            "run", str(path), "--report-dir", str(tmp_path), env={"CHAOSDRILL_MAX_TARGETS": value}
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "CHAOSDRILL_MAX_TARGETS" in proc.stderr and "Traceback" not in proc.stderr
        assert not list(tmp_path.glob("*/journal.json"))  # the run never started
