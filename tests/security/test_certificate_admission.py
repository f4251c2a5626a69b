"""Security profile 3: a charger with a key whose serial is not yet bound is not taken over
by any certificate of the CA; its serial is bound by a boot its key authenticated, or by
an operator."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError, encode_basic_auth

from tests.pki import connect_tls
from tests.server_process import run_cli
from webapp.keys import SERVICES

KEY = "0123456789abcdef"


def _key(charge_point_id: str) -> dict[str, str]:
    return {"Authorization": encode_basic_auth(charge_point_id, KEY)}


async def test_a_keyed_charger_without_a_serial_needs_its_key(tls_server, pki) -> None:
    services = tls_server.app[SERVICES]
    await services.charge_points.register("CP-KEYED", password=KEY)

    # An attacker holding any certificate of the CA (here SN-999's) and no key.
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-KEYED", pki.other_charger)
    assert refused.value.status == 401
    assert (await services.charge_points.get("CP-KEYED")).serial_number is None

    # The real charger: its certificate and its key; its boot binds the serial.
    http, cp = await connect_tls(tls_server, pki, "CP-KEYED", pki.charger, headers=_key("CP-KEYED"))
    try:
        assert (await cp.boot(chargePointSerialNumber="SN-100"))["status"] == "Accepted"
    finally:
        await cp.ws.close()
        await http.close()
    assert (await services.charge_points.get("CP-KEYED")).serial_number == "SN-100"

    # Bound: its certificate alone gets in, another charger's is refused before the upgrade.
    http, cp = await connect_tls(tls_server, pki, "CP-KEYED", pki.charger)
    await cp.ws.close()
    await http.close()
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-KEYED", pki.other_charger, headers=_key("CP-KEYED"))
    assert refused.value.status == 403


async def test_a_wrong_key_with_a_certificate_is_refused(tls_server, pki) -> None:
    await tls_server.app[SERVICES].charge_points.register("CP-KEYED", password=KEY)
    wrong = {"Authorization": encode_basic_auth("CP-KEYED", "not-the-key-at-all")}
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-KEYED", pki.charger, headers=wrong)
    assert refused.value.status == 401


async def test_an_operator_binds_the_serial(tls_server, pki, database_url) -> None:
    code, out = await run_cli(
        database_url, "charge-point", "add", "CP-BOUND", "--password", KEY, "--serial", "SN-100"
    )
    assert code == 0, out
    # Bound by the operator: the certificate with that CN is enough, another one is not.
    http, cp = await connect_tls(tls_server, pki, "CP-BOUND", pki.charger)
    try:
        assert (await cp.boot(chargePointSerialNumber="SN-100"))["status"] == "Accepted"
    finally:
        await cp.ws.close()
        await http.close()
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect_tls(tls_server, pki, "CP-BOUND", pki.other_charger)
    assert refused.value.status == 403
