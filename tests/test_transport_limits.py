"""Keep-alive, frame size and rate limits on the OCPP socket (all configurable)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from aiohttp import WSCloseCode, WSMsgType

from tests.helpers import eventually
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import CENTRAL_SYSTEM, SERVICES


@pytest.fixture
async def strict_client(settings, aiohttp_client):
    app = create_app(
        dataclasses.replace(
            settings,
            ws_ping_interval=1,
            ws_ping_timeout=1,
            max_frame_bytes=2048,
            rate_limit=5,
            rate_burst=5,
        )
    )
    return await aiohttp_client(app)


async def _closed(ws, within: float) -> int | None:
    """Read until the server closes; return its close code."""
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
                return ws.close_code if msg.type != WSMsgType.CLOSE else msg.data


async def test_a_dead_link_is_closed_and_shown_offline_quickly(strict_client) -> None:
    central = strict_client.app[CENTRAL_SYSTEM]
    # A charger that stopped answering: its pings go unanswered.
    dead = await strict_client.ws_connect("/ocpp/DEAD", protocols=("ocpp1.6",), autoping=False)
    await RawChargePoint(dead).boot()
    assert central.is_connected("DEAD")
    # Closed for its unanswered pings (interval 1 s + timeout 1 s here), not after minutes:
    # the wait allows for a loaded machine, the close code says why it came.
    assert await _closed(dead, within=5) == WSCloseCode.GOING_AWAY
    await eventually(lambda: not central.is_connected("DEAD"), timeout=5, what="DEAD unregistered")


async def test_a_live_link_answering_pings_stays(strict_client) -> None:
    alive = RawChargePoint(await strict_client.ws_connect("/ocpp/ALIVE", protocols=("ocpp1.6",)))
    await alive.boot()
    # Three ping rounds; the client's WebSocket answers pings while it reads. The sleeps
    # are what is tested: the rounds' time has to pass with the link kept up.
    for _ in range(7):
        assert (await alive.call("Heartbeat", {}))[0] == 3
        await asyncio.sleep(0.45)
    assert strict_client.app[CENTRAL_SYSTEM].is_connected("ALIVE")


async def test_pings_can_be_turned_off_per_charge_point(strict_client) -> None:
    await strict_client.app[SERVICES].charge_points.register("NOPING")
    await strict_client.app[SERVICES].charge_points.set_protocol_settings("NOPING", ping_interval=0)
    quiet = await strict_client.ws_connect("/ocpp/NOPING", protocols=("ocpp1.6",), autoping=False)
    with pytest.raises(TimeoutError):
        await quiet.receive(timeout=2.5)  # no ping at all
    assert strict_client.app[CENTRAL_SYSTEM].is_connected("NOPING")


async def test_oversized_frame_closes_only_that_connection(strict_client) -> None:
    big = await strict_client.ws_connect("/ocpp/BIG", protocols=("ocpp1.6",))
    other = RawChargePoint(await strict_client.ws_connect("/ocpp/OK", protocols=("ocpp1.6",)))
    await big.send_str(json.dumps([2, "1", "DataTransfer", {"vendorId": "x", "data": "y" * 4000}]))
    assert await _closed(big, within=5) == WSCloseCode.MESSAGE_TOO_BIG
    assert (await other.call("Heartbeat", {}))[0] == 3


async def test_flooding_client_is_closed_for_policy_violation(strict_client) -> None:
    flood = await strict_client.ws_connect("/ocpp/FLOOD", protocols=("ocpp1.6",))
    for n in range(30):
        await flood.send_str(json.dumps([2, f"f{n}", "Heartbeat", {}]))
    answers = 0
    async with asyncio.timeout(5):
        while True:
            msg = await flood.receive()
            if msg.type == WSMsgType.TEXT:
                answers += 1
                continue
            break
    assert flood.close_code == WSCloseCode.POLICY_VIOLATION
    assert 1 <= answers <= 6  # the burst was served, the flood was not
    assert not strict_client.app[CENTRAL_SYSTEM].is_connected("FLOOD")
