"""The operator portal over plain HTTP: login, cookies, CSRF, roles route by route, pages."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import MeterValue
from tests.helpers import ACCOUNTS, OPERATOR, read_events
from webapp.auth import SESSION_COOKIE
from webapp.keys import ENGINE, SERVICES


async def test_login_page_and_wrong_password(client) -> None:
    response = await client.get("/")
    assert response.status == 200 and str(response.url.path) == "/login"  # redirected
    html = await response.text()
    assert '<label for="username">' in html and '<label for="password">' in html
    assert re.search(r'<button type="submit"[^>]*>Log in</button>', html)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    response = await client.post(
        "/login", data={"username": "admin", "password": "nope", "csrf_token": token}
    )
    assert response.status == 401
    assert "Wrong user name or password." in await response.text()

    # Without the login form's token the post is refused.
    response = await client.post("/login", data={"username": "admin", "password": "x"})
    assert response.status == 403


async def test_session_cookie_flags(client) -> None:
    def check(cookie, secure: bool) -> None:
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert bool(cookie["secure"]) is secure

    # Behind a TLS-terminating proxy that says so, the cookie is Secure.
    response = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
    check(response.cookies[SESSION_COOKIE], secure=True)

    login, password = ACCOUNTS["admin"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(client.make_url("/login")) as response:
            check(response.cookies[SESSION_COOKIE], secure=False)
            token = re.search(r'name="csrf_token" value="([^"]+)"', await response.text())[1]
        async with http.post(
            client.make_url("/login"),
            data={"username": login, "password": password, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            check(response.cookies[SESSION_COOKIE], secure=False)


async def test_logout_ends_the_session(portal) -> None:
    admin = await portal("admin")
    status, _ = await admin.post("/logout")
    assert status == 200
    status, html = await admin.get("/")
    assert "Log in" in html and 'name="username"' in html


async def test_pages_render_for_a_viewer_without_operation_forms(portal, client, connect) -> None:
    cp = await connect("CP-V")
    await cp.boot()
    await cp.status(1, "Available")
    viewer = await portal("viewer")
    for path in ("/", "/charge-points/CP-V", "/transactions", "/id-tags"):
        status, html = await viewer.get(path)
        assert status == 200, path
        assert f'<meta name="csrf-token" content="{viewer.csrf}">' in html
    _, html = await viewer.get("/charge-points/CP-V")
    assert "Remote start" not in html and 'name="id_tag"' not in html
    status, _ = await viewer.get("/users")
    assert status == 403


# Every state-changing route, with the least role that may use it.
STATE_CHANGING = [
    ("/charge-points", "admin", {"charge_point_id": "NEW"}),
    ("/charge-points/CP-R/remote-start", "operator", {"id_tag": "T"}),
    ("/charge-points/CP-R/remote-stop", "operator", {"transaction_id": "1"}),
    ("/charge-points/CP-R/accept", "admin", {}),
    ("/charge-points/CP-R/password", "admin", {"password": "k"}),
    ("/charge-points/CP-R/remove", "admin", {}),
    ("/id-tags", "operator", {"id_tag": "NEWTAG"}),
    ("/id-tags/TAG-R", "operator", {"parent_id_tag": "P"}),
    ("/id-tags/TAG-R/delete", "operator", {}),
    ("/users", "admin", {"username": "u2", "password": "p"}),
    ("/users/{viewer_id}/role", "admin", {"role": "operator"}),
    ("/users/{viewer_id}/password", "admin", {"password": "p"}),
    ("/users/{viewer_id}/delete", "admin", {}),
]


@pytest.mark.parametrize(("path", "least_role", "data"), STATE_CHANGING)
async def test_every_state_changing_route_checks_csrf_and_role(
    portal, client, path: str, least_role: str, data: dict
) -> None:
    services = client.app[SERVICES]
    await services.charge_points.register("CP-R")
    await services.id_tags.add("TAG-R")
    viewer_id = next(u.id for u in await services.users.list() if u.username == "view")
    path = path.format(viewer_id=viewer_id)

    admin = await portal("admin")
    status, _ = await admin.post(path, data, csrf=False)
    assert status == 403, "accepted without a CSRF token"
    status, _ = await admin.post(path, data, csrf=True, headers={"X-CSRF-Token": "forged"})
    assert status == 403, "accepted a forged CSRF token"

    for role in ("viewer", "operator", "admin"):
        user = await portal(role)
        status, _ = await user.post(path, data)
        allowed = ["viewer", "operator", "admin"].index(role) >= [
            "viewer",
            "operator",
            "admin",
        ].index(least_role)
        if allowed:
            assert status != 403, f"{role} refused on {path}"
        else:
            assert status == 403, f"{role} allowed on {path}"


async def test_api_accepts_the_portal_session_with_csrf_header(portal, client) -> None:
    operator = await portal("operator")
    status, body = await operator.get("/api/id-tags")
    assert status == 200 and json.loads(body) == []
    url = operator.base + "/api/id-tags"
    async with operator.http.post(url, json={"id_tag": "X"}) as response:
        assert response.status == 403  # cookie without the CSRF header
    async with operator.http.post(
        url, json={"id_tag": "X"}, headers={"X-CSRF-Token": operator.csrf}
    ) as response:
        assert response.status == 201
    # HTTP Basic needs no CSRF token: a browser cannot forge it.
    response = await client.post("/api/id-tags", json={"id_tag": "Y"}, headers=OPERATOR)
    assert response.status == 201


async def test_remote_start_form_answers_in_place(portal, client, connect) -> None:
    operator = await portal("operator")
    status, html = await operator.post(
        "/charge-points/NOWHERE/remote-start", {"id_tag": "T"}, headers={"HX-Request": "true"}
    )
    assert status == 404 and "not registered" in html
    await client.app[SERVICES].charge_points.register("OFF")
    status, html = await operator.post(
        "/charge-points/OFF/remote-start", {"id_tag": "T"}, headers={"HX-Request": "true"}
    )
    assert 'data-answer="not connected"' in html and "<html" not in html

    cp = await connect("CP-F")
    await cp.boot()
    await client.app[SERVICES].id_tags.add("TAG")  # an unknown one is not sent (checked)
    request = asyncio.create_task(
        operator.post(
            "/charge-points/CP-F/remote-start",
            {"id_tag": "TAG", "connector_id": "2"},
            headers={"HX-Request": "true"},
        )
    )
    frame = await cp.expect_call("RemoteStartTransaction")
    assert frame[3] == {"idTag": "TAG", "connectorId": 2}
    await cp.answer(frame, {"status": "Rejected"})
    status, html = await request
    assert 'data-answer="Rejected"' in html

    # Timed out, and a bad connector: a message, and nothing sent.
    status, html = await operator.post(
        "/charge-points/CP-F/remote-start", {"id_tag": "TAG"}, headers={"HX-Request": "true"}
    )
    assert 'data-answer="timed out"' in html
    await cp.expect_call("RemoteStartTransaction")
    status, html = await operator.post(
        "/charge-points/CP-F/remote-start",
        {"id_tag": "TAG", "connector_id": "zero"},
        headers={"HX-Request": "true"},
    )
    assert 'data-answer="invalid input"' in html and "whole number" in html
    assert await cp.nothing_within(0.2)

    # Without htmx the whole page comes back with the answer on it.
    status, html = await operator.post("/charge-points/OFF/remote-start", {"id_tag": "T"})
    assert status == 200 and "<html" in html and 'data-answer="not connected"' in html


async def test_id_tags_page_add_edit_delete_with_messages(client, portal) -> None:
    operator = await portal("operator")
    status, _, html = await operator.submit(
        "/id-tags",
        {"id_tag": "CARD1", "expiry_date": "2031-05-06T07:08", "parent_id_tag": "FLEET"},
    )
    assert status == 303 and "Id tag CARD1 added." in html
    status, html = await operator.post("/id-tags", {"id_tag": "CARD1"})
    assert status == 400 and "exists already" in html
    status, html = await operator.post("/id-tags", {"id_tag": "X" * 21})
    assert status == 400 and "1 to 20" in html
    status, html = await operator.post("/id-tags", {"id_tag": "C2", "expiry_date": "soon"})
    assert status == 400 and "not a date and time" in html
    # ISO 8601, but before year 1 in UTC: was a 500.
    before_year_1 = {"id_tag": "C2", "expiry_date": "0001-01-01T00:00:00+00:01"}
    status, html = await operator.post("/id-tags", before_year_1)
    assert status == 400 and "not a date and time" in html
    response = await client.post("/api/id-tags", json=before_year_1, headers=OPERATOR)
    assert response.status == 400
    assert "not an ISO 8601 date-time" in (await response.json())["error"]
    assert 'value="C2"' in html  # what was typed is kept

    status, _, html = await operator.submit("/id-tags/CARD1", {"blocked": "1", "expiry_date": ""})
    assert status == 303 and "saved" in html
    tags = await operator.get("/api/id-tags")
    [card] = json.loads(tags[1])
    assert card == {"id_tag": "CARD1", "parent_id_tag": None, "expiry_date": None, "blocked": True}

    status, _, html = await operator.submit("/id-tags/CARD1/delete")
    assert status == 303 and "deleted" in html
    status, html = await operator.post("/id-tags/CARD1/delete")
    assert status == 404 and "does not exist" in html


async def test_users_added_at_once_under_one_name_make_one_account(portal, client) -> None:
    """Two admins add the same new name at the same moment, with different passwords: one
    is added, the other is told it exists, and the first's password stands."""
    first, second = await portal("admin"), await portal("admin")
    added = await asyncio.gather(
        *(
            admin.post(
                "/users",
                {"username": "twin", "password": password, "role": "viewer"},
                allow_redirects=False,
            )
            for admin, password in ((first, "first-pw"), (second, "second-pw"))
        )
    )
    assert sorted(status for status, _ in added) == [303, 400], added
    [refused] = [html for status, html in added if status == 400]
    assert "User twin exists already." in refused
    winner = "first-pw" if added[0][0] == 303 else "second-pw"
    users = client.app[SERVICES].users
    assert await users.authenticate("twin", winner) is not None
    assert (
        await users.authenticate("twin", {"first-pw": "second-pw"}.get(winner, "first-pw")) is None
    )


