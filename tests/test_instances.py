"""Several `python -m webapp` processes on one PostgreSQL, as a PaaS scales the web process:
a charge point on instance A, an operation posted to instance B and answered through B, B's
live events showing A's charge point, and A killed: its charge point shows offline on B
within the instance ttl and reconnects to B."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from tests.helpers import basic, eventually, read_events
from tests.ocpp_client import RawChargePoint
from tests.server_process import server_env, start_server, stop, wait_until_listening

ADMIN = basic("admin", "admin-password")
TTL = 3


class Instance:
    def __init__(self, database_url: str) -> None:
        self.port = unused_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = server_env(
            database_url,
            self.port,
            INSTANCE_TTL=str(TTL),
            CALL_TIMEOUT="5",
            ADMIN_USER="admin",
            ADMIN_PASSWORD="admin-password",
        )
        self.process: subprocess.Popen = start_server(env)

    async def connected(self, http: aiohttp.ClientSession, charge_point_id: str) -> bool:
        async with http.get(f"{self.base}/api/charge-points/{charge_point_id}") as response:
            return response.status == 200 and (await response.json())["connected"]

    async def post(self, http: aiohttp.ClientSession, path: str, body: dict) -> tuple[int, dict]:
        async with http.post(self.base + path, json=body) as response:
            return response.status, await response.json()


@pytest.fixture
async def two(pg_database_url: str) -> AsyncIterator[tuple[Instance, Instance]]:
    # Started together, as a platform scales out: they migrate and create ADMIN_USER at once.
    a, b = Instance(pg_database_url), Instance(pg_database_url)
    try:
        await asyncio.gather(wait_until_listening(a.port), wait_until_listening(b.port))
        yield a, b
    finally:
        stop(a.process)
        stop(b.process)


async def connect(http: aiohttp.ClientSession, instance: Instance, cp_id: str) -> RawChargePoint:
    ws = await http.ws_connect(
        f"ws://127.0.0.1:{instance.port}/ocpp/{cp_id}", protocols=("ocpp1.6",)
    )
    cp = RawChargePoint(ws)
    assert (await cp.boot())["status"] == "Accepted"
    return cp


async def test_operations_and_events_cross_instances_and_survive_one_dying(two) -> None:
    a, b = two
    async with aiohttp.ClientSession(headers=ADMIN) as http, aiohttp.ClientSession() as chargers:
        cp = await connect(chargers, a, "CP-1")
        await eventually(lambda: b.connected(http, "CP-1"))

        async with http.get(f"{b.base}/events") as stream:
            # A's charge point changes status: B's dashboard shows it live.
            await cp.status(1, "Charging")
            while "Charging" not in (row := await read_events(stream, "cp-CP-1", timeout=10)):
                pass
            assert 'id="cp-CP-1"' in row

            # An operation posted to B reaches the charge point on A; its answer comes back.
            asked = asyncio.create_task(
                b.post(http, "/api/charge-points/CP-1/remote-start", {"id_tag": "TAG-1"})
            )
            frame = await cp.expect_call("RemoteStartTransaction", timeout=10)
            assert frame[3]["idTag"] == "TAG-1"
            await cp.answer(frame, {"status": "Accepted"})
            assert await asked == (200, {"status": "Accepted"})

            # A dies without a word. Its charger's link drops; B shows it offline once
            # A's presence has expired (the ttl), live on its dashboard too.
            a.process.send_signal(signal.SIGKILL)
            a.process.wait()
            closed = await cp.ws.receive(timeout=10)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                   aiohttp.WSMsgType.ERROR)  # fmt: skip
            while "Offline" not in await read_events(stream, "cp-CP-1", timeout=TTL * 4):
                pass
            assert not await b.connected(http, "CP-1")
            status, body = await b.post(http, "/api/charge-points/CP-1/reset", {"type": "Soft"})
            assert status == 409, body

            # The charger reconnects, through the load balancer, to B.
            cp = await connect(chargers, b, "CP-1")
            await eventually(lambda: b.connected(http, "CP-1"))
            asked = asyncio.create_task(
                b.post(http, "/api/charge-points/CP-1/reset", {"type": "Soft"})
            )
            frame = await cp.expect_call("Reset", timeout=10)
            await cp.answer(frame, {"status": "Accepted"})
            assert await asked == (200, {"status": "Accepted"})
        await cp.ws.close()
