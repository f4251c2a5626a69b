"""Billing data under real-world charger behaviour: nothing lost, nothing silently "fixed".

Each case cites the public report of chargers doing it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import MeterValue
from tests.helpers import ADMIN, OPERATOR, VIEWER, eventually, iso
from webapp.keys import CENTRAL_SYSTEM, ENGINE, SERVICES


@pytest.fixture
def now() -> datetime:
    """Read when the test starts: a time read at import is older than OFFLINE_AFTER by the
    time a long suite reaches these tests, and every session would look queued offline."""
    return datetime.now(UTC)


async def start(cp, connector: int, meter: int, when: datetime, tag: str = "T") -> int:
    answer = await cp.result(
        "StartTransaction",
        {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": iso(when)},
    )
    return answer["transactionId"]


async def test_suspicious_sessions_are_accepted_and_flagged(client, connect, now) -> None:
    cp = await connect("CP-FLAG")
    services = client.app[SERVICES].transaction_queries

    # Queued while offline: an old timestamp is accepted as it is, and flagged.
    offline = await start(cp, 1, 100, now - timedelta(hours=5))
    # The charger's clock runs ahead (SteVe #1963).
    future = await start(cp, 2, 100, now + timedelta(hours=2), tag="T2")
    # A second session on a connector that still has one open (SteVe #1963).
    overlap = await start(cp, 1, 200, now, tag="T3")
    # meterStop below meterStart (SteVe #1297): stored as sent, flagged.
    await cp.result(
        "StopTransaction", {"transactionId": offline, "meterStop": 50, "timestamp": iso(now)}
    )

    flags = {tx.id: set(tx.flags) for tx in await services.list()}
    assert flags[offline] == {"offline", "meter_stop_below_start"}
    assert flags[future] == {"future_timestamp"}
    assert flags[overlap] == {"overlap"}
    stopped = await services.get(offline)
    assert (stopped.meter_start, stopped.meter_stop) == (100, 50)  # nothing "corrected"


async def test_stray_meter_values_are_kept_with_the_reason(client, connect, now) -> None:
    owner = await connect("OWNER")
    other = await connect("OTHER")
    tx = await start(owner, 1, 0, now)
    sample = [{"timestamp": iso(now), "sampledValue": [{"value": "1"}]}]
    # HA-ocpp #511, #1749: meter values for transactions the server does not know.
    await other.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": sample})
    await other.result(
        "MeterValues", {"connectorId": 1, "transactionId": 424242, "meterValue": sample}
    )
    async with AsyncSession(client.app[ENGINE]) as session:
        rows = (await session.scalars(select(MeterValue).order_by(MeterValue.id))).all()
    assert [(r.claimed_transaction_id, r.transaction_id, r.flag) for r in rows] == [
        (tx, None, "foreign_transaction"),
        (424242, None, "unknown_transaction"),
    ]


async def gone(client, charge_point_id: str) -> None:
    """Wait until the server has seen the charger's socket close."""
    central = client.app[CENTRAL_SYSTEM]
    await eventually(
        lambda: not central.is_connected(charge_point_id),
        timeout=5,
        what=f"the server saw {charge_point_id}'s socket close",
    )


