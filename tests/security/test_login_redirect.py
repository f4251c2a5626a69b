"""After login only a path on this site is followed: never another host, however the URL
is dressed up (browsers drop tabs and newlines and read a backslash as a slash)."""

from __future__ import annotations

import aiohttp
import pytest

from tests.helpers import ACCOUNTS, Browserless


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "/%09/evil.example",  # sent twice encoded: decoded once, it is still a path here
        " //evil.example",
        "javascript:alert(1)",
    ],
)
async def test_login_never_redirects_off_site(client, next_url: str) -> None:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        guest = Browserless(http, str(client.make_url("")).rstrip("/"))
        await guest.refresh_csrf("/login")
        async with http.post(
            guest.base + "/login",
            data={
                "username": ACCOUNTS["viewer"][0],
                "password": ACCOUNTS["viewer"][1],
                "next": next_url,
                "csrf_token": guest.csrf,
            },
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\"))
        assert not any(c in location for c in "\t\n\r\\")
        # The login page's own `next` (the hidden field) is just as safe.
        async with http.get(
            guest.base + "/login", params={"next": next_url}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == location
    finally:
        await http.close()


async def test_a_path_on_the_site_is_followed(client) -> None:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        guest = Browserless(http, str(client.make_url("")).rstrip("/"))
        await guest.refresh_csrf("/login")
        async with http.post(
            guest.base + "/login",
            data={
                "username": ACCOUNTS["viewer"][0],
                "password": ACCOUNTS["viewer"][1],
                "next": "/transactions?active=true",
                "csrf_token": guest.csrf,
            },
            allow_redirects=False,
        ) as response:
            assert response.headers["Location"] == "/transactions?active=true"
    finally:
        await http.close()
