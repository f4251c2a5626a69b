"""`python -m webapp simulate`: simulated charge points over real WebSockets."""

from __future__ import annotations

import asyncio
import logging
import random
from urllib.parse import quote

import aiohttp

from ocpp_core.simulator import SimulatedChargePoint, SimulatorConfig
from webapp.ws_adapter import ConnectionClosed, WebSocketConnection

LOGGER = logging.getLogger(__name__)


async def run_charge_point(
    http: aiohttp.ClientSession,
    base_url: str,
    charge_point_id: str,
    config: SimulatorConfig,
    password: str | None = None,
) -> None:
    """Connect, play, and reconnect with jittered back-off whenever the link drops."""
    url = f"{base_url.rstrip('/')}/{quote(charge_point_id, safe='')}"
    headers = (
        {"Authorization": aiohttp.encode_basic_auth(charge_point_id, password)} if password else {}
    )
    backoff = 1.0
    while True:
        try:
            async with http.ws_connect(url, protocols=("ocpp1.6",), headers=headers) as ws:
                if ws.protocol != "ocpp1.6":
                    raise ConnectionClosed("server did not accept subprotocol ocpp1.6")
                backoff = 1.0
                await SimulatedChargePoint(charge_point_id, WebSocketConnection(ws), config).run()
        except (aiohttp.ClientError, ConnectionClosed, OSError, TimeoutError) as error:
            LOGGER.warning("%s: connection lost (%s), reconnecting", charge_point_id, error)
        await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
        backoff = min(backoff * 2, 60.0)


async def simulate(
    url: str,
    count: int,
    id_prefix: str,
    config: SimulatorConfig,
    duration: float | None = None,
    password: str | None = None,
) -> None:
    async with aiohttp.ClientSession() as http:
        runs = [
            run_charge_point(http, url, f"{id_prefix}{n}", config, password)
            for n in range(1, count + 1)
        ]
        gathered = asyncio.gather(*runs)
        try:
            await asyncio.wait_for(gathered, duration)
        except TimeoutError:
            pass
