"""`/operations`: one operation to many charge points of both versions, each sent in the
version it speaks and answered by a real WebSocket charger, each answer listed; ids that
are unknown or offline say so, a bad form says what is wrong and sends nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}


async def charger_16(connect, charge_point_id: str):
    cp = await connect(charge_point_id)
    assert (await cp.boot())["status"] == "Accepted"
    return cp


async def charger_201(connect, charge_point_id: str):
    cp = await connect(charge_point_id, protocols=("ocpp2.0.1",))
    boot = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
    assert (await cp.result("BootNotification", boot))["status"] == "Accepted"
    return cp


async def test_configuration_to_a_mixed_fleet(client, connect, portal) -> None:
    await client.app[SERVICES].charge_points.register("GONE")
    old = await charger_16(connect, "OLD")
    new = await charger_201(connect, "NEW")
    operator = await portal("operator")
    status, page = await operator.get("/operations")
    assert status == 200 and 'name="charge_point_ids"' in page

    async def chargers() -> None:
        frame = await old.expect_call("ChangeConfiguration")
        assert frame[3] == {"key": "HeartbeatInterval", "value": "120"}
        await old.answer(frame, {"status": "Accepted"})
        frame = await new.expect_call("SetVariables")
        [item] = frame[3]["setVariableData"]
        assert item["component"] == {"name": "OCPPCommCtrlr"}
        assert item["variable"] == {"name": "HeartbeatInterval"}
        assert item["attributeValue"] == "120"
        result = {"attributeStatus": "Rejected", "component": item["component"],
                  "variable": item["variable"]}  # fmt: skip
        await new.answer(frame, {"setVariableResult": [result]})

    answering = asyncio.create_task(chargers())
    form = {
        "charge_point_ids": "OLD, NEW\nGONE NOBODY OLD",
        "kind": "configuration",
        "key": "HeartbeatInterval",
        "component": "OCPPCommCtrlr",
        "variable": "HeartbeatInterval",
        "value": "120",
    }
    status, html = await operator.post("/operations", form, headers=HTMX)
    await asyncio.wait_for(answering, 5)
    assert status == 200
    rows = {
        cp: html.split(f'data-charge-point="{cp}"')[1].split("</tr>")[0]
        for cp in ("OLD", "NEW", "GONE", "NOBODY")
    }
    assert html.count("data-charge-point=") == 4  # OLD once
    assert "ChangeConfiguration" in rows["OLD"] and 'data-answer="Accepted"' in rows["OLD"]
    assert "SetVariables" in rows["NEW"] and 'data-answer="Rejected"' in rows["NEW"]
    assert 'data-answer="not connected"' in rows["GONE"]
    assert 'data-answer="unknown"' in rows["NOBODY"]
    assert "1 of 4 went as asked" in html
    # Journalled as from the charge point's own page.
    journal = await client.app[SERVICES].operations.journal("NEW")
    assert journal[0].action == "SetVariables" and journal[0].requested_by == "oper"


async def test_reset_to_every_connected_one(client, connect, portal) -> None:
    players = [await charger_16(connect, f"CP{n}") for n in range(3)]
    operator = await portal("operator")

    async def answer(cp) -> None:
        frame = await cp.expect_call("Reset")
        assert frame[3] == {"type": "Soft"}
        await cp.answer(frame, {"status": "Accepted"})

    answering = asyncio.gather(*(answer(cp) for cp in players))
    form = {"charge_point_ids": "", "all_connected": "yes", "kind": "reset", "type": "Soft"}
    status, html = await operator.post("/operations", form, headers=HTMX)
    await asyncio.wait_for(answering, 5)
    assert status == 200 and "3 of 3 went as asked" in html


async def test_bad_forms_send_nothing(client, connect, portal) -> None:
    cp = await charger_16(connect, "CP1")
    operator = await portal("operator")
    status, html = await operator.post("/operations", {"kind": "reset"}, headers=HTMX)
    assert status == 400 and "give the charge points" in html
    status, html = await operator.post(
        "/operations", {"kind": "nothing", "charge_point_ids": "CP1"}, headers=HTMX
    )
    assert status == 400 and "choose what to do" in html
    many = " ".join(f"X{n}" for n in range(2001))
    status, html = await operator.post(
        "/operations", {"kind": "reset", "charge_point_ids": many}, headers=HTMX
    )
    assert status == 400 and "at most 2000" in html
    # A field of the wrong kind is that charger's answer; nothing reaches it.
    form = {"kind": "firmware", "charge_point_ids": "CP1", "location": "not a url",
            "retrieve_date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    status, html = await operator.post("/operations", form, headers=HTMX)
    assert status == 200 and 'data-answer="invalid input"' in html
    assert await cp.nothing_within(0.3)


async def test_only_operators(client, portal) -> None:
    viewer = await portal("viewer")
    status, _ = await viewer.get("/operations")
    assert status == 403
    status, _ = await viewer.post("/operations", {"kind": "reset", "charge_point_ids": "X"})
    assert status == 403
