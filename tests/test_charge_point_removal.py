"""Removing a charge point that is connected: its connection is closed, it comes back as
an unknown charger would, and a message already on its way is stored, not refused."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, MeterValue, Transaction
from ocpp_core.errors import NotFound
from tests.helpers import eventually, next_event
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import BUS, ENGINE, SERVICES

READING = {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "5"}]}


async def _closed(cp: RawChargePoint) -> None:
    message = await cp.ws.receive(timeout=5)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), message


async def _policy_client(settings, aiohttp_client, policy: str):
    return await aiohttp_client(
        create_app(dataclasses.replace(settings, unknown_charge_points=policy))
    )


async def _connected(client, charge_point_id: str) -> RawChargePoint:
    return RawChargePoint(
        await client.ws_connect(f"/ocpp/{charge_point_id}", protocols=("ocpp1.6",))
    )


async def _connected_then_removed_behind_its_back(client, charge_point_id: str) -> RawChargePoint:
    """Removed on another instance, whose event has not reached this one yet (here: the
    record deleted behind the server's back)."""
    await client.app[SERVICES].charge_points.register(charge_point_id)
    cp = await _connected(client, charge_point_id)
    await cp.boot()
    async with AsyncSession(client.app[ENGINE]) as session, session.begin():
        await session.execute(delete(ChargePoint).where(ChargePoint.id == charge_point_id))
    return cp


async def test_removing_a_connected_charge_point_closes_its_connection(
    portal, client, connect
) -> None:
    cp = await connect("GONE")
    await cp.boot()
    admin = await portal("admin")
    async with client.app[BUS].subscribe() as events:
        status, _ = await admin.post("/charge-points/GONE/remove")
        assert status == 200
        await _closed(cp)
        await next_event(events, "disconnected", "GONE")
    # Its going (the disconnection's write, by now handed to the group commit) leaves
    # nothing behind that would register it again.
    await client.app[SERVICES].writes.drain()
    with pytest.raises(NotFound):
        await client.app[SERVICES].charge_points.get("GONE")

    # Back, it is a new charger (UNKNOWN_CHARGE_POINTS=accept here).
    again = await connect("GONE")
    assert (await again.boot())["status"] == "Accepted"


async def test_a_removed_charge_point_is_refused_when_unknown_ones_are(
    settings, aiohttp_client
) -> None:
    client = await _policy_client(settings, aiohttp_client, "reject")
    services = client.app[SERVICES]
    await services.charge_points.register("BANNED")
    cp = await _connected(client, "BANNED")
    assert (await cp.boot())["status"] == "Accepted"

    await services.charge_points.delete("BANNED")
    await _closed(cp)
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/BANNED", protocols=("ocpp1.6",))
    assert refused.value.status == 404


async def test_boot_and_heartbeat_of_a_registered_charger_are_stored_when_unknown_ones_are_refused(
    settings, aiohttp_client
) -> None:
    """Under reject BootNotification and Heartbeat update the record rather than upsert
    it: what a registered charger says of itself is stored all the same."""
    client = await _policy_client(settings, aiohttp_client, "reject")
    services = client.app[SERVICES]
    await services.charge_points.register("KNOWN")
    await services.charge_points.register("WAITING", status="Pending")
    known = await _connected(client, "KNOWN")
    waiting = await _connected(client, "WAITING")

    booted = await known.boot(chargePointSerialNumber="SN-1", firmwareVersion="1.2.3")
    assert booted["status"] == "Accepted"
    assert (await waiting.boot())["status"] == "Pending"
    await known.result("Heartbeat", {})
    view = await services.charge_points.get("KNOWN")
    assert (view.serial_number, view.firmware_version) == ("SN-1", "1.2.3")
    assert view.last_boot_at is not None and view.last_heartbeat_at is not None
    assert (await services.charge_points.get("WAITING")).last_boot_at is not None


# Each charge-point-initiated message whose rows refer to the charger's record.
MESSAGES = [
    ("MeterValues", {"connectorId": 0, "meterValue": [READING]}),
    ("MeterValues", {"connectorId": 1, "transactionId": 5, "meterValue": [READING]}),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": READING["timestamp"]},
    ),
    (
        "StopTransaction",
        {
            "transactionId": 77,
            "meterStop": 5,
            "timestamp": READING["timestamp"],
            "transactionData": [READING],
        },
    ),
    ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Faulted"}),
    ("Heartbeat", {}),
    ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}),
    ("DataTransfer", {"vendorId": "x"}),
    ("FirmwareStatusNotification", {"status": "Installed"}),
    ("DiagnosticsStatusNotification", {"status": "Uploaded"}),
    ("SecurityEventNotification", {"type": "Tamper", "timestamp": READING["timestamp"]}),
]


async def _stored(client) -> tuple[int, int]:
    """The meter values and sessions in the database."""
    async with AsyncSession(client.app[ENGINE]) as session:
        samples = await session.scalar(select(func.count()).select_from(MeterValue))
        sessions = await session.scalar(select(func.count()).select_from(Transaction))
    return samples, sessions


# The policy's status, and the messages each is tried with: every one under `accept`
# (the default), under `pending` one of each way a message registers a charger.
REGISTERING = [("accept", "Accepted", message) for message in MESSAGES] + [
    ("pending", "Pending", message)
    for message in MESSAGES
    if message[0] in ("BootNotification", "Heartbeat", "MeterValues")
]


