"""Selection safety on the real engine: the default blast-radius limit, the
default mode, and empty selectors refused before anything is touched."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import chaosdrill

pytestmark = pytest.mark.docker


def paused(container: Any) -> bool:
    container.reload()
    return bool(container.attrs["State"]["Paused"])


@pytest.fixture
def twelve(containers: Any) -> tuple[str, list[Any]]:
    group = f"g{uuid.uuid4().hex[:10]}"
    started = [
        containers.run("busybox", command=["sleep", "600"], labels={"grp": group})
        for _ in range(12)
    ]
    return group, started


def test_a_run_refuses_more_than_ten_containers_and_touches_nothing(
    twelve, experiment_file, tmp_path
):
    group, started = twelve
    path = experiment_file(f"""
        version: 1
        title: too wide
        targets:
          all: {{select: {{labels: {{grp: {group}}}}}, mode: all}}
        method:
          - {{name: freeze, fault: container.pause, target: all, duration: 2s}}
    """)
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "error"
    assert out["reasons"][0]["kind"] == "target_error"
    assert (
        "would act on 12 containers (of 12 matching), over the limit of 10"
        in out["reasons"][0]["message"]
    )
    assert not any(paused(c) for c in started)
    journal = json.loads(Path(out["journal"]).read_text())
    assert journal["faults"] == [] or all(
        f["outcome"] in ("scheduled", "skipped", "not_injected") for f in journal["faults"]
    )


def test_an_explicit_max_targets_lets_the_run_act_on_all_twelve(twelve, experiment_file, tmp_path):
    group, started = twelve
    path = experiment_file(f"""
        version: 1
        title: wide on purpose
        targets:
          all: {{select: {{labels: {{grp: {group}}}}}, mode: all, max_targets: 12}}
        method:
          - {{name: freeze, fault: container.pause, target: all, duration: 1s}}
    """)
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = json.loads(Path(json.loads(proc.stdout)["journal"]).read_text())
    assert len(journal["faults"]) == 12
    assert {f["outcome"] for f in journal["faults"]} == {"reverted"}
    assert not any(paused(c) for c in started)


def test_the_limit_follows_the_environment(twelve, experiment_file, tmp_path):
    group, started = twelve
    path = experiment_file(f"""
        version: 1
        title: twelve allowed by the operator
        targets:
          all: {{select: {{labels: {{grp: {group}}}}}, mode: all}}
        method:
          - {{name: freeze, fault: container.pause, target: all, duration: 1s}}
    """)
    proc = chaosdrill(
        "run", str(path), "--json", "--report-dir", str(tmp_path),
        env={"CHAOSDRILL_MAX_TARGETS": "12"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not any(paused(c) for c in started)


def test_without_a_mode_one_container_is_chosen_and_dry_run_says_so(
    twelve, experiment_file, tmp_path
):
    group, _started = twelve
    path = experiment_file(f"""
        version: 1
        title: default mode
        targets:
          some: {{select: {{labels: {{grp: {group}}}}}}}
        method:
          - {{name: freeze, fault: container.pause, target: some, duration: 1s}}
    """)
    proc = chaosdrill("run", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "mode one (the default)" in proc.stdout
    assert "12 matched, 1 chosen" in proc.stdout
    proc = chaosdrill("run", str(path), "--json", "--report-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    journal = json.loads(Path(json.loads(proc.stdout)["journal"]).read_text())
    (target,) = journal["targets"]
    assert (target["candidates"], target["chosen"]) == (12, 1)
    assert target["mode"] == "one (the default)"
    assert len(journal["faults"]) == 1


def test_an_empty_selector_from_the_environment_exits_2_and_touches_nothing(
    twelve, experiment_file, tmp_path
):
    _group, started = twelve
    path = experiment_file("""
        version: 1
        title: empty project
        configuration:
          proj: {env: CD_TEST_EMPTY_PROJECT}
        targets:
          all: {select: {compose_project: "${proj}"}, mode: all, max_targets: 100}
        method:
          - {name: freeze, fault: container.pause, target: all, duration: 1s}
    """)
    env = {"CD_TEST_EMPTY_PROJECT": ""}
    commands = [
        ("run", str(path), "--report-dir", str(tmp_path)),
        ("run", str(path), "--dry-run"),
        ("validate", str(path)),
    ]
    for args in commands:
        proc = chaosdrill(*args, env=env)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 2, (args, output)
        assert "experiment.yaml:6:" in output and "select.compose_project is empty" in output
        assert "Traceback" not in output
    assert not any(paused(c) for c in started)


def test_a_fault_from_code_refuses_an_empty_selector(docker_client, twelve):
    from chaos import api
    from chaos.errors import UsageError

    _group, started = twelve
    wide = {"select": {"labels": {}}, "mode": "all"}
    with pytest.raises(UsageError, match=r"select\.labels is empty"):
        api.fault("container.pause", target=wide, duration="1s")
    assert not any(paused(c) for c in started)
