"""The transactions page: charge point and id tag filters match any part in any case, and
the filtered set's totals (sessions, energy, time; per day, per charge point, per id tag)
are the database's sums over all of it, not over the page shown."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from webapp.keys import SERVICES

DAY = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def seed(client) -> None:
    """Sessions on three chargers over three days (energy in Wh, 30 min each), one open."""
    services = client.app[SERVICES]
    for cp in ("Alpha-1", "alpha-2", "Beta"):
        await services.charge_points.register(cp)
    for tag in ("TagA", "taga-x", "B"):
        await services.id_tags.add(tag)
    plan = [
        ("Alpha-1", "TagA", 0, 10_000),
        ("Alpha-1", "taga-x", 0, 2_500),
        ("alpha-2", "TagA", 1, 7_000),
        ("Beta", "B", 1, 1_000),
        ("Beta", "B", 2, 4_000),
    ]
    transactions = services.transactions
    for n, (cp, tag, day, wh) in enumerate(plan):
        start = DAY + timedelta(days=day, hours=n)
        tx, _ = await transactions.start(cp, 1, tag, 1_000, start)
        await transactions.stop(cp, tx, 1_000 + wh, start + timedelta(minutes=30))
    # Open, and begun on the last day: counted as a session, not in energy or time.
    await transactions.start("alpha-2", 2, "TagA", 500, DAY + timedelta(days=2, hours=9))
    # Many more than a page, to show the totals are not the page's.
    for n in range(60):
        start = DAY - timedelta(days=10, minutes=n)
        tx, _ = await transactions.start("Beta", 2, "B", 0, start)
        await transactions.stop("Beta", tx, 100, start + timedelta(seconds=30))


def table(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, table_id
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


async def test_partial_filters_and_totals_of_the_whole_set(client, portal) -> None:
    await seed(client)
    viewer = await portal("viewer")
    status, page = await viewer.get("/transactions?charge_point_id=ALPHA")
    assert status == 200
    rows = re.findall(r'<tr class="tx-row" data-transaction="\d+">(.*?)</tr>', page, re.S)
    assert len(rows) == 4 and "Beta" not in "".join(rows)
    totals = re.search(r'id="transaction-totals">(.*?)</dl>', page, re.S).group(1)
    assert "4 <span" in totals and "(1 active)" in totals
    assert "19.50 kWh" in totals  # 10 + 2.5 + 7
    assert "1 h 30 min" in totals  # three finished sessions of 30 min
    assert table(page, "energy-per-day-table") == [
        ["2026-11-04", "1", "0.00"],
        ["2026-11-03", "1", "7.00"],
        ["2026-11-02", "2", "12.50"],
    ]
    assert table(page, "totals-by-charge-point") == [
        ["Alpha-1", "2", "12.50"],
        ["alpha-2", "2", "7.00"],
    ]
    assert table(page, "totals-by-tag") == [["TagA", "3", "17.00"], ["taga-x", "1", "2.50"]]
    chart = re.search(r'id="energy-per-day-data">(.*?)</script>', page, re.S).group(1)
    assert '"day": "2026-11-02"' in chart or '"day":"2026-11-02"' in chart

    # The id tag in any case, as a part; with the charge point's too.
    status, page = await viewer.get("/transactions?id_tag=TAGA&charge_point_id=a-1")
    assert status == 200
    assert table(page, "totals-by-tag") == [["TagA", "1", "10.00"], ["taga-x", "1", "2.50"]]

    # Everything: the 60 short sessions are beyond the first page, and in the totals.
    status, page = await viewer.get("/transactions")
    assert "66 <span" in re.search(r'id="transaction-totals">(.*?)</dl>', page, re.S).group(1)
    assert table(page, "totals-by-charge-point") == [
        ["Alpha-1", "2", "12.50"],
        ["Beta", "62", "11.00"],
        ["alpha-2", "2", "7.00"],
    ]

    # Wildcards are text: "%" matches no charge point.
    status, page = await viewer.get("/transactions?charge_point_id=%25")
    assert status == 200 and "No session matches." in page
    assert 'id="energy-per-day"' not in page


async def test_csv_takes_the_same_partial_filters(client, portal) -> None:
    await seed(client)
    viewer = await portal("viewer")
    async with viewer.http.get(viewer.base + "/transactions.csv?charge_point_id=alpha") as r:
        assert r.status == 200
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert sorted({row["charge_point_id"] for row in rows}) == ["Alpha-1", "alpha-2"]
    assert len(rows) == 4


async def test_api_filters_stay_exact(client) -> None:
    from tests.helpers import VIEWER

    await seed(client)
    response = await client.get("/api/transactions?charge_point_id=alpha", headers=VIEWER)
    assert response.status == 200 and await response.json() == []
    response = await client.get("/api/transactions?charge_point_id=alpha-2", headers=VIEWER)
    assert len(await response.json()) == 2
