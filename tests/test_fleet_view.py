"""Operating a fleet from the dashboard, the charge point page and the API: when each
charger was last heard from, one status rule for page and API, offline as a state of its
own, the status history, whole Wh, and the portal's first start and error pages."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from datetime import UTC, datetime, timedelta

from tests.helpers import ADMIN, VIEWER, disconnected, get_json, iso
from tests.v201.charging_station import started, station, updated
from webapp.app import create_app
from webapp.keys import SERVICES


def row_of(html: str, charge_point_id: str) -> str:
    match = re.search(rf'<tr id="cp-{charge_point_id}".*?</tr>', html, re.S)
    assert match, f"no dashboard row for {charge_point_id}"
    return match.group(0)


def counter(html: str, status: str) -> int:
    """The dashboard's count of a state (its filter chip)."""
    return int(re.search(rf'data-status-count="{status}">(\d+)<', html).group(1))


async def test_any_message_counts_as_heard_and_is_not_written_per_message(
    client, connect, portal
) -> None:
    cp = await connect("CP-HEARD")
    await cp.boot()
    booted = (await client.app[SERVICES].charge_points.get("CP-HEARD")).last_seen_at
    # The time passing is what is tested: a message over a second after the boot must be
    # shown as heard then, though nothing is written for it.
    await asyncio.sleep(1.1)
    sent = datetime.now(UTC)
    sample = {"timestamp": iso(sent), "sampledValue": [{"value": "5"}]}
    await cp.result("MeterValues", {"connectorId": 1, "meterValue": [sample]})

    listed = await get_json(client, "/api/charge-points/CP-HEARD", role="viewer")
    last_seen = datetime.fromisoformat(listed["last_seen"])
    assert last_seen >= sent - timedelta(milliseconds=5), (last_seen, sent)
    assert datetime.fromisoformat(listed["connected_since"]) <= booted + timedelta(seconds=1)
    # Kept in memory: the MeterValues wrote no "last seen" of its own.
    assert (await client.app[SERVICES].charge_points.get("CP-HEARD")).last_seen_at == booted

    viewer = await portal("viewer")

    def shown_ago(pattern: str, html: str) -> None:
        # Seconds since the MeterValues, not since the boot: at most the time gone by.
        found = re.search(pattern, html)
        assert found, html
        gone_by = (datetime.now(UTC) - sent).total_seconds()
        assert 0 <= int(found[1]) <= gone_by, (found[0], gone_by)

    _, html = await viewer.get("/")
    row = row_of(html, "CP-HEARD")
    shown_ago(r"data-last-message>(\d+) s ago<", row)
    assert "connected since" in row
    _, html = await viewer.get("/charge-points/CP-HEARD")
    assert "connected since" in html
    shown_ago(r"last message (\d+) s ago", html)

    # At disconnection the last message is persisted, and the charger is offline since.
    await cp.ws.close()
    gone = await disconnected(client, "CP-HEARD")
    assert gone["connected_since"] is None
    assert datetime.fromisoformat(gone["last_seen"]) == last_seen
    view = await client.app[SERVICES].charge_points.get("CP-HEARD")
    assert view.last_seen_at == last_seen and view.disconnected_at >= last_seen
    _, html = await viewer.get("/charge-points/CP-HEARD")
    assert "not connected since" in html


async def test_one_status_rule_for_page_and_api(client, connect, portal) -> None:
    cp = await connect("CP-RULE")
    await cp.boot()
    await cp.status(0, "Available")
    await cp.status(1, "Charging")
    await cp.status(2, "Available")
    cs = await station(connect, "CS-RULE", connector_status="Occupied")  # EVSE 1 Occupied
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    await cs.result("TransactionEvent", started("TX-R", t0))
    update = updated("TX-R", t0 + timedelta(seconds=5), 1, energy=1200, chargingState="Charging")
    await cs.result("TransactionEvent", update)

    viewer = await portal("viewer")
    _, html = await viewer.get("/")
    listed = {c["id"]: c for c in await get_json(client, "/api/charge-points", role="viewer")}
    for charge_point_id in ("CP-RULE", "CS-RULE"):
        shown = re.search(r'data-status="([^"]+)"', row_of(html, charge_point_id)).group(1)
        assert shown == listed[charge_point_id]["status"] == "Charging", charge_point_id
    assert listed["CP-RULE"]["status_since"] is not None

    await cp.ws.close()
    assert (await disconnected(client, "CP-RULE"))["status"] == "Offline"


async def test_offline_is_a_state_with_its_counter_and_no_stale_badges(
    client, connect, portal
) -> None:
    cp = await connect("CP-FAULT")
    await cp.boot()
    await cp.status(1, "Faulted", error_code="GroundFailure")
    viewer = await portal("viewer")
    _, html = await viewer.get("/")
    assert (counter(html, "Faulted"), counter(html, "Offline")) == (1, 0)
    assert 'badge bad">Faulted' in row_of(html, "CP-FAULT")

    await cp.ws.close()
    await disconnected(client, "CP-FAULT")
    _, html = await viewer.get("/")
    assert (counter(html, "Faulted"), counter(html, "Offline")) == (0, 1)
    row = row_of(html, "CP-FAULT")
    assert 'data-status="Offline"' in row and 'badge off">Offline' in row
    assert "badge bad" not in row and "last reported: #1 Faulted" in row
    assert re.search(r"data-status-since>for \d+ s<", row), row
    _, html = await viewer.get("/charge-points/CP-FAULT")
    assert "as last reported before it went offline" in html
    connector = re.search(r'<tr id="connector-1">.*?</tr>', html, re.S).group(0)
    assert "badge" not in connector and "Faulted" in connector


