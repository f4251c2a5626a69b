"""The NUL character (U+0000) in whatever an HTTP request brings: refused with a 400 that
says where, never a 500 (PostgreSQL's text cannot hold one) and never stored (SQLite's
can, an id tag no charger could present). Over both databases."""

from __future__ import annotations

import aiohttp
from aiohttp import encode_basic_auth

from tests.helpers import ACCOUNTS, ADMIN, OPERATOR
from webapp.keys import SERVICES


async def test_the_api_refuses_nul_in_bodies_addresses_and_queries(client) -> None:
    for body, field in [
        ({"id_tag": "TAG\x00"}, "field id_tag"),
        ({"id_tag": "TAG", "parent_id_tag": "P\x00"}, "field parent_id_tag"),
    ]:
        response = await client.post("/api/id-tags", json=body, headers=ADMIN)
        assert response.status == 400
        assert await response.json() == {"error": f"{field} contains the NUL character (U+0000)"}
    assert await client.app[SERVICES].id_tags.list() == []

    await client.app[SERVICES].charge_points.register("CP-1")
    response = await client.post(
        "/api/charge-points/CP-1/change-configuration",
        json={"key": "K", "value": "a\x00b"},
        headers=OPERATOR,
    )
    assert response.status == 400
    assert "field value contains the NUL" in (await response.json())["error"]

    response = await client.get("/api/charge-points/CP%00", headers=ADMIN)
    assert (response.status, await response.json()) == (
        400,
        {"error": "the address contains the NUL character (U+0000)"},
    )
    response = await client.get("/api/transactions?id_tag=T%00", headers=ADMIN)
    assert response.status == 400
    assert "query parameter 'id_tag'" in (await response.json())["error"]


async def test_credentials_with_nul_are_no_one_s(client) -> None:
    login, password = ACCOUNTS["admin"]
    for user, secret in [(login + "\x00", password), (login, password + "\x00")]:
        auth = {"Authorization": encode_basic_auth(user, secret)}
        response = await client.get("/api/charge-points", headers=auth)
        assert response.status == 401, await response.text()


async def test_a_portal_form_with_nul_gets_a_clear_refusal(client) -> None:
    http = aiohttp.ClientSession()
    try:
        base = str(client.make_url("")).rstrip("/")
        async with http.post(
            base + "/login", data={"username": "admin\x00", "password": "x"}
        ) as response:
            assert response.status == 400
            assert "field 'username' contains the NUL character" in await response.text()
    finally:
        await http.close()


async def test_a_charge_point_id_with_nul_is_unknown(client) -> None:
    response = await client.get(
        "/ocpp/CP%00",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Protocol": "ocpp1.6",
        },
    )
    assert response.status == 404
    assert "NUL" in await response.text()
