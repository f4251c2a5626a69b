"""Webhooks through real HTTP, with real WebSocket charge points: registered through the
API, each event delivered signed to a local receiver that checks the signature, retried
with back-off while the receiver fails or is down, failed once the attempts are spent,
counted in /metrics, and pruned by retention once delivered."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest

from ocpp_core.db.models import utcnow
from ocpp_core.settings import Settings
from ocpp_core.timeutil import parse_datetime
from tests.helpers import ADMIN, OPERATOR, VIEWER, eventually
from tests.webhook_receiver import TYPES, Receiver, register
from webapp.keys import SERVICES


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Retries within a test's patience: 0.1 s, 0.2 s, 0.4 s, then failed.
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        call_timeout=2,
        webhook_retry_seconds=0.1,
        webhook_max_attempts=4,
        webhook_timeout=2,
    )


@pytest.fixture
async def receiver():
    made: list[Receiver] = []

    async def _make(start: bool = True, **kwargs) -> Receiver:
        r = Receiver(**kwargs)
        made.append(r)
        if start:
            await r.start()
        return r

    yield _make
    for r in made:
        await r.close()


async def deliveries(client, webhook_id: int, **query: str) -> list[dict]:
    response = await client.get(
        f"/api/webhooks/{webhook_id}/deliveries", params=query, headers=ADMIN
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def metric(client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def test_each_event_is_delivered_once_and_signed(client, connect, receiver) -> None:
    r = await receiver()
    hook = await register(client, r.url)
    r.secret = hook["secret"]
    assert len(hook["secret"]) == 64 and hook["event_types"] == TYPES and hook["active"]

    cp = await connect("HOOK-1")
    await cp.boot()
    await cp.status(1, "Faulted", error_code="GroundFailure")
    transaction_id = await cp.start(id_tag="TAG1")

    await eventually(lambda: len(r.accepted) >= 4)
    kinds = [e["type"] for e in r.events()]
    assert kinds == ["connected", "status", "fault", "transaction_started"]
    status = r.events("status")[0]
    assert status["charge_point_id"] == "HOOK-1"
    assert status["data"]["status"] == "Faulted" and status["data"]["error_code"] == "GroundFailure"
    assert r.events("transaction_started")[0]["data"]["transaction_id"] == transaction_id
    # Boot is not a kind this webhook asked for.
    assert "boot" not in kinds and r.bad_signatures == 0
    first = r.accepted[0]
    assert first.headers["X-Voltaro-Event-Id"] == str(first.event["id"])
    assert first.headers["X-Voltaro-Event-Type"] == "connected"
    assert first.headers["X-Voltaro-Delivery-Attempt"] == "1"
    assert abs(int(first.headers["X-Voltaro-Timestamp"]) - utcnow().timestamp()) < 30
    assert first.headers["Content-Type"] == "application/json"
    ids = [e["id"] for e in r.events()]
    assert ids == sorted(set(ids))

    # The receiver has answered; the worker records each answer just after.
    async def all_delivered() -> list[dict] | None:
        listed = await deliveries(client, hook["id"])
        return listed if {d["status"] for d in listed} == {"delivered"} else None

    listed = await eventually(all_delivered, what="every delivery recorded as delivered")
    assert len(listed) == 4
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["status_code"] == 204 for d in listed)
    assert await metric(client, "voltaro_webhook_deliveries_pending") == 0
    assert await metric(client, "voltaro_webhook_deliveries_failed") == 0
    # The secret was shown once: never in a list or a read.
    listing = await (await client.get("/api/webhooks", headers=ADMIN)).text()
    assert hook["secret"] not in listing
    assert len(r.requests) == 4  # once each, nothing sent again


async def test_a_failing_receiver_gets_retries_with_back_off(client, connect, receiver) -> None:
    r = await receiver(fail_first=2)
    hook = await register(client, r.url, ["status"])
    r.secret = hook["secret"]
    cp = await connect("HOOK-2")
    await cp.boot()
    await cp.status(1, "Available")

    await eventually(lambda: r.accepted)
    [delivery] = await deliveries(client, hook["id"])
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
    assert "HTTP 500" in (delivery["attempts"][0]["error"] or "")
    assert [req.headers["X-Voltaro-Delivery-Attempt"] for req in r.requests] == ["1", "2", "3"]
    # The same event and body each time, the waits doubling from 0.1 s.
    assert len({req.body for req in r.requests}) == 1
    times = [a["at"] for a in delivery["attempts"]]
    gaps = [
        (parse_datetime(b) - parse_datetime(a)).total_seconds()
        for a, b in itertools.pairwise(times)
    ]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2


async def test_a_receiver_down_then_up_gets_it_and_one_never_up_fails(
    client, connect, receiver
) -> None:
    later = await receiver(start=False)
    never = await receiver(start=False)
    hook = await register(client, later.url, ["status"])
    later.secret = hook["secret"]
    dead = await register(client, never.url, ["status"])
    cp = await connect("HOOK-3")
    await cp.boot()
    await cp.status(1, "Available")

    async def tried_once() -> bool:
        listed = await deliveries(client, hook["id"])  # none before the fan-out
        return bool(listed and listed[0]["attempts"])

    await eventually(tried_once)
    await later.start()
    await eventually(lambda: later.accepted)
    [d] = await deliveries(client, hook["id"])
    assert d["status"] == "delivered" and d["attempts"][-1]["status_code"] == 204
    assert "ClientConnectorError" in d["attempts"][0]["error"]

    async def failed() -> bool:
        listed = await deliveries(client, dead["id"])
        return bool(listed and listed[0]["status"] == "failed")

    await eventually(failed)
    [d] = await deliveries(client, dead["id"], status="failed")
    assert len(d["attempts"]) == 4 and d["next_attempt_at"] is None
    assert await metric(client, "voltaro_webhook_deliveries_failed") == 1

    # An admin tries it again once the receiver is there.
    never.secret = dead["secret"]
    await never.start()
    response = await client.post(
        f"/api/webhooks/{dead['id']}/deliveries/{d['id']}/retry", headers=ADMIN
    )
    assert response.status == 202
    await eventually(lambda: never.accepted)
    assert await metric(client, "voltaro_webhook_deliveries_failed") == 0


async def test_webhooks_api_checks_what_it_is_given(client) -> None:
    async def post(body, headers=ADMIN):
        response = await client.post("/api/webhooks", json=body, headers=headers)
        return response.status, await response.json()

    assert (await post({"url": "http://x.example/h", "event_types": ["status"]}, OPERATOR))[
        0
    ] == 403
    status, body = await post({"url": "ftp://x.example/h", "event_types": ["status"]})
    assert status == 400 and "http" in body["error"]
    status, body = await post({"url": "http://x.example/h", "event_types": ["nonsense"]})
    assert status == 400 and "nonsense" in body["error"]
    status, body = await post({"url": "http://x.example/h", "event_types": []})
    assert status == 400
    status, body = await post({"url": "http://x.example/h"})
    assert status == 400 and "event_types" in body["error"]
    status, body = await post({"url": "http://x.example/h", "event_types": ["status"], "x": 1})
    assert status == 400 and "x" in body["error"]

    status, made = await post({"url": "http://x.example/h", "event_types": ["status"]})
    assert status == 201
    response = await client.patch(
        f"/api/webhooks/{made['id']}",
        json={"active": False, "event_types": ["fault"]},
        headers=ADMIN,
    )
    changed = await response.json()
    assert response.status == 200 and changed["active"] is False
    assert changed["event_types"] == ["fault"] and "secret" not in changed
    response = await client.patch(
        f"/api/webhooks/{made['id']}", json={"active": "no"}, headers=ADMIN
    )
    assert response.status == 400
    assert (await client.get(f"/api/webhooks/{made['id']}", headers=VIEWER)).status == 403
    assert (await client.delete(f"/api/webhooks/{made['id']}", headers=ADMIN)).status == 204
    assert (await client.get(f"/api/webhooks/{made['id']}", headers=ADMIN)).status == 404
    audit = [(e.action, e.target) for e in await client.app[SERVICES].audit.recent()]
    assert ("create webhook", f"webhook {made['id']} http://x.example/h") in audit
    assert ("delete webhook", f"webhook {made['id']} http://x.example/h") in audit


async def test_retention_prunes_delivered_events_and_keeps_those_owed(
    client, connect, receiver
) -> None:
    r = await receiver()
    hook = await register(client, r.url, ["status"])
    r.secret = hook["secret"]
    down = await receiver(start=False)
    await register(client, down.url, ["fault"])
    cp = await connect("HOOK-4")
    await cp.boot()
    await cp.status(1, "Available")
    await cp.status(2, "Faulted")
    await eventually(lambda: len(r.accepted) == 2)

    services = client.app[SERVICES]
    results = await services.retention.prune(now=utcnow() + timedelta(days=8))
    [events] = [p for p in results if p.table == "events"]
    # connected, boot, the two statuses go; the fault's delivery is still pending.
    assert events.setting == "RETAIN_EVENTS_DAYS" and events.rows == 4
    left = await services.event_log.after(0)
    assert [e.kind for e in left.events] == ["fault"]
    assert await deliveries(client, hook["id"]) == []


async def test_portal_page_registers_and_shows_deliveries(
    client, connect, portal, receiver
) -> None:
    r = await receiver(fail_first=1)
    operator = await portal("operator")
    status, _ = await operator.get("/webhooks")
    assert status == 403
    admin = await portal("admin")
    await admin.refresh_csrf("/webhooks")
    status, html = await admin.post("/webhooks", {"url": "not a url", "event_types": "status"})
    assert status == 400 and "http" in html
    status, html = await admin.post("/webhooks", {"url": r.url, "event_types": "status"})
    assert status == 200
    match = re.search(r'id="new-secret"[^>]*value="([0-9a-f]{64})"', html)
    assert match, "the secret is shown once on the answer"
    r.secret = match[1]
    status, html = await admin.get("/webhooks")
    assert r.url in html and r.secret not in html

    cp = await connect("HOOK-P")
    await cp.boot()
    await cp.status(1, "Available")
    await eventually(lambda: r.accepted)
    [hook] = await client.app[SERVICES].webhooks.list()
    status, html = await admin.get(f"/webhooks/{hook.id}")
    assert status == 200
    assert "delivered" in html and "500" in html and "204" in html and "HOOK-P" in html