async def test_users_page(portal, client) -> None:
    admin = await portal("admin")
    status, _, html = await admin.submit(
        "/users", {"username": "newbie", "password": "pw", "role": "viewer"}
    )
    assert status == 303 and "User newbie added as viewer." in html
    status, html = await admin.post("/users", {"username": "newbie", "password": "pw"})
    assert status == 400 and "exists already" in html
    status, html = await admin.post("/users", {"username": "x", "password": "", "role": "viewer"})
    assert status == 400 and "password must not be empty" in html

    users = {u.username: u for u in await client.app[SERVICES].users.list()}
    newbie = users["newbie"].id
    status, _, html = await admin.submit(f"/users/{newbie}/role", {"role": "operator"})
    assert status == 303 and "Role changed to operator." in html
    status, _, html = await admin.submit(f"/users/{newbie}/password", {"password": "new-pw"})
    assert status == 303 and "Password reset." in html
    assert await client.app[SERVICES].users.authenticate("newbie", "new-pw") is not None
    status, html = await admin.post(f"/users/{users['admin'].id}/delete")
    assert status == 400 and "cannot remove yourself" in html
    status, _, html = await admin.submit(f"/users/{newbie}/delete")
    assert status == 303 and "User removed." in html
    assert "newbie" not in {u.username for u in await client.app[SERVICES].users.list()}