async def test_operator_closes_a_session_whose_stop_never_came(
    client, connect, portal, now
) -> None:
    cp = await connect("CP-LOST")
    tx = await start(cp, 1, 1000, now - timedelta(minutes=30))
    last = now - timedelta(minutes=5)
    await cp.result(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx,
            "meterValue": [
                {
                    "timestamp": iso(now - timedelta(minutes=10)),
                    "sampledValue": [{"value": "1500"}],
                },
                {"timestamp": iso(last), "sampledValue": [{"value": "2.25", "unit": "kWh"}]},
            ],
        },
    )
    # The charger is gone (closing is for a charger gone or silent: test_closed_sessions).
    await cp.ws.close()
    await gone(client, "CP-LOST")
    response = await client.post(f"/api/transactions/{tx}/close", headers=VIEWER)
    assert response.status == 403
    response = await client.post(f"/api/transactions/{tx}/close", headers=OPERATOR)
    assert response.status == 200, await response.text()
    closed = await response.json()
    assert (closed["meter_stop"], closed["energy_wh"], closed["stop_reason"]) == (
        2250,
        1250.0,
        "Other",
    )
    # Stopped when it was last heard of, not when the operator noticed.
    assert abs(datetime.fromisoformat(closed["stop_time"]) - last) < timedelta(milliseconds=2)
    view = await client.app[SERVICES].transaction_queries.get(tx)
    assert view.closed_by == "oper" and "closed_by_operator" in view.flags

    response = await client.post(f"/api/transactions/{tx}/close", headers=ADMIN)
    assert response.status == 400 and "already stopped" in (await response.json())["error"]
    response = await client.post("/api/transactions/9999/close", headers=ADMIN)
    assert response.status == 404

    # A late StopTransaction from the charger is answered, and corrects the close.
    cp = await connect("CP-LOST")
    assert (
        await cp.result(
            "StopTransaction", {"transactionId": tx, "meterStop": 9999, "timestamp": iso(now)}
        )
        == {}
    )
    view = await client.app[SERVICES].transaction_queries.get(tx)
    assert view.meter_stop == 9999 and abs(view.stop_time - now) < timedelta(milliseconds=2)
    assert "corrected_after_close" in view.flags and "closed_by_operator" not in view.flags

    # From the portal: the button on the session page of a charger gone silent.
    tx2 = await start(cp, 2, 0, now, tag="T9")
    await cp.ws.close()
    await gone(client, "CP-LOST")
    operator = await portal("operator")
    _, html = await operator.get(f"/transactions/{tx2}")
    assert "Close session" in html
    status, html = await operator.post(f"/transactions/{tx2}/close")
    assert status == 200 and "closed by oper" in html and "closed by operator" in html
    viewer = await portal("viewer")
    _, html = await viewer.get(f"/transactions/{tx2}")
    assert "Close session" not in html


async def test_a_retried_meter_values_message_is_stored_once(client, connect, now) -> None:
    cp = await connect("CP-RETRY")
    tx = await start(cp, 1, 0, now)
    message = {
        "connectorId": 1,
        "transactionId": tx,
        "meterValue": [
            {"timestamp": iso(now), "sampledValue": [{"value": "10"}, {"value": "7000",
             "measurand": "Power.Active.Import", "unit": "W"}]}
        ],
    }  # fmt: skip
    # The answer was lost (server restart, broken link): the charger sends it again.
    assert await cp.result("MeterValues", message) == {}
    assert await cp.result("MeterValues", message) == {}
    # A later reading with the same value is new data, and is kept.
    reading = {**message["meterValue"][0], "timestamp": iso(now + timedelta(seconds=10))}
    later = {**message, "meterValue": [reading]}
    assert await cp.result("MeterValues", later) == {}
    async with AsyncSession(client.app[ENGINE]) as session:
        rows = (
            await session.scalars(
                select(MeterValue).where(MeterValue.charge_point_id == "CP-RETRY")
            )
        ).all()
    assert len(rows) == 4


@pytest.mark.parametrize("named", ["its session", "an unknown session", "no session"])
async def test_a_meter_values_repeated_on_a_new_connection_is_stored_once(
    client, connect, now, named
) -> None:
    # Each is found by its own index: samples applied to a session, and (unknown, none)
    # samples applied to none.
    cp = await connect("CP-AGAIN")
    tx = await start(cp, 1, 0, now)
    message = {
        "connectorId": 1,
        "meterValue": [{"timestamp": iso(now), "sampledValue": [{"value": "10"}]}],
    }
    if named != "no session":
        message["transactionId"] = tx if named == "its session" else tx + 1000
    assert await cp.result("MeterValues", message) == {}
    # The link drops before the charger sees the answer; it sends it again, first thing on
    # its new connection (the only message that can be such a repeat), then new data.
    await cp.ws.close()
    cp = await connect("CP-AGAIN")
    assert await cp.result("MeterValues", message) == {}
    reading = {"timestamp": iso(now + timedelta(seconds=10)), "sampledValue": [{"value": "20"}]}
    assert await cp.result("MeterValues", {**message, "meterValue": [reading]}) == {}
    async with AsyncSession(client.app[ENGINE]) as session:
        values = (
            await session.scalars(
                select(MeterValue.value).where(MeterValue.charge_point_id == "CP-AGAIN")
            )
        ).all()
    assert sorted(values) == ["10", "20"]
