"""Remote start/stop and other operations: API -> registry -> CALL -> the charge point's answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ocpp_core.errors import CallTimedOut, NotConnected
from ocpp_core.v16.operations import BY_ACTION
from simulator.common import SimulatorConfig
from simulator.v16 import SimulatedChargePoint
from tests.helpers import ADMIN, OPERATOR, VIEWER, eventually, get_json, post, simulated
from webapp.keys import CENTRAL_SYSTEM, SERVICES


@pytest.fixture
async def simulator(client, seed: int) -> AsyncIterator[SimulatedChargePoint]:
    """A simulated charge point SIM1 with two connectors, booted and Available, metering
    every 0.1 s, and the id tag TAG."""
    await client.app[SERVICES].id_tags.add("TAG")
    config = SimulatorConfig(connectors=2, meter_interval=0.1)
    async with simulated(client, config, seed) as sim:
        yield sim


async def test_remote_start_and_stop_round_trip(client, simulator) -> None:
    status, answer = await post(
        client, "/api/charge-points/SIM1/remote-start", {"id_tag": "TAG", "connector_id": 2}
    )
    assert (status, answer) == (200, {"status": "Accepted"})

    async def started() -> Any:
        active = await get_json(client, "/api/transactions?active=true&charge_point_id=SIM1")
        return active[0] if active and active[0]["energy_wh"] else None

    tx = await eventually(started)
    assert (tx["connector_id"], tx["id_tag"]) == (2, "TAG")
    cp = await get_json(client, "/api/charge-points/SIM1")
    assert cp["connectors"][2]["status"] == "Charging"

    # Energy rises while it charges.
    first = tx["energy_wh"]

    async def rising() -> bool:
        [now] = await get_json(client, "/api/transactions?active=true")
        return now["energy_wh"] > first

    await eventually(rising)

    status, answer = await post(
        client, "/api/charge-points/SIM1/remote-stop", {"transaction_id": tx["id"]}
    )
    assert (status, answer) == (200, {"status": "Accepted"})

    async def stopped() -> Any:
        [done] = await get_json(client, "/api/transactions?charge_point_id=SIM1")
        return done if done["stop_time"] else None

    done = await eventually(stopped)
    assert done["stop_reason"] == "Remote"
    assert done["meter_stop"] >= done["meter_start"]
    values = await get_json(client, f"/api/transactions/{tx['id']}/meter-values")
    measurands = {v["measurand"] for v in values}
    assert {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"} <= measurands

    async def available() -> bool:
        cp = await get_json(client, "/api/charge-points/SIM1")
        return cp["connectors"][2]["status"] == "Available"

    await eventually(available)


async def test_remote_start_without_connector_and_rejection(client, simulator) -> None:
    status, answer = await post(client, "/api/charge-points/SIM1/remote-start", {"id_tag": "TAG"})
    assert (status, answer) == (200, {"status": "Accepted"})

    async def charging() -> bool:
        return bool(await get_json(client, "/api/transactions?active=true"))

    await eventually(charging)
    [tx] = await get_json(client, "/api/transactions?active=true")
    # The connector in use answers Rejected to a second start.
    status, answer = await post(
        client,
        "/api/charge-points/SIM1/remote-start",
        {"id_tag": "TAG", "connector_id": tx["connector_id"]},
    )
    assert (status, answer) == (200, {"status": "Rejected"})


async def test_service_api_returns_answers_and_typed_outcomes(client, simulator, connect) -> None:
    central = client.app[CENTRAL_SYSTEM]
    start = BY_ACTION["RemoteStartTransaction"]
    answer = await central.operate("SIM1", "1.6", start, {"id_tag": "TAG", "connector_id": 1})
    assert answer == {"status": "Accepted"}

    statuses = await central.live_charge_points()
    assert [(s.charge_point.id, s.connected) for s in statuses] == [("SIM1", True)]
    one = await central.live_charge_point("SIM1")
    assert one.charge_point.vendor == "Voltaro"

    await client.app[SERVICES].charge_points.register("OFFLINE")
    with pytest.raises(NotConnected):
        await central.operate("OFFLINE", "1.6", start, {"id_tag": "TAG"})

    silent = await connect("SILENT")
    await silent.result("Heartbeat", {})  # answered: its handler is registered
    with pytest.raises(CallTimedOut):
        await central.operate("SILENT", "1.6", start, {"id_tag": "TAG"})
    await silent.expect_call("RemoteStartTransaction")


async def test_not_connected_unknown_and_timed_out(client, connect) -> None:
    await client.app[SERVICES].charge_points.register("OFFLINE")
    status, answer = await post(client, "/api/charge-points/OFFLINE/remote-start", {"id_tag": "T"})
    assert status == 409 and "not connected" in answer["error"]

    status, answer = await post(client, "/api/charge-points/NOPE/remote-start", {"id_tag": "T"})
    assert status == 404 and "error" in answer

    cp = await connect("SLOW")
    await cp.boot()
    status, answer = await post(client, "/api/charge-points/SLOW/remote-start", {"id_tag": "T"})
    assert status == 504 and "did not answer" in answer["error"]
    late = await cp.expect_call("RemoteStartTransaction")

    # The late answer is logged and dropped; the next operation gets its own answer.
    await cp.answer(late, {"status": "Rejected"})
    request = asyncio.create_task(
        post(client, "/api/charge-points/SLOW/remote-start", {"id_tag": "T"})
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    assert frame[3] == {"idTag": "T"}
    await cp.answer(frame, {"status": "Accepted"})
    assert await request == (200, {"status": "Accepted"})


async def test_callerror_and_invalid_answers_are_502(client, connect) -> None:
    cp = await connect("ODD")
    await cp.boot()
    request = asyncio.create_task(
        post(client, "/api/charge-points/ODD/remote-start", {"id_tag": "T"})
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    await cp.send_raw(json.dumps([4, frame[1], "NotSupported", "no remote start here", {}]))
    status, answer = await request
    assert status == 502 and "NotSupported" in answer["error"]

    request = asyncio.create_task(
        post(client, "/api/charge-points/ODD/remote-start", {"id_tag": "T"})
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    await cp.answer(frame, {"status": "Maybe"})
    status, answer = await request
    assert status == 502 and "invalid answer" in answer["error"]


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("remote-start", {}, "missing"),
        ("remote-start", {"id_tag": "A" * 21}, "too long"),
        ("remote-start", {"id_tag": 5}, "not of type"),
        ("remote-start", {"id_tag": "T", "connector_id": 0}, "greater than 0"),
        ("remote-start", {"id_tag": "T", "connector_id": "1"}, "not of type"),
        ("remote-start", {"id_tag": "T", "colour": "red"}, "unknown field"),
        (
            "remote-start",
            {"id_tag": "T", "charging_profile": {"charging_profile_id": 1}},
            "required",
        ),
        ("remote-start", "{not json", "not valid JSON"),
        ("remote-start", "[1, 2]", "JSON object"),
        ("remote-stop", {"transaction_id": 999}, "does not exist"),
        ("remote-stop", {"transaction_id": "1"}, "integer"),
        ("remote-stop", {}, "missing"),
        ("reset", {"type": "Medium"}, "is not one of"),
        ("change-availability", {"connector_id": -1, "type": "Inoperative"}, "minimum"),
        (
            "reserve-now",
            {"connector_id": 1, "expiry_date": "tomorrow", "id_tag": "T", "reservation_id": 1},
            "date-time",
        ),
    ],
)
async def test_bad_bodies_are_400_and_nothing_is_sent(
    client, connect, path: str, body: Any, reason: str
) -> None:
    cp = await connect("CP-400")
    await cp.boot()
    status, answer = await post(client, f"/api/charge-points/CP-400/{path}", body)
    assert status == 400, answer
    assert reason in answer["error"]
    assert await cp.nothing_within(0.2)


async def test_remote_stop_of_another_charge_points_transaction_is_400(client, connect) -> None:
    owner = await connect("OWNER")
    await owner.boot()
    transaction_id = await owner.start()
    other = await connect("OTHER")
    await other.boot()
    status, answer = await post(
        client, "/api/charge-points/OTHER/remote-stop", {"transaction_id": transaction_id}
    )
    assert status == 400 and "does not belong" in answer["error"]
    assert await other.nothing_within(0.2)


async def test_generic_operation_sends_the_ocpp_call(client, connect) -> None:
    cp = await connect("CP-OP")
    await cp.boot()
    request = asyncio.create_task(post(client, "/api/charge-points/CP-OP/reset", {"type": "Soft"}))
    frame = await cp.expect_call("Reset")
    assert frame[3] == {"type": "Soft"}
    await cp.answer(frame, {"status": "Accepted"})
    assert await request == (200, {"status": "Accepted"})

    request = asyncio.create_task(
        post(client, "/api/charge-points/CP-OP/get-configuration", {"key": ["HeartbeatInterval"]})
    )
    frame = await cp.expect_call("GetConfiguration")
    await cp.answer(
        frame,
        {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    )
    assert await request == (
        200,
        {"configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
    )

    request = asyncio.create_task(post(client, "/api/charge-points/CP-OP/clear-cache", {}))
    frame = await cp.expect_call("ClearCache")
    await cp.answer(frame, {"status": "Rejected"})
    assert await request == (200, {"status": "Rejected"})

    status, answer = await post(client, "/api/charge-points/CP-OP/fly-to-the-moon", {})
    assert status == 404 and "unknown operation" in answer["error"]


async def test_operations_queue_one_call_at_a_time(client, connect) -> None:
    cp = await connect("CP-Q")
    await cp.boot()
    first = asyncio.create_task(post(client, "/api/charge-points/CP-Q/clear-cache", {}))
    second = asyncio.create_task(post(client, "/api/charge-points/CP-Q/reset", {"type": "Hard"}))
    # Whichever request reaches the charge point first (each writes its journal entry
    # before sending, in no set order) ...
    frame = await cp.receive()
    assert frame[0] == 2 and frame[2] in {"ClearCache", "Reset"}
    # ... the other CALL waits until that one is answered (OCPP-J 4.1.1) ...
    assert await cp.nothing_within(0.3)
    # ... while the charge point's own CALLs are still answered meanwhile.
    heartbeat = await cp.call("Heartbeat", {})
    assert heartbeat[0] == 3
    await cp.answer(frame, {"status": "Accepted"})
    frame = await cp.expect_call({"ClearCache": "Reset", "Reset": "ClearCache"}[frame[2]])
    await cp.answer(frame, {"status": "Accepted"})
    assert await first == (200, {"status": "Accepted"})
    assert await second == (200, {"status": "Accepted"})


async def test_operator_auth_and_roles(client) -> None:
    response = await client.get("/api/charge-points")
    assert response.status == 401
    assert "error" in await response.json()
    response = await client.get(
        "/api/charge-points", headers={"Authorization": "Basic YWRtaW46bm9wZQ=="}
    )
    assert response.status == 401

    response = await client.get("/api/charge-points", headers=VIEWER)
    assert response.status == 200
    status, answer = await post(client, "/api/id-tags", {"id_tag": "V"}, headers=VIEWER)
    assert status == 403 and "viewer" in answer["error"]
    status, _ = await post(client, "/api/id-tags", {"id_tag": "O"}, headers=OPERATOR)
    assert status == 201


async def test_id_tags_api(client) -> None:
    status, tag = await post(
        client,
        "/api/id-tags",
        {"id_tag": "CARD1", "expiry_date": "2030-01-01T00:00:00Z", "parent_id_tag": "FLEET"},
    )
    assert status == 201
    assert tag == {
        "id_tag": "CARD1",
        "expiry_date": "2030-01-01T00:00:00Z",
        "parent_id_tag": "FLEET",
        "blocked": False,
    }
    await post(client, "/api/id-tags", {"id_tag": "CARD2", "blocked": True})
    tags = await get_json(client, "/api/id-tags")
    assert [(t["id_tag"], t["blocked"]) for t in tags] == [("CARD1", False), ("CARD2", True)]

    for body, reason in [
        ({"id_tag": "X" * 21}, "1 to 20"),
        ({"id_tag": "X", "expiry_date": "soon"}, "ISO 8601"),
        ({"id_tag": "X", "blocked": "yes"}, "true or false"),
        ({}, "missing"),
    ]:
        status, answer = await post(client, "/api/id-tags", body)
        assert status == 400 and reason in answer["error"], answer

    response = await client.delete("/api/id-tags/CARD1", headers=OPERATOR)
    assert response.status == 204
    response = await client.delete("/api/id-tags/CARD1", headers=OPERATOR)
    assert response.status == 404
    assert [t["id_tag"] for t in await get_json(client, "/api/id-tags")] == ["CARD2"]


async def test_transactions_api_filters_and_404(client, connect) -> None:
    response = await client.get("/api/transactions/999/meter-values", headers=ADMIN)
    assert response.status == 404
    response = await client.get("/api/transactions?active=maybe", headers=ADMIN)
    assert response.status == 400
    response = await client.get("/api/charge-points/NOPE", headers=ADMIN)
    assert response.status == 404


async def test_an_answer_with_nul_characters_is_refused_or_read_without_them(
    client, connect
) -> None:
    # Configuration values copied from fixed-size C buffers come padded with NULs, which
    # PostgreSQL cannot store: a strict charge point's answer is invalid, a lenient one's
    # is read without them and the deviation recorded.
    padded = {"configurationKey": [{"key": "Model", "readonly": True, "value": "X1\x00\x00"}]}
    for charge_point_id, lenient in [("CP-STRICT", False), ("CP-LAX", True)]:
        await client.app[SERVICES].charge_points.register(charge_point_id)
        await client.app[SERVICES].charge_points.set_protocol_settings(
            charge_point_id, lenient=lenient
        )
        cp = await connect(charge_point_id)
        await cp.boot()
        request = asyncio.create_task(
            post(client, f"/api/charge-points/{charge_point_id}/get-configuration", {})
        )
        await cp.answer(await cp.expect_call("GetConfiguration"), padded)
        status, answer = await request
        if not lenient:
            assert (status, answer) == (502, {"error": "charge point sent an invalid answer: "
                "GetConfiguration answer: configurationKey.0.value: contains the NUL "
                "character (U+0000)"})  # fmt: skip
            continue
        assert (status, answer["configuration_key"][0]["value"]) == (200, "X1")
        [row] = await get_json(client, f"/api/charge-points/{charge_point_id}/deviations")
        assert row["deviations"] == ["configurationKey.0.value: NUL characters (U+0000) removed"]
        assert json.loads(row["frame"])[2] == padded  # the evidence is the answer as sent
