"""Wrong charge point keys are throttled per (id, address) before the upgrade: each check
costs argon2, and a guesser must not get forty a second."""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError, encode_basic_auth

from ocpp_core.settings import Settings
from webapp.keys import KEY_THROTTLE, SERVICES

KEY = "0123456789abcdef"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return Settings(**{**settings.__dict__, "forwarded_allow_ips": ("127.0.0.1",)})


def _headers(key: str, address: str) -> dict[str, str]:
    return {"Authorization": encode_basic_auth("CP-KEY", key), "X-Forwarded-For": address}


async def test_wrong_keys_are_held_back(client, connect) -> None:
    await client.app[SERVICES].charge_points.register("CP-KEY", password=KEY)
    for _ in range(5):
        with pytest.raises(WSServerHandshakeError) as refused:
            await connect("CP-KEY", headers=_headers("wrong-key-0000000", "203.0.113.9"))
        assert refused.value.status == 401
    # Held back: not even the right key is checked from that address for a while.
    with pytest.raises(WSServerHandshakeError) as refused:
        await connect("CP-KEY", headers=_headers(KEY, "203.0.113.9"))
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "1"
    # The charger itself, elsewhere, connects.
    cp = await connect("CP-KEY", headers=_headers(KEY, "198.51.100.4"))
    assert (await cp.boot())["status"] == "Accepted"
    # A missing key is not a guess: it counts nothing.
    throttle = client.app[KEY_THROTTLE]
    for _ in range(10):
        with pytest.raises(WSServerHandshakeError):
            await connect("CP-KEY", headers={"X-Forwarded-For": "192.0.2.1"})
    assert throttle.retry_after(throttle.key("CP-KEY", "192.0.2.1")) == 0
