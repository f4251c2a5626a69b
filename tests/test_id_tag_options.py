"""An id tag field's suggestions at 10,000 tags: the charge point's pages bring a few, and
its datalist asks `/id-tag-options` for at most 20 matching what is typed, as htmx sends
the field (its own name and value)."""

from __future__ import annotations

import re

from tests.helpers import add_many_tags
from webapp.keys import SERVICES

TAGS = 10_000


def options(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<option value="([^"]*)">([^<]*)</option>', html)


async def test_tag_fields_search_as_you_type(client, connect, portal) -> None:
    await add_many_tags(client.app, [f"FLEET-{n:05d}" for n in range(TAGS)])
    cp = await connect("TAGS1")
    await cp.boot()
    operator = await portal("operator")

    status, page = await operator.get("/charge-points/TAGS1")
    assert status == 200
    datalist = re.search(r'<datalist id="known-tags">(.*?)</datalist>', page, re.S).group(1)
    shown = options(datalist)
    # The first 20 by id, not the 10,000.
    assert [value for value, _ in shown] == [f"FLEET-{n:05d}" for n in range(20)]
    field = re.search(r'<input id="id_tag"[^>]*>', page).group(0)
    assert 'hx-get="/id-tag-options"' in field and 'hx-target="#known-tags"' in field
    assert 'list="known-tags"' in field

    # What is typed, in any case, any part of the id.
    status, html = await operator.get("/id-tag-options?id_tag=ET-0999")
    assert status == 200
    assert [value for value, _ in options(html)] == [f"FLEET-0999{n}" for n in range(10)]
    _, html = await operator.get("/id-tag-options?id_tag=fleet-")
    assert len(options(html)) == 20
    _, html = await operator.get("/id-tag-options?id_token=00042")  # a 2.0.1 form's field
    assert [value for value, _ in options(html)] == ["FLEET-00042"]
    _, html = await operator.get("/id-tag-options?id_tag=nobody")
    assert options(html) == []
    status, text = await operator.get("/id-tag-options?id_tag=" + "x" * 37)
    assert status == 400 and "at most 36 characters" in text

    # The operations page's reserve form asks the same way.
    _, page = await operator.get("/charge-points/TAGS1/operations")
    field = re.search(r'<input id="reserve-tag"[^>]*>', page).group(0)
    assert 'hx-get="/id-tag-options"' in field and 'list="known-tags"' in field
    assert len(options(page)) == 20


async def test_an_option_says_what_would_hold_its_session_back(client, connect, portal) -> None:
    tags = client.app[SERVICES].id_tags
    await tags.add("DRIVER-OK")
    await tags.add("DRIVER-BLOCKED", blocked=True)
    await tags.add("DRIVER-BUSY")
    cp = await connect("TAGS2")
    await cp.boot()
    await cp.start(id_tag="DRIVER-BUSY")
    viewer = await portal("viewer")
    status, html = await viewer.get("/id-tag-options?q=driver")
    assert status == 200
    assert options(html) == [
        ("DRIVER-BLOCKED", "blocked"),
        ("DRIVER-BUSY", "in a session"),
        ("DRIVER-OK", ""),
    ]
    # Signed out: no tags.
    async with viewer.http.post(viewer.base + "/logout", data={"csrf_token": viewer.csrf}):
        pass
    status, html = await viewer.get("/id-tag-options?q=driver", allow_redirects=False)
    assert status == 302 and "DRIVER" not in html
