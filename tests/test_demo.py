"""The shipped example experiments against the demo stack: one passes, one exposes a weakness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chaos import demo
from tests.conftest import ROOT, chaosdrill, http_status, labels_for_test

pytestmark = pytest.mark.docker


@pytest.fixture
def demo_stack(docker_client: Any, images: dict[str, str]) -> Any:
    demo.down(docker_client)
    demo.up(docker_client, extra_labels=labels_for_test("demo"))
    yield docker_client
    demo.down(docker_client)


def test_web_survives_a_crash(demo_stack, tmp_path):
    proc = chaosdrill(
        "run", "experiments/web-survives-crash.yaml", "--json", "--report-dir", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "passed"
    journal = json.loads(Path(out["journal"]).read_text())
    assert journal["faults"][0]["container"]["name"] == "demo-web"
    web = demo_stack.containers.get("demo-web")
    assert web.attrs["RestartCount"] == 1  # it really crashed and was restarted
    assert http_status("http://127.0.0.1:18080/") == 200


def test_api_without_restart_policy_fails_with_a_clear_reason(demo_stack, tmp_path):
    proc = chaosdrill("run", "experiments/api-crash-no-restart.yaml", "--report-dir", str(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "verdict: FAILED" in proc.stdout
    assert "steady state not restored within 10s after the method: api-ok" in proc.stdout
    assert demo_stack.containers.get("demo-api").status == "exited"


def test_demo_cli_up_status_down(docker_client, images):
    try:
        up = chaosdrill("demo", "up")
        assert up.returncode == 0, up.stderr
        assert http_status("http://127.0.0.1:18080/cgi-bin/status") == 200
        status = chaosdrill("demo", "status")
        assert "demo-web: running, health healthy" in status.stdout
    finally:
        down = chaosdrill("demo", "down")
    assert down.returncode == 0
    assert "demo-web" in down.stdout
    assert not docker_client.containers.list(all=True, filters={"label": demo.DEMO_LABEL})


def test_examples_are_valid():
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "experiments").glob("*.yaml"))
    assert len(files) >= 2
    proc = chaosdrill("validate", *files)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    ("experiment", "status_probe"),
    [
        ("experiments/web-degrades-without-api.yaml", "status-reports-backend"),
        ("experiments/web-survives-lost-dns.yaml", "status-reports-dns"),
    ],
)
def test_network_examples_degrade_gracefully(demo_stack, tmp_path, experiment, status_probe):
    proc = chaosdrill("run", experiment, "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = json.loads(Path(json.loads(proc.stdout)["journal"]).read_text())
    probes = {p["name"]: p for p in journal["probes"]}
    assert probes["web-availability"]["summary"]["availability"] == 1.0
    status = probes[status_probe]
    assert any(not s["ok"] for s in status["samples"]), "the status page saw the fault"
    assert any("body does not match" in s["detail"] for s in status["samples"])
    assert journal["recovery"]["recovered"] is True, "the status page says ok again"
    assert [f["outcome"] for f in journal["faults"]] == ["reverted"]
