"""A remote start from the portal checks the tag before anything is sent: a tag the
charger would be refused for (unknown, blocked, expired, in a session already) is not
sent unless the operator says to, and an accepted one waits for the session it leads to."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import iso
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}


async def a_charger(connect, charge_point_id: str):
    cp = await connect(charge_point_id)
    await cp.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    return cp


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        ("unknown", "is unknown to this central system"),
        ("blocked", "is blocked"),
        ("expired", "has expired"),
        ("in use", "is in a session already"),
    ],
)
async def test_a_tag_that_would_be_refused_is_not_sent(client, connect, portal, state, shown):
    tags = client.app[SERVICES].id_tags
    if state == "blocked":
        await tags.add("CARD", blocked=True)
    elif state == "expired":
        await tags.add("CARD", expiry_date=datetime.now(UTC) - timedelta(days=1))
    elif state == "in use":
        await tags.add("CARD")
    cp = await a_charger(connect, "RS1")
    if state == "in use":
        start = {
            "connectorId": 2,
            "idTag": "CARD",
            "meterStart": 0,
            "timestamp": iso(datetime.now(UTC)),
        }
        await cp.result("StartTransaction", start)
    operator = await portal("operator")

    form = {"id_tag": "CARD", "connector_id": "1"}
    status, html = await operator.post("/charge-points/RS1/remote-start", form, headers=HTMX)
    assert status == 200
    assert "Remote start: <strong>not sent</strong>" in html and f"id tag CARD {shown}" in html
    assert await cp.nothing_within(0.2)  # proving nothing went: a short wait is the point
    resend = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert resend == {"csrf_token": resend["csrf_token"], "id_tag": "CARD",
                      "connector_id": "1", "anyway": "1"}  # fmt: skip

    # Sent anyway, when the operator says so.
    resend.pop("csrf_token")
    posting = asyncio.ensure_future(
        operator.post("/charge-points/RS1/remote-start", resend, headers=HTMX)
    )
    call = await cp.expect_call("RemoteStartTransaction")
    assert call[3] == {"connectorId": 1, "idTag": "CARD"}
    await cp.answer(call, {"status": "Accepted"})
    status, html = await posting
    assert status == 200 and "Remote start: <strong>Accepted</strong>" in html
    assert 'sse-swap="remote-start"' in html and "waiting for the session to start" in html


async def test_an_accepted_tag_goes_at_once(client, connect, portal) -> None:
    await client.app[SERVICES].id_tags.add("GOOD")
    cp = await a_charger(connect, "RS2")
    operator = await portal("operator")
    posting = asyncio.ensure_future(
        operator.post("/charge-points/RS2/remote-start", {"id_tag": "GOOD"}, headers=HTMX)
    )
    call = await cp.expect_call("RemoteStartTransaction")
    await cp.answer(call, {"status": "Rejected"})
    status, html = await posting
    assert status == 200 and "Remote start: <strong>Rejected</strong>" in html
    assert "sse-swap" not in html  # nothing to wait for


async def test_a_session_started_before_the_answer_landed_is_shown(client, connect, portal):
    """The charger may start the session before the browser has put the answer (and its
    live listener) on the page: the answer asks once for what came of it."""
    await client.app[SERVICES].id_tags.add("FAST")
    await client.app[SERVICES].id_tags.add("OTHER")
    cp = await a_charger(connect, "RS3")
    earlier = {
        "connectorId": 2,
        "idTag": "OTHER",
        "meterStart": 0,
        "timestamp": iso(datetime.now(UTC)),
    }
    before = (await cp.result("StartTransaction", earlier))["transactionId"]
    operator = await portal("operator")
    posting = asyncio.ensure_future(
        operator.post("/charge-points/RS3/remote-start", {"id_tag": "FAST"}, headers=HTMX)
    )
    call = await cp.expect_call("RemoteStartTransaction")
    await cp.answer(call, {"status": "Accepted"})
    status, html = await posting
    assert status == 200 and "waiting for the session to start" in html
    asked = re.search(r'hx-get="([^"]*remote-start-outcome[^"]*)"', html)
    assert asked and 'hx-trigger="load"' in html
    url = asked[1].replace("&amp;", "&")
    # Nothing new yet (the session opened before the remote start does not count): 204.
    status, _ = await operator.get(url)
    assert status == 204
    start = {
        "connectorId": 1,
        "idTag": "FAST",
        "meterStart": 0,
        "timestamp": iso(datetime.now(UTC)),
    }
    started = (await cp.result("StartTransaction", start))["transactionId"]
    assert started != before
    status, outcome = await operator.get(url)
    assert status == 200 and f"session {started}</a> started" in outcome
    status, _ = await operator.get("/charge-points/RS3/remote-start-outcome?after=x")
    assert status == 400
