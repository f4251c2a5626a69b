"""Closing a session (an operator's "close") is for a charger gone or silent; what the
charger sends about it afterwards (meter values, its StopTransaction or Ended) corrects
the close and flags it. Both versions, through real WebSocket chargers, the API and the
portal."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import OPERATOR, disconnected, get_json, iso
from tests.v201.charging_station import ended, started, station, updated


async def transaction(client, charge_point_id: str, transaction_id: int) -> dict[str, Any]:
    """The session as `GET /api/transactions` lists it (flags included)."""
    listed = await get_json(
        client, f"/api/transactions?charge_point_id={charge_point_id}", role="viewer"
    )
    [tx] = [t for t in listed if t["id"] == transaction_id]
    return tx


def register(value: str, at: datetime, unit: str = "Wh") -> dict[str, Any]:
    return {"timestamp": iso(at), "sampledValue": [{"value": value, "unit": unit}]}


async def test_closing_a_connected_16_session_asks_and_the_charger_corrects_it(
    client, connect, portal
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    cp = await connect("CP-ON")
    await cp.boot()
    tx = await cp.start(meter_start=0, timestamp=iso(now - timedelta(minutes=8)))
    await cp.status(1, "Charging")
    meter = {"connectorId": 1, "transactionId": tx}
    first = register("610", now - timedelta(minutes=5))
    await cp.result("MeterValues", {**meter, "meterValue": [first]})

    # The API will not close it while the charger is there, unless told to.
    response = await client.post(f"/api/transactions/{tx}/close", headers=OPERATOR)
    assert response.status == 409, await response.text()
    assert "connected" in (await response.json())["error"]
    # The page says it is online and asks for the confirmation that says so.
    operator = await portal("operator")
    _, html = await operator.get(f"/transactions/{tx}")
    assert "CP-ON is online" in html and 'name="confirm_online"' in html
    assert "Close session anyway" in html
    status, html = await operator.post(f"/transactions/{tx}/close")
    assert status == 400 and "CP-ON is connected and may still be charging" in html
    assert (await transaction(client, "CP-ON", tx))["stop_time"] is None
    status, html = await operator.post(f"/transactions/{tx}/close", {"confirm_online": "yes"})
    assert status == 200 and "closed by oper" in html
    closed = await transaction(client, "CP-ON", tx)
    assert (closed["meter_stop"], closed["energy_wh"]) == (610, 610)
    assert closed["flags"] == ["closed_by_operator"]

    # It was still charging: its later meter values move the stop and the meter on.
    later = now - timedelta(minutes=1)
    await cp.result("MeterValues", {**meter, "meterValue": [register("0.9", later, "kWh")]})
    corrected = await transaction(client, "CP-ON", tx)
    assert (corrected["meter_stop"], corrected["energy_wh"]) == (900, 900)
    assert corrected["stop_time"] == iso(later)
    assert set(corrected["flags"]) == {"closed_by_operator", "corrected_after_close"}

    # Its own StopTransaction, when it comes, is the session's end.
    stop = {"transactionId": tx, "meterStop": 1210, "timestamp": iso(now)}
    stop["reason"] = "EVDisconnected"
    assert await cp.result("StopTransaction", stop) == {}
    final = await transaction(client, "CP-ON", tx)
    assert (final["meter_stop"], final["energy_wh"], final["stop_reason"]) == (
        1210,
        1210,
        "EVDisconnected",
    )
    assert final["stop_time"] == iso(now)
    assert final["flags"] == ["corrected_after_close"]
    _, html = await operator.get(f"/transactions/{tx}")
    assert "1.21 kWh" in html and "corrected after close" in html
    async with operator.http.get(operator.base + "/transactions.csv?charge_point_id=CP-ON") as r:
        [row] = list(csv.DictReader(io.StringIO(await r.text())))
    assert (row["meter_stop_wh"], row["energy_kwh"], row["flags"]) == (
        "1210",
        "1.210",
        "corrected_after_close",
    )


async def test_a_session_closed_while_offline_is_corrected_by_the_late_stop(
    client, connect, portal
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    cp = await connect("CP-OFF")
    await cp.boot()
    tx = await cp.start(meter_start=100, timestamp=iso(now - timedelta(minutes=9)))
    reading = register("400", now - timedelta(minutes=6))
    await cp.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [reading]})
    await cp.ws.close()
    await disconnected(client, "CP-OFF")

    # Offline: the page offers a plain close, the API closes without being told twice.
    operator = await portal("operator")
    _, html = await operator.get(f"/transactions/{tx}")
    assert "CP-OFF is offline" in html and "confirm_online" not in html
    response = await client.post(f"/api/transactions/{tx}/close", headers=OPERATOR)
    assert response.status == 200, await response.text()
    assert (await response.json())["meter_stop"] == 400

    # It comes back with the StopTransaction it had queued: answered, and applied.
    back = await connect("CP-OFF")
    stop = {"transactionId": tx, "meterStop": 700, "timestamp": iso(now - timedelta(minutes=2))}
    assert await back.result("StopTransaction", stop) == {}
    tx_now = await transaction(client, "CP-OFF", tx)
    assert (tx_now["meter_stop"], tx_now["energy_wh"]) == (700, 600)
    assert tx_now["stop_time"] == iso(now - timedelta(minutes=2))
    assert tx_now["flags"] == ["corrected_after_close"]


async def test_a_201_session_closed_while_charging_is_corrected_by_its_events(
    client, connect, portal
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=4)
    cp = await station(connect, "CS-ON", connector_status="Occupied")
    await cp.result("TransactionEvent", started("TX-1", t0))  # register 1000 Wh
    update = updated("TX-1", t0 + timedelta(minutes=1), 1, energy=1610, chargingState="Charging")
    assert await cp.result("TransactionEvent", update) == {}
    [listed] = await get_json(client, "/api/transactions?charge_point_id=CS-ON", role="viewer")
    tx = listed["id"]

    operator = await portal("operator")
    _, html = await operator.get(f"/transactions/{tx}")
    assert "CS-ON is online" in html and "Ended event" in html
    response = await client.post(f"/api/transactions/{tx}/close", headers=OPERATOR)
    assert response.status == 409
    response = await client.post(
        f"/api/transactions/{tx}/close", headers=OPERATOR, json={"force": True}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["energy_wh"] == 610

    later = t0 + timedelta(minutes=2)
    assert await cp.result("TransactionEvent", updated("TX-1", later, 2, energy=1900)) == {}
    corrected = await transaction(client, "CS-ON", tx)
    assert (corrected["meter_stop"], corrected["stop_time"]) == (1900, iso(later))
    assert set(corrected["flags"]) == {"closed_by_operator", "corrected_after_close"}

    end = ended("TX-1", t0 + timedelta(minutes=3), 3, energy=2210)
    assert await cp.result("TransactionEvent", end) == {}
    final = await transaction(client, "CS-ON", tx)
    assert (final["meter_stop"], final["energy_wh"], final["stop_reason"]) == (
        2210,
        1210,
        "EVDisconnected",
    )
    assert final["stop_time"] == iso(t0 + timedelta(minutes=3))
    assert final["flags"] == ["corrected_after_close"]


async def test_force_must_be_a_boolean(client, connect) -> None:
    cp = await connect("CP-F")
    await cp.boot()
    tx = await cp.start(timestamp=iso(datetime.now(UTC)))
    response = await client.post(
        f"/api/transactions/{tx}/close", headers=OPERATOR, json={"force": "yes"}
    )
    assert response.status == 400 and "force" in (await response.json())["error"]
    response = await client.post(
        f"/api/transactions/{tx}/close", headers=OPERATOR, json={"forse": True}
    )
    assert response.status == 400 and "unknown field" in (await response.json())["error"]
