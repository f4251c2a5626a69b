"""Charge point certificates over OCPP.

Before, SignCertificate was always Rejected: Voltaro had no CA, so a charge point
certificate could never be issued or renewed over OCPP. Now, with CA_CERT/CA_KEY or
CA_SIGNER_COMMAND, a CSR whose CN is the charger's serial number on record, with a strong
key and a TLS client's usages, is Accepted, signed after the answer and sent in
CertificateSigned; every other CSR is Rejected, and each outcome is a security event. The
simulator answers the certificate operations and signed firmware updates end to end.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import ssl
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core import certificates
from ocpp_core.db.models import OcppMessage, StatusReport
from ocpp_core.settings import Settings, SettingsError
from simulator.common import SimulatorConfig
from simulator.v16 import SimulatedChargePoint
from tests.helpers import eventually, get_json, operate, simulated
from tests.ocpp_client import RawChargePoint
from tests.pki import SERIAL, Authority, ChargerCa, client_usage, make_ca, make_csr, make_root, pem
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES
from webapp.tls import server_ssl_context

CS_ROOT = "CentralSystemRootCertificate"


def tampered_csr() -> str:
    """A CSR whose signature no longer matches its content (one bit of it flipped)."""
    der = bytearray(x509.load_pem_x509_csr(make_csr().encode()).public_bytes(
        serialization.Encoding.DER
    ))  # fmt: skip
    der[-5] ^= 0x01  # inside the signature BIT STRING
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def running(pid: int) -> bool:
    """Whether the process is alive (a zombie nobody has reaped yet is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def public_der(key: Any) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def common_name(certificate: x509.Certificate) -> str:
    [attribute] = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attribute.value)


# --- the CA the server signs with, per test --------------------------------------------------

SIGNER_SCRIPTS = {
    # An external CA: openssl signs (its own random serial), the CA certificate follows.
    "openssl": """#!/bin/sh
openssl x509 -req -CA "{cert}" -CAkey "{key}" -days 365 -extfile "{ext}" \\
    -extensions client 2>"{dir}/openssl.err" || exit 1
cat "{cert}"
""",
    "refusing": """#!/bin/sh
cat >/dev/null
echo "policy: no certificates on Sundays" >&2
exit 3
""",
    # Signs something, but not a certificate for the CSR's key: the CA's own certificate.
    "wrong-output": """#!/bin/sh
cat >/dev/null
cat "{cert}"
""",
    "garbage-output": """#!/bin/sh
cat >/dev/null
echo "all fine, trust me"
""",
    # Never finishes: its sleep's pid is kept to check that it was killed too.
    "hanging": """#!/bin/sh
sleep 60 &
echo $! > "{dir}/sleep.pid"
wait
""",
}


@pytest.fixture
def signer(request: pytest.FixtureRequest) -> str:
    """How the server signs: "files" (CA_CERT/CA_KEY), "none", or a SIGNER_SCRIPTS name
    run as CA_SIGNER_COMMAND. Tests choose with indirect parametrisation."""
    return getattr(request, "param", "files")


@pytest.fixture
def settings(settings: Settings, ca: ChargerCa, signer: str, tmp_path: Path) -> Settings:
    if signer == "none":
        return settings
    if signer == "files":
        return dataclasses.replace(settings, ca_cert=str(ca.cert_path), ca_key=str(ca.key_path))
    ext = tmp_path / "client.cnf"
    ext.write_text(
        "[client]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=clientAuth\n"
    )
    script = tmp_path / f"{signer}.sh"
    script.write_text(
        SIGNER_SCRIPTS[signer].format(cert=ca.cert_path, key=ca.key_path, ext=ext, dir=tmp_path)
    )
    script.chmod(0o755)
    return dataclasses.replace(settings, ca_signer_command=f"'{script}'")


async def booted(connect, charge_point_id: str, serial: str | None = SERIAL) -> RawChargePoint:
    cp = await connect(charge_point_id)
    extra = {"chargePointSerialNumber": serial} if serial else {}
    assert (await cp.boot(**extra))["status"] == "Accepted"
    return cp