async def test_removed_or_demoted_user_loses_access_at_once(portal, client) -> None:
    operator = await portal("operator")
    services = client.app[SERVICES]
    oper = next(u for u in await services.users.list() if u.username == "oper")
    await services.users.set_role(oper.id, "viewer")
    status, _ = await operator.post("/id-tags", {"id_tag": "LATE"})
    assert status == 403
    await services.users.delete(oper.id)
    status, html = await operator.get("/")
    assert 'name="username"' in html  # back to the login page


async def test_charge_point_administration(portal, client, connect) -> None:
    admin = await portal("admin")
    status, html = await admin.post(
        "/charge-points", {"charge_point_id": "REG-1", "password": "k" * 16}
    )
    assert status == 200 and "REG-1" in html
    assert (await client.app[SERVICES].charge_points.get("REG-1")).has_password
    status, html = await admin.post("/charge-points", {"charge_point_id": ""})
    assert status == 400 and "must not be empty" in html

    status, _, html = await admin.submit("/charge-points/REG-1/password", {"password": ""})
    assert status == 303 and "Key cleared." in html
    assert not (await client.app[SERVICES].charge_points.get("REG-1")).has_password

    await client.app[SERVICES].charge_points.register("PEND", status="Pending")
    status, _, html = await admin.submit("/charge-points/PEND/accept")
    assert status == 303 and "Accepted: its next BootNotification is answered Accepted." in html
    assert (await client.app[SERVICES].charge_points.get("PEND")).registration_status == "Accepted"

    cp = await connect("BUSY")
    await cp.start()
    status, html = await admin.post("/charge-points/BUSY/remove")
    assert status == 409 and "recorded session" in html
    status, html = await admin.post("/charge-points/REG-1/remove")
    assert status == 200 and "REG-1" not in html
    status, _ = await admin.get("/charge-points/REG-1")
    assert status == 404


