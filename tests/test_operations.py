"""Every central-system operation of OCPP 1.6J through `POST /api/charge-points/{id}/{op}`:
accepted by the simulator (and the state it leaves), rejected, not connected, timed out,
and refused for bad input before anything is sent. Every one is journalled."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from tests.helpers import (
    ACCOUNTS,
    ADMIN,
    OPERATOR,
    eventually,
    get_json,
    journal,
    operate,
    post,
    soon,
)
from tests.operation_requests import OPERATIONS, PROFILE
from webapp.app import create_app
from webapp.keys import SERVICES

# operation -> (a body that must be refused, what the refusal says)
BAD_INPUT: dict[str, tuple[dict[str, Any], str]] = {
    "reset": ({"type": "Gentle"}, "is not one of"),
    "change-availability": ({"connector_id": 1, "type": "Broken"}, "is not one of"),
    "get-configuration": ({"key": "HeartbeatInterval"}, "is not of type"),
    "change-configuration": ({"key": "K" * 51, "value": "1"}, "is too long"),
    "clear-cache": ({"now": True}, "unknown field"),
    "unlock-connector": ({"connector_id": 0}, "greater than 0"),
    "data-transfer": ({}, "missing"),
    "trigger-message": ({"requested_message": "Coffee"}, "is not one of"),
    "reserve-now": (
        {"connector_id": 1, "expiry_date": soon(-60), "id_tag": "T", "reservation_id": 1},
        "in the future",
    ),
    "cancel-reservation": ({"reservation_id": 999}, "does not exist"),
    "send-local-list": ({"list_version": 0, "update_type": "Full"}, "at least 1"),
    "get-local-list-version": ({"version": 1}, "unknown field"),
    "set-charging-profile": (
        {
            "connector_id": 1,
            "cs_charging_profiles": {
                **PROFILE,
                "charging_profile_purpose": "ChargePointMaxProfile",
            },
        },
        "connector_id 0",
    ),
    "clear-charging-profile": ({"connector_id": -2}, "minimum"),
    "get-composite-schedule": ({"connector_id": 1, "duration": 0}, "positive"),
    "get-diagnostics": ({"location": "not a url"}, "URL"),
    "update-firmware": ({"location": "ftp://x/y", "retrieve_date": "later"}, "date-time"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_refusals_are_returned_and_journalled(client, connect, operation: str) -> None:
    body, action, refusal = OPERATIONS[operation]
    cp = await connect("RAW")
    await cp.boot()
    request = asyncio.create_task(post(client, f"/api/charge-points/RAW/{operation}", body))
    frame = await cp.expect_call(action)
    await cp.answer(frame, refusal)
    status, answer = await request
    assert status == 200, answer
    # The answer comes back as the charge point gave it, in snake_case.
    expected = {
        "".join("_" + c.lower() if c.isupper() else c for c in key): value
        for key, value in refusal.items()
    }
    assert answer == expected
    [entry] = await journal(client, "RAW")
    assert (entry["action"], entry["outcome"], entry["requested_by"]) == (
        action,
        "answered",
        ACCOUNTS["operator"][0],
    )
    assert entry["request"] == frame[3]
    assert entry["status"] == refusal.get("status")


async def test_cancel_reservation_refused_by_the_charge_point(client, connect) -> None:
    cp = await connect("RAW")
    await cp.boot()
    body, _, _ = OPERATIONS["reserve-now"]
    request = asyncio.create_task(post(client, "/api/charge-points/RAW/reserve-now", body))
    await cp.answer(await cp.expect_call("ReserveNow"), {"status": "Accepted"})
    assert (await request)[0] == 200
    request = asyncio.create_task(
        post(client, "/api/charge-points/RAW/cancel-reservation", {"reservation_id": 41})
    )
    await cp.answer(await cp.expect_call("CancelReservation"), {"status": "Rejected"})
    assert await request == (200, {"status": "Rejected"})
    [reservation] = await get_json(client, "/api/charge-points/RAW/reservations")
    assert reservation["status"] == "Reserved"


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_not_connected_is_409_and_journalled(client, operation: str) -> None:
    await client.app[SERVICES].charge_points.register("GONE")
    body, action, _ = OPERATIONS[operation]
    status, answer = await post(client, f"/api/charge-points/GONE/{operation}", body)
    assert status == 409 and "not connected" in answer["error"]
    [entry] = await journal(client, "GONE")
    assert (entry["action"], entry["outcome"]) == (action, "not_connected")


async def test_every_operation_times_out_as_504_and_is_journalled(settings, aiohttp_client) -> None:
    app = create_app(dataclasses.replace(settings, call_timeout=0.3))
    client = await aiohttp_client(app)
    await app[SERVICES].users.add(*ACCOUNTS["operator"], "operator")
    ws = await client.ws_connect("/ocpp/MUTE", protocols=("ocpp1.6",))
    for operation, (body, _, _) in OPERATIONS.items():
        status, answer = await post(client, f"/api/charge-points/MUTE/{operation}", body)
        assert status == 504, (operation, answer)
        assert "did not answer" in answer["error"]
    entries = await app[SERVICES].operations.journal("MUTE", limit=100)
    assert len(entries) == len(OPERATIONS)
    assert {e.outcome for e in entries} == {"timeout"}
    await ws.close()


@pytest.mark.parametrize("operation", sorted(BAD_INPUT))
async def test_bad_input_is_400_and_nothing_is_sent(client, connect, operation: str) -> None:
    body, reason = BAD_INPUT[operation]
    cp = await connect("RAW")
    await cp.boot()
    status, answer = await post(client, f"/api/charge-points/RAW/{operation}", body)
    assert status == 400, answer
    assert reason in answer["error"]
    assert await cp.nothing_within(0.2)
    assert await journal(client, "RAW") == []


async def connector_status(client, connector_id: int) -> str:
    cp = await get_json(client, "/api/charge-points/SIM1")
    return {c["connector_id"]: c["status"] for c in cp["connectors"]}[connector_id]


async def test_core_operations_accepted(client, sim) -> None:
    assert await operate(client, "clear-cache", {}) == {"status": "Accepted"}

    assert await operate(
        client, "change-availability", {"connector_id": 2, "type": "Inoperative"}
    ) == {"status": "Accepted"}
    await eventually(lambda: _is(client, 2, "Unavailable"))
    await operate(client, "change-availability", {"connector_id": 2, "type": "Operative"})
    await eventually(lambda: _is(client, 2, "Available"))

    assert await operate(client, "unlock-connector", {"connector_id": 1}) == {"status": "Unlocked"}
    assert await operate(client, "unlock-connector", {"connector_id": 9}) == {
        "status": "NotSupported"
    }

    assert await operate(
        client, "data-transfer", {"vendor_id": "Voltaro", "message_id": "echo", "data": "hi"}
    ) == {"status": "Accepted", "data": "hi"}
    assert await operate(client, "data-transfer", {"vendor_id": "ACME"}) == {
        "status": "UnknownVendorId"
    }

    before = (await client.app[SERVICES].charge_points.get("SIM1")).last_heartbeat_at
    assert before is None
    assert await operate(client, "trigger-message", {"requested_message": "Heartbeat"}) == {
        "status": "Accepted"
    }

    async def heartbeat_arrived() -> bool:
        return (await client.app[SERVICES].charge_points.get("SIM1")).last_heartbeat_at is not None

    await eventually(heartbeat_arrived)

    boots = (await client.app[SERVICES].charge_points.get("SIM1")).last_boot_at
    assert await operate(client, "reset", {"type": "Soft"}) == {"status": "Accepted"}

    async def rebooted() -> bool:
        return (await client.app[SERVICES].charge_points.get("SIM1")).last_boot_at > boots

    await eventually(rebooted)

    entries = await journal(client, "SIM1")
    assert [e["action"] for e in reversed(entries)] == [
        "ClearCache",
        "ChangeAvailability",
        "ChangeAvailability",
        "UnlockConnector",
        "UnlockConnector",
        "DataTransfer",
        "DataTransfer",
        "TriggerMessage",
        "Reset",
    ]
    assert all(e["outcome"] == "answered" and e["requested_by"] == "oper" for e in entries)


async def _is(client, connector_id: int, status: str) -> bool:
    return await connector_status(client, connector_id) == status


async def test_configuration_is_read_stored_and_changed(client, sim) -> None:
    answer = await operate(client, "get-configuration", {})
    keys = {k["key"]: k for k in answer["configuration_key"]}
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    stored = {k["key"]: k for k in await get_json(client, "/api/charge-points/SIM1/configuration")}
    assert stored.keys() == keys.keys()
    assert stored["NumberOfConnectors"]["readonly"] is True

    assert await operate(
        client, "change-configuration", {"key": "HeartbeatInterval", "value": "60"}
    ) == {"status": "Accepted"}
    stored = {k["key"]: k for k in await get_json(client, "/api/charge-points/SIM1/configuration")}
    assert stored["HeartbeatInterval"]["value"] == "60"
    assert sim.configuration["HeartbeatInterval"] == ("60", False)

    # Read-only keys are refused before anything is sent; unknown ones by the charge point.
    status, answer = await post(
        client,
        "/api/charge-points/SIM1/change-configuration",
        {"key": "NumberOfConnectors", "value": "4"},
    )
    assert status == 400 and "read-only" in answer["error"]
    assert await operate(client, "change-configuration", {"key": "Colour", "value": "red"}) == {
        "status": "NotSupported"
    }
    assert await operate(client, "get-configuration", {"key": ["HeartbeatInterval", "Nope"]}) == {
        "configuration_key": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        "unknown_key": ["Nope"],
    }


async def test_authorization_key_rotation_takes_effect_once_accepted(client, sim) -> None:
    from aiohttp import WSServerHandshakeError, encode_basic_auth

    new_key = "0123456789abcdef0123"
    # An admin's (tests/security/test_authorization_key_role.py: 403 for an operator).
    status, answer = await post(
        client,
        "/api/charge-points/SIM1/change-configuration",
        {"key": "AuthorizationKey", "value": new_key},
        headers=ADMIN,
    )
    assert (status, answer) == (200, {"status": "Accepted"})
    assert sim.authorization_key == new_key
    stored = {k["key"] for k in await get_json(client, "/api/charge-points/SIM1/configuration")}
    assert "AuthorizationKey" not in stored  # never kept in clear
    [entry] = await journal(client, "SIM1")
    assert entry["request"]["value"] == "***"
    with pytest.raises(WSServerHandshakeError):
        await client.ws_connect("/ocpp/SIM1", protocols=("ocpp1.6",))
    ws = await client.ws_connect(
        "/ocpp/SIM1",
        protocols=("ocpp1.6",),
        headers={"Authorization": encode_basic_auth("SIM1", new_key)},
    )
    await ws.close()


async def test_reservations_are_kept_used_cancelled_and_expire(client, sim) -> None:
    # Without a reservation_id the central system assigns the next one.
    answer = await operate(
        client, "reserve-now", {"connector_id": 1, "expiry_date": soon(), "id_tag": "TAG"}
    )
    assert answer == {"status": "Accepted"}
    [reservation] = await get_json(client, "/api/charge-points/SIM1/reservations")
    assert (reservation["id"], reservation["connector_id"], reservation["status"]) == (
        1,
        1,
        "Reserved",
    )
    await eventually(lambda: _is(client, 1, "Reserved"))

    # Another reservation on the same connector: the charge point says Occupied.
    assert await operate(
        client,
        "reserve-now",
        {"connector_id": 1, "expiry_date": soon(), "id_tag": "TAG", "reservation_id": 2},
    ) == {"status": "Occupied"}

    # The holder starts charging on it: the session names the reservation, which is used.
    await operate(client, "remote-start", {"id_tag": "TAG", "connector_id": 1})

    async def used() -> Any:
        [r] = await get_json(client, "/api/charge-points/SIM1/reservations")
        return r if r["status"] == "Used" else None

    used_reservation = await eventually(used)
    tx = await client.app[SERVICES].transaction_queries.get(used_reservation["transaction_id"])
    assert tx.reservation_id == 1

    # Cancelled, and expired.
    await operate(
        client, "reserve-now", {"connector_id": 2, "expiry_date": soon(), "id_tag": "TAG"}
    )
    assert await operate(client, "cancel-reservation", {"reservation_id": 2}) == {
        "status": "Accepted"
    }
    await operate(
        client, "reserve-now", {"connector_id": 2, "expiry_date": soon(0.5), "id_tag": "TAG"}
    )

    async def third_expired() -> dict[int, str] | None:
        shown = await get_json(client, "/api/charge-points/SIM1/reservations")
        statuses = {r["id"]: r["status"] for r in shown}
        return statuses if statuses[3] == "Expired" else None

    # Its half second has to pass: asked until then, not slept past.
    statuses = await eventually(third_expired, timeout=5, what="reservation 3 shown Expired")
    assert statuses == {1: "Used", 2: "Cancelled", 3: "Expired"}
    await eventually(lambda: _is(client, 2, "Available"))


async def test_local_list_from_the_id_tag_table_full_and_differential(client, sim) -> None:
    tags = client.app[SERVICES].id_tags
    await tags.add("CARD-A", parent_id_tag="FLEET")
    await tags.add("CARD-B", blocked=True)
    assert await operate(client, "get-local-list-version", {}) == {"list_version": 0}

    assert await operate(client, "send-local-list", {"update_type": "Full"}) == {
        "status": "Accepted"
    }
    assert sim.local_list_version == 1
    assert sim.local_list == {
        "CARD-A": {"status": "Accepted", "parent_id_tag": "FLEET"},
        "CARD-B": {"status": "Blocked"},
        "TAG": {"status": "Accepted"},
    }
    cp = await client.app[SERVICES].charge_points.get("SIM1")
    assert cp is not None

    await tags.add("CARD-B", blocked=False)
    await tags.add("CARD-C")
    assert await operate(client, "send-local-list", {"update_type": "Differential"}) == {
        "status": "Accepted"
    }
    assert sim.local_list_version == 2
    assert sim.local_list["CARD-B"] == {"status": "Accepted"}
    assert "CARD-C" in sim.local_list
    [entry] = [e for e in await journal(client, "SIM1") if e["action"] == "SendLocalList"][:1]
    assert [t["idTag"] for t in entry["request"]["localAuthorizationList"]] == ["CARD-B", "CARD-C"]
    assert await operate(client, "get-local-list-version", {}) == {"list_version": 2}
    # An explicit differential with a stale version: the charge point says so.
    assert await operate(
        client,
        "send-local-list",
        {"list_version": 2, "update_type": "Differential", "local_authorization_list": []},
    ) == {"status": "VersionMismatch"}


async def test_charging_profiles_and_composite_schedule(client, sim) -> None:
    assert await operate(
        client, "set-charging-profile", {"connector_id": 1, "cs_charging_profiles": PROFILE}
    ) == {"status": "Accepted"}
    [stored] = await get_json(client, "/api/charge-points/SIM1/charging-profiles")
    assert (stored["charging_profile_id"], stored["stack_level"], stored["purpose"]) == (
        7,
        1,
        "TxDefaultProfile",
    )
    assert stored["profile"]["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 16.0}
    ]
    schedule = await operate(client, "get-composite-schedule", {"connector_id": 1, "duration": 600})
    assert schedule["status"] == "Accepted"
    assert schedule["charging_schedule"]["charging_schedule_period"] == [
        {"start_period": 0, "limit": 16.0}
    ]
    # A TxProfile for a session that is not running is refused before it is sent ...
    status, answer = await post(
        client,
        "/api/charge-points/SIM1/set-charging-profile",
        {
            "connector_id": 1,
            "cs_charging_profiles": {
                **PROFILE,
                "charging_profile_id": 8,
                "charging_profile_purpose": "TxProfile",
                "transaction_id": 999,
            },
        },
    )
    assert status == 400 and "does not exist" in answer["error"]
    assert await operate(client, "clear-charging-profile", {"id": 7}) == {"status": "Accepted"}
    assert await get_json(client, "/api/charge-points/SIM1/charging-profiles") == []
    assert await operate(client, "clear-charging-profile", {"id": 7}) == {"status": "Unknown"}


async def test_diagnostics_and_firmware_with_their_notifications(client, sim) -> None:
    answer = await operate(client, "get-diagnostics", {"location": "ftp://logs.example.com/in"})
    assert answer == {"file_name": "diagnostics-SIM1.log"}

    async def uploaded() -> bool:
        return (await client.app[SERVICES].charge_points.get("SIM1")) and (
            await _diagnostics(client)
        ) == "Uploaded"

    await eventually(uploaded)

    assert (
        await operate(
            client,
            "update-firmware",
            {"location": "https://fw.example.com/2.0.0", "retrieve_date": soon(0)},
        )
        == {}
    )

    async def installed() -> bool:
        cp = await get_json(client, "/api/charge-points/SIM1")
        return cp["firmware_version"] == "2.0.0"

    await eventually(installed)
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.db.models import StatusReport
    from webapp.keys import ENGINE

    async with AsyncSession(client.app[ENGINE]) as session:
        reports = (await session.scalars(select(StatusReport).order_by(StatusReport.id))).all()
    assert [(r.kind, r.status) for r in reports] == [
        ("diagnostics", "Uploading"),
        ("diagnostics", "Uploaded"),
        ("firmware", "Downloading"),
        ("firmware", "Downloaded"),
        ("firmware", "Installing"),
        ("firmware", "Installed"),
    ]


async def _diagnostics(client) -> str | None:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ocpp_core.db.models import ChargePoint
    from webapp.keys import ENGINE

    async with AsyncSession(client.app[ENGINE]) as session:
        cp = await session.get(ChargePoint, "SIM1")
        return cp.diagnostics_status


async def test_journal_needs_a_viewer_and_a_known_charge_point(client) -> None:
    response = await client.get("/api/charge-points/NOPE/operations", headers=ADMIN)
    assert response.status == 404
    response = await client.get("/api/charge-points/NOPE/operations")
    assert response.status == 401
    await client.app[SERVICES].charge_points.register("EMPTY")
    response = await client.get("/api/charge-points/EMPTY/operations", headers=OPERATOR)
    assert json.loads(await response.text()) == []
