"""A charge point's message log page: filtered by action, direction and dates, newest first,
paged by entry, over frames a real 1.6 charge point sent; and the tabs of the charge point's
pages that lead to it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta


def entries(html: str) -> list[tuple[str, str]]:
    """(direction, action) of each row of the log table."""
    body = html.split('id="log-entries"')[1].split("</table>")[0]
    return re.findall(
        r'<tr class="log-(in|out)" data-entry="\d+">.*?<td>([A-Za-z]*)</td>\s*<td><details>',
        body,
        re.S,
    )


async def test_filters_and_pages(client, connect, portal) -> None:
    cp = await connect("CP1")
    await cp.boot()
    for _ in range(130):
        await cp.result("Heartbeat", {})
    await cp.status(1, "Available")
    viewer = await portal("viewer")

    status, page = await viewer.get("/charge-points/CP1/log")
    assert status == 200
    rows = entries(page)
    assert len(rows) == 100  # a page
    assert rows[0] == ("out", "StatusNotification") and rows[1] == ("in", "StatusNotification")
    assert "<option>BootNotification</option>" in page and "<option>Heartbeat</option>" in page

    status, page = await viewer.get("/charge-points/CP1/log?action=Heartbeat&direction=in")
    rows = entries(page)
    assert status == 200 and rows == [("in", "Heartbeat")] * 100
    older = re.search(r'href="([^"]+)" id="log-older"', page).group(1).replace("&amp;", "&")
    assert "action=Heartbeat" in older and "direction=in" in older and "before=" in older
    status, page = await viewer.get(older)
    assert status == 200 and entries(page) == [("in", "Heartbeat")] * 30
    assert 'id="log-older"' not in page

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    status, page = await viewer.get(f"/charge-points/CP1/log?from={tomorrow}")
    assert status == 200 and "No message matches." in page
    today = datetime.now(UTC).date().isoformat()
    status, page = await viewer.get(f"/charge-points/CP1/log?action=BootNotification&to={today}")
    assert entries(page) == [("out", "BootNotification"), ("in", "BootNotification")]

    for wrong, says in (("from=yesterday", "From must be a date"),
                        ("direction=up", "direction must be in or out"),
                        ("before=x", "before must be an entry number")):  # fmt: skip
        status, page = await viewer.get(f"/charge-points/CP1/log?{wrong}")
        assert status == 400 and says in page, wrong
    status, _ = await viewer.get("/charge-points/NOBODY/log")
    assert status == 404


async def test_tabs_on_each_page(client, connect, portal) -> None:
    cp = await connect("CP1")
    await cp.boot()
    admin = await portal("admin")
    viewer = await portal("viewer")
    for path, current in (("/charge-points/CP1", "Overview"),
                          ("/charge-points/CP1/operations", "Configuration and operations"),
                          ("/charge-points/CP1/log", "Message log")):  # fmt: skip
        status, page = await admin.get(path)
        assert status == 200, path
        tabs = page.split('<nav class="tabs"')[1].split("</nav>")[0]
        assert re.search(rf'aria-current="page">{current}</a>', tabs), (path, tabs)
        assert 'href="/charge-points/CP1/log"' in tabs and "Administration" in tabs
        assert "Device model" not in tabs  # a 1.6 charger has none
        _, page = await viewer.get(path)
        assert "Administration" not in page.split('<nav class="tabs"')[1].split("</nav>")[0]
