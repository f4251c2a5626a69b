"""The sessions export is no way into an operator's spreadsheet. Ids and
tags a charger sends that begin with a formula character reach the CSV as text (OWASP's
rule: a single quote in front), everything else as it was."""

from __future__ import annotations

import csv
import io

from tests.helpers import OPERATOR, VIEWER

# Each begins with a character a spreadsheet reads as the start of a formula.
HOSTILE_TAGS = ["=1+2", "+1+2", "-1+2", "@SUM(1,2)", "\t=1+2", "\r=1+2"]
HOSTILE_CHARGE_POINT = "=HYPERLINK(1)"


async def test_formula_characters_are_neutralised_in_the_export(client, connect) -> None:
    for tag in [*HOSTILE_TAGS, "PLAIN-1"]:
        response = await client.post("/api/id-tags", json={"id_tag": tag}, headers=OPERATOR)
        assert response.status == 201, await response.text()
    # Admitted as any unknown charge point is (UNKNOWN_CHARGE_POINTS=accept).
    cp = await connect(HOSTILE_CHARGE_POINT)
    await cp.boot()
    started = {}
    for connector_id, tag in enumerate([*HOSTILE_TAGS, "PLAIN-1"], start=1):
        started[await cp.start(tag, meter_start=-5, connector_id=connector_id)] = tag

    response = await client.get("/transactions.csv", headers=VIEWER)
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO(await response.text(), newline="")))
    assert len(rows) == len(started)
    for row in rows:
        tag = started[int(row["transaction_id"])]
        assert row["charge_point_id"] == "'" + HOSTILE_CHARGE_POINT, row
        assert row["id_tag"] == (tag if tag == "PLAIN-1" else "'" + tag), row
        # Numbers are numbers: a negative meter reading is not turned into text.
        assert row["meter_start_wh"] == "-5", row
