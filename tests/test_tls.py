"""TLS terminated by Voltaro and OCPP 1.6 security profile 3 (client certificates whose CN is
the charge point's serial number), over real TLS sockets with certificates made here."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError, encode_basic_auth
from aiohttp.test_utils import unused_port

from ocpp_core.settings import Settings, SettingsError
from tests.ocpp_client import RawChargePoint
from tests.pki import client_context, connect_tls
from tests.server_process import server_env, start_server, stop, wait_until_listening
from webapp.keys import SERVICES
from webapp.tls import server_ssl_context


async def test_certificate_with_the_serial_as_cn_is_admitted(tls_server, pki) -> None:
    services = tls_server.app[SERVICES]
    await services.charge_points.register("CP-TLS")
    http, cp = await connect_tls(tls_server, pki, "CP-TLS", pki.charger)
    try:
        boot = await cp.boot(chargePointSerialNumber="SN-100")
        assert boot["status"] == "Accepted"
        await cp.result("Heartbeat", {})
    finally:
        await cp.ws.close()
        await http.close()
    assert (await services.charge_points.get("CP-TLS")).serial_number == "SN-100"

    # Now that its serial is known, another charger's certificate is refused before the
    # upgrade, even though the same CA signed it.
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-TLS", pki.other_charger)
    assert refused.value.status == 403
    # Its own certificate still gets in.
    http, cp = await connect_tls(tls_server, pki, "CP-TLS", pki.charger)
    await cp.ws.close()
    await http.close()


async def test_boot_naming_another_serial_is_rejected_and_recorded(tls_server, pki) -> None:
    services = tls_server.app[SERVICES]
    await services.charge_points.register("CP-NEW")
    http, cp = await connect_tls(tls_server, pki, "CP-NEW", pki.charger)
    try:
        boot = await cp.boot(chargePointSerialNumber="SN-200")
        assert boot["status"] == "Rejected"
        # Rejected: nothing but BootNotification and Heartbeat until it boots as SN-100.
        frame = await cp.call("Authorize", {"idTag": "ANY"})
        assert frame[0] == 4 and frame[2] == "SecurityError"
    finally:
        await cp.ws.close()
        await http.close()
    view = await services.charge_points.get("CP-NEW")
    assert view.serial_number is None  # the false serial was not stored
    [event] = await services.charge_points.security_events("CP-NEW")
    assert event.type == "CertificateSerialMismatch" and "SN-100" in event.tech_info


async def test_without_a_certificate_only_a_key_gets_in(tls_server, pki) -> None:
    services = tls_server.app[SERVICES]
    await services.charge_points.register("CP-NOCERT")
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-NOCERT", None)
    assert refused.value.status == 401
    # An unknown id without a certificate is not registered either.
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-UNKNOWN", None)
    assert refused.value.status == 401
    assert "CP-UNKNOWN" not in {v.id for v in await services.charge_points.list()}

    # Security profile 2: TLS with HTTP Basic, no client certificate.
    await services.charge_points.register("CP-KEY", password="0123456789abcdef")
    auth = {"Authorization": encode_basic_auth("CP-KEY", "0123456789abcdef")}
    http, cp = await connect_tls(tls_server, pki, "CP-KEY", None, headers=auth)
    try:
        assert (await cp.boot())["status"] == "Accepted"
    finally:
        await cp.ws.close()
        await http.close()


async def test_certificate_from_an_untrusted_ca_fails_the_handshake(tls_server, pki) -> None:
    await tls_server.app[SERVICES].charge_points.register("CP-ROGUE")
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        _http, _cp = await connect_tls(tls_server, pki, "CP-ROGUE", pki.stranger)


async def test_the_portal_needs_no_client_certificate(tls_server, pki) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(tls_server.make_url("/login"), ssl=client_context(pki, None))
        assert response.status == 200
        assert 'name="username"' in await response.text()


def test_tls_settings_are_checked(pki, tmp_path) -> None:
    with pytest.raises(SettingsError, match="TLS_CERT and TLS_KEY go together"):
        Settings(tls_cert=str(pki.server.cert))
    with pytest.raises(SettingsError, match="TLS_CLIENT_CA needs TLS_CERT"):
        Settings(tls_client_ca=str(pki.charger_ca.cert))
    with pytest.raises(SettingsError, match="TLS_KEY is not a readable file"):
        Settings(tls_cert=str(pki.server.cert), tls_key=str(tmp_path / "missing.key"))
    context = server_ssl_context(
        Settings(tls_cert=str(pki.server.cert), tls_key=str(pki.server.key))
    )
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE  # no client CA: no client certificates


async def test_server_process_serves_wss_with_client_certificates(pki, tmp_path) -> None:
    port = unused_port()
    env = server_env(
        f"sqlite+aiosqlite:///{tmp_path / 'tls.db'}",
        port,
        TLS_CERT=str(pki.server.cert),
        TLS_KEY=str(pki.server.key),
        TLS_CLIENT_CA=str(pki.charger_ca.cert),
    )
    process = start_server(env)
    try:
        await wait_until_listening(port)
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(
                f"wss://127.0.0.1:{port}/ocpp/CP-PROC",
                protocols=("ocpp1.6",),
                ssl=client_context(pki, pki.charger),
            )
            cp = RawChargePoint(ws)
            assert (await cp.boot(chargePointSerialNumber="SN-100"))["status"] == "Accepted"
            await ws.close()
            # Plain http on the TLS port gets nowhere.
            with pytest.raises(aiohttp.ClientError):
                await http.get(f"http://127.0.0.1:{port}/login")
    finally:
        stop(process)
