"""A secret never leaves chaosdrill: one secret from the environment and one
from a file are planted in every place a value can appear (a URL, a header,
a probe body, a selector, the title, step and probe names), and every output
of every front end is searched for them: zero hits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, chaosdrill, host_port

pytestmark = pytest.mark.docker

ENV_SECRET = "EnvPlanted" + uuid.uuid4().hex[:10]
FILE_SECRET = "FilePlanted" + uuid.uuid4().hex[:10]
CODE_PASSWORD = "CodePlanted" + uuid.uuid4().hex[:10]
"""Given from code (not declared a secret): masked because it looks like a credential."""


def experiment(port: int) -> str:
    return textwrap.dedent(f"""\
        version: 1
        title: "drill ${{env_secret}} and ${{file_secret}}"
        description: "uses ${{env_secret}}"
        configuration:
          env_secret: {{env: CD_TEST_PLANTED}}
          file_secret: {{file: token.txt}}
          base: "http://127.0.0.1:{port}"
        targets:
          web: {{select: {{labels: {{planted: "${{env_secret}}"}}}}, mode: one}}
        steady_state:
          - name: "ready-${{file_secret}}"
            probe: http
            url: "http://user:${{env_secret}}@127.0.0.1:{port}/?q=${{file_secret}}"
            headers: {{Authorization: "Bearer ${{file_secret}}", X-Token: "${{env_secret}}"}}
            body: "payload ${{env_secret}}"
        method:
          - {{name: "freeze-${{env_secret}}", fault: container.pause, target: web, duration: 1s}}
        probes:
          - name: "body-${{file_secret}}"
            probe: http
            url: "${{base}}/"
            interval: 200ms
            expect: {{body_regex: "${{env_secret}}"}}
        recovery: {{within: 5s}}
        """)


def hits(text: str) -> list[str]:
    return [s for s in (ENV_SECRET, FILE_SECRET, CODE_PASSWORD) if s in text]


def everything_under(directory: Path) -> str:
    """Every file name and file content under ``directory``."""
    parts = []
    for path in sorted(directory.rglob("*")):
        parts.append(str(path))
        if path.is_file():
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def test_planted_secrets_appear_in_no_output(containers, tmp_path, state_dir):
    web = containers.run(labels={"planted": ENV_SECRET}, publish=True)
    port = host_port(web)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "token.txt").write_text(FILE_SECRET + "\n")
    path = workdir / "drill.yaml"
    path.write_text(experiment(port))
    env = {"CD_TEST_PLANTED": ENV_SECRET}
    outputs: dict[str, str] = {}

    def record(name: str, proc: subprocess.CompletedProcess) -> None:
        assert "Traceback" not in proc.stdout + proc.stderr, (name, proc.stderr)
        outputs[name] = proc.stdout + proc.stderr

    reports = tmp_path / "reports"
    plain = chaosdrill("run", str(path), "--plain", "--report-dir", str(reports), env=env)
    record("run", plain)
    assert plain.returncode == 1, plain.stdout  # the body probe fails: a reason quoting it
    record("run --dry-run", chaosdrill("run", str(path), "--dry-run", env=env))
    as_json = chaosdrill("run", str(path), "--json", "--report-dir", str(reports), env=env)
    record("run --json", as_json)
    assert json.loads(as_json.stdout)["reasons"], as_json.stdout
    junit, markdown = tmp_path / "junit.xml", tmp_path / "summary.md"
    suite = chaosdrill(
        "suite", str(path), "--junit", str(junit), "--markdown", str(markdown),
        "--report-dir", str(reports / "suite"), env=env,
    )  # fmt: skip
    record("suite", suite)
    outputs["junit"] = junit.read_text()
    outputs["markdown"] = markdown.read_text()

    test_file = workdir / "test_drill.py"
    test_file.write_text(
        textwrap.dedent("""\
            import os

            def test_drill(chaos):
                result = chaos.run("drill.yaml")
                assert result.passed, result.describe()

            def test_wait(chaos):
                password = os.environ["CD_TEST_CODE_PASSWORD"]
                chaos.wait_until(
                    "http", within="300ms", interval="100ms",
                    url=f"http://ops:{password}@127.0.0.1:1/",
                    headers={"Authorization": f"Bearer {password}"},
                )
            """)
    )
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), str(path), "-p", "no:cacheprovider",
         "-o", "chaos_experiment_files=drill.yaml", "--rootdir", str(workdir), "-q"],
        capture_output=True, text=True, timeout=300, cwd=workdir, env={**os.environ, **env, "CD_TEST_CODE_PASSWORD": CODE_PASSWORD},
    )  # fmt: skip
    outputs["pytest"] = pytest_run.stdout + pytest_run.stderr
    assert "2 failed" in pytest_run.stdout or "3 failed" in pytest_run.stdout, pytest_run.stdout
    assert "did not pass within" in pytest_run.stdout

    outputs["reports"] = everything_under(reports)
    outputs["ledger"] = everything_under(state_dir)
    assert "ledger.jsonl" in outputs["ledger"]
    assert "container.pause" in outputs["ledger"]  # the ledger did record the runs
    leaks = {name: hits(text) for name, text in outputs.items() if hits(text)}
    assert leaks == {}, {name: outputs[name][:3000] for name in leaks}
    assert "***" in outputs["run"] and "***" in outputs["reports"]
    assert str(ROOT)  # the test ran from the repository
