"""The history the portal shows, through the JSON API: sessions, the message log, the
status history, the journal and id tags filtered and paged by one rule (`limit`, the
`after` cursor, a `Link: <...>; rel="next"` header while more rows follow), and a
session's meter values as the portal's CSV. Over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import VIEWER, iso, post
from webapp.keys import SERVICES
from webapp.views import transactions as transactions_view

NEXT = re.compile(r'<(?P<url>[^>]+)>; rel="next"')
T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def pages(client, path: str) -> list[list[dict[str, Any]]]:
    """Every page of a list, following its Link header from `path` to the end, as a
    viewer."""
    found = []
    url: str | None = path
    while url is not None:
        response = await client.get(url, headers=VIEWER)
        assert response.status == 200, await response.text()
        found.append(await response.json())
        link = response.headers.get("Link")
        if link is None:
            url = None
        else:
            match = NEXT.fullmatch(link)
            assert match, link
            url = match["url"]
            assert url.startswith(path.split("?")[0] + "?"), url  # relative: path and query
        assert len(found) < 100, "the pages never end"
    return found


async def every(client, path: str) -> list[dict[str, Any]]:
    """Every row of a list, its pages followed to the end."""
    return [row for page in await pages(client, path) for row in page]


async def error(client, path: str) -> tuple[int, str]:
    response = await client.get(path, headers=VIEWER)
    return response.status, (await response.json())["error"]


async def bulk_sessions(client, charge_point_id: str, n: int) -> list[dict[str, Any]]:
    """`n` sessions of a charge point, started (and two in three stopped) through the
    transaction service as its StartTransaction and StopTransaction handlers do, many at
    once so that the group commit writes them in batches: one a minute from T0. Their
    starts, stops and ids, in the order of their start."""
    transactions = client.app[SERVICES].transactions

    async def session(i: int) -> dict[str, Any]:
        start = T0 + timedelta(minutes=i)
        tx_id, _ = await transactions.start(charge_point_id, 1 + i % 2, f"BULK{i % 7}", 0, start)
        stop = None if i % 3 == 0 else start + timedelta(seconds=30)
        if stop is not None:
            await transactions.stop(charge_point_id, tx_id, 1000 + i, stop)
        return {"id": tx_id, "start_time": start, "stop_time": stop}

    made: list[dict[str, Any]] = []
    for first in range(0, n, 250):
        made += await asyncio.gather(*(session(i) for i in range(first, min(first + 250, n))))
    return made


def newest_first(rows: list[dict[str, Any]]) -> list[int]:
    """The ids of `rows` in the lists' order: newest (highest id) first."""
    return sorted((row["id"] for row in rows), reverse=True)


async def test_sessions_come_back_over_pages_each_exactly_once(client, connect) -> None:
    cp = await connect("PAGES1")
    await cp.boot()
    inserted = await bulk_sessions(client, "PAGES1", 1205)
    everything = newest_first(inserted)

    # The default page is 1,000, no longer all there is without a word: a Link follows.
    first = await client.get("/api/transactions", headers=VIEWER)
    assert len(await first.json()) == 1000
    assert NEXT.fullmatch(first.headers["Link"])

    found = await pages(client, "/api/transactions?limit=500")
    assert [len(page) for page in found] == [500, 500, 205]
    assert [tx["id"] for page in found for tx in page] == everything
    # The objects as they always were.
    one = found[0][0]
    assert set(one) == {
        "id", "charge_point_id", "connector_id", "id_tag", "id_tag_status", "meter_start",
        "meter_stop", "start_time", "stop_time", "stop_reason", "energy_wh",
        "ocpp_transaction_id", "evse_id", "flags", "meter_values_pruned",
        "meter_values_pruned_at",
    }  # fmt: skip
    assert one == await (await client.get(f"/api/transactions/{one['id']}", headers=VIEWER)).json()
    # Their integrity flags with them: each was recorded long after it started.
    assert all("offline" in tx["flags"] for page in found for tx in page)

    # Every filter holds on every page.
    closed = await pages(client, "/api/transactions?charge_point_id=PAGES1&active=false&limit=300")
    assert [tx["id"] for page in closed for tx in page] == newest_first(
        [row for row in inserted if row["stop_time"] is not None]
    )
    assert all(tx["stop_time"] is not None for page in closed for tx in page)
    assert await pages(client, "/api/transactions?charge_point_id=NOSUCH") == [[]]

    # since (inclusive) and until (exclusive) on the start, in any zone.
    since, until = iso(T0 + timedelta(minutes=100)), "2026-03-01T06:30:00%2B01:00"  # 05:30Z
    window = await pages(client, f"/api/transactions?since={since}&until={until}&limit=70")
    assert [len(page) for page in window] == [70, 70, 70, 20]
    assert [tx["id"] for page in window for tx in page] == newest_first(inserted[100:330])
    assert window[0][-1]["start_time"] > since
    open_in_window = await pages(
        client, f"/api/transactions?active=true&since={since}&until={until}&limit=7"
    )
    assert sorted(tx["id"] for page in open_in_window for tx in page) == sorted(
        row["id"] for row in inserted[100:330] if row["stop_time"] is None
    )