async def events(client, charge_point_id: str) -> list[tuple[str, str]]:
    """The charge point's security events, oldest first."""
    found = await client.app[SERVICES].charge_points.security_events(charge_point_id)
    return [(e.type, e.tech_info or "") for e in reversed(found)]


async def events_until(client, charge_point_id: str, last_type: str) -> list[tuple[str, str]]:
    async def check() -> list[tuple[str, str]] | None:
        found = await events(client, charge_point_id)
        return found if found and found[-1][0] == last_type else None

    return await eventually(check)


# --- signing over OCPP with a raw charger ----------------------------------------------------


@pytest.mark.parametrize(
    ("key_type", "answer"),
    [("EC P-256", "Accepted"), ("EC P-384", "Accepted"), ("RSA 2048", "Rejected")],
)
async def test_valid_csr_is_accepted_then_certificate_signed_follows(
    client, connect, ca: ChargerCa, key_type: str, answer: str
) -> None:
    cp = await booted(connect, "CERT1")
    key = {
        "EC P-256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "EC P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
        "RSA 2048": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }[key_type]()
    csr = make_csr(
        key=key,
        extensions=[client_usage(), x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])],
    )
    # The answer first (RawChargePoint.call checks the next frame answers it), then the CALL.
    assert await cp.result("SignCertificate", {"csr": csr}) == {"status": "Accepted"}
    frame = await cp.expect_call("CertificateSigned")
    chain = x509.load_pem_x509_certificates(frame[3]["certificateChain"].encode())
    leaf = chain[0]
    assert chain[1:] == [ca.certificate]
    assert common_name(leaf) == SERIAL
    assert leaf.issuer == ca.certificate.subject
    leaf.verify_directly_issued_by(ca.certificate)  # raises unless the CA signed it
    assert public_der(leaf.public_key()) == public_der(key.public_key())
    extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(extended) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is False
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert timedelta(days=364) < lifetime < timedelta(days=366)
    await cp.answer(frame, {"status": answer})

    recorded = await events_until(client, "CERT1", "CertificateSignedResponse")
    assert recorded == [
        (
            "CertificateIssued",
            f"serial {leaf.serial_number:x}, CN {SERIAL!r}, valid until "
            f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, {key_type} key; sending it",
        ),
        ("CertificateSignedResponse", f"charge point answered {answer}"),
    ]
    # Two requests get two certificates, with random and so different serial numbers.
    assert await cp.result("SignCertificate", {"csr": csr}) == {"status": "Accepted"}
    again = await cp.expect_call("CertificateSigned")
    await cp.answer(again, {"status": "Accepted"})
    second = x509.load_pem_x509_certificates(again[3]["certificateChain"].encode())[0]
    assert second.serial_number != leaf.serial_number
    assert leaf.serial_number.bit_length() > 64


