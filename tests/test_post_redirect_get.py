"""Post/Redirect/Get on the id tag, user and charge point administration forms: a post
that succeeds answers 303 to the page it came from, the outcome named in the address and
told by that page (so reloading it posts nothing again); one that fails shows the page
with the reason, 400 (404 for what does not exist), as before."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from yarl import URL

from tests.helpers import basic, get_json
from webapp.keys import SERVICES


def _to(location: str) -> tuple[str, dict[str, str], str]:
    """A redirect's target: path, query, fragment."""
    url = URL(location)
    assert not url.is_absolute(), location
    return url.path, dict(url.query), url.fragment


def _row(html: str, element_id: str) -> str:
    match = re.search(rf'<tr id="{element_id}">.*?</tr>', html, re.DOTALL)
    assert match, f"no row {element_id}"
    return match.group(0)


async def _tags(client: TestClient, search: str) -> list[dict]:
    return await get_json(client, f"/api/id-tags?q={search}")


async def test_id_tag_forms_redirect_after_success(client, portal) -> None:
    operator = await portal("operator")

    status, location, html = await operator.submit(
        "/id-tags", {"id_tag": "PRG-1", "parent_id_tag": "FLEET"}
    )
    assert status == 303
    assert _to(location) == ("/id-tags", {"done": "added", "id_tag": "PRG-1"}, "")
    assert "Id tag PRG-1 added." in html
    assert "<strong>PRG-1</strong>" in _row(html, "tag-PRG-1")
    # Shown again (a reload), nothing posted again: still the one tag, no "exists already".
    status, again = await operator.get(location)
    assert status == 200 and "Id tag PRG-1 added." in again and "exists already" not in again
    assert [t["id_tag"] for t in await _tags(client, "PRG-1")] == ["PRG-1"]

    status, location, html = await operator.submit("/id-tags", {"id_tag": "prg-1"})
    assert (status, location) == (400, "")
    assert "Id tag prg-1 exists already as PRG-1" in html
    status, location, html = await operator.submit("/id-tags", {"id_tag": ""})
    assert (status, location) == (400, "") and "Give the id tag." in html

    status, location, html = await operator.submit(
        "/id-tags/PRG-1", {"blocked": "1", "parent_id_tag": "FLEET"}
    )
    assert status == 303
    assert _to(location) == ("/id-tags", {"done": "saved", "id_tag": "PRG-1"}, "")
    assert "Id tag PRG-1 saved." in html
    assert "checked" in _row(html, "tag-PRG-1")
    [tag] = await _tags(client, "PRG-1")
    assert tag["blocked"] is True
    status, location, html = await operator.submit("/id-tags/PRG-1", {"expiry_date": "soon"})
    assert (status, location) == (400, "") and "expiry &#39;soon&#39; is not a date" in html
    assert await _tags(client, "PRG-1") == [tag]  # unchanged
    status, location, html = await operator.submit("/id-tags/NOPE", {"blocked": "1"})
    assert (status, location) == (404, "") and "Id tag NOPE does not exist." in html

    status, location, html = await operator.submit("/id-tags/PRG-1/delete")
    assert status == 303
    assert _to(location) == ("/id-tags", {"done": "deleted", "id_tag": "PRG-1"}, "")
    assert "Id tag PRG-1 deleted." in html and 'id="tag-PRG-1"' not in html
    assert await _tags(client, "PRG-1") == []
    status, location, html = await operator.submit("/id-tags/PRG-1/delete")
    assert (status, location) == (404, "") and "does not exist" in html


