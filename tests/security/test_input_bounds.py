"""Every input bounded before it is used or stored; forms apply all or
nothing. A charger's valid but sparse answer, a reading no meter can make, a ping interval
beyond any column and a limit that is no number are answered, never a 500."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.helpers import OPERATOR
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}


def _strict_json(text: str) -> object:
    """JSON as a browser's JSON.parse reads it: no NaN, no Infinity."""

    def refuse(constant: str) -> object:
        raise AssertionError(f"{constant} is not JSON: JSON.parse would throw")

    return json.loads(text, parse_constant=refuse)


async def test_composite_schedule_accepted_without_a_schedule_is_shown(
    client, connect, portal
) -> None:
    # GetCompositeSchedule.conf's chargingSchedule is optional: Accepted with none is valid.
    await client.app[SERVICES].charge_points.register("SCHED")
    cp = await connect("SCHED")
    await cp.boot()
    operator = await portal("operator")
    posted = asyncio.ensure_future(
        operator.post(
            "/charge-points/SCHED/operations/get-composite-schedule",
            {"connector_id": "0", "duration": "600"},
            headers=HTMX,
        )
    )
    await cp.answer(await cp.expect_call("GetCompositeSchedule"), {"status": "Accepted"})
    status, html = await posted
    assert status == 200, html[-500:]
    assert re.search(r'data-answer="[^"]*Accepted', html), html
    # The operations page shows the journal with that answer.
    status, html = await operator.get("/charge-points/SCHED/operations")
    assert status == 200, html[-500:]


# Readings a strict charger may send (sampledValue.value is any string): each is no energy.
ABSURD_READINGS = ["1e999", "-1e999", "1e30", "NaN", "inf", "9" * 400]


async def test_absurd_meter_readings_leave_the_session_readable_and_closable(
    client, connect, portal
) -> None:
    await client.app[SERVICES].charge_points.register("METER")
    await client.app[SERVICES].id_tags.add("TAG")
    cp = await connect("METER")
    await cp.boot()
    operator = await portal("operator")
    for number, reading in enumerate(ABSURD_READINGS):
        transaction_id = await cp.start("TAG", meter_start=1000, connector_id=number + 1)
        meter_value = [
            {
                "timestamp": f"2026-01-01T00:{number:02d}:10Z",
                "sampledValue": [
                    {"value": "1500", "measurand": "Energy.Active.Import.Register"},
                    {"value": "7000", "measurand": "Power.Active.Import", "unit": "W"},
                ],
            },
            {
                "timestamp": f"2026-01-01T00:{number:02d}:20Z",
                "sampledValue": [
                    {"value": reading, "measurand": "Energy.Active.Import.Register"},
                    {"value": reading, "measurand": "Power.Active.Import", "unit": "kW"},
                ],
            },
        ]
        await cp.result(
            "MeterValues",
            {
                "connectorId": number + 1,
                "transactionId": transaction_id,
                "meterValue": meter_value,
            },
        )
        # The dashboard and the session page, with its chart's data as JSON.parse reads it.
        status, html = await operator.get("/")
        assert status == 200, (reading, html[-500:])
        status, html = await operator.get(f"/transactions/{transaction_id}")
        assert status == 200, (reading, html[-500:])
        chart = re.search(r'id="session-chart-data">([^<]*)</script>', html)[1]
        points = _strict_json(chart)["points"]
        # The absurd reading is no point of energy or power; the sane one before it is.
        assert points == [{"t": f"00:{number:02d}:10", "kw": 7.0, "kwh": 0.5}], (reading, points)
        response = await client.get(f"/api/transactions/{transaction_id}", headers=OPERATOR)
        assert response.status == 200, (reading, await response.text())
        assert (await response.json())["energy_wh"] == 500, reading

        # Closed by an operator, its energy comes from the last sane reading (the charger
        # is still connected: closed with the confirmation that says so).
        if number % 2:
            response = await client.post(
                f"/api/transactions/{transaction_id}/close",
                json={"force": True},
                headers=OPERATOR,
            )
            assert response.status == 200, (reading, await response.text())
            closed = await response.json()
        else:
            status, html = await operator.post(
                f"/transactions/{transaction_id}/close", {"confirm_online": "yes"}
            )
            assert status == 200, (reading, html[-500:])
            response = await client.get(f"/api/transactions/{transaction_id}", headers=OPERATOR)
            closed = await response.json()
        assert closed["meter_stop"] == 1500 and closed["energy_wh"] == 500, (reading, closed)

    response = await client.get("/transactions.csv", headers=OPERATOR)
    assert response.status == 200


