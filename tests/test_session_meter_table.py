"""The session page's meter values: one row per reading instant with a column per
measurand and phase, newest first and paged, and the session's samples as CSV, for a
session a real 1.6 charge point ran over its WebSocket."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from tests.helpers import OPERATOR

PHASES = ("L1", "L2", "L3")


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def reading(at: datetime, wh: int) -> dict:
    """A three-phase reading: the register, a current per phase and the power."""
    samples = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    samples += [
        {"value": f"{15 + n}.5", "measurand": "Current.Import", "unit": "A", "phase": phase}
        for n, phase in enumerate(PHASES)
    ]
    samples.append({"value": "=HYPERLINK(1)", "measurand": "Power.Active.Import", "unit": "W"})
    return {"timestamp": iso(at), "sampledValue": samples}


async def run_session(client, connect, readings: int) -> tuple[int, datetime]:
    response = await client.post("/api/id-tags", json={"id_tag": "TAG1"}, headers=OPERATOR)
    assert response.status == 201
    cp = await connect("CP1")
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    assert (await cp.result("BootNotification", boot))["status"] == "Accepted"
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": iso(t0)}
    transaction_id = (await cp.result("StartTransaction", start))["transactionId"]
    for n in range(readings):
        at = t0 + timedelta(seconds=30 * (n + 1))
        values = {"connectorId": 1, "transactionId": transaction_id,
                  "meterValue": [reading(at, 100 * (n + 1))]}  # fmt: skip
        assert await cp.result("MeterValues", values) == {}
    return transaction_id, t0


async def test_one_row_per_instant_with_a_column_per_measurand(client, connect, portal) -> None:
    transaction_id, _ = await run_session(client, connect, readings=60)
    viewer = await portal("viewer")
    status, page = await viewer.get(f"/transactions/{transaction_id}")
    assert status == 200
    table = re.search(r'<table class="grid" id="meter-table">(.*?)</table>', page, re.S)
    assert table is not None
    head = re.findall(r"<th[^>]*>([^<]+)", table.group(1).split("</thead>")[0])
    assert [h.strip() for h in head] == [
        "Time",
        "Energy.Active.Import.Register",
        "Current.Import L1",
        "Current.Import L2",
        "Current.Import L3",
        "Power.Active.Import",
        "Context",
    ]
    rows = re.findall(r"<tr><td[^>]*>.*?</tr>", table.group(1).split("<tbody>")[1], re.S)
    assert len(rows) == 50  # a page; newest first
    newest = re.findall(r'<td class="num">([^<]*)</td>', rows[0])
    assert newest == ["6000", "15.5", "16.5", "17.5", "=HYPERLINK(1)"]
    assert "page 1 of 2" in page and "Older" in page
    status, older = await viewer.get(f"/transactions/{transaction_id}?page=2")
    assert status == 200 and "page 2 of 2" in older and "Newer" in older
    oldest = re.findall(r"<tr><td[^>]*>.*?</tr>", older.split('id="meter-table"')[1], re.S)
    assert len(oldest) == 10
    assert re.findall(r'<td class="num">([^<]*)</td>', oldest[-1])[0] == "100"
    # Out of range or not a number: the nearest page, not an error.
    for wrong in ("99", "x", "-3"):
        status, html = await viewer.get(f"/transactions/{transaction_id}?page={wrong}")
        assert status == 200 and "page " in html


async def test_csv_of_the_sessions_samples(client, connect, portal) -> None:
    transaction_id, t0 = await run_session(client, connect, readings=3)
    viewer = await portal("viewer")
    status, page = await viewer.get(f"/transactions/{transaction_id}")
    link = f"/transactions/{transaction_id}/meter-values.csv"
    assert status == 200 and f'href="{link}"' in page
    async with viewer.http.get(viewer.base + link) as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        assert f"session-{transaction_id}" in response.headers["Content-Disposition"]
        text = await response.text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 * 5
    first = rows[0]
    assert first["timestamp"] == iso(t0 + timedelta(seconds=30)).replace("Z", ".000Z")
    assert (first["measurand"], first["value"], first["unit"]) == (
        "Energy.Active.Import.Register",
        "100",
        "Wh",
    )
    assert [r["phase"] for r in rows[1:4]] == list(PHASES)
    # A charger's text that a spreadsheet would run as a formula is made text.
    assert rows[4]["value"] == "'=HYPERLINK(1)"
    status, _ = await viewer.get("/transactions/999999/meter-values.csv")
    assert status == 404


async def test_csv_needs_a_login(client) -> None:
    response = await client.get("/transactions/1/meter-values.csv", allow_redirects=False)
    assert response.status in (302, 303, 401)