@pytest.mark.parametrize(
    ("policy", "status", "action", "payload"),
    [(policy, status, *message) for policy, status, message in REGISTERING],
    ids=[f"{policy}-{message[0]}" for policy, _, message in REGISTERING],
)
async def test_a_message_after_its_record_went_is_stored(
    settings, aiohttp_client, policy: str, status: str, action: str, payload: dict
) -> None:
    """The message is answered and kept, and the charger registered again as the policy
    registers an unknown one on connecting."""
    client = await _policy_client(settings, aiohttp_client, policy)
    cp = await _connected_then_removed_behind_its_back(client, "RACED")

    answer = await cp.call(action, payload)
    assert answer[0] == 3, answer
    if action == "BootNotification":
        assert answer[2]["status"] == status
    view = await client.app[SERVICES].charge_points.get("RACED")
    assert view.registration_status == status
    assert await _stored(client) == (
        1 if action in ("MeterValues", "StopTransaction") else 0,
        1 if action == "StartTransaction" else 0,
    )


@pytest.mark.parametrize(("action", "payload"), MESSAGES, ids=[m[0] for m in MESSAGES])
async def test_a_message_after_its_record_went_is_refused_when_unknown_ones_are(
    settings, aiohttp_client, action: str, payload: dict
) -> None:
    """UNKNOWN_CHARGE_POINTS=reject: nothing registers it again. A message with data is
    refused (SecurityError: the charger keeps it to send again), a BootNotification
    answered Rejected, a Heartbeat answered; and it stays refused at its next connect."""
    client = await _policy_client(settings, aiohttp_client, "reject")
    cp = await _connected_then_removed_behind_its_back(client, "RACED")

    answer = await cp.call(action, payload)
    if action == "BootNotification":
        assert answer[0] == 3 and answer[2]["status"] == "Rejected", answer
    elif action == "Heartbeat":
        assert answer[0] == 3, answer
    else:
        assert answer[:3] == [4, answer[1], "SecurityError"], answer
        assert "not registered" in answer[4]["cause"]
    with pytest.raises(NotFound):
        await client.app[SERVICES].charge_points.get("RACED")
    assert await _stored(client) == (0, 0)
    if action not in ("BootNotification", "Heartbeat"):
        # Its next messages are refused alike, without a look at the database.
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        assert (await cp.call("StatusNotification", status))[2] == "SecurityError"
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/RACED", protocols=("ocpp1.6",))
    assert refused.value.status == 404


@pytest.mark.parametrize("policy", ["accept", "reject"])
async def test_a_tolerated_frame_after_its_record_went(
    settings, aiohttp_client, policy: str
) -> None:
    """Lenient mode records the deviation before the message is handled: that row, too,
    registers the charger again (or, under reject, has it refused) instead of closing its
    connection with an error."""
    client = await _policy_client(settings, aiohttp_client, policy)
    services = client.app[SERVICES]
    await services.charge_points.register("LAX")
    await services.charge_points.set_protocol_settings("LAX", lenient=True)
    cp = await _connected_then_removed_behind_its_back(client, "LAX")

    tolerated = {"connectorId": "1", "errorCode": "NoError", "status": "Faulted"}
    answer = await cp.call("StatusNotification", tolerated)
    recorded = await services.deviations.recent("LAX")
    if policy == "reject":
        assert answer[2] == "SecurityError", answer
        assert recorded == []
        with pytest.raises(NotFound):
            await services.charge_points.get("LAX")
        return
    assert answer[0] == 3, answer
    assert [row.action for row in recorded] == ["StatusNotification"]
    view = await services.charge_points.get("LAX")
    assert view.registration_status == "Accepted"
    assert [c.status for c in view.connectors if c.connector_id == 1] == ["Faulted"]


async def _removal_waiting_on_a_lock(client) -> bool:
    async with client.app[ENGINE].connect() as connection:
        waiting = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def _removed_during_a_write(client, portal, row) -> tuple[int, str]:
    """Remove BUSY while another transaction has written `row` of it and not yet committed
    (a charger's message under way on PostgreSQL): the removal waits for it, then decides."""
    await client.app[SERVICES].charge_points.register("BUSY")
    admin = await portal("admin")
    async with client.app[ENGINE].connect() as writer:
        await writer.begin()
        await writer.execute(row)
        removal = asyncio.create_task(admin.post("/charge-points/BUSY/remove"))
        await eventually(lambda: _removal_waiting_on_a_lock(client), what="removal waiting")
        await writer.commit()
    return await removal


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_removal_takes_the_rows_a_write_under_way_adds(client, portal) -> None:
    reading = {"charge_point_id": "BUSY", "connector_id": 1, "value": "5"}
    status, _ = await _removed_during_a_write(
        client,
        portal,
        insert(MeterValue).values(
            **reading, timestamp=datetime.now(UTC), measurand="Energy", source="MeterValues"
        ),
    )
    assert status == 200  # back on the dashboard
    async with AsyncSession(client.app[ENGINE]) as session:
        assert await session.get(ChargePoint, "BUSY") is None
        assert await session.scalar(select(func.count()).select_from(MeterValue)) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_removal_keeps_a_charge_point_whose_session_began_meanwhile(client, portal) -> None:
    status, html = await _removed_during_a_write(
        client,
        portal,
        insert(Transaction).values(
            charge_point_id="BUSY", connector_id=1, start_time=datetime.now(UTC), id_tag="T"
        ),
    )
    assert status == 409, html[:300]
    assert "1 recorded session(s)" in html
    assert (await client.app[SERVICES].charge_points.get("BUSY")) is not None
