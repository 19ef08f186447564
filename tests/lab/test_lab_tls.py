"""The lab's engines speak only mutual TLS: nothing on the lab network, and nothing
on this host, drives a node's root engine without the lab's client certificate,
while chaosdrill (with the inventory's files) still does.

The other side of each refusal is checked from the same place: the same
container, given the lab's client files, gets an answer, so a refusal is the
engine's and not a network that does not reach it.
"""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from chaos.images import NETNS_IMAGE
from chaos.lab.nodes import network_name
from chaos.lab.tls import ServerName, make_lab_tls
from chaos.runtime import Runtime
from chaos.swarm.inventory import TlsFiles, docker_client
from tests.conftest import labels_for_test

PROBES = r"""
ip="$1"; c=/certs
try() { name="$1"; shift; out=$(curl -sS --max-time 5 "$@" 2>&1); echo "$name rc=$? $out"; }
try plain2375 "http://$ip:2375/_ping"
try plain2376 "http://$ip:2376/_ping"
try nocert --cacert $c/lab/ca.pem "https://$ip:2376/_ping"
try insecure -k "https://$ip:2376/_ping"
try othercert --cacert $c/lab/ca.pem --cert $c/other/cert.pem --key $c/other/key.pem "https://$ip:2376/_ping"
try labcert --cacert $c/lab/ca.pem --cert $c/lab/cert.pem --key $c/lab/key.pem "https://$ip:2376/_ping"
"""


def _client_files(tls: TlsFiles, into: Path) -> Path:
    into.mkdir(parents=True)
    for name, source in (("ca.pem", tls.ca), ("cert.pem", tls.cert), ("key.pem", tls.key)):
        shutil.copy(str(source), into / name)
    return into


def test_a_container_on_the_lab_network_cannot_drive_a_node_engine(
    session_lab, docker_client, tmp_path, request
):
    manager = session_lab.inventory.managers[0]
    assert manager.tls is not None and manager.address
    certs = tmp_path / "certs"
    _client_files(manager.tls, certs / "lab")
    # a client certificate of another CA: a lab's engine trusts its own CA only
    other = make_lab_tls(tmp_path / "other", "other", [])
    _client_files(TlsFiles(**other.as_inventory()), certs / "other")
    container = docker_client.containers.run(
        NETNS_IMAGE,
        ["sh", "-c", PROBES, "probes", manager.address],
        detach=True,
        network=network_name(session_lab.name),
        labels=labels_for_test(request.node.name[:60]),
        volumes={str(certs): {"bind": "/certs", "mode": "ro"}},
    )
    try:
        assert container.wait(timeout=90)["StatusCode"] == 0
        output = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    results = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert set(results) == {"plain2375", "plain2376", "nocert", "insecure", "othercert", "labcert"}
    # the plain-tcp port is closed: connection refused (curl exit 7)
    assert results["plain2375"].startswith("rc=7 "), results
    # plain HTTP on the TLS port gets no API answer
    assert "Client sent an HTTP request to an HTTPS server" in results["plain2376"], results
    # TLS without a client certificate, or with another CA's, is refused in the handshake
    for case in ("nocert", "insecure", "othercert"):
        assert not results[case].startswith("rc=0 "), (case, results)
        assert "OK" not in results[case].split(" ", 1)[1], (case, results)
    # the lab's own client certificate gets the engine's answer, from the same container
    assert results["labcert"] == "rc=0 OK", results


def test_a_local_client_without_the_certificate_is_refused(session_lab):
    import docker.errors

    node = session_lab.inventory.nodes[-1]
    plain = docker_client(node.endpoint, None, timeout=5)
    try:
        with pytest.raises(docker.errors.APIError, match="HTTP request to an HTTPS server"):
            plain.ping()
    finally:
        plain.close()
    no_client_cert = TlsFiles(ca=node.tls.ca)
    anonymous = docker_client(node.endpoint, no_client_cert, timeout=5)
    try:
        with pytest.raises(Exception) as refused:
            anonymous.ping()
        assert "certificate" in str(refused.value).lower() or "ssl" in str(refused.value).lower()
    finally:
        anonymous.close()


