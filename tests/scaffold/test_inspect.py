"""Container facts from ``docker inspect``'s answer (no engine: recorded shapes)."""

from __future__ import annotations

from chaos.scaffold.inspect import container_facts, health_interval
from chaos.scaffold.model import Port


def inspected(**overrides: object) -> dict:
    attrs: dict = {
        "Name": "/shop-web-1",
        "Config": {
            "Image": "shop/web:3",
            "Labels": {
                "com.docker.compose.project": "shop",
                "com.docker.compose.service": "web",
            },
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1_000_000_000},
        },
        "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "18080"},
                    {"HostIp": "::", "HostPort": "18080"},
                ],
                "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
                "9000/tcp": None,
                "443/tcp": [{"HostIp": "10.0.0.5", "HostPort": "8443"}],
            }
        },
    }
    attrs.update(overrides)
    return attrs


def test_facts_from_inspect():
    facts = container_facts(inspected(), try_http=False)
    assert facts.name == "shop-web-1"
    assert (facts.project, facts.service) == ("shop", "web")
    assert facts.restart_policy == "always" and facts.restarts
    assert facts.health_interval == 1.0
    # tcp only, the IPv6 twin once, unpublished ports left out
    assert facts.ports == (Port(80, "0.0.0.0", 18080), Port(443, "10.0.0.5", 8443))
    assert facts.http is None  # not tried


def test_no_restart_policy_and_no_ports():
    facts = container_facts(
        inspected(HostConfig={"RestartPolicy": {"Name": "no"}}, NetworkSettings={"Ports": None}),
        try_http=False,
    )
    assert facts.restart_policy is None and not facts.restarts
    assert facts.ports == ()


def test_health_intervals():
    assert health_interval(None) is None
    assert health_interval({"Test": ["NONE"]}) is None
    assert health_interval({"Test": ["CMD-SHELL", "true"]}) == 30.0  # Docker's default
    assert health_interval({"Test": ["CMD", "true"], "Interval": 2_500_000_000}) == 2.5


def test_where_a_published_port_is_reached():
    assert Port(80, "0.0.0.0", 8080).url == "http://127.0.0.1:8080/"
    assert Port(80, "::", 8080).url == "http://127.0.0.1:8080/"
    assert Port(80, "127.0.0.2", 8080).on_loopback
    assert Port(80, "::1", 8080).url == "http://[::1]:8080/"
    assert not Port(80, "10.0.0.5", 8080).on_loopback
