"""Id tags at fleet scale: search (any part, any case), pages, when each was last used and
whether it is in a session now, in the API and on the portal page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.helpers import OPERATOR, VIEWER


def iso_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def add_tags(client, names: list[str]) -> None:
    for name in names:
        response = await client.post("/api/id-tags", json={"id_tag": name}, headers=OPERATOR)
        assert response.status == 201, await response.text()


async def listed(client, query: str = "") -> tuple[list[dict], int]:
    response = await client.get(f"/api/id-tags{query}", headers=VIEWER)
    assert response.status == 200, await response.text()
    return await response.json(), int(response.headers["X-Total-Count"])


async def test_api_search_pages_and_use(client, connect) -> None:
    await add_tags(client, [f"FLEET-{n:03}" for n in range(120)] + ["guest-1", "GUEST-2"])
    await client.post("/api/id-tags", json={"id_tag": "CHILD", "parent_id_tag": "VIP-GROUP"},
                      headers=OPERATOR)  # fmt: skip

    tags, total = await listed(client)
    assert total == 123 and len(tags) == 123  # no paging asked: all of them
    tags, total = await listed(client, "?q=guest")
    assert [t["id_tag"] for t in tags] == ["GUEST-2", "guest-1"] and total == 2
    tags, total = await listed(client, "?q=vip")  # the id, or the parent
    assert [t["id_tag"] for t in tags] == ["CHILD"]
    tags, _ = await listed(client, "?q=%25")  # a LIKE wildcard is a plain character
    assert tags == []

    first, total = await listed(client, "?q=FLEET&limit=50")
    second, _ = await listed(client, "?q=FLEET&limit=50&offset=50")
    last, _ = await listed(client, "?q=FLEET&limit=50&offset=100")
    assert total == 120 and (len(first), len(second), len(last)) == (50, 50, 20)
    names = [t["id_tag"] for t in first + second + last]
    assert names == sorted(names) and len(set(names)) == 120

    for bad in ("?limit=-1", "?limit=abc", "?limit=10001", "?offset=x"):
        response = await client.get(f"/api/id-tags{bad}", headers=VIEWER)
        assert response.status == 400, bad
        assert "must be a whole number" in (await response.json())["error"]

    # Usage only when asked: the objects keep their shape otherwise.
    [tag] = (await listed(client, "?q=FLEET-042"))[0]
    assert set(tag) == {"id_tag", "parent_id_tag", "expiry_date", "blocked"}
    # A charger starts a session with one: used now, in a session; after the stop, not.
    [tag] = (await listed(client, "?q=FLEET-042&usage=true"))[0]
    assert (tag["last_used"], tag["in_session"]) == (None, False)
    cp = await connect("CP1")
    await cp.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    start = {"connectorId": 1, "idTag": "FLEET-042", "meterStart": 0, "timestamp": iso_now()}
    started = await cp.result("StartTransaction", start)
    [tag] = (await listed(client, "?q=FLEET-042&usage=true"))[0]
    assert tag["in_session"] is True and tag["last_used"] is not None
    await cp.result("StopTransaction", {"transactionId": started["transactionId"],
                                        "meterStop": 500, "timestamp": iso_now()})  # fmt: skip
    [tag] = (await listed(client, "?q=FLEET-042&usage=1"))[0]
    assert tag["in_session"] is False and tag["last_used"] is not None


async def test_portal_search_and_pages(client, portal, connect) -> None:
    await add_tags(client, [f"CARD-{n:03}" for n in range(60)] + ["VISITOR"])
    cp = await connect("CP1")
    await cp.result("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    await cp.result("StartTransaction", {"connectorId": 1, "idTag": "CARD-003",
                                         "meterStart": 0, "timestamp": iso_now()})  # fmt: skip
    viewer = await portal("viewer")

    status, page = await viewer.get("/id-tags")
    assert status == 200
    assert "61 tags, page 1 of 2" in page
    assert page.count('<tr id="tag-') == 50
    assert 'rel="next" href="/id-tags?q=&page=2"' in page
    row = re.search(r'<tr id="tag-CARD-003">.*?</tr>', page, re.S)[0]
    assert "in a session" in row and "s ago" in row
    assert "never" in re.search(r'<tr id="tag-CARD-004">.*?</tr>', page, re.S)[0]

    status, page = await viewer.get("/id-tags?page=2")
    assert page.count('<tr id="tag-') == 11 and 'rel="prev"' in page and "VISITOR" in page

    status, page = await viewer.get("/id-tags?q=visit")
    assert status == 200 and "1 tag matching “visit”" in page
    assert re.findall(r'<tr id="tag-([^"]+)"', page) == ["VISITOR"]

    status, page = await viewer.get("/id-tags?q=nobody-has-this")
    assert "No id tag matches." in page
