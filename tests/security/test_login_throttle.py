"""Failed logins are throttled per (name, client address), progressively, and cannot lock
an account's owner out; the address behind a trusted proxy is the client's."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import encode_basic_auth

from ocpp_core.settings import Settings
from tests.helpers import ACCOUNTS, Browserless
from webapp.keys import LOGIN_THROTTLE


class Clock:
    """The throttle's time, moved by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # As on a PaaS: the router is the peer, the client is in X-Forwarded-For.
    return Settings(**{**settings.__dict__, "forwarded_allow_ips": ("127.0.0.1",)})


@pytest.fixture
def clock(client) -> Clock:
    clock = Clock()
    client.app[LOGIN_THROTTLE].clock = clock
    return clock


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _guest(client, address: str) -> Browserless:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=_from(address))
    guest = Browserless(http, str(client.make_url("")).rstrip("/"))
    await guest.refresh_csrf("/login")
    return guest


async def _api(client, login: str, password: str, address: str) -> int:
    headers = {"Authorization": encode_basic_auth(login, password), **_from(address)}
    response = await client.get("/api/charge-points", headers=headers)
    return response.status


async def test_a_guesser_is_slowed_progressively_and_alone(client, clock, caplog) -> None:
    login, password = ACCOUNTS["operator"]
    guesser = await _guest(client, "203.0.113.7")
    owner = await _guest(client, "198.51.100.1")
    try:
        with caplog.at_level(logging.WARNING, logger="webapp.throttle"):
            for _ in range(5):
                status, html = await guesser.post("/login", {"username": login, "password": "x"})
                assert status == 401 and "Wrong user name or password." in html
        assert "login for 'oper' from 203.0.113.7 failed 5 times" in caplog.text
        # Held back: the next try at that name from that address is not even checked...
        status, html = await guesser.post("/login", {"username": login, "password": password})
        assert status == 429 and "Try again in 1 seconds" in html
        assert await _api(client, login, password, "203.0.113.7") == 429
        # ...but the owner elsewhere, and other names from the guesser's address, go on.
        status, _ = await owner.post("/login", {"username": login, "password": password})
        assert status == 200
        assert await _api(client, *ACCOUNTS["viewer"], "203.0.113.7") == 200

        # Each further failure doubles the wait: 1 s, then 2 s, then 4 s.
        clock.now += 1.5
        status, _ = await guesser.post("/login", {"username": login, "password": "x"})
        assert status == 401
        status, html = await guesser.post("/login", {"username": login, "password": password})
        assert status == 429 and "Try again in 2 seconds" in html
        clock.now += 2.5
        await guesser.post("/login", {"username": login, "password": "x"})
        status, html = await guesser.post("/login", {"username": login, "password": password})
        assert status == 429 and "Try again in 4 seconds" in html
        # Waited out, the right password gets in and clears the count.
        clock.now += 4.5
        status, _ = await guesser.post("/login", {"username": login, "password": password})
        assert status == 200
        assert client.app[LOGIN_THROTTLE].retry_after(("oper", "203.0.113.7")) == 0
    finally:
        await guesser.http.close()
        await owner.http.close()


async def test_verified_basic_credentials_are_not_locked_out(client, clock) -> None:
    login, password = ACCOUNTS["operator"]
    # A script polling the API with the right password...
    assert await _api(client, login, password, "198.51.100.1") == 200
    # ...and an attacker behind the same router address failing over and over.
    for _ in range(5):
        assert await _api(client, login, "wrong", "198.51.100.1") == 401
    assert await _api(client, login, "wrong", "198.51.100.1") == 429
    # The credentials already verified keep working; the guesses do not.
    assert await _api(client, login, password, "198.51.100.1") == 200


async def test_forwarded_for_is_believed_only_from_trusted_proxies(aiohttp_client, settings):
    from webapp.app import create_app
    from webapp.keys import SERVICES

    untrusted = Settings(**{**settings.__dict__, "forwarded_allow_ips": ()})
    client = await aiohttp_client(create_app(untrusted))
    await client.app[SERVICES].users.add(*ACCOUNTS["operator"], "operator")
    login, password = ACCOUNTS["operator"]
    for n in range(5):
        # A new made-up address each time: without a trusted proxy it changes nothing.
        assert await _api(client, login, "wrong", f"192.0.2.{n}") == 401
    assert await _api(client, login, password, "192.0.2.99") == 429
