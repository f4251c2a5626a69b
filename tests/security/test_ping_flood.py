"""WebSocket pings count against the connection's rate limit.

Before, every PING a charger sent was answered, 2,000 in a second: a peer past RATE_LIMIT
with messages was closed, one as fast with pings never was.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSCloseCode, WSMsgType

from webapp.keys import CENTRAL_SYSTEM, SETTINGS


async def _flood(ws, kind: str, count: int) -> tuple[int, int | None]:
    """Send `count` control frames of `kind`; read until the server closes: the PONGs it
    answered with, and its close code."""
    for n in range(count):
        if ws.closed:
            break
        payload = str(n).encode()
        await (ws.ping(payload) if kind == "ping" else ws.pong(payload))
    pongs = 0
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.PONG:
                pongs += 1
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return pongs, ws.close_code


async def test_a_ping_flood_is_closed_for_policy_violation(client, connect) -> None:
    burst = client.app[SETTINGS].rate_burst
    flood = await connect("PINGER", autoping=False)
    await flood.boot()
    pongs, code = await _flood(flood.ws, "ping", 2000)
    print(f"{pongs} of 2000 pings answered")
    assert code == WSCloseCode.POLICY_VIOLATION
    # The burst was answered, the flood was not.
    assert 1 <= pongs <= burst + 10
    assert not client.app[CENTRAL_SYSTEM].is_connected("PINGER")


async def test_unsolicited_pongs_count_too(client, connect) -> None:
    flood = await connect("PONGER", autoping=False)
    await flood.boot()
    _, code = await _flood(flood.ws, "pong", 2000)
    assert code == WSCloseCode.POLICY_VIOLATION


async def test_a_charger_pinging_now_and_then_is_answered(client, connect) -> None:
    cp = await connect("POLITE", autoping=False)
    await cp.boot()
    for n in range(20):
        await cp.ws.ping(str(n).encode())
        msg = await cp.ws.receive(timeout=5)
        assert msg.type == WSMsgType.PONG and msg.data == str(n).encode()
    assert "currentTime" in await cp.result("Heartbeat", {})
