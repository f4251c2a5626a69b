"""`/metrics` over real HTTP, after real charge points over WebSockets: connections by
version, every CALL by action, direction and outcome, the latency of the central system's
CALLs, the group commit's batches, sessions and energy; and who may read it (loopback by
default, METRICS_ALLOW networks, a METRICS_TOKEN bearer)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

from aiohttp.test_utils import TestClient

from ocpp_core.settings import Settings
from tests.helpers import ADMIN, OPERATOR, Scrape, eventually, scrape
from tests.v201.charging_station import boot
from webapp.app import create_app
from webapp.keys import SERVICES

TOKEN = "a-metrics-token-of-some-length"


def messages(scraped: Scrape, action: str, direction: str, outcome: str) -> float | None:
    return scraped.value(
        "voltaro_ocpp_messages_total", action=action, direction=direction, outcome=outcome
    )


async def test_metrics_follow_charge_points_calls_commits_and_sessions(
    client, connect, portal
) -> None:
    await client.app[SERVICES].id_tags.add("TAG")
    before = await scrape(client)
    assert before.value("voltaro_charge_points_connected", ocpp_version="1.6") == 0
    assert before.value("voltaro_charge_points_connected", ocpp_version="2.0.1") == 0
    assert before.value("voltaro_active_sessions") == 0
    assert before.value("voltaro_energy_delivered_wh_total") == 0
    assert before.value("voltaro_database_errors_total") == 0

    cp = await connect("CP16")
    await cp.boot()
    await cp.result("Heartbeat", {})
    station = await connect("CP201", protocols=("ocpp2.0.1",))
    await boot(station)
    # An action no version has: counted as "unknown", never under the charger's spelling.
    refused = await cp.call("MadeUpAction", {})
    assert refused[0] == 4 and refused[2] == "NotImplemented"

    asked = asyncio.create_task(
        client.post(
            "/api/charge-points/CP16/remote-start",
            data=json.dumps({"id_tag": "TAG", "connector_id": 1}),
            headers={**OPERATOR, "Content-Type": "application/json"},
        )
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    await cp.answer(frame, {"status": "Accepted"})
    assert (await asked).status == 200
    transaction_id = await cp.start(id_tag="TAG", meter_start=1000)

    scraped = await scrape(client)
    assert scraped.value("voltaro_charge_points_connected", ocpp_version="1.6") == 1
    assert scraped.value("voltaro_charge_points_connected", ocpp_version="2.0.1") == 1
    assert messages(scraped, "BootNotification", "in", "result") == 2  # one per version
    assert messages(scraped, "Heartbeat", "in", "result") == 1
    assert messages(scraped, "StartTransaction", "in", "result") == 1
    assert messages(scraped, "unknown", "in", "callerror") == 1
    assert "MadeUpAction" not in scraped.label_values("voltaro_ocpp_messages_total", "action")
    assert messages(scraped, "RemoteStartTransaction", "out", "result") == 1
    latency = "voltaro_ocpp_call_seconds"
    assert scraped.value(f"{latency}_count", action="RemoteStartTransaction") == 1
    assert 0 < scraped.value(f"{latency}_sum", action="RemoteStartTransaction") < 5
    assert scraped.value(f"{latency}_bucket", action="RemoteStartTransaction", le="+Inf") == 1
    # Every charger message above was written by the group commit, some batches of it.
    batches = scraped.value("voltaro_commit_batch_size_count")
    assert batches is not None and batches >= 3
    assert scraped.value("voltaro_commit_batch_size_sum") >= batches
    assert scraped.value("voltaro_commit_seconds_count") == batches
    assert scraped.value("voltaro_commit_seconds_sum") > 0
    assert scraped.value("voltaro_active_sessions") == 1
    assert scraped.value("voltaro_database_errors_total") == 0
    assert scraped.value("voltaro_sse_subscribers") == 0

    await cp.result(
        "StopTransaction",
        {"transactionId": transaction_id, "meterStop": 3500, "timestamp": "2026-01-01T01:00:00Z"},
    )
    viewer = await portal("viewer")
    async with viewer.http.get(viewer.base + "/events") as stream:
        assert stream.status == 200

        async def streaming() -> Scrape | None:
            scraped = await scrape(client)
            return scraped if scraped.value("voltaro_sse_subscribers") == 1 else None

        scraped = await eventually(streaming)
    assert scraped.value("voltaro_active_sessions") == 0
    assert scraped.value("voltaro_energy_delivered_wh_total") == 2500

    # A CALL the charger leaves unanswered: an error, and no latency observed.
    asked = asyncio.create_task(
        client.post(
            "/api/charge-points/CP16/clear-cache",
            data="{}",
            headers={**OPERATOR, "Content-Type": "application/json"},
        )
    )
    await cp.expect_call("ClearCache")
    assert (await asked).status == 504
    await station.ws.close()
    scraped = await scrape(client)
    assert messages(scraped, "ClearCache", "out", "error") == 1
    assert scraped.value(f"{latency}_count", action="ClearCache") is None

    async def one_left() -> bool:
        scraped = await scrape(client)
        return scraped.value("voltaro_charge_points_connected", ocpp_version="2.0.1") == 0

    await eventually(one_left)


async def test_instances_in_one_process_count_their_own(settings, aiohttp_client) -> None:
    first = await aiohttp_client(create_app(settings))
    second_settings = dataclasses.replace(
        settings, database_url=settings.database_url.replace("voltaro.db", "second.db")
    )
    if second_settings.database_url.startswith("sqlite"):
        second = await aiohttp_client(create_app(second_settings))
    else:  # one PostgreSQL database, two instances: each its own connections
        second = await aiohttp_client(create_app(settings))
    ws = await first.ws_connect("/ocpp/ONLY-ON-FIRST", protocols=("ocpp1.6",))
    try:
        await ws.send_str('[2, "h1", "Heartbeat", {}]')
        await ws.receive(timeout=5)  # answered (refused or not: it is counted)
        one, other = await scrape(first), await scrape(second)
        assert one.value("voltaro_charge_points_connected", ocpp_version="1.6") == 1
        assert other.value("voltaro_charge_points_connected", ocpp_version="1.6") == 0
        assert one.label_values("voltaro_ocpp_messages_total", "action") == {"Heartbeat"}
        assert other.label_values("voltaro_ocpp_messages_total", "action") == set()
    finally:
        await ws.close()


async def metrics_status(client: TestClient, **kwargs: Any) -> int:
    response = await client.get("/metrics", **kwargs)
    await response.read()
    return response.status


async def test_loopback_only_by_default(client) -> None:
    assert await metrics_status(client) == 200
    # Came through a proxy on this host (that FORWARDED_ALLOW_IPS does not name): from
    # anywhere, so refused.
    assert await metrics_status(client, headers={"X-Forwarded-For": "203.0.113.9"}) == 403
    assert await metrics_status(client, headers={"Forwarded": "for=203.0.113.9"}) == 403
    # An operator's login is no way in; nor is it needed.
    assert await metrics_status(client, headers=ADMIN) == 200


async def app_with(settings: Settings, aiohttp_client, **changes: Any) -> TestClient:
    return await aiohttp_client(create_app(dataclasses.replace(settings, **changes)))


async def test_allowed_networks(settings, aiohttp_client) -> None:
    elsewhere = await app_with(settings, aiohttp_client, metrics_allow=("10.0.0.0/8",))
    assert await metrics_status(elsewhere) == 403

    proxied = await app_with(
        settings,
        aiohttp_client,
        metrics_allow=("203.0.113.0/24",),
        forwarded_allow_ips=("127.0.0.1",),
    )
    assert await metrics_status(proxied, headers={"X-Forwarded-For": "203.0.113.7"}) == 200
    assert await metrics_status(proxied, headers={"X-Forwarded-For": "198.51.100.1"}) == 403
    assert await metrics_status(proxied) == 403  # the proxy itself is not in the networks


async def test_bearer_token(settings, aiohttp_client) -> None:
    client = await app_with(settings, aiohttp_client, metrics_token=TOKEN)
    response = await client.get("/metrics")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert await metrics_status(client, headers={"Authorization": "Bearer wrong"}) == 401
    assert await metrics_status(client, headers={"Authorization": f"Basic {TOKEN}"}) == 401
    assert await metrics_status(client, headers=ADMIN) == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert await metrics_status(client, headers=bearer) == 200
    # With a token, from anywhere (the proxy's client too).
    assert await metrics_status(client, headers={**bearer, "X-Forwarded-For": "192.0.2.1"}) == 200

    both = await app_with(
        settings, aiohttp_client, metrics_token=TOKEN, metrics_allow=("10.0.0.0/8",)
    )
    assert await metrics_status(both, headers=bearer) == 403  # both must hold
