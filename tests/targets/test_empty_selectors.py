"""An empty criterion never widens a selection to everything.

``select: {labels: {}}``, ``{compose_project: ""}``, ``{name: null}`` and a
``${name}`` that substitutes to an empty value are refused when the file is
validated, at their position, for every target kind; and again when a
target is resolved, before the engine is asked.
"""

from __future__ import annotations

import pytest

from chaos.engine.plan import check_selector
from chaos.errors import InvalidExperiment, InvalidTarget
from chaos.experiment.loader import load_text
from chaos.experiment.model import TargetSpec
from chaos.plugins import default_plugins

HEADER = "version: 1\ntitle: t\n"


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidExperiment) as info:
        load_text(text, "exp.yaml")
    return [str(p) for p in info.value.problems]


def experiment(select: str, kind: str = "container", fault: str = "container.kill") -> str:
    return (
        HEADER
        + f"targets:\n  t: {{kind: {kind}, select: {select}}}\n"
        + f"method:\n  - {{fault: {fault}, target: t, duration: 1s}}\n"
    )


@pytest.mark.parametrize(
    ("select", "key", "column"),
    [
        ("{labels: {}}", "labels", 41),
        ('{compose_project: ""}', "compose_project", 50),
        ("{name: null}", "name", 39),
        ("{name: '  '}", "name", 39),
        ("{labels: {app: ''}}", "labels", 41),
        ("{labels: {app: web}, image: ''}", "image", 60),
    ],
)
def test_an_empty_container_criterion_is_an_error_at_its_position(select, key, column):
    found = problems(experiment(select))
    assert len(found) == 1, found
    assert found[0].startswith(f"exp.yaml:4:{column}: target 't': select.{key} is empty")
    assert "would select everything" in found[0]


@pytest.mark.parametrize(
    ("kind", "fault", "select"),
    [
        ("service", "service.kill_tasks", "{name: ''}"),
        ("service", "service.kill_tasks", "{labels: {}}"),
        ("service", "service.kill_tasks", "{stack: null}"),
        ("node", "node.drain", "{role: null}"),
        ("node", "node.drain", "{labels: {}}"),
        ("node", "node.drain", "{name_regex: ''}"),
    ],
)
def test_an_empty_swarm_criterion_is_an_error(kind, fault, select):
    found = problems(experiment(select, kind, fault))
    assert len(found) == 1, found
    assert "is empty" in found[0] and found[0].startswith("exp.yaml:4:")


def test_no_criterion_at_all_is_an_error():
    found = problems(experiment("{}"))
    assert found == [
        "exp.yaml:4:24: target 't' needs a select: an empty selector would match everything"
    ]


def test_false_is_a_criterion_not_an_empty_value():
    loaded = load_text(experiment("{leader: false}", "node", "node.drain"), "exp.yaml")
    assert loaded.experiment.targets["t"].select == {"leader": False}


def test_a_whole_swarm_needs_no_criterion():
    text = HEADER + "targets:\n  s: {kind: swarm}\nmethod:\n"
    text += "  - {fault: swarm.lose_managers, target: s, count: 1, duration: 1s}\n"
    assert load_text(text, "exp.yaml").experiment.targets["s"].select == {}


def test_an_empty_value_from_the_environment_is_caught_after_substitution(monkeypatch):
    monkeypatch.setenv("CD_TEST_PROJECT", "")
    text = (
        HEADER
        + "configuration:\n  proj: {env: CD_TEST_PROJECT}\n"
        + "targets:\n  t: {select: {compose_project: '${proj}'}}\n"
        + "method:\n  - {fault: container.kill, target: t}\n"
    )
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith("exp.yaml:6:")
    assert "select.compose_project is empty" in found[0]


def test_an_empty_plain_configuration_value_is_caught_too():
    text = (
        HEADER
        + "configuration:\n  app: ''\n"
        + "targets:\n  t: {select: {labels: {app: '${app}'}}}\n"
        + "method:\n  - {fault: container.kill, target: t}\n"
    )
    found = problems(text)
    assert len(found) == 1 and "select.labels is empty" in found[0], found


@pytest.mark.parametrize(
    "select", [{}, {"labels": {}}, {"compose_project": ""}, {"name": None}, {"labels": {"": "x"}}]
)
def test_resolving_refuses_an_empty_selector_before_the_engine_is_asked(select):
    registry = default_plugins().registry
    spec = TargetSpec.model_validate({"select": select})
    with pytest.raises(InvalidTarget) as info:
        check_selector(registry, "web", spec)
    assert "target 'web'" in str(info.value)
    assert int(info.value.exit_code) == 2
