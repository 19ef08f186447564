"""``chaosdrill init``'s pure part: an experiment built from container facts."""

from __future__ import annotations

import pytest
import yaml

from chaos.errors import UsageError
from chaos.experiment.loader import load_text
from chaos.scaffold.draft import FILENAME, draft, template
from chaos.scaffold.model import Container, Port, Selection, group, parse_label, pick_victim

PROJECT = Selection(compose_project="shop")


def web(name: str = "shop-web-1", **changes: object) -> Container:
    fields: dict[str, object] = dict(
        name=name,
        image="shop/web:3",
        project="shop",
        service="web",
        restart_policy="unless-stopped",
        health_interval=2.0,
        ports=(Port(8080, "0.0.0.0", 18080, 200),),
    )
    fields.update(changes)
    return Container(**fields)  # type: ignore[arg-type]


def db(**changes: object) -> Container:
    fields: dict[str, object] = dict(
        name="shop-db-1", image="postgres:16", project="shop", service="db"
    )
    fields.update(changes)
    return Container(**fields)  # type: ignore[arg-type]


def loads(text: str) -> dict:
    load_text(text, FILENAME)  # what `chaosdrill validate` checks
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def by_name(steps: list[dict]) -> dict[str, dict]:
    return {step["name"]: step for step in steps}


def test_crashes_one_replica_of_the_service_that_restarts_and_watches_the_rest():
    made = draft(PROJECT, group([db(), web(), web("shop-web-2", ports=())]))
    data = loads(made.text)
    assert made.victim is not None and made.victim.target == "web"
    assert data["targets"]["web"] == {
        "select": {"compose_project": "shop", "compose_service": "web"},
        "mode": "one",
        "max_targets": 1,
    }
    assert data["targets"]["db"] == {
        "select": {"compose_project": "shop", "compose_service": "db"},
        "mode": "all",
    }
    assert data["configuration"] == {"web_url": "http://127.0.0.1:18080/"}
    steady = by_name(data["steady_state"])
    assert steady["web-answers"] == {
        "name": "web-answers",
        "probe": "http",
        "url": "${web_url}",
        "expect": {"status": 200},
    }
    assert steady["web-healthy"]["probe"] == "container.health"
    assert steady["db-running"] == {
        "name": "db-running",
        "probe": "container.health",
        "target": "db",
    }
    assert data["method"] == [
        {
            "name": "crash-web",
            "fault": "container.crash",
            "target": "web",
            "at": "0s",
            "duration": "5s",
        }
    ]
    (probe,) = data["probes"]
    assert probe["probe"] == "http" and probe["url"] == "${web_url}"
    assert probe["tolerance"] == {"min_availability": 0.5, "max_outage": "10s"}
    assert data["recovery"] == {"within": "30s", "stable_for": "3s"}
    assert made.warning is None
    assert made.facts == (
        "db: 1 replica, no restart policy, no HEALTHCHECK, no port answered HTTP on 127.0.0.1",
        "web: 2 replicas, restart: unless-stopped, HEALTHCHECK every 2s, "
        "http://127.0.0.1:18080/ answered 200",
    )


def test_every_part_is_explained_by_a_comment_before_it():
    text = draft(PROJECT, group([db(), web()])).text
    lines = text.splitlines()
    for key in ("targets:", "steady_state:", "method:", "probes:", "recovery:", "configuration:"):
        at = next(i for i, line in enumerate(lines) if line.startswith(key))
        assert lines[at - 1].startswith("#"), f"no comment right before {key}"
    for words in (
        "Compose project and service",
        "mode: one",
        "max_targets: 1",
        "steady state",
        "HEALTHCHECK",
        "container.crash kills the main process",
        "restart policy applies",
        "tolerance",
        "recovery.within",
        f"chaosdrill run {FILENAME}",
        f"chaosdrill validate {FILENAME}",
    ):
        assert words in text, words


def test_the_victim_is_the_one_that_restarts_then_speaks_http_then_has_a_healthcheck():
    plain = Container(name="a", image="i", project="p", service="a")
    http = Container(
        name="b", image="i", project="p", service="b", ports=(Port(80, "", 8000, 200),)
    )
    healthy = Container(name="c", image="i", project="p", service="c", health_interval=5.0)
    restarting = Container(name="d", image="i", project="p", service="d", restart_policy="always")
    assert pick_victim(group([plain, http, healthy, restarting])).target == "d"
    assert pick_victim(group([plain, http, healthy])).target == "b"
    assert pick_victim(group([plain, healthy])).target == "c"
    assert pick_victim(group([plain])).target == "a"
    on_failure = Container(name="e", image="i", restart_policy="on-failure")
    assert on_failure.restarts