async def test_a_session_started_over_the_websocket_is_listed(client, connect) -> None:
    cp = await connect("PAGES2")
    await cp.boot()
    started = await cp.start("LIVE", timestamp="2026-05-05T10:00:00Z")
    found = await pages(client, "/api/transactions?since=2026-05-05T10:00:00Z&limit=1")
    assert [[tx["id"] for tx in page] for page in found] == [[started]]
    assert await pages(client, "/api/transactions?until=2026-05-05T10:00:00Z") == [[]]


async def test_bad_paging_and_dates_are_400s_naming_the_parameter(client) -> None:
    status, reason = await error(client, "/api/transactions?since=2026-03-01T06:30:00+01:00")
    assert status == 400 and "%2B" in reason
    for query, name in (
        ("since=yesterday", "since"),
        ("until=2026-03-01", "until"),  # a date-time has a time and a zone
        ("since=2026-02-30T00:00:00Z", "since"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("after=x", "after"),
        ("after=99999999999", "after"),
        ("until=", "until"),  # given empty: not a moment, and not the lack of one
    ):
        status, reason = await error(client, f"/api/transactions?{query}")
        assert status == 400 and reason.startswith(name), (query, reason)
    for query, name in (
        ("limit=10001", "limit"),
        ("after=" + "x" * 37, "after"),
        ("after=", "after"),
    ):
        status, reason = await error(client, f"/api/id-tags?{query}")
        assert status == 400 and reason.startswith(name), (query, reason)
    # An empty number, or free text, is left out as it always was.
    assert (
        await client.get("/api/transactions?limit=&charge_point_id=", headers=VIEWER)
    ).status == 200
    status, reason = await error(client, "/api/charge-points/NOSUCH/messages")
    assert status == 404 and "NOSUCH" in reason
    assert (await client.get("/api/transactions?limit=10")).status == 401


async def test_the_message_log_filtered_and_paged(client, connect) -> None:
    cp = await connect("LOG1")
    await cp.boot()
    before = datetime.now(UTC)
    for _ in range(5):
        assert await cp.result("Heartbeat", {}) != {}
    await cp.status(1, "Available")
    path = "/api/charge-points/LOG1/messages"
    everything = [m for page in await pages(client, path) for m in page]
    assert len(everything) == 2 * 7  # each CALL and its answer
    assert [m["id"] for m in everything] == sorted((m["id"] for m in everything), reverse=True)
    newest = everything[0]
    assert newest["direction"] == "out" and newest["message_type"] == 3
    assert set(newest) == {
        "id", "created_at", "direction", "message_type", "unique_id", "action", "payload",
        "payload_text",
    }  # fmt: skip

    heartbeats = await pages(client, f"{path}?action=Heartbeat&direction=in&limit=2")
    assert [len(page) for page in heartbeats] == [2, 2, 1]
    calls = [m for page in heartbeats for m in page]
    assert all(m["message_type"] == 2 and m["action"] == "Heartbeat" for m in calls)
    assert [m["payload"] for m in calls] == [[2, m["unique_id"], "Heartbeat", {}] for m in calls]
    assert all(m["payload_text"] is None for m in calls)
    assert calls == [m for m in everything if m["direction"] == "in" and m["action"] == "Heartbeat"]

    since = iso(before)
    assert {m["action"] for m in everything if m["created_at"] >= since} >= {"Heartbeat"}
    assert await pages(client, f"{path}?since={iso(before + timedelta(days=1))}") == [[]]
    assert await pages(client, f"{path}?until={iso(before - timedelta(days=1))}") == [[]]
    outgoing = [m for page in await pages(client, f"{path}?direction=out&limit=3") for m in page]
    assert outgoing == [m for m in everything if m["direction"] == "out"]

    for query, name in (
        ("direction=sideways", "direction"),
        ("direction=", "direction"),
        ("since=soon", "since"),
        ("limit=0", "limit"),
        ("after=last", "after"),
    ):
        status, reason = await error(client, f"{path}?{query}")
        assert status == 400 and reason.startswith(name), (query, reason)


async def test_the_status_history_and_the_journal_are_paged(client, connect) -> None:
    cp = await connect("HIST1")
    await cp.boot()
    for status in ("Available", "Preparing", "Charging", "Finishing", "Available"):
        await cp.status(1, status)
    path = "/api/charge-points/HIST1/status-history"
    found = await pages(client, f"{path}?limit=2")
    assert [len(page) for page in found] == [2, 2, 1]
    entries = [e for page in found for e in page]
    assert [e["status"] for e in entries] == [
        "Available", "Finishing", "Charging", "Preparing", "Available"
    ]  # fmt: skip
    # `before`, the older name of the cursor, still reads as `after`.
    older = await pages(client, f"{path}?before={entries[1]['id']}")
    assert [e["id"] for e in older[0]] == [e["id"] for e in entries[2:]]

    async def clear_cache() -> None:
        sent = asyncio.create_task(post(client, "/api/charge-points/HIST1/clear-cache", {}))
        frame = await cp.expect_call("ClearCache")
        await cp.answer(frame, {"status": "Accepted"})
        status, _ = await sent
        assert status == 200

    for _ in range(3):
        await clear_cache()
    journal = await pages(client, "/api/charge-points/HIST1/operations?limit=2")
    assert [len(page) for page in journal] == [2, 1]
    ids = [o["id"] for page in journal for o in page]
    assert ids == sorted(set(ids), reverse=True)
    assert await pages(client, "/api/charge-points/HIST1/operations?action=Reset") == [[]]


async def test_the_fleet_journal_filtered_and_paged(client, connect) -> None:
    chargers = {name: await connect(name) for name in ("FLEET1", "FLEET2")}
    for cp in chargers.values():
        await cp.boot()
    before = datetime.now(UTC)

    async def operate(name: str, operation: str, body: dict[str, Any], action: str) -> None:
        sent = asyncio.create_task(post(client, f"/api/charge-points/{name}/{operation}", body))
        frame = await chargers[name].expect_call(action)
        await chargers[name].answer(frame, {"status": "Accepted"})
        status, _ = await sent
        assert status == 200

    order = ("FLEET1", "FLEET2", "FLEET1", "FLEET2", "FLEET1")
    for name in order:
        await operate(name, "clear-cache", {}, "ClearCache")
    await operate("FLEET2", "reset", {"type": "Soft"}, "Reset")

    found = await pages(client, "/api/operations?limit=4")
    assert [len(page) for page in found] == [4, 2]
    everything = [o for page in found for o in page]
    assert [o["id"] for o in everything] == sorted({o["id"] for o in everything}, reverse=True)
    assert [(o["charge_point_id"], o["action"]) for o in everything] == [
        ("FLEET2", "Reset"),
        *((name, "ClearCache") for name in reversed(order)),
    ]
    assert all(o["outcome"] == "answered" and o["status"] == "Accepted" for o in everything)

    # One charge point's, over pages whose links keep the filter: its own journal.
    response = await client.get("/api/operations?charge_point_id=FLEET1&limit=2", headers=VIEWER)
    assert "charge_point_id=FLEET1" in response.headers["Link"]
    fleet1 = await every(client, "/api/operations?charge_point_id=FLEET1&limit=2")
    assert fleet1 == [o for o in everything if o["charge_point_id"] == "FLEET1"]
    own = await client.get("/api/charge-points/FLEET1/operations", headers=VIEWER)
    assert fleet1 == await own.json()
    resets = await every(client, "/api/operations?action=Reset")
    assert [o["id"] for o in resets] == [everything[0]["id"]]
    both = "/api/operations?charge_point_id=FLEET2&action=ClearCache"
    assert len(await every(client, f"{both}&since={iso(before)}&limit=1")) == 2
    assert await pages(client, f"/api/operations?since={iso(before + timedelta(days=1))}") == [[]]
    assert await pages(client, f"/api/operations?until={iso(before)}") == [[]]
    assert await pages(client, "/api/operations?charge_point_id=NOSUCH") == [[]]

    for query, name in (("since=now", "since"), ("after=x", "after"), ("limit=10001", "limit")):
        status, reason = await error(client, f"/api/operations?{query}")
        assert status == 400 and reason.startswith(name), (query, reason)
    status, reason = await error(client, "/api/charge-points/NOSUCH/operations")
    assert status == 404 and "NOSUCH" in reason


async def test_the_meter_values_csv_is_the_portals(client, connect, portal) -> None:
    cp = await connect("CSV1")
    await cp.boot()
    transaction_id = await cp.start("CSVTAG", timestamp="2026-04-01T08:00:00Z")
    for minute, energy in ((1, 120), (2, 250)):
        await cp.result(
            "MeterValues",
            {"connectorId": 1, "transactionId": transaction_id, "meterValue": [{
                "timestamp": f"2026-04-01T08:0{minute}:00Z",
                "sampledValue": [
                    {"value": str(energy), "measurand": "Energy.Active.Import.Register",
                     "unit": "Wh"},
                    {"value": "=1+1", "measurand": "Voltage", "unit": "V"},
                ],
            }]},
        )  # fmt: skip
    response = await client.get(
        f"/api/transactions/{transaction_id}/meter-values.csv", headers=VIEWER
    )
    assert response.status == 200 and response.content_type == "text/csv"
    text = await response.text()
    lines = text.splitlines()
    assert lines[0] == "timestamp,measurand,phase,value,unit,context,location,format"
    assert len(lines) == 1 + 4
    assert "'=1+1" in text  # a formula made text, as on the portal
    viewer = await portal("viewer")
    async with viewer.http.get(
        f"{viewer.base}/transactions/{transaction_id}/meter-values.csv"
    ) as portals:
        assert await portals.text() == text
        assert portals.headers["Content-Disposition"] == response.headers["Content-Disposition"]

    for missing in ("999999", "x"):
        status, reason = await error(client, f"/api/transactions/{missing}/meter-values.csv")
        assert status == 404 and missing in reason


async def test_id_tags_searched_and_paged(client) -> None:
    rows = [{"id_tag": f"Fleet-{i:03d}"} for i in range(45)]
    rows += [{"id_tag": f"OTHER{i}"} for i in range(5)]
    for row in rows:
        await client.app[SERVICES].id_tags.add(row["id_tag"])
    found = await pages(client, "/api/id-tags?q=eEt-0&limit=20")
    assert [len(page) for page in found] == [20, 20, 5]
    assert [t["id_tag"] for page in found for t in page] == [f"Fleet-{i:03d}" for i in range(45)]
    response = await client.get("/api/id-tags?q=fleet&limit=20&usage=true", headers=VIEWER)
    assert response.headers["X-Total-Count"] == "45"
    assert set((await response.json())[0]) == {
        "id_tag", "parent_id_tag", "expiry_date", "blocked", "last_used", "in_session"
    }  # fmt: skip
    everything = [t["id_tag"] for page in await pages(client, "/api/id-tags?limit=7") for t in page]
    assert sorted(everything) == sorted(r["id_tag"] for r in rows)
    assert len(everything) == len(set(everything))
    # A count alone, as before.
    count = await client.get("/api/id-tags?limit=0", headers=VIEWER)
    assert await count.json() == [] and count.headers["X-Total-Count"] == "50"
    assert "Link" not in count.headers


async def test_security_events_newest_first_and_paged(client, connect) -> None:
    cp = await connect("SEC-1")
    await cp.boot()
    for n in range(5):
        await cp.result(
            "SecurityEventNotification",
            {"type": f"Event{n}", "timestamp": f"2026-01-0{n + 1}T00:00:00Z",
             "techInfo": f"detail {n}"},
        )  # fmt: skip
    path = "/api/charge-points/SEC-1/security-events"
    listed = await every(client, path)
    assert [e["type"] for e in listed] == [f"Event{n}" for n in reversed(range(5))]
    assert listed[0]["tech_info"] == "detail 4" and listed[0]["timestamp"].startswith("2026-01-05")
    assert set(listed[0]) == {"id", "type", "timestamp", "tech_info", "received_at"}
    paged = await pages(client, path + "?limit=2")
    assert [[e["type"] for e in page] for page in paged] == [
        ["Event4", "Event3"], ["Event2", "Event1"], ["Event0"]
    ]  # fmt: skip
    assert await error(client, "/api/charge-points/NOPE/security-events") == (
        404, "charge point 'NOPE' is not registered"
    )  # fmt: skip


async def test_the_portals_sessions_csv_has_every_session(
    client, connect, portal, monkeypatch
) -> None:
    # Written a page at a time, with no cap: small pages show it, 23 sessions over 5.
    monkeypatch.setattr(transactions_view, "CSV_PAGE", 5)
    cp = await connect("CSV-ALL")
    await cp.boot()
    inserted = await bulk_sessions(client, "CSV-ALL", 23)
    viewer = await portal("viewer")
    async with viewer.http.get(viewer.base + "/transactions.csv?charge_point_id=CSV-ALL") as r:
        assert r.status == 200 and r.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [int(row["transaction_id"]) for row in rows] == newest_first(inserted)
    assert {row["charge_point_id"] for row in rows} == {"CSV-ALL"}
