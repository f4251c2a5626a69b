"""OCPP 2.0.1 functional block A (Security), the CSMS side, as the OCTT CSMS test cases
(TC_A_*_CSMS) drive it: security profiles 1 to 3 for a station speaking ocpp2.0.1 over
real (TLS) sockets, the BasicAuthPassword rotation of A01, and the certificate signing
flows of A02/A03 with the CA settings (CA_CERT/CA_KEY)."""

from __future__ import annotations

import dataclasses
import json

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocpp_core.settings import Settings
from tests.helpers import basic, eventually
from tests.pki import SERIAL, ChargerCa, client_context, client_usage, make_csr
from tests.v201.charging_station import V201, boot, station
from tests.v201.use_cases import answered, refused
from webapp.keys import SERVICES

OLD = "old-password-0123456789"
NEW = "new-password-9876543210"


@pytest.fixture
def settings(settings: Settings, ca: ChargerCa) -> Settings:
    """The CSMS signs charging station certificates with its own CA (CA_CERT/CA_KEY)."""
    return dataclasses.replace(settings, ca_cert=str(ca.cert_path), ca_key=str(ca.key_path))


def set_password(value: str) -> dict:
    return {
        "set_variable_data": [
            {
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
                "attribute_value": value,
            }
        ]
    }


def password_result(status: str) -> dict:
    return {
        "setVariableResult": [
            {
                "attributeStatus": status,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }
        ]
    }


async def handshake_status(client, charge_point_id: str, headers: dict | None) -> int:
    """The HTTP status a 2.0.1 connection attempt gets (101 when upgraded)."""
    try:
        ws = await client.ws_connect(
            f"/ocpp/{charge_point_id}", protocols=V201, headers=headers or {}
        )
    except WSServerHandshakeError as error:
        return error.status
    assert ws.protocol == "ocpp2.0.1"
    await ws.close()
    return 101


async def test_A00_security_profile_1_basic_auth(client, connect) -> None:
    """A00 security profile 1 (HTTP Basic before the upgrade, the user name being the
    station's identity): the right id and password are upgraded to ocpp2.0.1; a wrong
    password, another user name with the right password, or no credentials at all get HTTP
    401 and no connection."""
    await client.app[SERVICES].charge_points.register("A00", OLD, ocpp_version="2.0.1")
    cp = await connect("A00", protocols=V201, headers=basic("A00", OLD))
    assert cp.ws.protocol == "ocpp2.0.1"
    assert (await boot(cp))["status"] == "Accepted"
    assert await handshake_status(client, "A00", basic("A00", "wrong-password-000000")) == 401
    assert await handshake_status(client, "A00", basic("SOMEONE", OLD)) == 401
    assert await handshake_status(client, "A00", None) == 401
    shown = await client.app[SERVICES].charge_points.get("A00")
    assert shown.has_password and shown.ocpp_version == "2.0.1"


async def test_A01_basic_auth_password_rotation(client, connect) -> None:
    """A01: the CSMS sets a new BasicAuthPassword with SetVariables; it counts only once the
    station answered Accepted: then the new one gets in and the old one no longer does; a
    Rejected answer keeps the old one. Only an admin may change it; a password outside 16-40
    characters is refused before sending; neither password is journalled in clear."""
    services = client.app[SERVICES]
    await services.charge_points.register("A01", OLD, ocpp_version="2.0.1")
    cp = await station(connect, "A01", headers=basic("A01", OLD))
    code, _ = await refused(client, "A01", "set-variables", set_password(NEW))
    assert code == 403
    code, error = await refused(client, "A01", "set-variables", set_password("short"), "admin")
    assert code == 400 and "16" in error
    assert await cp.nothing_within(0.05)

    call, code, answer = await answered(
        client,
        cp,
        "A01",
        "set-variables",
        set_password(NEW),
        password_result("Rejected"),
        role="admin",
    )
    assert call[3]["setVariableData"][0]["attributeValue"] == NEW
    assert code == 200 and answer["set_variable_result"][0]["attribute_status"] == "Rejected"
    assert await handshake_status(client, "A01", basic("A01", NEW)) == 401
    cp = await connect("A01", protocols=V201, headers=basic("A01", OLD))  # still the old one
    assert (await boot(cp))["status"] == "Accepted"

    _, code, answer = await answered(
        client,
        cp,
        "A01",
        "set-variables",
        set_password(NEW),
        password_result("Accepted"),
        role="admin",
    )
    assert code == 200 and answer["set_variable_result"][0]["attribute_status"] == "Accepted"
    assert await handshake_status(client, "A01", basic("A01", OLD)) == 401
    assert await handshake_status(client, "A01", basic("A01", NEW)) == 101
    journal = await services.operations.journal("A01")
    written = json.dumps([o.request for o in journal] + [o.response for o in journal])
    assert OLD not in written and NEW not in written
    held = await services.device_model.variables("A01", "password")
    assert [v.value for v in held] == ["***"]


