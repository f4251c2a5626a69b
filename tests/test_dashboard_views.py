"""The dashboard at fleet size over HTTP: search, status filters that are the counters,
sorting and paging in the URL, the live stream sending a view's own rows only, and the
needs-attention page. A few hundred registered charge points, a few real ones connected
(both versions)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import iso, read_events
from tests.v201.charging_station import started, station
from webapp.dashboard_feed import FLEET_FEED
from webapp.keys import SERVICES

REGISTERED = 300


async def names_until(stream, wanted: str, timeout: float = 10) -> list[str]:
    """The names of the events a stream sends until one named `wanted`, that one last."""
    names = []
    async with asyncio.timeout(timeout):
        async for raw in stream.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                names.append(line[6:].strip())
                if names[-1] == wanted:
                    return names
    raise AssertionError("stream ended")


def shown_ids(html: str) -> list[str]:
    return re.findall(r'<tr id="cp-([^"]+)" class="cp-row"', html)


def chip(html: str, status: str) -> int:
    return int(re.search(rf'data-status-count="{status}">(\d+)<', html).group(1))


@pytest.fixture
async def fleet(client, connect):
    """REGISTERED charge points never connected (FLEET-000 ...), and four connected:
    1.6 `Faulty-A` (Faulted) and `Busy-B` (Charging), 2.0.1 `Station-C` (Occupied) and
    1.6 `Idle-D` (Available)."""
    charge_points = client.app[SERVICES].charge_points
    for n in range(REGISTERED):
        await charge_points.register(f"FLEET-{n:03d}", None)
    faulty = await connect("Faulty-A")
    await faulty.boot(chargePointSerialNumber="SN-77-XQ", chargePointModel="Wallbox Pro")
    await faulty.status(1, "Faulted", error_code="GroundFailure")
    busy = await connect("Busy-B")
    await busy.boot(chargePointVendor="Alpitronic")
    await busy.status(1, "Charging")
    await station(connect, "Station-C", connector_status="Occupied")
    idle = await connect("Idle-D")
    await idle.boot()
    await idle.status(1, "Available")
    return {"faulty": faulty, "busy": busy, "idle": idle}


async def test_search_filter_sort_and_page_are_in_the_url(fleet, portal) -> None:
    viewer = await portal("viewer")
    status, html = await viewer.get("/")
    assert status == 200
    total = REGISTERED + 4
    assert re.search(rf'data-counter="total">{total}<', html)
    assert (chip(html, "Offline"), chip(html, "Faulted"), chip(html, "Charging")) == (
        REGISTERED,
        1,
        1,
    )
    assert (chip(html, "Occupied"), chip(html, "Available")) == (1, 1)
    assert re.search(r'data-counter="connected">4<', html)
    # One page of 50, by id: capitals before small letters, as the ids compare.
    first = shown_ids(html)
    assert len(first) == 50 and first == sorted(first) and first[0] == "Busy-B"
    assert "page 1 of 7" in html and 'href="/?page=2"' in html

    _, html = await viewer.get("/?page=7")
    assert len(shown_ids(html)) == total - 6 * 50
    _, html = await viewer.get("/?page=99")  # beyond the last: the last
    assert "page 7 of 7" in html

    # Search: partial, any case, over id, vendor, model and serial number.
    for q, expected in [
        ("faulty", ["Faulty-A"]),
        ("alpiTRON", ["Busy-B"]),
        ("wallbox", ["Faulty-A"]),
        ("77-x", ["Faulty-A"]),
        ("testmodel", ["Busy-B", "Idle-D"]),
        ("uc-MODEL", ["Station-C"]),
        ("fleet-29", [f"FLEET-29{n}" for n in range(10)]),
    ]:
        _, html = await viewer.get("/", params={"q": q})
        assert shown_ids(html) == expected, q

    # The counters are the filters; a filter keeps the search and the order.
    _, html = await viewer.get("/?status=Faulted")
    assert shown_ids(html) == ["Faulty-A"]
    assert re.search(r'class="chip bad active"[^>]*href="/\?status=Faulted"', html)
    _, html = await viewer.get("/?status=Offline&q=fleet-1&sort=id&dir=desc")
    assert shown_ids(html)[:3] == ["FLEET-199", "FLEET-198", "FLEET-197"]
    assert "100 of 304 charge points" in html
    _, html = await viewer.get("/?status=Occupied")
    assert shown_ids(html) == ["Station-C"]
    assert 'data-ocpp-version="2.0.1"' in html

    # Sorted by status, the ones wanting an operator first; by last message, newest first.
    _, html = await viewer.get("/?sort=status")
    assert shown_ids(html)[0] == "Faulty-A" and shown_ids(html)[1].startswith("FLEET-")
    _, html = await viewer.get("/?sort=last_seen")
    assert set(shown_ids(html)[:4]) == {"Faulty-A", "Busy-B", "Station-C", "Idle-D"}
    assert 'href="/?sort=last_seen&amp;dir=asc"' in html  # the header turns the order
    _, html = await viewer.get("/?sort=version&dir=desc")
    assert shown_ids(html)[0] == "Station-C"

    # What makes no sense is said, and the rest of the view still applies.
    status, html = await viewer.get("/?status=Broken&sort=colour&page=-1&q=busy")
    assert status == 200 and shown_ids(html) == ["Busy-B"]
    assert "no charge point status is called &#39;Broken&#39;" in html
    assert "cannot sort by &#39;colour&#39;" in html and "page is a number from 1" in html

    # HTMX asks for the part that changes only; its stream carries the view.
    _, part = await viewer.get("/?status=Faulted", headers={"HX-Request": "true"})
    assert part.lstrip().startswith('<div id="fleet"') and "<html" not in part
    assert 'sse-connect="/events?status=Faulted"' in part


async def test_the_stream_sends_the_rows_of_its_view_and_current_counters(
    fleet, portal, client
) -> None:
    viewer = await portal("viewer")
    feed = client.app[FLEET_FEED]
    async with viewer.http.get(viewer.base + "/events?status=Faulted") as faulted_view:
        async with viewer.http.get(viewer.base + "/events?q=idle") as idle_view:
            for _ in range(100):
                if feed.viewer_count == 2:
                    break
                await asyncio.sleep(0.02)
            # Each stream starts with its page as it is now.
            assert "Faulty-A" in await read_events(faulted_view, "fleet-page")
            assert "Idle-D" in await read_events(idle_view, "fleet-page")
            # A row on neither page changes first, then one on each.
            await fleet["busy"].status(1, "Finishing")
            await fleet["idle"].status(1, "Unavailable")
            await fleet["faulty"].status(1, "Available")
            # Faulty-A recovered: it leaves the Faulted view, which gets its page afresh.
            page = await read_events(faulted_view, "fleet-page")
            assert 'id="fleet-page"' in page and "No charge point matches" in page
            assert "Faulty-A" not in page
            row = await read_events(idle_view, "cp-Idle-D")
            assert 'data-status="Unavailable"' in row
            # The three changes may come in more than one batch: the counters of the last.
            for _ in range(5):
                counters = await read_events(idle_view, "counters")
                if re.search(r'data-status-count="Faulted">0<', counters):
                    break
            assert re.search(r'data-status-count="Faulted">0<', counters)
            assert re.search(r'data-status-count="Unavailable">1<', counters)
            assert re.search(r'data-status-count="Finishing">1<', counters)
            # The view's own filter is the chip shown active, for each view.
            assert 'class="chip all active"' in counters
            # Busy-B's row goes to no one: it is on neither page.
            await fleet["busy"].status(1, "Available")
            await fleet["idle"].status(1, "Available")
            names = await names_until(idle_view, "cp-Idle-D")
            assert "cp-Busy-B" not in names
            names = await names_until(faulted_view, "counters")
            assert not [n for n in names if n.startswith("cp-")]
    assert feed.batches >= 2


async def test_needs_attention_lists_with_time_in_state(fleet, portal, client, connect) -> None:
    # A charger that boots three times in a row, and a 2.0.1 session gone quiet.
    looping = await connect("Loop-E")
    for _ in range(3):
        await looping.boot()
    quiet = await station(connect, "Quiet-F", connector_status="Occupied")
    an_hour_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    await quiet.result("TransactionEvent", started("TX-QUIET", an_hour_ago))
    await fleet["idle"].status(0, "Unavailable")

    viewer = await portal("viewer")
    _, dashboard = await viewer.get("/")
    assert 'href="/attention"' in dashboard
    status, html = await viewer.get("/attention")
    assert status == 200

    def section(name: str) -> str:
        return re.search(rf'id="attention-{name}".*?</section>', html, re.S).group(0)

    faulted = section("faulted")
    assert 'data-charge-point="Faulty-A"' in faulted and "Busy-B" not in faulted
    assert re.search(r"data-time-in-state>for \d+ s<", faulted)
    assert 'data-charge-point="Idle-D"' in section("unavailable")
    offline = section("offline")
    assert f'badge off">Offline</span> {REGISTERED}' in offline
    assert "and 200 more" in offline  # the first hundred listed; the filter has them all
    assert 'href="/?status=Offline&amp;sort=since"' in offline
    quiet_part = section("quiet")
    assert "Quiet-F" in quiet_part and re.search(
        r"data-time-in-state>for (59 min|1 h)<", quiet_part
    )
    # Its last sample is the one the start carried.
    assert an_hour_ago.strftime("%Y-%m-%d %H:%M:%S UTC") in quiet_part
    loops = section("boot-loops")
    assert 'data-charge-point="Loop-E"' in loops and "data-boots>3<" in loops
    assert "Faulty-A" not in loops

    # A sample now: the session is heard from, and leaves the list.
    await quiet.result(
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": iso(datetime.now(UTC)),
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 1,
            "transactionInfo": {"transactionId": "TX-QUIET"},
            "meterValue": [
                {
                    "timestamp": iso(datetime.now(UTC)),
                    "sampledValue": [{"value": 10.0, "measurand": "Energy.Active.Import.Register"}],
                }
            ],
        },
    )
    _, html = await viewer.get("/attention")
    assert "Quiet-F" not in section("quiet")