def test_chaosdrill_drives_the_lab_through_the_inventory(session_lab, monkeypatch):
    # requests lets these replace a session's CA; the inventory's CA must win
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    runtime = Runtime(inventory=session_lab.inventory)
    try:
        nodes = runtime.swarm.nodes()
        names = sorted(n["Description"]["Hostname"] for n in nodes)
        assert names == sorted(n.name for n in session_lab.inventory.nodes)
        worker = next(n for n in session_lab.inventory.nodes if n.role == "worker")
        assert runtime.swarm.client(worker.name).ping()
    finally:
        runtime.close()


def test_each_node_certificate_names_the_node(session_lab):
    """SANs: hostname, container name, lab address, 127.0.0.1 and localhost."""
    for node in session_lab.inventory.nodes:
        served = Path(node.tls.ca).parent / "nodes" / node.name / "cert.pem"
        cert = x509.load_pem_x509_certificate(served.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(
            [node.name, str(node.control["container_name"]), "localhost"]
        )
        assert sorted(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)) == sorted(
            [str(node.address), "127.0.0.1"]
        )


def test_certificates_chain_to_the_labs_own_ca(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    tls = make_lab_tls(
        tmp_path / "tls", "x", [ServerName("x-m1", "chaosdrill-lab-x-m1", "10.199.7.11")]
    )
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for path, usage in (
        (tls.cert, ExtendedKeyUsageOID.CLIENT_AUTH),
        (tls.node_dir("x-m1") / "cert.pem", ExtendedKeyUsageOID.SERVER_AUTH),
    ):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        assert cert.issuer == ca.subject
        public = ca.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [usage]
        assert cert.not_valid_after_utc > datetime.datetime.now(datetime.timezone.utc)
    # a second lab gets a CA of its own
    again = make_lab_tls(tmp_path / "tls", "x", [])
    assert again.ca.read_bytes() != ca.public_bytes(_pem())


def _pem() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM


def test_a_swarm_watchdog_gets_the_client_files_of_tls_managers_read_only(tmp_path):
    from types import SimpleNamespace

    from chaos.faults.swarm_commands import on_any_manager
    from chaos.swarm.inventory import Inventory

    files = {n: str(tmp_path / f"{n}.pem") for n in ("ca", "cert", "key")}
    tls = {"tls": files}
    inventory = Inventory.model_validate(
        {
            "nodes": [
                {"name": "m1", "role": "manager", "endpoint": "tcp://127.0.0.1:1", **tls},
                {"name": "m2", "role": "manager", "endpoint": "tcp://127.0.0.1:2", **tls},
                {"name": "m3", "role": "manager", "endpoint": "tcp://127.0.0.1:3"},
                {"name": "m4", "role": "manager", "endpoint": "ssh://ops@10.0.0.4"},
                {
                    "name": "m5",
                    "role": "manager",
                    "endpoint": "tcp://127.0.0.1:5",
                    "tls": {**files, "verify": False},
                },
                {"name": "w1", "role": "worker", "endpoint": "tcp://127.0.0.1:6", **tls},
            ]
        }
    )
    runtime = SimpleNamespace(
        swarm=SimpleNamespace(inventory=inventory), swarm_node_image="chaosdrill/swarm-node:1"
    )
    command = on_any_manager(SimpleNamespace(runtime=runtime), "docker node ls")
    assert command is not None
    assert command.argv[4:] == (
        "docker node ls",
        "tcp://127.0.0.1:1|/chaosdrill-tls/0",
        "tcp://127.0.0.1:2|/chaosdrill-tls/0",
        "tcp://127.0.0.1:3",
    )
    volumes = command.container_options()["volumes"]
    assert volumes[files["ca"]] == {"bind": "/chaosdrill-tls/0/ca.pem", "mode": "ro"}
    assert volumes[files["cert"]] == {"bind": "/chaosdrill-tls/0/cert.pem", "mode": "ro"}
    assert volumes[files["key"]] == {"bind": "/chaosdrill-tls/0/key.pem", "mode": "ro"}
    assert volumes["/var/run/docker.sock"]["bind"] == "/var/run/docker.sock"
