"""WebSocket keep-alive: a ping every interval; no pong within the timeout closes the link,
so a dead charger shows offline within interval + timeout, not minutes later (SteVe #357,
#828). A charger that cannot answer pings gets none (interval 0, HA-ocpp #211)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, web

from webapp.ws_adapter import WebSocketConnection

LOGGER = logging.getLogger(__name__)


async def keep_alive(
    charge_point_id: str,
    ws: web.WebSocketResponse,
    connection: WebSocketConnection,
    interval: float,
    pong_timeout: float,
) -> None:
    while not ws.closed:
        await asyncio.sleep(interval)
        connection.pong_received.clear()
        try:
            await ws.ping()
            await asyncio.wait_for(connection.pong_received.wait(), pong_timeout)
        except TimeoutError:
            LOGGER.warning("%s: no pong within %gs, closing", charge_point_id, pong_timeout)
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"ping timeout")
            return
        except ConnectionError:
            return