async def test_user_forms_redirect_after_success(client, portal) -> None:
    admin = await portal("admin")

    status, location, html = await admin.submit(
        "/users", {"username": "newbie", "password": "first-pw", "role": "viewer"}
    )
    assert status == 303
    assert _to(location) == (
        "/users",
        {"done": "added", "username": "newbie", "role": "viewer"},
        "",
    )
    assert "User newbie added as viewer." in html
    assert "<option selected>viewer</option>" in _row(html, "user-newbie")
    status, location, html = await admin.submit(
        "/users", {"username": "newbie", "password": "other", "role": "admin"}
    )
    assert (status, location) == (400, "") and "User newbie exists already." in html

    newbie = next(u for u in await client.app[SERVICES].users.list() if u.username == "newbie")
    status, location, html = await admin.submit(f"/users/{newbie.id}/role", {"role": "operator"})
    assert status == 303
    assert _to(location) == ("/users", {"done": "role", "role": "operator"}, "")
    assert "Role changed to operator." in html
    assert "<option selected>operator</option>" in _row(html, "user-newbie")
    status, location, html = await admin.submit(f"/users/{newbie.id}/role", {"role": "wizard"})
    assert (status, location) == (400, "") and "role must be one of" in html
    assert "<option selected>operator</option>" in _row(html, "user-newbie")

    status, location, html = await admin.submit(
        f"/users/{newbie.id}/password", {"password": "second-pw"}
    )
    assert status == 303
    assert _to(location) == ("/users", {"done": "password"}, "")
    assert "Password reset." in html
    answer = await client.get("/api/charge-points", headers=basic("newbie", "second-pw"))
    assert answer.status == 200
    status, location, html = await admin.submit(f"/users/{newbie.id}/password", {"password": ""})
    assert (status, location) == (400, "") and "password must not be empty" in html

    me = next(u for u in await client.app[SERVICES].users.list() if u.role == "admin")
    status, location, html = await admin.submit(f"/users/{me.id}/delete")
    assert (status, location) == (400, "") and "You cannot remove yourself." in html
    status, location, html = await admin.submit(f"/users/{newbie.id}/delete")
    assert status == 303
    assert _to(location) == ("/users", {"done": "removed"}, "")
    assert "User removed." in html and 'id="user-newbie"' not in html
    status, location, html = await admin.submit(f"/users/{newbie.id}/delete")
    assert (status, location) == (404, "")


async def test_charge_point_administration_redirects_to_its_tab(client, portal) -> None:
    services = client.app[SERVICES]
    await services.charge_points.register("PRG-CP", status="Pending")
    admin = await portal("admin")
    page = ("/charge-points/PRG-CP",)

    status, location, html = await admin.submit("/charge-points/PRG-CP/accept")
    assert status == 303
    assert _to(location) == (*page, {"done": "accepted"}, "administration")
    assert "Accepted: its next BootNotification is answered Accepted." in html
    assert "Accept charge point" not in html
    assert (await services.charge_points.get("PRG-CP")).registration_status == "Accepted"
    status, location, _ = await admin.submit("/charge-points/NO-SUCH-CP/accept")
    assert (status, location) == (404, "")

    status, location, html = await admin.submit(
        "/charge-points/PRG-CP/password", {"password": "k" * 16}
    )
    assert status == 303
    assert _to(location) == (*page, {"done": "key-set"}, "administration")
    assert "Key set: it must now send HTTP Basic auth." in html and "Change key" in html
    status, location, html = await admin.submit(
        "/charge-points/PRG-CP/password", {"password": "short"}
    )
    assert (status, location) == (400, "") and "16 to 40 characters" in html
    assert "Change key" in html  # the key set before stays
    status, location, html = await admin.submit("/charge-points/PRG-CP/password", {"password": ""})
    assert status == 303
    assert _to(location) == (*page, {"done": "key-cleared"}, "administration")
    assert "Key cleared." in html and "Set key" in html

    status, location, html = await admin.submit(
        "/charge-points/PRG-CP/protocol", {"lenient": "on", "ping_interval": "30"}
    )
    assert status == 303
    assert _to(location) == (
        *page,
        {"done": "protocol", "lenient": "on", "pings": "30 s"},
        "administration",
    )
    assert "Lenient mode on, effective now; ping interval 30 s, from its next connection." in html
    assert 'name="lenient" checked' in html and 'value="30"' in html
    status, location, html = await admin.submit(
        "/charge-points/PRG-CP/protocol", {"ping_interval": "often"}
    )
    assert (status, location) == (400, "") and "ping interval must be a whole number" in html
    assert 'name="lenient" checked' in html and 'value="30"' in html  # as it was
    status, location, html = await admin.submit(
        "/charge-points/PRG-CP/protocol", {"ping_interval": "0"}
    )
    assert _to(location)[1] == {"done": "protocol", "lenient": "off", "pings": "off"}
    assert "Lenient mode off, effective now; ping interval off" in html


async def test_a_page_tells_only_outcomes_it_knows_in_its_own_words(client, portal) -> None:
    await client.app[SERVICES].charge_points.register("PRG-CP")
    admin = await portal("admin")
    for address in (
        "/id-tags?done=Your+session+expired",
        "/id-tags?done=added",  # its tag not named
        "/users?done=added&username=x",
        "/charge-points/PRG-CP?done=protocol&lenient=on",
        "/charge-points/PRG-CP?done=Call+0800",
    ):
        status, html = await admin.get(address)
        assert status == 200 and 'class="message' not in html, address
    status, html = await admin.get("/id-tags?done=added&id_tag=%3Cb%3EX%3C/b%3E")
    assert status == 200 and "Id tag &lt;b&gt;X&lt;/b&gt; added." in html
