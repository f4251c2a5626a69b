"""Access ends when it should: a cookie after logout, the old password and session after a
reset, a demoted or removed account's cached Basic credentials and open event streams."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import encode_basic_auth

from tests.helpers import ACCOUNTS
from webapp.auth import SESSION_COOKIE
from webapp.keys import SERVICES


async def _user_id(client, name: str) -> int:
    return next(u.id for u in await client.app[SERVICES].users.list() if u.username == name)


async def _with_cookie(client, cookie: str, path: str = "/") -> int:
    """A request carrying a copy of a session cookie, as a thief would send it."""
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            client.make_url(path),
            headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
            allow_redirects=False,
        )
        return response.status


def _cookie(user) -> str:
    [morsel] = [m for m in user.http.cookie_jar if m.key == SESSION_COOKIE]
    return morsel.value


async def test_a_cookie_copied_before_logout_stops_working(client, portal) -> None:
    operator = await portal("operator")
    stolen = _cookie(operator)
    assert await _with_cookie(client, stolen, "/api/charge-points") == 200
    status, _ = await operator.post("/logout")
    assert status == 200  # back on the login page
    assert await _with_cookie(client, stolen, "/api/charge-points") == 401
    assert await _with_cookie(client, stolen, "/") == 302  # to the login page


async def test_a_password_reset_ends_the_old_session_and_password(client, portal) -> None:
    login, old_password = ACCOUNTS["operator"]
    basic_old = {"Authorization": encode_basic_auth(login, old_password)}
    operator = await portal("operator")
    stolen = _cookie(operator)
    # The old password was verified a moment ago (and is cached for the API).
    assert (await client.get("/api/charge-points", headers=basic_old)).status == 200

    admin = await portal("admin")
    status, _ = await admin.post(
        f"/users/{await _user_id(client, login)}/password", {"password": "a-new-password"}
    )
    assert status == 200
    assert await _with_cookie(client, stolen, "/api/charge-points") == 401
    assert (await client.get("/api/charge-points", headers=basic_old)).status == 401
    basic_new = {"Authorization": encode_basic_auth(login, "a-new-password")}
    assert (await client.get("/api/charge-points", headers=basic_new)).status == 200


async def test_demoted_and_removed_accounts_lose_cached_basic_access(client, portal) -> None:
    login, password = ACCOUNTS["operator"]
    basic = {
        "Authorization": encode_basic_auth(login, password),
        "Content-Type": "application/json",
    }
    response = await client.post("/api/id-tags", data='{"id_tag": "T-1"}', headers=basic)
    assert response.status == 201
    services = client.app[SERVICES]
    user_id = await _user_id(client, login)
    await services.users.set_role(user_id, "viewer")
    response = await client.post("/api/id-tags", data='{"id_tag": "T-2"}', headers=basic)
    assert response.status == 403
    await services.users.delete(user_id)
    response = await client.get("/api/charge-points", headers=basic)
    assert response.status == 401


@pytest.mark.parametrize("change", ["delete", "role", "logout"])
async def test_an_open_event_stream_of_a_revoked_account_is_closed(
    client, portal, change: str
) -> None:
    operator = await portal("operator")
    user_id = await _user_id(client, ACCOUNTS["operator"][0])
    async with operator.http.get(operator.base + "/events") as stream:
        assert stream.status == 200
        if change == "delete":
            await client.app[SERVICES].users.delete(user_id)
        elif change == "role":
            await client.app[SERVICES].users.set_role(user_id, "viewer")
        else:
            async with aiohttp.ClientSession(cookie_jar=operator.http.cookie_jar) as other:
                await other.post(operator.base + "/logout", data={"csrf_token": operator.csrf})

        async def drained() -> None:
            async for _ in stream.content.iter_any():
                pass

        await asyncio.wait_for(drained(), 5)  # the server ended the stream
    status, _ = await operator.get("/events", allow_redirects=False)
    assert status == 302  # and the reconnection is not let in


async def test_unchanged_admin_account_at_start_keeps_its_sessions(client, portal) -> None:
    # ADMIN_USER/ADMIN_PASSWORD apply at every start: the same password changes nothing.
    admin = await portal("admin")
    await client.app[SERVICES].users.add(*ACCOUNTS["admin"], "admin")
    status, _ = await admin.get("/")
    assert status == 200
    status, _ = await admin.get("/users")
    assert status == 200
