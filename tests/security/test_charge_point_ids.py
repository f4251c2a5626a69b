"""Charge point ids. A new id OCPP does not allow (CiString48: at most 48
printable ASCII characters; and no path, no HTTP Basic separator) is refused everywhere one
is registered; one registered before the rule still connects, opens and is removed; every
address and DOM id of the portal carries the id encoded, and `new` is no event name."""

from __future__ import annotations

import collections
import dataclasses
import re
from html import escape as html_escape
from html import unescape as html_unescape

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from ocpp_core.db.models import ChargePoint
from ocpp_core.errors import NotFound
from tests.helpers import ADMIN, OPERATOR
from tests.ocpp_client import RawChargePoint
from tests.server_process import run_cli
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES

# The id in the address as a charger sends it (percent-encoded) -> the id it names.
REFUSED = {
    "a%2Fb": "a/b",
    "%2E": ".",
    "%2E%2E": "..",
    "a:b": "a:b",
    "x" * 49: "x" * 49,
    "y" * 300: "y" * 300,  # beyond the column: looked up all the same, never stored
    "caf%C3%A9": "café",
    "tab%09x": "tab\tx",
    "del%7F": "del\x7f",
}
ADMITTED = {"x" * 48: "x" * 48, "new": "new", "LIVE%201": "LIVE 1", "50%25": "50%"}


def _raw(client, raw_path: str) -> URL:
    """An address sent exactly as written: no client folds `%2E%2E` or decodes `%2F`."""
    return URL(str(client.make_url("/")).rstrip("/") + raw_path, encoded=True)


async def _ws(client, raw_id: str) -> RawChargePoint:
    ws = await client.session.ws_connect(_raw(client, f"/ocpp/{raw_id}"), protocols=("ocpp1.6",))
    return RawChargePoint(ws)


async def _registered(client) -> set[str]:
    return {cp.id for cp in await client.app[SERVICES].charge_points.list()}


async def _insert(client, *charge_point_ids: str) -> None:
    """Charge points registered before the rule (by an older version): in the database."""
    async with AsyncSession(client.app[ENGINE]) as session, session.begin():
        for charge_point_id in charge_point_ids:
            await session.execute(
                insert(ChargePoint).values(id=charge_point_id, registration_status="Accepted")
            )


@pytest.mark.parametrize("policy", ["accept", "pending"])
async def test_new_ids_ocpp_does_not_allow_are_refused_at_connect(
    settings, aiohttp_client, policy
) -> None:
    client = await aiohttp_client(
        create_app(dataclasses.replace(settings, unknown_charge_points=policy))
    )
    for raw_id in REFUSED:
        with pytest.raises(WSServerHandshakeError) as refused:
            await _ws(client, raw_id)
        assert refused.value.status == 404, raw_id
    assert await _registered(client) == set()
    for raw_id in ADMITTED:
        cp = await _ws(client, raw_id)
        expected = "Accepted" if policy == "accept" else "Pending"
        assert (await cp.boot())["status"] == expected, raw_id
        await cp.ws.close()
    assert await _registered(client) == set(ADMITTED.values())


async def test_an_id_registered_before_the_rule_connects_and_is_removed(client, portal) -> None:
    await _insert(client, "a/b", "..", "with:colon")
    for raw_id in ("a%2Fb", "%2E%2E", "with:colon"):
        cp = await _ws(client, raw_id)
        assert (await cp.boot())["status"] == "Accepted", raw_id
        await cp.ws.close()

    admin = await portal("admin")
    # The dashboard links to its page as one path segment; the page and its forms too.
    status, html = await admin.get("/")
    assert 'href="/charge-points/a%2Fb"' in html
    status, html = await admin.get("/charge-points/a%2Fb")
    assert status == 200 and "<h1>a/b " in html, html[-300:]
    assert "/charge-points/a/b" not in html
    assert 'action="/charge-points/a%2Fb/remove"' in html
    assert 'action="/charge-points/a%2Fb/operations/clear-cache"' not in html  # on its own page
    assert 'href="/charge-points/a%2Fb/operations"' in html
    status, html = await admin.get("/charge-points/a%2Fb/operations")
    assert status == 200 and 'action="/charge-points/a%2Fb/operations/clear-cache"' in html
    cp = await _ws(client, "a%2Fb")
    await cp.boot()
    status, html = await admin.post("/charge-points/a%2Fb/remove")
    assert status == 200 and "a/b" not in await _registered(client), html[-300:]
    closed = await cp.ws.receive(timeout=5)
    assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    # Gone, it is a new charger with an id that may not be registered: refused.
    with pytest.raises(WSServerHandshakeError) as refused:
        await _ws(client, "a%2Fb")
    assert refused.value.status == 404

    # `..` (which browsers fold away in any address) through the API: admins only, audited.
    url = _raw(client, "/api/charge-points/%2E%2E")
    async with client.session.delete(url, headers=OPERATOR) as response:
        assert response.status == 403
    async with client.session.delete(url, headers=ADMIN) as response:
        assert response.status == 204, await response.text()
    async with client.session.delete(url, headers=ADMIN) as response:
        assert response.status == 404 and "error" in await response.json()
    assert await _registered(client) == {"with:colon"}
    entries = await client.app[SERVICES].audit.recent(limit=10)
    assert any(
        (e.actor, e.action, e.target) == ("admin", "remove charge point", "..") for e in entries
    ), entries


