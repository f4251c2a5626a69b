"""What one charger may make Voltaro store.

Before, 60 DataTransfer frames of 250 KB stored 19 MB in 5 s (each data kept whole, and each
frame 64 KB again in the message log), and data transfers, meter values of no session, the
status history and security events were never pruned. Now a text field of one frame is
kept to a bounded length, cut with a marker giving its length, and each charge point keeps
the newest rows of each of those tables, pruned in the background.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import (
    DataTransferMessage,
    MeterValue,
    OcppMessage,
    SecurityEvent,
    StatusNotification,
)
from tests.helpers import bounded_close
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES

TIME = "2026-11-25T08:00:00Z"
FRAME_DATA = 250_000


async def _scalar(client, query):
    async with AsyncSession(client.app[ENGINE]) as session:
        return await session.scalar(query)


async def _count(client, model, *where) -> int:
    return await _scalar(client, select(func.count()).select_from(model).where(*where))


async def test_sixty_frames_of_250_kb_leave_a_bounded_database(client, connect) -> None:
    cp = await connect("FILLER")
    await cp.boot()
    for n in range(60):
        payload = {"vendorId": "V", "messageId": str(n), "data": "x" * FRAME_DATA}
        assert (await cp.result("DataTransfer", payload)) == {"status": "UnknownVendorId"}
    reading = {"connectorId": 1, "meterValue": [
        {"timestamp": TIME, "sampledValue": [{"value": "7" * FRAME_DATA}]}
    ]}  # fmt: skip
    assert await cp.result("MeterValues", reading) == {}
    await client.app[SERVICES].message_log.flush()

    rows = (await _count(client, DataTransferMessage), await _count(client, OcppMessage))
    data = await _scalar(client, select(func.sum(func.length(DataTransferMessage.data))))
    logged = await _scalar(client, select(func.sum(func.length(OcppMessage.payload))))
    value = await _scalar(client, select(MeterValue.value))
    print(f"{rows[0]} data transfers: {data:,} characters; {rows[1]} log rows: {logged:,}")
    assert rows == (60, 2 + 2 * 61)  # every frame is kept, cut short
    marker = f"... [truncated: {FRAME_DATA} characters, the first 16384 kept]"
    async with AsyncSession(client.app[ENGINE]) as session:
        for stored in (await session.scalars(select(DataTransferMessage.data))).all():
            assert stored == "x" * 16_384 + marker
        logged_in = (
            await session.scalars(
                select(OcppMessage.payload).where(
                    OcppMessage.action == "DataTransfer", OcppMessage.direction == "in"
                )
            )
        ).all()
    assert value == "7" * 16_384 + marker
    # The message log keeps each frame's first 64 KiB, and says how long it was.
    assert len(logged_in) == 60
    cut = re.compile(r"\.\.\. \[truncated: 2500\d\d characters, the first 65536 kept\]")
    assert all(row.startswith("[2,") and cut.fullmatch(row[65_536:]) for row in logged_in)
    # 15 MB of data and 19 MB in all before.
    assert data + logged + len(value) < 5_500_000


@pytest.fixture
async def budget_client(settings, aiohttp_client):
    budget = dataclasses.replace(
        settings,
        keep_data_transfers=5,
        keep_unlinked_meter_values=8,
        keep_status_history=6,
        keep_security_events=3,
    )
    return await aiohttp_client(create_app(budget))


@pytest.fixture
async def charger(budget_client):
    opened = []

    async def _connect(charge_point_id: str) -> RawChargePoint:
        cp = RawChargePoint(
            await budget_client.ws_connect(f"/ocpp/{charge_point_id}", protocols=("ocpp1.6",))
        )
        opened.append(cp)
        await cp.boot()
        return cp

    yield _connect
    for cp in opened:
        await bounded_close("a charge point's WebSocket", cp.ws.close())


def _samples(count: int, transaction_id: int | None = None, first: int = 0) -> dict:
    payload = {"connectorId": 1, "meterValue": [
        {"timestamp": TIME, "sampledValue": [{"value": str(first + n)} for n in range(count)]}
    ]}  # fmt: skip
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


async def test_each_charge_point_keeps_its_newest_rows(budget_client, charger) -> None:
    services = budget_client.app[SERVICES]
    await services.id_tags.add("TAG")
    cp = await charger("BUSY")
    other = await charger("QUIET")
    for n in range(3):
        await other.result("DataTransfer", {"vendorId": "V", "data": f"other {n}"})

    for n in range(20):
        await cp.result("DataTransfer", {"vendorId": "V", "data": f"transfer {n}"})
    for n in range(15):
        status = "Available" if n % 2 else "Preparing"
        await cp.result("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                               "status": status})  # fmt: skip
    for n in range(10):
        event = {"type": "SettingSystemTime", "timestamp": TIME, "techInfo": f"event {n}"}
        await cp.result("SecurityEventNotification", event)
    for n in range(10):
        # Of no session, and one naming a transaction that does not exist.
        await cp.result("MeterValues", _samples(3, None if n % 2 else 999, first=3 * n))
    # A session's samples are billing records: all kept.
    start = {"connectorId": 2, "idTag": "TAG", "meterStart": 0, "timestamp": TIME}
    transaction_id = (await cp.result("StartTransaction", start))["transactionId"]
    for n in range(5):
        await cp.result("MeterValues", _samples(4, transaction_id, first=4 * n))
    # A StopTransaction naming no session: its samples are of none.
    stop = {"transactionId": 4242, "meterStop": 1, "timestamp": TIME,
            "transactionData": _samples(2, first=100)["meterValue"]}  # fmt: skip
    await cp.result("StopTransaction", stop)

    await services.budget.settled()

    async with AsyncSession(budget_client.app[ENGINE]) as session:
        transfers = (
            await session.scalars(
                select(DataTransferMessage.data)
                .where(DataTransferMessage.charge_point_id == "BUSY")
                .order_by(DataTransferMessage.id)
            )
        ).all()
        events = (
            await session.scalars(select(SecurityEvent.tech_info).order_by(SecurityEvent.id))
        ).all()
    assert transfers == [f"transfer {n}" for n in range(15, 20)]
    assert events == ["event 7", "event 8", "event 9"]
    assert await _count(budget_client, StatusNotification) == 6
    unlinked = (MeterValue.charge_point_id == "BUSY", MeterValue.transaction_id.is_(None))
    assert await _count(budget_client, MeterValue, *unlinked) == 8
    linked = MeterValue.transaction_id == transaction_id
    assert await _count(budget_client, MeterValue, linked) == 20
    # Another charge point's rows are its own budget's.
    quiet = DataTransferMessage.charge_point_id == "QUIET"
    assert await _count(budget_client, DataTransferMessage, quiet) == 3
    # The connector's status is not history: still the newest.
    [connector] = (await services.charge_points.get("BUSY")).connectors
    assert connector.status == "Preparing"