async def test_removing_a_charge_point_removes_its_samples_of_no_session(
    portal, client, connect
) -> None:
    loose = await connect("LOOSE")
    reading = {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "5"}]}
    await loose.result("MeterValues", {"connectorId": 0, "meterValue": [reading]})
    await loose.result(
        "MeterValues", {"connectorId": 1, "transactionId": 987654, "meterValue": [reading]}
    )
    other = await connect("KEPT")
    await other.result("MeterValues", {"connectorId": 0, "meterValue": [reading]})
    await loose.ws.close()

    status, _ = await (await portal("admin")).post("/charge-points/LOOSE/remove")
    assert status == 200
    async with AsyncSession(client.app[ENGINE]) as session:
        left = (await session.scalars(select(MeterValue.charge_point_id))).all()
    assert left == ["KEPT"]


async def _session(cp, tag: str, connector: int, start: str, stop: str, wh: int) -> int:
    started = await cp.result(
        "StartTransaction",
        {"connectorId": connector, "idTag": tag, "meterStart": 1000, "timestamp": start},
    )
    await cp.result(
        "StopTransaction",
        {"transactionId": started["transactionId"], "meterStop": 1000 + wh, "timestamp": stop},
    )
    return started["transactionId"]


async def test_transactions_filters_pages_and_csv(portal, client, connect) -> None:
    a = await connect("CP-A")
    b = await connect("CP-B")
    first = await _session(a, "T1", 1, "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", 7500)
    await _session(b, "T2", 1, "2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z", 2000)
    await _session(a, "T2", 2, "2026-03-03T10:00:00Z", "2026-03-03T10:10:00Z", 500)
    viewer = await portal("viewer")

    status, html = await viewer.get("/transactions")
    ids = re.findall(r'data-transaction="(\d+)"', html)
    assert len(ids) == 3 and ids == sorted(ids, key=int, reverse=True)  # newest first
    assert "7.50" in html and f'href="/transactions/{first}"' in html

    _, html = await viewer.get("/transactions?charge_point_id=CP-A&id_tag=T2")
    assert len(re.findall(r'data-transaction="', html)) == 1
    _, html = await viewer.get("/transactions?from=2026-03-02&to=2026-03-02")
    assert len(re.findall(r'data-transaction="', html)) == 1
    status, html = await viewer.get("/transactions?from=yesterday")
    assert status == 400 and "YYYY-MM-DD" in html
    assert re.search(r"<a [^>]*>CSV</a>", html)

    async with viewer.http.get(viewer.base + "/transactions.csv?charge_point_id=CP-A") as response:
        assert response.status == 200
        assert response.content_type == "text/csv"
        rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["charge_point_id"], r["id_tag"], r["energy_kwh"]) for r in rows] == [
        ("CP-A", "T2", "0.500"),
        ("CP-A", "T1", "7.500"),
    ]
    assert rows[1]["duration_s"] == "3600"


