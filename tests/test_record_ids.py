"""Record ids and dates in URLs beyond what the database holds: 404 or the page's own
message, never a 500 (a 20-digit session id and `to=9999-12-31` were)."""

from __future__ import annotations

from tests.helpers import ADMIN

TOO_BIG = ["2147483648", "99999999999999999999"]


async def test_ids_beyond_32_bits_are_unknown_records(client, portal) -> None:
    admin = await portal("admin")
    for number in TOO_BIG:
        for path in [f"/api/transactions/{number}", f"/api/transactions/{number}/meter-values"]:
            response = await client.get(path, headers=ADMIN)
            assert (response.status, await response.json()) == (
                404,
                {"error": f"transaction {number} does not exist"},
            )
        response = await client.post(f"/api/transactions/{number}/close", headers=ADMIN, json={})
        assert response.status == 404
        assert (await admin.get(f"/transactions/{number}"))[0] == 404
        assert (await admin.post(f"/transactions/{number}/close", {}))[0] == 404
        assert (await admin.post(f"/users/{number}/delete", {}))[0] == 404


async def test_sessions_to_the_last_day_of_year_9999(client, connect, portal) -> None:
    cp = await connect("CP-9999")
    await cp.boot()
    transaction_id = await cp.start(timestamp="2026-12-03T08:00:00Z")
    viewer = await portal("viewer")
    status, html = await viewer.get("/transactions?to=9999-12-31")
    assert status == 200 and f'/transactions/{transaction_id}"' in html
    status, csv = await viewer.get("/transactions.csv?to=9999-12-31")
    assert status == 200 and csv.splitlines()[1].startswith(f"{transaction_id},")