async def test_status_history_on_the_page_and_in_the_api(client, connect, portal) -> None:
    cp = await connect("CP-HIST")
    await cp.boot()
    await cp.status(1, "Available")
    fault = {
        "connectorId": 1,
        "status": "Faulted",
        "errorCode": "OtherError",
        "info": "contactor welded",
        "vendorId": "ACME",
        "vendorErrorCode": "E-4711",
        "timestamp": iso(datetime.now(UTC)),
    }
    await cp.result("StatusNotification", fault)

    history = await get_json(client, "/api/charge-points/CP-HIST/status-history", role="viewer")
    assert [h["status"] for h in history] == ["Faulted", "Available"]
    newest = history[0]
    assert {k: newest[k] for k in ("evse_id", "connector_id", "error_code", "info")} == {
        "evse_id": None,
        "connector_id": 1,
        "error_code": "OtherError",
        "info": "contactor welded",
    }
    assert (newest["vendor_id"], newest["vendor_error_code"]) == ("ACME", "E-4711")
    assert newest["timestamp"] == fault["timestamp"] and newest["received_at"]
    # Paged: newest first, then those before the last one seen.
    [first] = await get_json(
        client, "/api/charge-points/CP-HIST/status-history?limit=1", role="viewer"
    )
    after = await get_json(
        client, f"/api/charge-points/CP-HIST/status-history?before={first['id']}", role="viewer"
    )
    assert first == newest and [h["status"] for h in after] == ["Available"]
    response = await client.get("/api/charge-points/CP-HIST/status-history?limit=0", headers=VIEWER)
    assert response.status == 400 and "limit" in (await response.json())["error"]
    response = await client.get("/api/charge-points/NOPE/status-history", headers=VIEWER)
    assert response.status == 404

    viewer = await portal("viewer")
    _, html = await viewer.get("/charge-points/CP-HIST")
    section = re.search(r'<section class="card" id="status-history".*?</section>', html, re.S)
    assert section, "no status history on the page"
    for shown in ("OtherError", "contactor welded", "E-4711", "ACME"):
        assert shown in section.group(0)
    # The connectors table shows the vendor's code beside the OCPP one.
    assert "E-4711" in re.search(r'<tr id="connector-1">.*?</tr>', html, re.S).group(0)

    # 2.0.1: each entry names its EVSE.
    await station(connect, "CS-HIST", connector_status="Occupied")
    [entry] = await get_json(client, "/api/charge-points/CS-HIST/status-history", role="viewer")
    assert (entry["evse_id"], entry["connector_id"], entry["status"]) == (1, 1, "Occupied")


async def test_energy_is_whole_wh_in_page_api_and_csv(client, connect, portal) -> None:
    cp = await connect("CP-WH")
    await cp.boot()
    now = datetime.now(UTC)
    tx = await cp.start(meter_start=0, timestamp=iso(now - timedelta(minutes=2)))
    # 30.6 kWh is no exact binary fraction: 30.6 * 1000 is 30599.999999999996.
    reading = {"timestamp": iso(now), "sampledValue": [{"value": "30.6", "unit": "kWh"}]}
    await cp.result("MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [reading]})
    [listed] = await get_json(client, "/api/transactions?charge_point_id=CP-WH", role="viewer")
    assert listed["energy_wh"] == 30600 and isinstance(listed["energy_wh"], int)
    viewer = await portal("viewer")
    _, html = await viewer.get(f"/transactions/{tx}")
    assert "30.60 kWh" in html
    async with viewer.http.get(viewer.base + "/transactions.csv?charge_point_id=CP-WH") as r:
        [row] = list(csv.DictReader(io.StringIO(await r.text())))
    assert row["energy_kwh"] == "30.600"

    await cp.ws.close()
    await disconnected(client, "CP-WH")
    response = await client.post(f"/api/transactions/{tx}/close", headers=ADMIN)
    closed = await response.json()
    assert (closed["meter_stop"], closed["energy_wh"]) == (30600, 30600)


async def test_a_fresh_install_says_how_to_create_an_account(
    settings, aiohttp_client, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="webapp.app"):
        client = await aiohttp_client(create_app(settings))
    assert any("python -m webapp user add" in r.getMessage() for r in caplog.records)
    html = await (await client.get("/login")).text()
    assert 'id="no-account"' in html and "python -m webapp user add" in html
    # Once there is one, the login page says nothing of it.
    await client.app[SERVICES].users.add("first", "first-password", "admin")
    html = await (await client.get("/login")).text()
    assert 'id="no-account"' not in html


async def test_error_pages_are_portal_pages_and_the_api_keeps_json(client, portal) -> None:
    viewer = await portal("viewer")
    nav = re.compile(r'<nav>.*?href="/transactions".*?</nav>', re.S)
    for path, words in (
        ("/charge-points/NOPE", "No charge point NOPE"),
        ("/transactions/999", "No such session"),
        ("/nowhere", "Not found"),
    ):
        status, html = await viewer.get(path)
        assert status == 404 and nav.search(html) and words in html, path
        assert 'id="error-page"' in html
    status, html = await viewer.post("/id-tags", {"id_tag": "X"})
    assert status == 403 and nav.search(html) and "role viewer may not do this" in html
    status, html = await viewer.post("/id-tags", {"id_tag": "X"}, csrf=False)
    assert status == 403 and "CSRF" in html and nav.search(html)

    response = await client.get("/api/charge-points/NOPE", headers=VIEWER)
    assert response.status == 404 and response.content_type == "application/json"
    assert "error" in await response.json()
