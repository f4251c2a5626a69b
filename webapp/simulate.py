"""`python -m webapp simulate`: simulated charge points over real WebSockets, OCPP 1.6J
(`simulator.v16`) or 2.0.1 (`simulator.v201`)."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from urllib.parse import quote

import aiohttp

from simulator.common import SimulatorConfig
from simulator.v16 import SimulatedChargePoint
from simulator.v201 import SimulatedChargingStation
from webapp.ws_adapter import ConnectionClosed, WebSocketConnection

LOGGER = logging.getLogger(__name__)

SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
VERSIONS = ("1.6", "2.0.1", "mixed")


def version_of(ocpp: str, number: int) -> str:
    """The OCPP version charge point `number` (from 1) speaks: mixed alternates, odd
    numbers 1.6 and even ones 2.0.1."""
    if ocpp == "mixed":
        return "1.6" if number % 2 else "2.0.1"
    return ocpp


def id_tag_of(prefix: str, number: int) -> str:
    """Charge point `number`'s own id tag for its local sessions, e.g. SIMTAG3."""
    return f"{prefix}{number}"


async def run_charge_point(
    http: aiohttp.ClientSession,
    base_url: str,
    charge_point_id: str,
    config: SimulatorConfig,
    password: str | None = None,
    ocpp: str = "1.6",
) -> None:
    """Connect, play, and reconnect with jittered back-off whenever the link drops. A 2.0.1
    station is one across connections: it reconnects at once after a reset, and with the
    password the CSMS set it (SecurityCtrlr.BasicAuthPassword) once it has one."""
    subprotocol = SUBPROTOCOLS[ocpp]
    url = f"{base_url.rstrip('/')}/{quote(charge_point_id, safe='')}"
    station: SimulatedChargingStation | None = None
    backoff = 1.0
    try:
        while True:
            rebooted = False
            key = (station.basic_auth_password if station else None) or password
            headers = (
                {"Authorization": aiohttp.encode_basic_auth(charge_point_id, key)} if key else {}
            )
            try:
                async with http.ws_connect(url, protocols=(subprotocol,), headers=headers) as ws:
                    if ws.protocol != subprotocol:
                        raise ConnectionClosed(f"server did not accept subprotocol {subprotocol}")
                    backoff = 1.0
                    connection = WebSocketConnection(ws)
                    if ocpp == "1.6":
                        await SimulatedChargePoint(charge_point_id, connection, config).run()
                    else:
                        if station is None:
                            station = SimulatedChargingStation(
                                charge_point_id,
                                connection,
                                config,
                                reconnects=True,
                                # Basic auth over TLS is profile 2; without TLS, profile 1.
                                security_profile=2 if base_url.startswith("wss") else 1,
                            )
                        else:
                            station.reconnect(connection)
                        rebooted = await station.run()
            except (aiohttp.ClientError, ConnectionClosed, OSError, TimeoutError) as error:
                LOGGER.warning("%s: connection lost (%s), reconnecting", charge_point_id, error)
            if rebooted:
                LOGGER.info("%s: rebooting", charge_point_id)
                continue
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 60.0)
    finally:
        if station is not None:
            station.close()


async def simulate(
    url: str,
    count: int,
    id_prefix: str,
    config: SimulatorConfig,
    duration: float | None = None,
    password: str | None = None,
    ocpp: str = "1.6",
) -> None:
    """Charge points `id_prefix`1..`count`, each with its own id tag: `config.id_tag` is
    the prefix (charge point 2 of SIMTAG: SIMTAG2). `ocpp`: 1.6, 2.0.1 or mixed."""
    async with aiohttp.ClientSession() as http:
        runs = [
            run_charge_point(
                http,
                url,
                f"{id_prefix}{n}",
                replace(config, id_tag=id_tag_of(config.id_tag, n)),
                password,
                version_of(ocpp, n),
            )
            for n in range(1, count + 1)
        ]
        gathered = asyncio.gather(*runs)
        try:
            await asyncio.wait_for(gathered, duration)
        except TimeoutError:
            pass


def id_tag_hint(prefix: str, count: int) -> str:
    """What to add so that the local sessions of charge points 1..`count` are accepted."""
    first, last = id_tag_of(prefix, 1), id_tag_of(prefix, count)
    if count == 1:
        return (
            f"local sessions use id tag {first}; if the central system does not have it, "
            f"add it: python -m webapp id-tag add {first}"
        )
    return (
        f"local sessions use id tags {first} to {last}, one per charge point; add those the "
        f"central system does not have: python -m webapp id-tag add {first} (and so on); "
        "a charge point whose tag is refused says why"
    )
