"""Two instances of the application on one PostgreSQL database, in this process: operations
posted to one reach a charge point held by the other, events cross over, the newest
connection wins across instances. (tests/test_instances.py does it with real processes.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from ocpp_core.cluster.notify import MAX_PAYLOAD_BYTES
from ocpp_core.settings import Settings
from tests.helpers import ACCOUNTS, ADMIN, bounded_close, eventually, get_json, post, read_events
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import CENTRAL_SYSTEM, SERVICES


@dataclass
class Instances:
    a: TestClient
    b: TestClient
    sockets: list[RawChargePoint]

    async def connect(
        self, instance: TestClient, charge_point_id: str, subprotocol: str = "ocpp1.6"
    ) -> RawChargePoint:
        ws = await instance.ws_connect(f"/ocpp/{charge_point_id}", protocols=(subprotocol,))
        cp = RawChargePoint(ws)
        self.sockets.append(cp)
        return cp


@pytest.fixture
async def instances(pg_database_url: str) -> AsyncIterator[Instances]:
    settings = Settings(
        database_url=pg_database_url, secret_key="shared", call_timeout=2, instance_ttl=3
    )
    clients = []
    for _ in range(2):
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
    for role, (login, password) in ACCOUNTS.items():
        await clients[0].app[SERVICES].users.add(login, password, role)
    both = Instances(clients[0], clients[1], [])
    yield both
    for cp in both.sockets:
        await bounded_close("a charge point's WebSocket", cp.ws.close())
    for client in clients:
        await bounded_close("an instance", client.close())


async def connected_on(instance: TestClient, charge_point_id: str, expected: bool = True) -> None:
    async def check() -> bool:
        cp = await get_json(instance, f"/api/charge-points/{charge_point_id}")
        return cp["connected"] is expected

    await eventually(check, timeout=10)


async def test_operation_posted_to_b_is_answered_by_the_charge_point_on_a(instances) -> None:
    cp = await instances.connect(instances.a, "CP-A")
    await cp.boot()
    await connected_on(instances.b, "CP-A")

    asked = asyncio.create_task(
        post(instances.b, "/api/charge-points/CP-A/remote-start", {"id_tag": "TAG"})
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    assert frame[3] == {"idTag": "TAG"}
    await cp.answer(frame, {"status": "Rejected"})
    assert await asked == (200, {"status": "Rejected"})

    # Any operation, and each failure keeps its meaning across instances.
    asked = asyncio.create_task(
        post(
            instances.b, "/api/charge-points/CP-A/get-configuration", {"key": ["HeartbeatInterval"]}
        )
    )
    frame = await cp.expect_call("GetConfiguration")
    await cp.answer(
        frame,
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}]},
    )
    status, body = await asked
    assert status == 200 and body["configuration_key"][0]["value"] == "60"

    asked = asyncio.create_task(post(instances.b, "/api/charge-points/CP-A/clear-cache", {}))
    frame = await cp.expect_call("ClearCache")
    await cp.send_raw(json.dumps([4, frame[1], "NotSupported", "no cache here", {}]))
    status, body = await asked
    assert status == 502 and "NotSupported" in body["error"]

    asked = asyncio.create_task(post(instances.b, "/api/charge-points/CP-A/clear-cache", {}))
    await cp.expect_call("ClearCache")  # and never answered
    status, body = await asked
    assert status == 504, body

    # The journal on either instance says who asked, what and how it went.
    journal = await get_json(instances.a, "/api/charge-points/CP-A/operations")
    outcomes = [(entry["action"], entry["outcome"]) for entry in journal]
    assert ("RemoteStartTransaction", "answered") in outcomes
    assert ("ClearCache", "callerror") in outcomes and ("ClearCache", "timeout") in outcomes


async def test_201_charge_point_on_a_answers_operations_posted_to_b(instances) -> None:
    """A mixed fleet across instances: B speaks 2.0.1 to a charger whose socket is on A."""
    cp = await instances.connect(instances.a, "CP-201", "ocpp2.0.1")
    await cp.result(
        "BootNotification",
        {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"},
    )
    await connected_on(instances.b, "CP-201")

    asked = asyncio.create_task(
        post(instances.b, "/api/charge-points/CP-201/remote-start", {"id_tag": "TAG"})
    )
    frame = await cp.expect_call("RequestStartTransaction")
    assert frame[3]["idToken"] == {"idToken": "TAG", "type": "Central"}
    await cp.answer(frame, {"status": "Accepted"})
    assert await asked == (200, {"status": "Accepted"})

    query = {
        "get_variable_data": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    }
    asked = asyncio.create_task(post(instances.b, "/api/charge-points/CP-201/get-variables", query))
    frame = await cp.expect_call("GetVariables")
    await cp.answer(
        frame,
        {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
                                "component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "HeartbeatInterval"}}]},
    )  # fmt: skip
    status, body = await asked
    assert status == 200 and body["get_variable_result"][0]["attribute_value"] == "300"
    [held] = await instances.a.app[SERVICES].device_model.variables("CP-201", "Heartbeat")
    assert held.value == "300"
    # A 1.6 action for it is refused on B as well, naming the version.
    status, body = await post(instances.b, "/api/charge-points/CP-201/get-configuration", {})
    assert status == 400 and "2.0.1" in body["error"]


async def test_remote_start_to_a_pending_charge_point_elsewhere_is_409(instances) -> None:
    await instances.a.app[SERVICES].charge_points.register("CP-P", status="Pending")
    cp = await instances.connect(instances.a, "CP-P")
    assert (await cp.boot())["status"] == "Pending"
    await connected_on(instances.b, "CP-P")
    status, body = await post(instances.b, "/api/charge-points/CP-P/remote-start", {"id_tag": "T"})
    assert status == 409 and "Pending" in body["error"]
    assert await cp.nothing_within(0.3)


async def test_large_operation_and_its_log_event_cross_by_reference(instances) -> None:
    cp = await instances.connect(instances.a, "CP-BIG")
    await cp.boot()
    await connected_on(instances.b, "CP-BIG")
    entries = [
        {"id_tag": f"TAG-{n:05d}", "id_tag_info": {"status": "Accepted"}} for n in range(300)
    ]
    body = {"list_version": 7, "update_type": "Full", "local_authorization_list": entries}
    assert len(json.dumps(body)) > MAX_PAYLOAD_BYTES

    async with aiohttp.ClientSession() as http:
        url = str(instances.b.make_url("/events?charge_point=CP-BIG"))
        async with http.get(url, headers=ADMIN) as stream:
            asked = asyncio.create_task(
                post(instances.b, "/api/charge-points/CP-BIG/send-local-list", body)
            )
            frame = await cp.expect_call("SendLocalList")
            assert len(frame[3]["localAuthorizationList"]) == 300
            await cp.answer(frame, {"status": "Accepted"})
            assert await asked == (200, {"status": "Accepted"})
            # A's message log event for the 20 KB frame reached B's live log.
            while "TAG-00299" not in (log := await read_events(stream, "log")):
                pass
            assert "SendLocalList" in log


async def test_events_of_a_charge_point_on_a_reach_the_dashboard_of_b(instances) -> None:
    async with aiohttp.ClientSession() as http:
        url = str(instances.b.make_url("/events"))
        async with http.get(url, headers=ADMIN) as stream:
            cp = await instances.connect(instances.a, "CP-LIVE")
            row = await read_events(stream, "new-charge-point")
            assert 'id="cp-CP-LIVE"' in row
            await cp.boot()
            await cp.status(1, "Charging")
            while "Charging" not in (row := await read_events(stream, "cp-CP-LIVE")):
                pass
            assert "Offline" not in row
            await cp.ws.close()
            while "Offline" not in await read_events(stream, "cp-CP-LIVE"):
                pass
    await connected_on(instances.b, "CP-LIVE", expected=False)


async def test_newest_connection_wins_across_instances(instances) -> None:
    old = await instances.connect(instances.a, "CP-MOVE")
    await old.boot()
    await connected_on(instances.b, "CP-MOVE")
    new = await instances.connect(instances.b, "CP-MOVE")
    await new.boot()
    closed = await old.ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    # Both instances send to the new socket, and both say it is connected.
    for instance in (instances.a, instances.b):
        await connected_on(instance, "CP-MOVE")
        asked = asyncio.create_task(
            post(instances.a, "/api/charge-points/CP-MOVE/reset", {"type": "Soft"})
        )
        frame = await new.expect_call("Reset")
        await new.answer(frame, {"status": "Accepted"})
        assert await asked == (200, {"status": "Accepted"})
    assert instances.a.app[CENTRAL_SYSTEM].registry.get("CP-MOVE") is None


async def test_lenient_mode_switched_on_b_applies_to_the_connection_on_a(instances) -> None:
    cp = await instances.connect(instances.a, "CP-LAX")
    await cp.boot()
    await connected_on(instances.b, "CP-LAX")
    bad = {"connectorId": "1", "errorCode": "NoError", "status": "Available"}
    assert (await cp.call("StatusNotification", bad))[0] == 4
    await instances.b.app[SERVICES].charge_points.set_protocol_settings("CP-LAX", lenient=True)

    async def tolerated() -> bool:
        return (await cp.call("StatusNotification", bad))[0] == 3

    await eventually(tolerated)


async def test_charge_point_removed_on_b_is_disconnected_from_a(instances) -> None:
    cp = await instances.connect(instances.a, "CP-GONE")
    await cp.boot()
    await connected_on(instances.b, "CP-GONE")
    await instances.b.app[SERVICES].charge_points.delete("CP-GONE")
    message = await cp.ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
    assert instances.a.app[CENTRAL_SYSTEM].registry.get("CP-GONE") is None


async def test_charge_points_of_a_frozen_instance_show_offline_after_the_ttl(instances) -> None:
    cp = await instances.connect(instances.a, "CP-GONE")
    await cp.boot()
    await connected_on(instances.b, "CP-GONE")
    # Frozen: A stops renewing its presence (its sockets still open). After the ttl, B
    # treats it as dead: its charge point shows offline there, and operations are 409.
    cluster_a = instances.a.app[CENTRAL_SYSTEM].cluster
    for task in cluster_a._loops:
        task.cancel()
    await connected_on(instances.b, "CP-GONE", expected=False)
    status, _ = await post(instances.b, "/api/charge-points/CP-GONE/reset", {"type": "Soft"})
    assert status == 409
    listed = await get_json(instances.b, "/api/charge-points")
    assert [c["connected"] for c in listed if c["id"] == "CP-GONE"] == [False]
