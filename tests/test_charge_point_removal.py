"""Removing a charge point that is connected: its connection is closed, it comes back as
an unknown charger would, and a message already on its way is stored, not refused."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import ChargePoint, MeterValue, Transaction
from ocpp_core.errors import NotFound
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES

READING = {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "5"}]}


async def _closed(cp: RawChargePoint) -> None:
    message = await cp.ws.receive(timeout=5)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), message


async def test_removing_a_connected_charge_point_closes_its_connection(
    portal, client, connect
) -> None:
    cp = await connect("GONE")
    await cp.boot()
    status, _ = await (await portal("admin")).post("/charge-points/GONE/remove")
    assert status == 200
    await _closed(cp)
    # Its going leaves nothing behind that would register it again.
    await asyncio.sleep(0.2)
    with pytest.raises(NotFound):
        await client.app[SERVICES].charge_points.get("GONE")

    # Back, it is a new charger (UNKNOWN_CHARGE_POINTS=accept here).
    again = await connect("GONE")
    assert (await again.boot())["status"] == "Accepted"


async def test_a_removed_charge_point_is_refused_when_unknown_ones_are(
    settings, aiohttp_client
) -> None:
    app = create_app(dataclasses.replace(settings, unknown_charge_points="reject"))
    client = await aiohttp_client(app)
    services = app[SERVICES]
    await services.charge_points.register("BANNED")
    ws = await client.ws_connect("/ocpp/BANNED", protocols=("ocpp1.6",))
    cp = RawChargePoint(ws)
    assert (await cp.boot())["status"] == "Accepted"

    await services.charge_points.delete("BANNED")
    await _closed(cp)
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/BANNED", protocols=("ocpp1.6",))
    assert refused.value.status == 404


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


@pytest.mark.parametrize(("action", "payload"), MESSAGES, ids=[m[0] for m in MESSAGES])
async def test_a_message_after_its_record_went_is_stored(
    client, connect, action: str, payload: dict
) -> None:
    """Removed on another instance, whose event has not reached this one yet (here: the
    record deleted behind the server's back): the message is answered and kept, and the
    charger registered again, Pending, for an operator to decide on."""
    cp = await connect("RACED")
    await cp.boot()
    engine = client.app[ENGINE]
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(delete(ChargePoint).where(ChargePoint.id == "RACED"))

    assert (await cp.call(action, payload))[0] == 3
    view = await client.app[SERVICES].charge_points.get("RACED")
    assert view.registration_status == "Pending"
    async with AsyncSession(engine) as session:
        samples = await session.scalar(select(func.count()).select_from(MeterValue))
        sessions = await session.scalar(select(func.count()).select_from(Transaction))
    assert samples == (1 if action in ("MeterValues", "StopTransaction") else 0)
    assert sessions == (1 if action == "StartTransaction" else 0)


async def test_a_tolerated_frame_after_its_record_went_is_stored(client, connect) -> None:
    """Lenient mode records the deviation before the message is handled: that row, too,
    registers the charger again instead of closing its connection with an error."""
    cp = await connect("LAX")
    await cp.boot()
    services = client.app[SERVICES]
    await services.charge_points.set_lenient("LAX", True)
    async with AsyncSession(client.app[ENGINE]) as session, session.begin():
        await session.execute(delete(ChargePoint).where(ChargePoint.id == "LAX"))

    tolerated = {"connectorId": "1", "errorCode": "NoError", "status": "Faulted"}
    assert (await cp.call("StatusNotification", tolerated))[0] == 3
    recorded = await services.deviations.recent("LAX")
    assert [row.action for row in recorded] == ["StatusNotification"]
    view = await services.charge_points.get("LAX")
    assert view.registration_status == "Pending"
    assert [c.status for c in view.connectors if c.connector_id == 1] == ["Faulted"]
