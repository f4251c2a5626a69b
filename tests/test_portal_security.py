"""Login throttling and the audit log."""

from __future__ import annotations

import re

import aiohttp
from aiohttp import encode_basic_auth

from tests.conftest import ACCOUNTS, Browserless
from tests.test_cli import run_cli
from webapp.keys import SERVICES


async def _anonymous(client) -> Browserless:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    user = Browserless(http, str(client.make_url("")).rstrip("/"))
    await user.refresh_csrf("/login")
    return user


async def test_login_is_throttled_after_repeated_failures(client) -> None:
    guest = await _anonymous(client)
    try:
        login, password = ACCOUNTS["operator"]
        for _ in range(5):
            status, html = await guest.post("/login", {"username": login, "password": "wrong"})
            assert status == 401 and "Wrong user name or password." in html
        # Locked: even the right password is not checked for a while.
        status, html = await guest.post("/login", {"username": login, "password": password})
        assert status == 429 and "Too many failed logins" in html
        # The API's Basic auth counts against the same lock.
        response = await client.get(
            "/api/charge-points", headers={"Authorization": encode_basic_auth(login, password)}
        )
        assert (
            response.status == 429 and "too many failed logins" in (await response.json())["error"]
        )
    finally:
        await guest.http.close()
    # The address that sprayed wrong passwords is held back for other names too.
    response = await client.get(
        "/api/charge-points", headers={"Authorization": encode_basic_auth(*ACCOUNTS["viewer"])}
    )
    assert response.status == 429


async def test_audit_log_shows_account_changes_and_operations_to_admins(
    portal, client, connect, database_url
) -> None:
    admin = await portal("admin")
    await admin.post("/users", {"username": "temp", "password": "pw", "role": "viewer"})
    temp = next(u for u in await client.app[SERVICES].users.list() if u.username == "temp")
    await admin.post(f"/users/{temp.id}/role", {"role": "operator"})
    await admin.post("/id-tags", {"id_tag": "CARD9"})
    await admin.post("/charge-points", {"charge_point_id": "NEWCP"})
    await admin.post(
        "/charge-points/NEWCP/operations/clear-cache", {}, headers={"HX-Request": "true"}
    )

    code, out = await run_cli(database_url, "id-tag", "add", "FROMCLI")
    assert code == 0, out

    status, html = await admin.get("/audit")
    assert status == 200
    rows = re.findall(
        r"<tr><td[^>]*>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", html
    )
    assert ("admin", "operation ClearCache", "NEWCP") in rows
    assert ("admin", "register charge point", "NEWCP") in rows
    assert ("admin", "add id tag", "CARD9") in rows
    assert ("admin", "change role", "temp") in rows
    assert ("admin", "add user", "temp") in rows
    assert ("admin", "login", "admin") in rows
    assert ("cli", "add id tag", "FROMCLI") in rows

    operator = await portal("operator")
    status, _ = await operator.get("/audit")
    assert status == 403
