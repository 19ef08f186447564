"""``chaosdrill init`` as users meet it: what it picks, clear refusals, no traceback."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import yaml

from chaos.cli import scaffold
from chaos.errors import UsageError
from chaos.scaffold.model import Selection
from tests.conftest import cli

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
COMPOSE = "com.docker.compose.project"


def test_a_bad_label_is_exit_2(tmp_path):
    proc = cli("init", "--label", "team", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 2
    assert "--label needs KEY=VALUE" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "first-experiment.yaml").exists()


def test_an_empty_project_is_exit_2(tmp_path):
    proc = cli("init", "--compose-project", "", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 2 and "--compose-project needs a project name" in proc.stderr


def test_project_and_label_together_are_exit_2(tmp_path):
    proc = cli("init", "--compose-project", "a", "--label", "k=v", cwd=tmp_path)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_an_existing_file_is_never_overwritten_without_force(tmp_path):
    (tmp_path / "first-experiment.yaml").write_text("mine")
    proc = cli("init", cwd=tmp_path, env=NO_ENGINE)  # refused before the engine
    assert proc.returncode == 2
    assert "first-experiment.yaml already exists; --force overwrites it" in proc.stderr
    assert (tmp_path / "first-experiment.yaml").read_text() == "mine"


def test_a_missing_engine_is_exit_4(tmp_path):
    proc = cli("init", "out", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 4
    assert "cannot reach the Docker engine" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_dir_that_is_a_file_is_exit_2(tmp_path):
    (tmp_path / "x").write_text("")
    proc = cli("init", "x", cwd=tmp_path, env=NO_ENGINE)
    assert proc.returncode == 2 and "x is not a directory" in proc.stderr


class FakeAPI:
    """The two engine calls init makes, answered from summaries and inspect dicts."""

    def __init__(self, containers: list[dict[str, Any]]):
        self.attrs = containers

    def containers(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        def matches(labels: dict[str, str], wanted: str) -> bool:
            key, sep, value = wanted.partition("=")
            return key in labels and (not sep or labels[key] == value)

        return [
            {"Id": attrs["Id"], "Labels": attrs["Config"]["Labels"]}
            for attrs in self.attrs
            if all(matches(attrs["Config"]["Labels"], f) for f in filters.get("label", []))
        ]

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return next(a for a in self.attrs if a["Id"] == container_id)


class FakeClient:
    def __init__(self, containers: list[dict[str, Any]]):
        self.api = FakeAPI(containers)


def container(name: str, labels: dict[str, str], restart: str = "no") -> dict[str, Any]:
    return {
        "Id": name,
        "Name": f"/{name}",
        "Config": {"Image": "img", "Labels": labels},
        "HostConfig": {"RestartPolicy": {"Name": restart}},
        "NetworkSettings": {"Ports": {}},
    }


def compose(name: str, project: str, service: str, restart: str = "no") -> dict[str, Any]:
    return container(
        name, {COMPOSE: project, "com.docker.compose.service": service}, restart=restart
    )


def test_without_a_selection_the_one_running_project_is_used():
    client = FakeClient([compose("a-web-1", "a", "web", "always"), container("loose", {})])
    made = scaffold._draft(client, Selection())  # type: ignore[arg-type]
    data = yaml.safe_load(made.text)
    assert made.victim is not None
    assert data["targets"]["web"]["select"] == {"compose_project": "a", "compose_service": "web"}
    assert "loose" not in data["targets"]


def test_without_a_selection_several_projects_are_a_usage_error():
    client = FakeClient([compose("a-web-1", "a", "web"), compose("b-web-1", "b", "web")])
    with pytest.raises(UsageError, match=r"2 Compose projects are running \(a, b\)"):
        scaffold._draft(client, Selection())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("running", "why"),
    [
        ([], "no container is running"),
        (
            [container("loose", {})],
            "none of the 1 running containers belongs to a Compose project",
        ),
    ],
)
def test_without_anything_to_inspect_a_template_says_why(running, why):
    made = scaffold._draft(FakeClient(running), Selection())  # type: ignore[arg-type]
    assert made.victim is None and made.why is not None and made.why.startswith(why)


def test_helpers_are_never_inspected():
    helper = compose("cd-helper", "a", "web")
    helper["Config"]["Labels"]["chaosdrill.helper"] = "1"
    made = scaffold._draft(FakeClient([helper]), Selection())  # type: ignore[arg-type]
    assert made.victim is None and made.why == "no container is running"


def test_the_report_names_the_command_to_run(tmp_path, capsys):
    client = FakeClient([compose("a-web-1", "a", "web", "always")])
    made = scaffold._draft(client, Selection(compose_project="a"))  # type: ignore[arg-type]
    scaffold._report(tmp_path / "my dir" / "first-experiment.yaml", made)
    out = capsys.readouterr().out
    assert f"run it with: chaosdrill run '{tmp_path}/my dir/first-experiment.yaml'" in out
    assert "it crashes one replica of web" in out


def test_init_writes_through_the_command(tmp_path, monkeypatch, capsys):
    client = FakeClient([compose("a-web-1", "a", "web", "always")])
    monkeypatch.setattr("chaos.docker_client.connect", lambda: client)
    args = argparse.Namespace(
        directory=str(tmp_path / "new"), compose_project="a", label=None, force=False
    )
    assert scaffold.cmd_init(args) == 0
    assert (tmp_path / "new" / "first-experiment.yaml").read_text().startswith("# A first")
    with pytest.raises(UsageError, match="already exists"):
        scaffold.cmd_init(args)
    assert scaffold.cmd_init(argparse.Namespace(**{**vars(args), "force": True})) == 0
