"""A charger's clock far ahead of ours: a StatusNotification stamped
9999-12-31 froze its connector's status for good, as the connector keeps the newest
notification and nothing later could be newer. A timestamp more than a few minutes ahead
now counts as received when it arrived for that ordering; the history keeps what was sent,
and the frame is flagged as a protocol deviation for the operator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import Connector, StatusNotification
from ocpp_core.timeutil import format_datetime
from tests.helpers import OPERATOR, VIEWER
from webapp.keys import ENGINE, SERVICES

FAR_FUTURE = "9999-12-31T23:59:59Z"


async def _connector_status(client, charge_point_id: str) -> dict[int, str]:
    response = await client.get(f"/api/charge-points/{charge_point_id}", headers=VIEWER)
    assert response.status == 200
    return {c["connector_id"]: c["status"] for c in (await response.json())["connectors"]}


async def _deviations(client, charge_point_id: str) -> list[dict]:
    response = await client.get(f"/api/charge-points/{charge_point_id}/deviations", headers=VIEWER)
    assert response.status == 200
    return await response.json()


def _status(status: str, timestamp: str | None = None) -> dict:
    payload = {"connectorId": 1, "errorCode": "NoError", "status": status}
    if timestamp is not None:
        payload["timestamp"] = timestamp
    return payload


def _in(delta: timedelta) -> str:
    return format_datetime(datetime.now(UTC) + delta)


async def test_a_far_future_status_does_not_freeze_the_connector(client, connect) -> None:
    cp = await connect("CLOCK1")
    await cp.boot()
    await cp.result("StatusNotification", _status("Faulted", FAR_FUTURE))
    assert await _connector_status(client, "CLOCK1") == {1: "Faulted"}
    # Later notifications, with and without a timestamp, are newer than "now".
    await cp.result("StatusNotification", _status("Available", _in(timedelta(0))))
    assert await _connector_status(client, "CLOCK1") == {1: "Available"}
    await cp.result("StatusNotification", _status("Faulted", FAR_FUTURE))
    await cp.result("StatusNotification", _status("Preparing"))
    assert await _connector_status(client, "CLOCK1") == {1: "Preparing"}

    # The history keeps the timestamps as sent.
    async with AsyncSession(client.app[ENGINE]) as session:
        history = (
            await session.scalars(select(StatusNotification).order_by(StatusNotification.id))
        ).all()
    assert [(h.status, h.timestamp.year if h.timestamp else None) for h in history] == [
        ("Faulted", 9999),
        ("Available", datetime.now(UTC).year),
        ("Faulted", 9999),
        ("Preparing", None),
    ]
    # Flagged for the operator, each far-future one.
    flagged = await _deviations(client, "CLOCK1")
    assert [d["action"] for d in flagged] == ["StatusNotification", "StatusNotification"]
    assert all("ahead of the central system's clock" in d["deviations"][0] for d in flagged)
    assert all(FAR_FUTURE in d["frame"] for d in flagged)


async def test_a_clock_slightly_ahead_is_ordered_as_sent(client, connect) -> None:
    # Within the tolerance the charger's own order holds: a notification queued earlier
    # (an older timestamp) does not overwrite a newer one, and nothing is flagged.
    cp = await connect("CLOCK2")
    await cp.boot()
    await cp.result("StatusNotification", _status("Charging", _in(timedelta(minutes=2))))
    await cp.result("StatusNotification", _status("Preparing", _in(timedelta(minutes=1))))
    assert await _connector_status(client, "CLOCK2") == {1: "Charging"}
    assert await _deviations(client, "CLOCK2") == []


async def test_a_connector_frozen_before_is_freed(client, connect) -> None:
    # A connector row stored with a far-future timestamp before this was fixed.
    await client.app[SERVICES].charge_points.register("CLOCK3")
    async with AsyncSession(client.app[ENGINE]) as session, session.begin():
        await session.execute(
            insert(Connector).values(
                charge_point_id="CLOCK3",
                connector_id=1,
                status="Faulted",
                error_code="NoError",
                timestamp=datetime(9999, 12, 31, tzinfo=UTC),
                updated_at=datetime.now(UTC),
            )
        )
    cp = await connect("CLOCK3")
    await cp.boot()
    await cp.result("StatusNotification", _status("Available"))
    assert await _connector_status(client, "CLOCK3") == {1: "Available"}


async def test_meter_values_from_the_future_are_flagged(client, connect) -> None:
    cp = await connect("CLOCK4")
    await cp.boot()
    reading = {"connectorId": 1, "meterValue": [
        {"timestamp": _in(timedelta(minutes=1)), "sampledValue": [{"value": "10"}]},
        {"timestamp": FAR_FUTURE, "sampledValue": [{"value": "11"}]},
    ]}  # fmt: skip
    assert await cp.result("MeterValues", reading) == {}
    [flagged] = await _deviations(client, "CLOCK4")
    assert flagged["action"] == "MeterValues"
    [described] = flagged["deviations"]
    assert described.startswith(f"meterValue.1.timestamp: {FAR_FUTURE} is ahead")


async def test_a_far_future_reading_does_not_outrank_the_present(client, connect) -> None:
    cp = await connect("CLOCK9")
    await cp.boot()
    tx = await cp.start(meter_start=1000, timestamp=_in(timedelta(0)))

    def reading(wh: str, timestamp: str) -> dict:
        sample = {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        return {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [{"timestamp": timestamp, "sampledValue": [sample]}],
        }

    await cp.result("MeterValues", reading("1500", _in(timedelta(minutes=1))))
    await cp.result("MeterValues", reading("999999", FAR_FUTURE))
    response = await client.get(f"/api/transactions/{tx}", headers=VIEWER)
    assert (await response.json())["energy_wh"] == 500
    # An operator's close takes the present reading and time, not year 9999's.
    # (The charger is still connected here: closed with the API's confirmation.)
    response = await client.post(
        f"/api/transactions/{tx}/close", headers=OPERATOR, json={"force": True}
    )
    closed = await response.json()
    assert response.status == 200, closed
    assert closed["meter_stop"] == 1500 and not closed["stop_time"].startswith("9999")
