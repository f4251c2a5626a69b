"""argon2 (about 100 ms and 64 MiB a check) never runs on the event loop, runs few at a
time, and a flood of logins is refused as busy rather than queued without end; charge
point keys have the length OCPP allows wherever they are set."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from aiohttp import encode_basic_auth

from ocpp_core import passwords
from tests.server_process import run_cli
from webapp.keys import SERVICES

# The rest of the suite hashes at the cheapest cost (tests/conftest.py); these tests at
# the production one.
pytestmark = pytest.mark.production_argon2


def test_production_hashes_are_argon2id_at_64_mib() -> None:
    """The cost the module's docstring and these tests' timings stand for."""
    hashed = passwords.hash_password("a password")
    assert hashed.startswith("$argon2id$v=19$m=65536,"), hashed
    assert passwords.verify_password(hashed, "a password")
    assert not passwords.verify_password(hashed, "another password")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch):
    """Where and how many at once passwords are checked."""
    seen = {"threads": set(), "running": 0, "most": 0}
    lock = threading.Lock()
    verify = passwords.verify_password

    def watched(password_hash: str, password: str) -> bool:
        with lock:
            seen["threads"].add(threading.current_thread().name)
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
        try:
            return verify(password_hash, password)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(passwords, "verify_password", watched)
    return seen


async def test_logins_are_checked_off_the_loop_a_few_at_a_time(client, connect, spy) -> None:
    cp = await connect("HB")
    await cp.boot()
    loop_thread = threading.current_thread().name
    logins = [
        asyncio.ensure_future(
            client.get(
                "/api/charge-points",
                headers={"Authorization": encode_basic_auth(f"nobody{n}", "wrong")},
            )
        )
        for n in range(6)
    ]
    # While they are checked, a charger's Heartbeat is answered.
    await cp.result("Heartbeat", {})
    answers = await asyncio.gather(*logins)
    assert [a.status for a in answers] == [401] * 6
    assert spy["threads"] and loop_thread not in spy["threads"]
    assert all(name.startswith("argon2") for name in spy["threads"])
    assert spy["most"] <= 2


async def test_a_flood_of_logins_is_refused_as_busy(client, monkeypatch) -> None:
    monkeypatch.setattr(passwords, "MAX_PENDING", 3)
    slow = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: (time.sleep(0.2), slow(h, p))[1])
    answers = await asyncio.gather(
        *[
            client.get(
                "/api/charge-points",
                headers={"Authorization": encode_basic_auth(f"flood{n}", "wrong")},
            )
            for n in range(8)
        ]
    )
    statuses = sorted(a.status for a in answers)
    assert 503 in statuses and 401 in statuses
    busy = next(a for a in answers if a.status == 503)
    assert busy.headers["Retry-After"] and "retry shortly" in (await busy.json())["error"]


async def test_charge_point_keys_have_ocpp_length_everywhere(client, portal, database_url):
    services = client.app[SERVICES]
    code, out = await run_cli(database_url, "charge-point", "add", "CP-SHORT", "--password", "k")
    assert code == 2 and "16 to 40 characters" in out
    admin = await portal("admin")
    status, html = await admin.post(
        "/charge-points", {"charge_point_id": "CP-SHORT", "password": "short"}
    )
    assert status == 400 and "16 to 40 characters" in html
    await services.charge_points.register("CP-OK", password="0123456789abcdef")
    status, html = await admin.post("/charge-points/CP-OK/password", {"password": "x" * 41})
    assert status == 400 and "16 to 40 characters" in html
    assert (await services.charge_points.get("CP-OK")).has_password