@pytest.mark.parametrize("ping_interval", ["99999999999999999999", "2147483648", "-1", "1e3"])
async def test_protocol_form_applies_all_or_nothing(client, portal, ping_interval) -> None:
    await client.app[SERVICES].charge_points.register("PROTO")
    admin = await portal("admin")
    status, html = await admin.post(
        "/charge-points/PROTO/protocol", {"lenient": "on", "ping_interval": ping_interval}
    )
    assert status == 400, html[-500:]
    assert "ping interval" in html
    cp = await client.app[SERVICES].charge_points.get("PROTO")
    # Nothing of the refused form was saved: not its lenient mode either.
    assert cp.lenient is False and cp.ping_interval is None
    # The largest interval allowed is saved, both fields at once.
    status, html = await admin.post(
        "/charge-points/PROTO/protocol", {"lenient": "on", "ping_interval": "86400"}
    )
    assert status == 200, html[-500:]
    cp = await client.app[SERVICES].charge_points.get("PROTO")
    assert cp.lenient is True and cp.ping_interval == 86400


@pytest.mark.parametrize("limit", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
async def test_charging_limit_that_is_no_number_is_refused(client, connect, portal, limit) -> None:
    await client.app[SERVICES].charge_points.register("LIMIT")
    cp = await connect("LIMIT")
    await cp.boot()
    operator = await portal("operator")
    status, html = await operator.post(
        "/charge-points/LIMIT/operations/set-charging-profile",
        {"charging_profile_id": "1", "stack_level": "0", "limit": limit},
        headers=HTMX,
    )
    assert status == 200, html[-500:]
    assert "invalid input" in html and "limit" in html, html
    # Nothing was sent to the charger, nor kept as its profile.
    assert await cp.nothing_within(0.2)
    assert await client.app[SERVICES].operations.charging_profiles("LIMIT") == []


# Every API body checked before it reaches the database.
BAD_ID_TAG_BODIES = [
    {"id_tag": None},
    {"id_tag": 5},
    {"id_tag": ""},
    {"id_tag": "X" * 21},
    {"id_tag": ["A"]},
    {"id_tag": "OK", "parent_id_tag": 7},
    {"id_tag": "OK", "parent_id_tag": ""},
    {"id_tag": "OK", "parent_id_tag": "P" * 21},
    {"id_tag": "OK", "blocked": "yes"},
    {"id_tag": "OK", "blocked": None},
    {"id_tag": "OK", "expiry_date": 12},
    {"id_tag": "OK", "expiry_date": "tomorrow"},
    {"id_tag": "OK", "expiry_date": "0001-01-01T00:00:00+00:01"},
]


async def test_id_tag_bodies_are_checked_before_the_database(client) -> None:
    for body in BAD_ID_TAG_BODIES:
        response = await client.post("/api/id-tags", json=body, headers=OPERATOR)
        assert response.status == 400, (body, await response.text())
        assert (await response.json())["error"], body
    assert await client.app[SERVICES].id_tags.list() == []
    response = await client.post(
        "/api/id-tags", json={"id_tag": "X" * 20, "parent_id_tag": None}, headers=OPERATOR
    )
    assert response.status == 201, await response.text()