REFUSED = {
    "wrong CN": (lambda: make_csr("SN-9999"), "CN 'SN-9999' is not the serial number on record"),
    "two CNs": (lambda: make_csr([SERIAL, "SN-9999"]), "has 2 common names, not one"),
    "RSA 1024": (
        lambda: make_csr(key=rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "RSA key of 1024 bits: at least 2048",
    ),
    "EC P-521": (
        lambda: make_csr(key=ec.generate_private_key(ec.SECP521R1())),
        "EC key on secp521r1: only P-256 or P-384",
    ),
    "EC secp256k1": (
        lambda: make_csr(key=ec.generate_private_key(ec.SECP256K1())),
        "EC key on secp256k1",
    ),
    "garbage": (lambda: "hello, please sign me", "not a PEM PKCS#10 certificate request"),
    "truncated": (lambda: make_csr()[:200], "not a PEM PKCS#10 certificate request"),
    "a certificate, not a CSR": (
        lambda: pem(make_root("not a CSR")[0]),
        "not a PEM PKCS#10 certificate request",
    ),
    "bad signature": (tampered_csr, "its signature does not verify"),
    "CA usage": (
        lambda: make_csr(
            extensions=[x509.KeyUsage(True, False, False, False, False, True, False, False, False)]
        ),
        "keyCertSign or cRLSign",
    ),
    "no digitalSignature": (
        lambda: make_csr(
            extensions=[x509.KeyUsage(False, False, True, False, False, False, False, False, False)]
        ),
        "without digitalSignature",
    ),
    "server only": (
        lambda: make_csr(extensions=[x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])]),
        "extended key usage without clientAuth",
    ),
    "asks to be a CA": (
        lambda: make_csr(extensions=[x509.BasicConstraints(ca=True, path_length=None)]),
        "CA:TRUE",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_invalid_csr_is_rejected_and_recorded(client, connect, case: str) -> None:
    make, reason = REFUSED[case]
    cp = await booted(connect, "CERT2")
    assert await cp.result("SignCertificate", {"csr": make()}) == {"status": "Rejected"}
    [(kind, tech_info)] = await events(client, "CERT2")
    assert kind == "SignCertificateRequest"
    assert tech_info.startswith("refused: ") and reason in tech_info, tech_info
    assert await cp.nothing_within(0.3)  # no CertificateSigned
    await cp.result("Heartbeat", {})  # and the connection is fine


async def test_no_serial_on_record_is_rejected(client, connect) -> None:
    cp = await booted(connect, "CERT3", serial=None)
    assert await cp.result("SignCertificate", {"csr": make_csr()}) == {"status": "Rejected"}
    [(kind, tech_info)] = await events(client, "CERT3")
    assert kind == "SignCertificateRequest" and "no serial number on record" in tech_info
    assert await cp.nothing_within(0.3)


@pytest.mark.parametrize("signer", ["none"], indirect=True)
async def test_without_a_ca_it_is_rejected(client, connect) -> None:
    cp = await booted(connect, "CERT4")
    assert await cp.result("SignCertificate", {"csr": make_csr()}) == {"status": "Rejected"}
    assert await events(client, "CERT4") == [
        ("SignCertificateRequest", "refused: no CA configured")
    ]
    assert await cp.nothing_within(0.3)


# --- an external signer command -------------------------------------------------------------


@pytest.mark.parametrize("signer", ["openssl"], indirect=True)
async def test_signer_command_signs(client, connect, ca: ChargerCa) -> None:
    cp = await booted(connect, "CERT5")
    key = ec.generate_private_key(ec.SECP256R1())
    assert await cp.result("SignCertificate", {"csr": make_csr(key=key)}) == {"status": "Accepted"}
    frame = await cp.expect_call("CertificateSigned")
    leaf, *rest = x509.load_pem_x509_certificates(frame[3]["certificateChain"].encode())
    assert rest == [ca.certificate]
    leaf.verify_directly_issued_by(ca.certificate)
    assert common_name(leaf) == SERIAL
    assert public_der(leaf.public_key()) == public_der(key.public_key())
    await cp.answer(frame, {"status": "Accepted"})
    recorded = await events_until(client, "CERT5", "CertificateSignedResponse")
    assert [kind for kind, _ in recorded] == ["CertificateIssued", "CertificateSignedResponse"]
    assert recorded[0][1].startswith(f"serial {leaf.serial_number:x}, CN {SERIAL!r}")


@pytest.mark.parametrize(
    ("signer", "reason"),
    [
        ("refusing", "the signer command refused it (exit 3): policy: no certificates on Sundays"),
        ("wrong-output", "the signed certificate is not for the requested key"),
        ("garbage-output", "the signer's output is not PEM certificates"),
    ],
    indirect=["signer"],
)
async def test_signer_command_failure_is_recorded(client, connect, reason: str) -> None:
    cp = await booted(connect, "CERT6")
    # The CSR is fine, so it is Accepted; what the signer does comes after the answer.
    assert await cp.result("SignCertificate", {"csr": make_csr()}) == {"status": "Accepted"}
    recorded = await events_until(client, "CERT6", "SignCertificateFailed")
    assert recorded == [("SignCertificateFailed", f"not signed: {reason}")]
    assert await cp.nothing_within(0.3)  # nothing is sent


@pytest.mark.parametrize("signer", ["hanging"], indirect=True)
async def test_a_hanging_signer_is_killed_and_never_blocks(
    client, connect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(certificates, "SIGNER_TIMEOUT", 1.0)
    cp = await booted(connect, "CERT7")
    assert await cp.result("SignCertificate", {"csr": make_csr()}) == {"status": "Accepted"}
    # While the signer runs the charger is answered as usual: before it is given up on.
    await cp.result("Heartbeat", {})
    assert "SignCertificateFailed" not in [kind for kind, _ in await events(client, "CERT7")]
    recorded = await events_until(client, "CERT7", "SignCertificateFailed")
    assert recorded == [
        ("SignCertificateFailed", "not signed: the signer command took longer than 1 s")
    ]
    # What the shell started was killed with it (gone, or a zombie nobody reaped yet).
    pid = int((tmp_path / "sleep.pid").read_text())

    async def killed() -> bool:
        return not running(pid)

    await eventually(killed, timeout=5)
    assert await cp.nothing_within(0.2)


# --- the issued certificate is one security profile 3 admits ---------------------------------


async def test_issued_certificate_admits_the_charger_over_tls(
    aiohttp_server, database_url: str, ca: ChargerCa, tmp_path: Path
) -> None:
    """Profile 2 (TLS and its key) to get a certificate over OCPP, then profile 3 with it."""
    server_ca = Authority(tmp_path, "server-ca")
    server = server_ca.issue("localhost", server=True)
    settings = Settings(
        database_url=database_url,
        secret_key="test-secret",
        call_timeout=2,
        tls_cert=str(server.cert),
        tls_key=str(server.key),
        tls_client_ca=str(ca.cert_path),
        ca_cert=str(ca.cert_path),
        ca_key=str(ca.key_path),
    )
    app = await aiohttp_server(create_app(settings), ssl=server_ssl_context(settings))
    await app.app[SERVICES].charge_points.register("CP-PKI", password="0123456789abcdef")
    url = app.make_url("/ocpp/CP-PKI")
    key = ec.generate_private_key(ec.SECP256R1())

    async with aiohttp.ClientSession() as http:
        context = ssl.create_default_context(cafile=str(server_ca.cert))
        ws = await http.ws_connect(
            url,
            protocols=("ocpp1.6",),
            ssl=context,
            headers={"Authorization": aiohttp.encode_basic_auth("CP-PKI", "0123456789abcdef")},
        )
        cp = RawChargePoint(ws)
        assert (await cp.boot(chargePointSerialNumber="SN-PKI"))["status"] == "Accepted"
        assert await cp.result("SignCertificate", {"csr": make_csr("SN-PKI", key)}) == {
            "status": "Accepted"
        }
        frame = await cp.expect_call("CertificateSigned")
        await cp.answer(frame, {"status": "Accepted"})
        await ws.close()

    (tmp_path / "charger.pem").write_text(frame[3]["certificateChain"])
    (tmp_path / "charger.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    async with aiohttp.ClientSession() as http:
        context = ssl.create_default_context(cafile=str(server_ca.cert))
        context.load_cert_chain(tmp_path / "charger.pem", tmp_path / "charger.key")
        ws = await http.ws_connect(url, protocols=("ocpp1.6",), ssl=context)  # no key
        cp = RawChargePoint(ws)
        assert (await cp.boot(chargePointSerialNumber="SN-PKI"))["status"] == "Accepted"
        await cp.result("Heartbeat", {})
        await ws.close()


# --- the simulator, end to end through the JSON API ------------------------------------------


@pytest.fixture
async def sim(client, seed: int) -> AsyncIterator[SimulatedChargePoint]:
    """SIM1: a simulated charge point with one connector, booted and Available."""
    config = SimulatorConfig(connectors=1, notification_delay=0.05)
    async with simulated(client, config, seed) as running:
        yield running


def expected_hash_data(certificate: x509.Certificate, algorithm: str = "SHA256") -> dict:
    """certificateHashData as OCPP defines it, computed here by hand for a self-signed
    root: the issuer name's DER, the issuer key's subjectPublicKey bits (for EC the
    uncompressed point), the serial in hex."""
    digest = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384}[algorithm]
    point = certificate.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {
        "hash_algorithm": algorithm,
        "issuer_name_hash": digest(certificate.issuer.public_bytes()).hexdigest(),
        "issuer_key_hash": digest(point).hexdigest(),
        "serial_number": format(certificate.serial_number, "x"),
    }


async def test_simulator_installs_lists_and_deletes_certificates(
    client, sim, ca: ChargerCa, tmp_path: Path
) -> None:
    manufacturer = make_ca(tmp_path, "ACME Firmware Root")
    for certificate_type, root in (
        ("CentralSystemRootCertificate", ca),
        ("ManufacturerRootCertificate", manufacturer),
    ):
        assert await operate(
            client,
            "install-certificate",
            {"certificate_type": certificate_type, "certificate": pem(root.certificate)},
        ) == {"status": "Accepted"}
    assert await operate(
        client,
        "install-certificate",
        {"certificate_type": "CentralSystemRootCertificate", "certificate": "not a certificate"},
    ) == {"status": "Rejected"}

    assert await operate(
        client,
        "get-installed-certificate-ids",
        {"certificate_type": CS_ROOT},
    ) == {"status": "Accepted", "certificate_hash_data": [expected_hash_data(ca.certificate)]}

    # Deleted by its hash data; then it is not found any more.
    named = {"certificate_hash_data": expected_hash_data(ca.certificate)}
    assert await operate(client, "delete-certificate", named) == {"status": "Accepted"}
    assert await operate(client, "delete-certificate", named) == {"status": "NotFound"}
    assert await operate(
        client,
        "get-installed-certificate-ids",
        {"certificate_type": CS_ROOT},
    ) == {"status": "NotFound"}

    # Named with SHA-384 and in upper-case hex, the other root is found as well.
    by_sha384 = expected_hash_data(manufacturer.certificate, "SHA384")
    by_sha384 = {k: v.upper() if k != "hash_algorithm" else v for k, v in by_sha384.items()}
    wrong_serial = {**by_sha384, "serial_number": format(ca.certificate.serial_number, "x")}
    assert await operate(client, "delete-certificate", {"certificate_hash_data": wrong_serial}) == {
        "status": "NotFound"
    }
    assert await operate(client, "delete-certificate", {"certificate_hash_data": by_sha384}) == {
        "status": "Accepted"
    }
    assert sim.installed_certificates == []


async def test_simulator_signed_firmware_update(client, sim) -> None:
    signing, _ = make_root("ACME Firmware Signing")
    firmware = {
        "location": "https://firmware.example.com/acme-2.0.0",
        "retrieve_date_time": "2020-01-01T00:00:00Z",
        "signing_certificate": pem(signing),
        "signature": base64.b64encode(b"signature").decode(),
    }
    assert await operate(
        client,
        "signed-update-firmware",
        {"request_id": 42, "firmware": {**firmware, "signing_certificate": "nope"}},
    ) == {"status": "InvalidCertificate"}
    assert await operate(
        client, "signed-update-firmware", {"request_id": 42, "firmware": firmware}
    ) == {"status": "Accepted"}

    async def reports() -> list[str] | None:
        async with AsyncSession(client.app[ENGINE]) as session:
            rows = (await session.scalars(select(StatusReport).order_by(StatusReport.id))).all()
        statuses = [r.status for r in rows if r.kind == "signed_firmware"]
        return statuses if len(statuses) >= 4 else None

    assert await eventually(reports) == ["Downloading", "Downloaded", "Installing", "Installed"]

    async def notifications() -> list[dict] | None:
        async with AsyncSession(client.app[ENGINE]) as session:
            rows = (
                await session.scalars(
                    select(OcppMessage)
                    .where(OcppMessage.action == "SignedFirmwareStatusNotification")
                    .where(OcppMessage.direction == "in")
                    .order_by(OcppMessage.id)
                )
            ).all()
        return [json.loads(r.payload)[3] for r in rows] if len(rows) >= 4 else None

    assert await eventually(notifications) == [
        {"status": status, "requestId": 42}
        for status in ("Downloading", "Downloaded", "Installing", "Installed")
    ]

    # It installs, reboots and boots with the new version.
    async def rebooted() -> bool:
        return (await get_json(client, "/api/charge-points/SIM1"))[
            "firmware_version"
        ] == "acme-2.0.0"

    await eventually(rebooted)


async def test_simulator_gets_its_certificate_on_extended_trigger(
    client, sim, ca: ChargerCa
) -> None:
    assert await operate(
        client, "extended-trigger-message", {"requested_message": "SignChargePointCertificate"}
    ) == {"status": "Accepted"}

    async def stored() -> str | None:
        return sim.certificate_chain

    chain = x509.load_pem_x509_certificates((await eventually(stored)).encode())
    assert chain[1:] == [ca.certificate]
    chain[0].verify_directly_issued_by(ca.certificate)
    assert common_name(chain[0]) == sim.serial_number == "SIM1-SN"
    assert sim.certificate_key is not None
    assert public_der(chain[0].public_key()) == public_der(sim.certificate_key.public_key())
    recorded = await events_until(client, "SIM1", "CertificateSignedResponse")
    assert recorded[-1] == ("CertificateSignedResponse", "charge point answered Accepted")

    # A chain that is no PEM, or not for its key, it refuses.
    assert await operate(client, "certificate-signed", {"certificate_chain": "garbage"}) == {
        "status": "Rejected"
    }
    # The other messages it may be asked for arrive too (without a request running: Idle).
    for requested in ("LogStatusNotification", "FirmwareStatusNotification"):
        assert await operate(
            client, "extended-trigger-message", {"requested_message": requested}
        ) == {"status": "Accepted"}

    async def reports() -> set[tuple[str, str]] | None:
        async with AsyncSession(client.app[ENGINE]) as session:
            rows = (await session.scalars(select(StatusReport))).all()
        found = {(r.kind, r.status) for r in rows}
        return found if len(found) >= 2 else None

    assert await eventually(reports) == {("log", "Idle"), ("signed_firmware", "Idle")}


# --- the settings ----------------------------------------------------------------------------


def test_ca_settings_are_checked(ca: ChargerCa, tmp_path: Path) -> None:
    base = {"DATABASE_URL": "sqlite:///x.db", "SECRET_KEY": "k"}
    with pytest.raises(SettingsError, match="CA_CERT and CA_KEY go together"):
        Settings.from_env({**base, "CA_CERT": str(ca.cert_path)})
    with pytest.raises(SettingsError, match="CA_CERT and CA_KEY go together"):
        Settings.from_env({**base, "CA_KEY": str(ca.key_path)})
    with pytest.raises(SettingsError, match="exclude each other"):
        Settings.from_env(
            {
                **base,
                "CA_CERT": str(ca.cert_path),
                "CA_KEY": str(ca.key_path),
                "CA_SIGNER_COMMAND": "cat",
            }
        )
    with pytest.raises(SettingsError, match="CA_KEY is not a readable file"):
        Settings.from_env({**base, "CA_CERT": str(ca.cert_path), "CA_KEY": str(tmp_path / "no")})
    other = make_ca(tmp_path, "Another CA")
    with pytest.raises(SettingsError, match="CA_KEY is not the key of CA_CERT"):
        Settings.from_env({**base, "CA_CERT": str(ca.cert_path), "CA_KEY": str(other.key_path)})
    with pytest.raises(SettingsError, match="CA_CERT holds no PEM certificate"):
        Settings.from_env({**base, "CA_CERT": str(ca.key_path), "CA_KEY": str(ca.key_path)})
    leaf = Authority(tmp_path, "leaf-ca").issue("not a CA")
    with pytest.raises(SettingsError, match="not a CA certificate"):
        Settings.from_env({**base, "CA_CERT": str(leaf.cert), "CA_KEY": str(leaf.key)})

    files = Settings.from_env({**base, "CA_CERT": str(ca.cert_path), "CA_KEY": str(ca.key_path)})
    assert (files.ca_cert, files.ca_key) == (str(ca.cert_path), str(ca.key_path))
    command = Settings.from_env({**base, "CA_SIGNER_COMMAND": f"{sys.executable} sign.py"})
    assert command.ca_signer_command == f"{sys.executable} sign.py"
    assert Settings.from_env(base).ca_signer_command is None
