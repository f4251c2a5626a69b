"""A session whose tag was refused at its start (unknown, or in another session) is marked
as refused wherever sessions are shown: the transactions list, the session's page, its
charge point's page, the API and the CSV. One accepted is not."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.helpers import OPERATOR, VIEWER


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def test_refused_sessions_are_marked_everywhere(client, connect, portal) -> None:
    response = await client.post("/api/id-tags", json={"id_tag": "GOOD"}, headers=OPERATOR)
    assert response.status == 201
    cp = await connect("CP1")
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    assert (await cp.result("BootNotification", boot))["status"] == "Accepted"
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    ids = {}
    for connector, tag, status in ((1, "GOOD", "Accepted"), (2, "GOOD", "ConcurrentTx"),
                                   (3, "NOBODY", "Invalid")):  # fmt: skip
        start = {"connectorId": connector, "idTag": tag, "meterStart": 0, "timestamp": iso(at)}
        answer = await cp.result("StartTransaction", start)
        assert answer["idTagInfo"]["status"] == status
        ids[status] = answer["transactionId"]

    response = await client.get("/api/transactions?charge_point_id=CP1", headers=VIEWER)
    by_id = {tx["id"]: tx["id_tag_status"] for tx in await response.json()}
    assert by_id == {ids["Accepted"]: "Accepted", ids["ConcurrentTx"]: "ConcurrentTx",
                     ids["Invalid"]: "Invalid"}  # fmt: skip

    viewer = await portal("viewer")
    _, listing = await viewer.get("/transactions")
    for status, transaction_id in ids.items():
        row = listing.split(f'data-transaction="{transaction_id}"')[1].split("</tr>")[0]
        assert ("refused: " + status in row) == (status != "Accepted"), (status, row)
        _, page = await viewer.get(f"/transactions/{transaction_id}")
        heading = page.split("<h1>")[1].split("</h1>")[0]
        assert ("refused: " + status in heading) == (status != "Accepted"), status
    _, charge_point = await viewer.get("/charge-points/CP1")
    assert "refused: ConcurrentTx" in charge_point and "refused: Invalid" in charge_point
    assert "refused: Accepted" not in charge_point

    async with viewer.http.get(viewer.base + "/transactions.csv") as response:
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert {int(r["transaction_id"]): r["id_tag_status"] for r in rows} == by_id