async def tls_connect(server, pki, charge_point_id: str, issued, **kwargs):
    http = aiohttp.ClientSession()
    try:
        ws = await http.ws_connect(
            server.make_url(f"/ocpp/{charge_point_id}"),
            protocols=V201,
            ssl=client_context(pki, issued),
            **kwargs,
        )
    except BaseException:
        await http.close()
        raise
    return http, ws


async def test_A00_security_profile_2_tls_with_basic_auth(tls_server, pki) -> None:
    """A00 security profile 2 (TLS with the CSMS's certificate, HTTP Basic): over wss a
    station with its id and password is upgraded to ocpp2.0.1 and booted; without its
    password it gets 401."""
    services = tls_server.app[SERVICES]
    await services.charge_points.register("A00-P2", OLD)
    http, ws = await tls_connect(tls_server, pki, "A00-P2", None, headers=basic("A00-P2", OLD))
    try:
        assert ws.protocol == "ocpp2.0.1"
        await ws.send_json(
            [
                2,
                "b1",
                "BootNotification",
                {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
            ]
        )
        answer = await ws.receive_json(timeout=5)
        assert answer[0] == 3 and answer[2]["status"] == "Accepted"
    finally:
        await ws.close()
        await http.close()
    with pytest.raises(WSServerHandshakeError) as denied:
        await tls_connect(tls_server, pki, "A00-P2", None)
    assert denied.value.status == 401
    assert (await services.charge_points.get("A00-P2")).ocpp_version == "2.0.1"


async def test_A00_security_profile_3_client_certificate(tls_server, pki) -> None:
    """A00 security profile 3 (TLS with a client certificate whose CN is the station's
    serial number): the boot naming that serial is Accepted and binds it; a boot naming
    another serial is Rejected, recorded as a security event, and the station may then send
    nothing but BootNotification (SecurityError)."""
    services = tls_server.app[SERVICES]
    await services.charge_points.register("A00-P3")
    http, ws = await tls_connect(tls_server, pki, "A00-P3", pki.charger)
    try:
        await ws.send_json(
            [
                2,
                "b1",
                "BootNotification",
                {
                    "chargingStation": {"model": "M", "vendorName": "V", "serialNumber": "SN-100"},
                    "reason": "PowerUp",
                },
            ]
        )
        assert (await ws.receive_json(timeout=5))[2]["status"] == "Accepted"
    finally:
        await ws.close()
        await http.close()
    assert (await services.charge_points.get("A00-P3")).serial_number == "SN-100"

    await services.charge_points.register("A00-P3B")
    http, ws = await tls_connect(tls_server, pki, "A00-P3B", pki.charger)
    try:
        await ws.send_json(
            [
                2,
                "b2",
                "BootNotification",
                {
                    "chargingStation": {"model": "M", "vendorName": "V", "serialNumber": "SN-777"},
                    "reason": "PowerUp",
                },
            ]
        )
        assert (await ws.receive_json(timeout=5))[2]["status"] == "Rejected"
        await ws.send_json(
            [
                2,
                "h1",
                "StatusNotification",
                {
                    "timestamp": "2026-01-01T00:00:00Z",
                    "connectorStatus": "Available",
                    "evseId": 1,
                    "connectorId": 1,
                },
            ]
        )
        refused_frame = await ws.receive_json(timeout=5)
        assert refused_frame[0] == 4 and refused_frame[2] == "SecurityError"
    finally:
        await ws.close()
        await http.close()
    [event] = await services.charge_points.security_events("A00-P3B")
    assert event.type == "CertificateSerialMismatch" and "SN-100" in event.tech_info


def csr() -> str:
    return make_csr(
        extensions=[client_usage(), x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])]
    )