async def test_api_keeps_a_charge_point_with_sessions(client, connect) -> None:
    await client.app[SERVICES].id_tags.add("TAG")
    cp = await connect("BILLED")
    await cp.boot()
    await cp.start("TAG")
    response = await client.delete("/api/charge-points/BILLED", headers=ADMIN)
    assert response.status == 409 and "session" in (await response.json())["error"]
    assert "BILLED" in await _registered(client)


async def test_the_register_form_refuses_ids_ocpp_does_not_allow(client, portal) -> None:
    admin = await portal("admin")
    for charge_point_id in set(REFUSED.values()) | {"", " a/ "}:
        status, html = await admin.post("/charge-points", {"charge_point_id": charge_point_id})
        assert status == 400 and 'class="message error"' in html, (charge_point_id, status)
    assert await _registered(client) == set()


# Ids that are fine, and were trouble for addresses, DOM ids or event names.
AWKWARD = ["new", "list", "counters", "a b", "50%", "a?b", "a#b", "x&y=1", "<i>"]


async def test_awkward_ids_have_their_own_addresses_events_and_elements(client, portal) -> None:
    admin = await portal("admin")
    for charge_point_id in AWKWARD:
        status, html = await admin.post("/charge-points", {"charge_point_id": charge_point_id})
        assert status == 200, (charge_point_id, html[-300:])  # redirected to its page
        assert f"<h1>{html_escape(charge_point_id)} " in html, charge_point_id
    status, html = await admin.get("/")
    # No two elements share an id, nor two listen to the same event: the row of `new` is
    # no longer where new rows are appended.
    dom_ids = collections.Counter(re.findall(r' id="([^"]+)"', html))
    assert all(n == 1 for n in dom_ids.values()), dom_ids
    assert not [i for i in dom_ids if re.search(r"\s", i)], dom_ids  # HTML: no spaces in one
    events = collections.Counter(re.findall(r'sse-swap="([^"]+)"', html))
    assert all(n == 1 for n in events.values()), events
    # Each row's link opens that charge point's own page.
    opened = set()
    for link in re.findall(r'<a href="(/charge-points/[^"]+)">', html):
        async with admin.http.get(_raw(client, html_unescape(link))) as response:
            page = await response.text()
        assert response.status == 200, (link, page[-300:])
        opened.add(html_unescape(re.search(r"<h1>(.*?) <span", page)[1]))
    assert opened == set(AWKWARD)


async def test_cli_refuses_new_ids_and_removes_any(client, database_url) -> None:
    code, out = await run_cli(database_url, "charge-point", "add", "a/b")
    assert code == 2 and "no '/'" in out, out
    code, out = await run_cli(database_url, "charge-point", "add", "CP-OK", "--ping-interval", "-1")
    assert code == 2 and "--ping-interval" in out, out
    assert await _registered(client) == set()

    await _insert(client, "a/b", "..")
    for charge_point_id in ("a/b", ".."):
        code, out = await run_cli(database_url, "charge-point", "remove", "--", charge_point_id)
        assert code == 0, out
        with pytest.raises(NotFound):
            await client.app[SERVICES].charge_points.get(charge_point_id)
    code, out = await run_cli(database_url, "charge-point", "remove", "GONE")
    assert code == 2 and "not registered" in out, out
    entries = await client.app[SERVICES].audit.recent(limit=10)
    assert {(e.actor, e.action, e.target) for e in entries} >= {
        ("cli", "remove charge point", "a/b"),
        ("cli", "remove charge point", ".."),
    }
