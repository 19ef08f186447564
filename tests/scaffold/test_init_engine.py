"""``chaosdrill init`` against real containers of the test's own, selected by label."""

from __future__ import annotations

import json

import yaml

from tests.conftest import TEST_LABEL, chaosdrill, host_port


def test_init_by_label_then_the_experiment_passes(containers, tmp_path, request):
    test_name = request.node.name[:60]
    web = containers.run("web", publish=True, restart_policy={"Name": "always"})
    quiet = containers.run("busybox", command=["sleep", "600"], wait_healthy=False)
    label = f"{TEST_LABEL}={test_name}"

    proc = chaosdrill("init", "drill", "--label", label, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"it crashes one replica of {web.name}" in proc.stdout
    path = tmp_path / "drill" / "first-experiment.yaml"
    data = yaml.safe_load(path.read_text())
    # outside Compose: by name, inside the label asked for
    assert data["targets"][web.name]["select"] == {
        "labels": {TEST_LABEL: test_name},
        "name": web.name,
    }
    assert data["targets"][quiet.name]["mode"] == "all"
    assert data["configuration"] == {f"{web.name}_url": f"http://127.0.0.1:{host_port(web)}/"}
    steady = {step["name"]: step for step in data["steady_state"]}
    assert steady[f"{web.name}-answers"]["expect"] == {"status": 200}
    assert steady[f"{quiet.name}-running"]["probe"] == "container.health"

    run = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path / "reports"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["verdict"] == "passed", result["reasons"]
    assert [f["object"] for f in result["faults"]] == [web.name]
    web.reload()
    assert web.attrs["RestartCount"] == 1