async def test_A02_update_certificate_at_request_of_csms(client, connect, ca) -> None:
    """A02 (with F06; the CSMS side of TC_A_11_CS: A02.FR.02, A02.FR.03, A02.FR.06): the
    CSMS asks with TriggerMessage SignChargingStationCertificate; the station's
    SignCertificate with a CSR for its serial is Accepted and followed by CertificateSigned
    (ChargingStationCertificate) with a chain the CSMS's CA signed for that serial; the
    outcome is recorded."""
    cp = await connect("A02", protocols=V201)
    assert (await boot(cp, serialNumber=SERIAL))["status"] == "Accepted"
    body = {"requested_message": "SignChargingStationCertificate"}
    call, code, answer = await answered(
        client, cp, "A02", "trigger-message", body, {"status": "Accepted"}
    )
    assert call[3] == {"requestedMessage": "SignChargingStationCertificate"}
    assert (code, answer) == (200, {"status": "Accepted"})
    signed = await cp.result(
        "SignCertificate", {"csr": csr(), "certificateType": "ChargingStationCertificate"}
    )
    assert signed == {"status": "Accepted"}
    frame = await cp.expect_call("CertificateSigned")
    assert frame[3]["certificateType"] == "ChargingStationCertificate"
    chain = x509.load_pem_x509_certificates(frame[3]["certificateChain"].encode())
    leaf = chain[0]
    leaf.verify_directly_issued_by(ca.certificate)
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == SERIAL
    await cp.answer(frame, {"status": "Accepted"})

    async def recorded():
        found = await client.app[SERVICES].charge_points.security_events("A02")
        return [e.type for e in reversed(found)] if len(found) >= 2 else None

    assert await eventually(recorded) == ["CertificateIssued", "CertificateSignedResponse"]


async def test_A03_update_certificate_initiated_by_the_station(client, connect) -> None:
    """A03: a station renewing on its own sends SignCertificate; a CSR for another serial is
    Rejected (and recorded), a V2G certificate is Rejected (no V2G PKI), and neither is
    followed by CertificateSigned."""
    cp = await connect("A03", protocols=V201)
    assert (await boot(cp, serialNumber=SERIAL))["status"] == "Accepted"
    wrong = make_csr("SN-OTHER")
    assert await cp.result("SignCertificate", {"csr": wrong}) == {"status": "Rejected"}
    v2g = await cp.result("SignCertificate", {"csr": csr(), "certificateType": "V2GCertificate"})
    assert v2g["status"] == "Rejected"
    assert await cp.nothing_within(0.1)
    events = await client.app[SERVICES].charge_points.security_events("A03")
    assert len(events) == 2


async def test_A04_security_event_notification(client, connect) -> None:
    """A04: SecurityEventNotification is answered and kept with its type, time and
    techInfo."""
    cp = await station(connect, "A04")
    payload = {
        "type": "InvalidCsmsCertificate",
        "timestamp": "2026-02-03T04:05:06Z",
        "techInfo": "chain incomplete",
    }
    assert await cp.result("SecurityEventNotification", payload) == {}
    [event] = await client.app[SERVICES].charge_points.security_events("A04")
    assert (event.type, event.tech_info) == ("InvalidCsmsCertificate", "chain incomplete")
    assert event.timestamp.isoformat().startswith("2026-02-03T04:05:06")
