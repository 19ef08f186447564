"""Inventory files: node addresses go into iptables rules, so only IP addresses are accepted."""

from __future__ import annotations

import pytest

from chaos.errors import UsageError
from chaos.exitcodes import ExitCode
from chaos.swarm.inventory import load_inventory
from tests.conftest import cli


def _inventory(tmp_path, address: str):
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "name: prod\nnodes:\n"
        "  - {name: mgr-1, role: manager, endpoint: 'tcp://127.0.0.1:1', address: 10.0.0.11}\n"
        f"  - {{name: worker-1, role: worker, endpoint: 'tcp://127.0.0.1:2', address: {address}}}\n"
    )
    return path


@pytest.mark.parametrize(
    "address",
    [
        "'10.0.0.1 -j ACCEPT'",
        "'10.0.0.1; rm -rf /'",
        "'$(id)'",
        "node-2.example",
        "10.0.0.0/8",
        "'010.0.0.1'",
        "'256.1.1.1'",
        "''",
        "'fe80::1%eth0 -j ACCEPT'",
        "'fe80::1%eth0'",
    ],
)
def test_an_address_that_is_not_an_ip_address_names_the_file_and_node(tmp_path, address):
    path = _inventory(tmp_path, address)
    with pytest.raises(UsageError) as raised:
        load_inventory(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: inventory field nodes.1.address (node worker-1): ")
    assert "address must be an IP address" in message


@pytest.mark.parametrize(
    ("address", "stored"),
    [("10.0.0.21", "10.0.0.21"), ("'fd00::21'", "fd00::21"), ("'FD00:0::21'", "fd00::21")],
)
def test_ip_addresses_are_accepted(tmp_path, address, stored):
    inventory = load_inventory(_inventory(tmp_path, address))
    assert inventory.node("worker-1").address == stored
    assert inventory.node("mgr-1").address == "10.0.0.11"


def test_a_node_without_an_address_is_still_accepted(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text("nodes:\n  - {name: m, role: manager, endpoint: 'tcp://127.0.0.1:1'}\n")
    assert load_inventory(path).node("m").address is None


def test_run_with_a_bad_address_is_a_usage_error(tmp_path, experiment_file):
    experiment = experiment_file("""
        version: 1
        title: t
        targets:
          cluster: {kind: swarm}
        method:
          - {name: f, fault: swarm.lose_managers, target: cluster, count: 1, duration: 5s}
    """)
    path = _inventory(tmp_path, "'10.0.0.1 -j ACCEPT'")
    done = cli("run", str(experiment), "--inventory", str(path), "--plain")
    assert done.returncode == ExitCode.INVALID, done.stdout + done.stderr
    assert (
        f"{path}: inventory field nodes.1.address (node worker-1): address must be an IP "
        "address such as 10.0.0.11 or fd00::11, got '10.0.0.1 -j ACCEPT'"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_a_lab_and_an_inventory_together_are_refused_without_naming_flags(tmp_path):
    from chaos import api

    path = _inventory(tmp_path, "10.0.0.12")
    with pytest.raises(UsageError, match="name one swarm") as raised:
        api.inventory(lab="lab", path=path)
    assert "--" not in str(raised.value)


@pytest.mark.docker
def test_the_cli_says_which_options_name_a_swarm(experiment_file):
    """The library's NoSwarm says what is missing; the CLI adds its own options."""
    experiment = experiment_file("""
        version: 1
        title: t
        targets:
          cluster: {kind: swarm}
        method:
          - {name: f, fault: swarm.lose_managers, target: cluster, count: 1, duration: 5s}
    """)
    done = cli("run", "--dry-run", str(experiment))
    assert done.returncode == ExitCode.INVALID, done.stdout + done.stderr
    first, hint = done.stderr.strip().splitlines()[-2:]
    assert "not a swarm manager and no swarm was named" in first and "--" not in first
    assert hint == "chaosdrill: name the swarm with --lab NAME or --inventory FILE"
