"""Mutual TLS for a lab's engines: one CA per lab, a server certificate per node,
one client certificate for everything that drives the nodes.

A node's ``dockerd`` listens on ``tcp://0.0.0.0:2376`` with ``--tlsverify``:
it answers only a client whose certificate the lab's CA signed. Without that,
any container on the lab network, any swarm task and any local user could
drive a root engine that runs with nearly every capability.

Layout, under the lab's directory (``<labs dir>/<name>/tls``, mode 0700)::

    ca.pem  ca-key.pem               the lab's CA (the key signs, then stays here)
    cert.pem  key.pem                the client certificate and key (inventory ``tls``)
    nodes/<hostname>/ca.pem cert.pem key.pem   each node's server files (mounted read-only)

Keys are written 0600. Certificates are ECDSA P-256, valid for 10 years: a
lab lives as long as its directory, and ``lab up`` of a new lab makes new ones.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

TLS_DIR = "tls"
NODES_DIR = "nodes"
CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 3650
NODE_TLS_PATH = "/etc/chaosdrill/tls"
"""Where a node's server files are mounted (read-only) inside its container."""


@dataclass(frozen=True)
class ServerName:
    """What a node's server certificate is valid for."""

    hostname: str
    container_name: str
    address: str

    @property
    def dns_names(self) -> list[str]:
        return list(dict.fromkeys([self.hostname, self.container_name, "localhost"]))

    @property
    def ip_addresses(self) -> list[str]:
        return list(dict.fromkeys([self.address, "127.0.0.1"]))


@dataclass(frozen=True)
class LabTls:
    """The client files of a lab, as the inventory records them."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE

    @property
    def cert(self) -> Path:
        return self.directory / CERT_FILE

    @property
    def key(self) -> Path:
        return self.directory / KEY_FILE

    def node_dir(self, hostname: str) -> Path:
        """The node's server files: ``ca.pem``, ``cert.pem``, ``key.pem``."""
        return self.directory / NODES_DIR / hostname

    def as_inventory(self) -> dict[str, str]:
        return {"ca": str(self.ca), "cert": str(self.cert), "key": str(self.key)}


def make_lab_tls(directory: Path, lab: str, nodes: Iterable[ServerName]) -> LabTls:
    """Write a new CA, a client certificate and one server certificate per node into
    ``directory`` (replaced if it exists); return where the client files are."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if directory.exists():
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(mode=0o700)
    os.chmod(directory, 0o700)  # whatever the umask
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"chaosdrill lab {lab} CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_cert = (
        _builder(ca_name, ca_name, ca_key, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, _sha256())
    )
    tls = LabTls(directory)
    _write(tls.ca, _pem(ca_cert))
    _write(directory / CA_KEY_FILE, _key_pem(ca_key), private=True)

    client_key = ec.generate_private_key(ec.SECP256R1())
    client_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"chaosdrill lab {lab}")])
    client = _leaf(client_name, client_key, ca_cert, ca_key, now, ExtendedKeyUsageOID.CLIENT_AUTH)
    _write(tls.cert, _pem(client.sign(ca_key, _sha256())))
    _write(tls.key, _key_pem(client_key), private=True)

    (directory / NODES_DIR).mkdir(mode=0o700)
    for node in nodes:
        node_dir = tls.node_dir(node.hostname)
        node_dir.mkdir(mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node.hostname)])
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in node.dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in node.ip_addresses]
        cert = (
            _leaf(name, key, ca_cert, ca_key, now, ExtendedKeyUsageOID.SERVER_AUTH)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, _sha256())
        )
        _write(node_dir / CA_FILE, _pem(ca_cert))
        _write(node_dir / CERT_FILE, _pem(cert))
        _write(node_dir / KEY_FILE, _key_pem(key), private=True)
    return tls


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _leaf(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
    usage: x509.ObjectIdentifier,
) -> x509.CertificateBuilder:
    from cryptography import x509

    return (
        _builder(subject, ca_cert.subject, key, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )


def _sha256() -> hashes.SHA256:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _pem(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Created with its final mode: a key is never readable by others, not even briefly."""
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)
