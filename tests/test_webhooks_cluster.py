"""Two instances on one PostgreSQL: each event is delivered once whichever instance sends
it (retries included), and `/api/events` on one carries the other's events live."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ocpp_core.settings import Settings
from tests.helpers import ACCOUNTS, ADMIN, VIEWER, bounded_close, eventually, read_json_events
from tests.ocpp_client import RawChargePoint
from tests.webhook_receiver import Receiver, register
from webapp.app import create_app
from webapp.keys import SERVICES


@pytest.fixture
async def pair(pg_database_url: str):
    settings = Settings(
        database_url=pg_database_url,
        secret_key="shared",
        call_timeout=2,
        instance_ttl=3,
        webhook_retry_seconds=0.05,
        webhook_max_attempts=10,
    )
    clients = []
    for _ in range(2):
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
    for role, (login, password) in ACCOUNTS.items():
        await clients[0].app[SERVICES].users.add(login, password, role)
    sockets: list[RawChargePoint] = []
    yield clients, sockets
    for cp in sockets:
        await bounded_close("a charge point's WebSocket", cp.ws.close())
    for client in clients:
        await bounded_close("an instance", client.close())


async def test_two_instances_deliver_each_event_once(pair) -> None:
    (a, b), sockets = pair
    receiver = Receiver(fail_first=3)  # retries too, wherever they are taken up
    await receiver.start()
    try:
        hook = await register(a, receiver.url, ["status"])
        receiver.secret = hook["secret"]
        for instance, name in ((a, "CL-A"), (b, "CL-B")):
            for n in range(3):
                ws = await instance.ws_connect(f"/ocpp/{name}{n}", protocols=("ocpp1.6",))
                sockets.append(RawChargePoint(ws))
        for cp in sockets:
            await cp.boot()

        async def statuses(cp: RawChargePoint) -> None:
            for connector in range(1, 6):
                await cp.status(connector, "Available")

        await asyncio.gather(*(statuses(cp) for cp in sockets))
        expected = len(sockets) * 5
        await eventually(lambda: len(receiver.accepted) >= expected, timeout=20)
        await asyncio.sleep(0.5)  # anything sent twice would have come by now
        ids = Counter(r.event["id"] for r in receiver.accepted)
        assert len(ids) == expected and set(ids.values()) == {1}
        assert receiver.bad_signatures == 0
        listed = await a.get(
            f"/api/webhooks/{hook['id']}/deliveries", params={"limit": "100"}, headers=ADMIN
        )
        rows = await listed.json()
        assert len(rows) == expected and {d["status"] for d in rows} == {"delivered"}
    finally:
        await receiver.close()


async def test_events_on_one_instance_carry_the_others(pair) -> None:
    (a, b), sockets = pair
    async with aiohttp.ClientSession(headers=VIEWER) as http:
        async with http.get(b.make_url("/api/events"), params={"types": "status"}) as stream:
            ws = await a.ws_connect("/ocpp/CL-EV", protocols=("ocpp1.6",))
            cp = RawChargePoint(ws)
            sockets.append(cp)
            await cp.boot()
            await cp.status(1, "Faulted")
            [(_, name, event)] = await read_json_events(stream, 1)
            assert name == "status" and event["charge_point_id"] == "CL-EV"
            assert event["data"]["status"] == "Faulted"
