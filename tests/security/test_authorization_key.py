"""The AuthorizationKey in any case: OCPP configuration keys are
case-insensitive, so `authorizationkey` is the charger's HTTP Basic key too. Its value is
never kept or shown in clear (configuration table, journal, message log), the 16-40 rule
holds, an accepted change becomes the charger's key, and a charger that lists its key in a
GetConfiguration answer does not get it stored in clear either.

Before, only the exact spelling `AuthorizationKey` was treated so.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSServerHandshakeError

from tests.helpers import ADMIN, OPERATOR, VIEWER, basic
from webapp.keys import SERVICES

NEW_KEY = "0123456789abcdef0123"
SPELLINGS = ["authorizationkey", "AUTHORIZATIONKEY", "authorizationKey", "AuthorizationKey "]


async def _everything_kept(client, portal, charge_point_id: str) -> str:
    """What is stored of the charge point and what a viewer is shown of it, as text."""
    services = client.app[SERVICES]
    log = await services.message_log.recent(charge_point_id)
    kept = [m.payload for m in log]
    for path in ("operations", "configuration"):
        response = await client.get(f"/api/charge-points/{charge_point_id}/{path}", headers=VIEWER)
        assert response.status == 200
        kept.append(await response.text())
    viewer = await portal("viewer")
    for page in (
        f"/charge-points/{charge_point_id}",
        f"/charge-points/{charge_point_id}/operations",
    ):
        status, html = await viewer.get(page)
        assert status == 200
        kept.append(html)
    return "\n".join(kept)


@pytest.mark.parametrize("key", SPELLINGS)
async def test_a_key_change_in_any_case_is_redacted_and_takes_effect(
    client, connect, portal, key: str
) -> None:
    await client.app[SERVICES].charge_points.register("KEYCASE")
    cp = await connect("KEYCASE")
    await cp.boot()
    posted = asyncio.ensure_future(
        client.post(
            "/api/charge-points/KEYCASE/change-configuration",
            json={"key": key, "value": NEW_KEY},
            headers=ADMIN,
        )
    )
    call = await cp.expect_call("ChangeConfiguration")
    assert call[3] == {"key": key, "value": NEW_KEY}  # the charger gets the real key
    await cp.answer(call, {"status": "Accepted"})
    assert (await posted).status == 200

    kept = await _everything_kept(client, portal, "KEYCASE")
    assert NEW_KEY not in kept
    [entry] = await client.app[SERVICES].operations.journal("KEYCASE")
    assert entry.request["value"] == "***"

    # The accepted key is the charger's key from now on: without it, no connection.
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/KEYCASE", protocols=("ocpp1.6",))
    assert refused.value.status == 401
    again = await connect("KEYCASE", headers=basic("KEYCASE", NEW_KEY))
    await again.boot()


@pytest.mark.parametrize("key", SPELLINGS)
async def test_the_length_rule_holds_in_any_case(client, connect, key: str) -> None:
    await client.app[SERVICES].charge_points.register("KEYLEN")
    cp = await connect("KEYLEN")
    await cp.boot()
    for value in ("short", "x" * 41):
        response = await client.post(
            "/api/charge-points/KEYLEN/change-configuration",
            json={"key": key, "value": value},
            headers=ADMIN,
        )
        assert response.status == 400, await response.text()
        assert "16 to 40" in (await response.json())["error"]
    assert await cp.nothing_within(0.3)  # nothing sent


# How a charger may name its key in its answer: as it likes, and with JSON escapes.
LISTED = [
    ("AuthorizationKey", None),
    ("authorizationkey", None),
    ("AUTHORIZATIONKEY", None),
    ("Authorization\\u004bey", "AuthorizationKey"),
]


@pytest.mark.parametrize(("spelt", "decoded"), LISTED)
async def test_a_key_listed_by_the_charger_is_not_kept_in_clear(
    client, connect, portal, spelt: str, decoded: str | None
) -> None:
    await client.app[SERVICES].charge_points.register("KEYLIST")
    cp = await connect("KEYLIST")
    await cp.boot()
    posted = asyncio.ensure_future(
        client.post("/api/charge-points/KEYLIST/get-configuration", json={}, headers=OPERATOR)
    )
    call = await cp.expect_call("GetConfiguration")
    secret = json.dumps({"key": "@", "readonly": False, "value": NEW_KEY}).replace("@", spelt)
    other = json.dumps({"key": "HeartbeatInterval", "readonly": False, "value": "300"})
    await cp.send_raw(f'[3,"{call[1]}",{{"configurationKey":[{secret},{other}]}}]')
    assert (await posted).status == 200

    kept = await _everything_kept(client, portal, "KEYLIST")
    assert NEW_KEY not in kept
    stored = {
        item.key: item.value
        for item in await client.app[SERVICES].operations.configuration("KEYLIST")
    }
    # Listed, with its value redacted; the other keys as sent.
    assert stored == {decoded or spelt: "***", "HeartbeatInterval": "300"}


async def test_a_broken_frame_naming_the_key_is_logged_without_its_value(client, connect) -> None:
    cp = await connect("KEYRAW")
    await cp.boot()
    cut_short = f'[3,"x",{{"configurationKey":[{{"key":"authorizationKEY","value":"{NEW_KEY}"'
    await cp.send_raw(cut_short)
    assert (await cp.receive())[:3] == [4, "x", "FormationViolation"]
    log = await client.app[SERVICES].message_log.recent("KEYRAW")
    [broken] = [m for m in log if m.direction == "in" and m.message_type is None]
    assert NEW_KEY not in broken.payload and "redacted" in broken.payload