def test_nothing_restarts_says_the_verdict_will_be_failed():
    made = draft(PROJECT, group([db(), web(restart_policy=None)]))
    loads(made.text)
    assert made.warning is not None and "expect the verdict failed" in made.warning
    assert "has no restart policy" in made.text and "restart: unless-stopped" in made.text


def test_without_http_the_health_is_watched_and_recovery_waits_for_the_healthcheck():
    made = draft(PROJECT, group([web(ports=(), health_interval=30.0)]))
    data = loads(made.text)
    assert "configuration" not in data
    (probe,) = data["probes"]
    assert probe["probe"] == "container.health" and probe["target"] == "web"
    assert probe["tolerance"]["max_outage"] == "40s"  # 10s and one HEALTHCHECK interval
    assert data["recovery"]["within"] == "70s"  # a restarted container is healthy after a check
    assert "HEALTHCHECK runs every 30s" in made.text


def test_an_error_status_is_expected_as_seen_and_commented():
    data = loads(draft(PROJECT, group([web(ports=(Port(80, "127.0.0.1", 18080, 404),))])).text)
    assert by_name(data["steady_state"])["web-answers"]["expect"] == {"status": 404}


def test_a_label_selection_stays_inside_the_label():
    selection = Selection(label=("team", "checkout"))
    loose = Container(name="worker", image="w:1", restart_policy="always")
    data = loads(draft(selection, group([web(), loose])).text)
    assert data["targets"]["web"]["select"] == {
        "labels": {"team": "checkout"},
        "compose_project": "shop",
        "compose_service": "web",
    }
    assert data["targets"]["worker"]["select"] == {
        "labels": {"team": "checkout"},
        "name": "worker",
    }


def test_values_from_the_engine_read_back_unchanged_and_never_break_a_comment():
    odd = 'a"b: c\\ #d'
    selection = Selection(label=("x.y/z", odd))
    container = Container(name="web", image="i", project="p\nq", service="s: t", ports=())
    made = draft(selection, group([container]))
    data = loads(made.text)
    assert data["targets"]["s-t"]["select"] == {
        "labels": {"x.y/z": odd},
        "compose_project": "p\nq",
        "compose_service": "s: t",
    }
    for line in made.text.splitlines():
        assert line.isprintable()


@pytest.mark.parametrize(
    ("name", "target"),
    [("web", "web"), ("true", "svc-true"), ("123", "svc-123"), ("-x-", "x"), ("é", "svc")],
)
def test_target_names_are_safe_yaml_keys(name, target):
    container = Container(name=name, image="i", restart_policy="always")
    (service,) = group([container])
    assert service.target == target
    loads(draft(Selection(label=("k", "v")), [service]).text)


def test_services_of_two_projects_with_one_name_get_the_project_in_their_target():
    a = Container(name="a-web-1", image="i", project="a", service="web")
    b = Container(name="b-web-1", image="i", project="b", service="web")
    assert [s.target for s in group([a, b])] == ["a-web", "b-web"]


@pytest.mark.parametrize(
    "selection",
    [Selection(), Selection(compose_project="shop"), Selection(label=("team", "checkout"))],
)
def test_the_template_validates_and_says_why(selection):
    made = template(selection, "no container is running")
    data = loads(made.text)
    assert made.victim is None and made.why == "no container is running"
    assert "It found nothing to build one from: no container is running." in made.text
    assert "EDIT" in made.text
    if selection.label:
        assert data["targets"]["web"]["select"] == {"labels": {"team": "checkout"}}
    elif selection.compose_project:
        assert data["targets"]["web"]["select"]["compose_project"] == "shop"


@pytest.mark.parametrize("text", ["foo", "=v", "k=", " k=v", "k\n=v"])
def test_a_bad_label_is_refused(text):
    with pytest.raises(UsageError, match="--label"):
        parse_label(text)


def test_a_label_value_may_hold_an_equals_sign():
    assert parse_label("a=b=c") == ("a", "b=c")