async def test_transactions_pagination(portal, client, connect) -> None:
    cp = await connect("CP-P")
    for n in range(55):
        await _session(cp, "T", 1, f"2026-04-01T00:{n:02d}:00Z", f"2026-04-01T00:{n:02d}:30Z", 10)
    viewer = await portal("viewer")
    _, first = await viewer.get("/transactions")
    _, second = await viewer.get("/transactions?page=2")
    assert len(re.findall(r'data-transaction="', first)) == 50
    assert len(re.findall(r'data-transaction="', second)) == 5
    assert "page 2 of 2" in second


async def test_session_page_has_a_chart_of_power_and_energy(portal, connect) -> None:
    cp = await connect("CP-C")
    tx = await cp.start(meter_start=1000)
    for minute, (wh, w) in enumerate([(1000, 0), (1200, 7200), (1400, 7100)]):
        await cp.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [
                    {
                        "timestamp": f"2026-01-01T00:0{minute}:00Z",
                        "sampledValue": [
                            {"value": str(wh), "measurand": "Energy.Active.Import.Register"},
                            {
                                "value": str(w / 1000),
                                "measurand": "Power.Active.Import",
                                "unit": "kW",
                            },
                        ],
                    }
                ],
            },
        )
    viewer = await portal("viewer")
    _, html = await viewer.get(f"/transactions/{tx}")
    assert '<canvas id="session-chart"' in html
    data = json.loads(
        re.search(r'<script type="application/json" id="session-chart-data">(.*?)</script>', html)[
            1
        ]
    )
    assert data["points"] == [
        {"t": "00:00:00", "kw": 0.0, "kwh": 0.0},
        {"t": "00:01:00", "kw": 7.2, "kwh": 0.2},
        {"t": "00:02:00", "kw": 7.1, "kwh": 0.4},
    ]


async def test_cdn_assets_are_pinned_with_integrity(portal) -> None:
    from webapp import assets

    viewer = await portal("viewer")
    _, html = await viewer.get("/")
    for asset in (assets.HTMX, assets.HTMX_SSE):
        assert f'src="{asset.url}" integrity="{asset.integrity}" crossorigin="anonymous"' in html
        assert re.search(r"@\d+\.\d+\.\d+/", asset.url)


async def test_events_stream_pushes_rows_counters_and_log(portal, client, connect) -> None:
    viewer = await portal("viewer")
    async with viewer.http.get(viewer.base + "/events") as stream:
        assert stream.content_type == "text/event-stream"
        cp = await connect("LIVE 1")
        row = await read_events(stream, "new-charge-point")
        assert 'id="cp-LIVE%201"' in row and "Offline" not in row
        await cp.boot()
        await cp.status(1, "Faulted", error_code="GroundFailure")
        row = await read_events(stream, "cp-LIVE%201")
        assert "Faulted" in row and "GroundFailure" in row
        counters = await read_events(stream, "counters")
        assert re.search(r'data-status-count="Faulted">1<', counters)

    async with viewer.http.get(viewer.base + "/events?charge_point=LIVE%201") as stream:
        await cp.result("Heartbeat", {})
        log = await read_events(stream, "log")
        assert "Heartbeat" in log and "CALL" in log
        detail = await read_events(stream, "detail")
        assert 'id="cp-detail"' in detail
