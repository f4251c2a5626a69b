"""Certificates for tests, made here: a TLS authority issuing server and client
certificates (`Authority`, the `pki` fixture's set of them), a charger CA whose
certificate and key sign what chargers ask for (`make_ca`), CSRs as a charger makes them,
and a charge point connecting over TLS with a client certificate of its own."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.ocpp_client import RawChargePoint

# The serial number on record of the charger the certificate tests sign for.
SERIAL = "SN-0001"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Authority:
    """A certificate authority for one test run."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert = directory / f"{name}.pem"
        self.cert.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str, server: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        certificate = builder.sign(self.key, hashes.SHA256())
        stem = self.directory / common_name.replace(" ", "_")
        cert, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return Issued(cert, key_file)


@dataclass(frozen=True)
class Pki:
    server_ca: Authority
    charger_ca: Authority
    server: Issued
    charger: Issued  # CN = SN-100
    other_charger: Issued  # CN = SN-999, same CA
    stranger: Issued  # CN = SN-100, from a CA Voltaro does not trust


def make_pki(directory: Path) -> Pki:
    """Three authorities in `directory` and the certificates the TLS tests present."""
    server_ca = Authority(directory, "server-ca")
    charger_ca = Authority(directory, "charger-ca")
    rogue_ca = Authority(directory, "rogue-ca")
    return Pki(
        server_ca=server_ca,
        charger_ca=charger_ca,
        server=server_ca.issue("localhost", server=True),
        charger=charger_ca.issue("SN-100"),
        other_charger=charger_ca.issue("SN-999"),
        stranger=rogue_ca.issue("SN-100 rogue"),
    )


def client_context(pki: Pki, issued: Issued | None) -> ssl.SSLContext:
    """A client's TLS context trusting the server CA, presenting `issued` if given."""
    context = ssl.create_default_context(cafile=str(pki.server_ca.cert))
    if issued is not None:
        context.load_cert_chain(issued.cert, issued.key)
    return context


async def connect_tls(
    server: TestServer, pki: Pki, charge_point_id: str, issued: Issued | None, **kwargs: Any
) -> tuple[aiohttp.ClientSession, RawChargePoint]:
    """A 1.6 charge point over TLS presenting `issued`; (its HTTP session, to close, and
    the charge point)."""
    http = aiohttp.ClientSession()
    try:
        ws = await http.ws_connect(
            server.make_url(f"/ocpp/{charge_point_id}"),
            protocols=("ocpp1.6",),
            ssl=client_context(pki, issued),
            **kwargs,
        )
    except BaseException:
        await http.close()
        raise
    return http, RawChargePoint(ws)


@dataclass(frozen=True)
class ChargerCa:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path


def make_root(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA certificate, valid for ten years, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Voltaro Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def pem(certificate: x509.Certificate) -> str:
    """A certificate in PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def make_ca(directory: Path, name: str = "Voltaro Test Charger CA") -> ChargerCa:
    """A CA with its certificate and key in PEM files, as CA_CERT and CA_KEY name them."""
    certificate, key = make_root(name)
    stem = name.replace(" ", "-")
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_text(pem(certificate))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ChargerCa(certificate, key, cert_path, key_path)


def client_usage() -> x509.KeyUsage:
    """The key usage of a TLS client certificate (a digital signature)."""
    return x509.KeyUsage(True, False, False, False, False, False, False, False, False)


def make_csr(
    common_names: list[str] | str = SERIAL,
    key: Any = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> str:
    """A PEM CSR signed by `key` (a new EC P-256 key by default)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [common_names] if isinstance(common_names, str) else common_names
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ACME Chargers")]
            + [x509.NameAttribute(NameOID.COMMON_NAME, name) for name in names]
        )
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
