"""A charger's AuthorizationKey (its HTTP Basic key) is set by admins
only, as the README says, in whatever case the key is named, through the API and the
portal; a key change is audited as such, without the key."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import ADMIN, OPERATOR
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}
NEW_KEY = "0123456789abcdef0123"
SPELLINGS = ["AuthorizationKey", "authorizationkey", "AUTHORIZATIONKEY", " AuthorizationKey"]


@pytest.fixture
async def charger(client, connect):
    await client.app[SERVICES].charge_points.register("KEYED")
    cp = await connect("KEYED")
    await cp.boot()
    return cp


async def _journal(client) -> list:
    return await client.app[SERVICES].operations.journal("KEYED", limit=50)


async def test_operators_may_not_change_the_key(client, portal, charger) -> None:
    operator = await portal("operator")
    for key in SPELLINGS:
        body = {"key": key, "value": NEW_KEY}
        response = await client.post(
            "/api/charge-points/KEYED/change-configuration", json=body, headers=OPERATOR
        )
        assert response.status == 403, (key, await response.text())
        assert "error" in await response.json()
        status, _ = await operator.post(
            "/charge-points/KEYED/operations/change-configuration", body, headers=HTMX
        )
        assert status == 403, key
    # Nothing was sent, nor journalled as sent.
    assert await charger.nothing_within(0.3)
    assert await _journal(client) == []
    # Other keys are an operator's as before.
    posted = asyncio.ensure_future(
        client.post(
            "/api/charge-points/KEYED/change-configuration",
            json={"key": "HeartbeatInterval", "value": "90"},
            headers=OPERATOR,
        )
    )
    await charger.answer(await charger.expect_call("ChangeConfiguration"), {"status": "Accepted"})
    assert (await posted).status == 200


async def test_an_admins_key_change_is_audited_as_one(client, portal, charger) -> None:
    posted = asyncio.ensure_future(
        client.post(
            "/api/charge-points/KEYED/change-configuration",
            json={"key": "authorizationkey", "value": NEW_KEY},
            headers=ADMIN,
        )
    )
    call = await charger.expect_call("ChangeConfiguration")
    await charger.answer(call, {"status": "Rejected"})
    assert (await posted).status == 200

    admin = await portal("admin")
    posted = asyncio.ensure_future(
        admin.post(
            "/charge-points/KEYED/operations/change-configuration",
            {"key": "AuthorizationKey", "value": NEW_KEY},
            headers=HTMX,
        )
    )
    await charger.answer(await charger.expect_call("ChangeConfiguration"), {"status": "Accepted"})
    status, html = await posted
    assert status == 200 and "Accepted" in html, html

    entries = await client.app[SERVICES].audit.recent(limit=20)
    changes = [
        (e.actor, e.target, e.detail) for e in entries if e.action == "change authorization key"
    ]
    assert sorted(changes) == [
        ("admin", "KEYED", "answered Accepted"),
        ("admin", "KEYED", "answered Rejected"),
    ]
    assert not any(NEW_KEY in f"{e.action} {e.target} {e.detail}" for e in entries)


async def test_operators_get_no_form_for_the_key(client, portal, charger) -> None:
    operator = await portal("operator")
    posted = asyncio.ensure_future(
        operator.post("/charge-points/KEYED/operations/get-configuration", {}, headers=HTMX)
    )
    configuration = [
        {"key": "authorizationKey", "readonly": False},
        {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    ]
    await charger.answer(
        await charger.expect_call("GetConfiguration"), {"configurationKey": configuration}
    )
    status, _ = await posted
    assert status == 200
    _, html = await operator.get("/charge-points/KEYED/operations")
    assert 'name="key" value="HeartbeatInterval"' in html
    assert 'name="key" value="authorizationKey"' not in html
