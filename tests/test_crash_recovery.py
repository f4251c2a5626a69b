"""Nothing acknowledged is lost, nothing is stored twice: the server is a separate process,
200 charge points run sessions, the server is killed with SIGKILL mid-run and restarted;
the charge points reconnect and retry what was not acknowledged, as real chargers do
(TransactionMessageAttempts). Then every acknowledged StartTransaction, StopTransaction
and meter value must be in the database exactly once, and every acknowledged CALL in the
message log."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import sys
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port
from sqlalchemy import func, select

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.models import MeterValue, OcppMessage, Transaction
from tests.server_process import ROOT, start_server, wait_until_listening

CHARGE_POINTS = 200
SESSIONS = 2
METER_VALUES = 3
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
_ids = itertools.count(1)


class Dropped(Exception):
    """The link went down before the answer came."""


@dataclass
class Message:
    """One message a charger keeps until it is acknowledged; a retry is the same message."""

    action: str
    timestamp: str
    meter: int
    payload: dict[str, Any] | None = None

    def build(self, transaction_id: int | None) -> dict[str, Any]:
        if self.action == "StartTransaction":
            return {
                "connectorId": 1,
                "idTag": "CRASH",
                "meterStart": self.meter,
                "timestamp": self.timestamp,
            }
        if self.action == "MeterValues":
            return {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [
                    {"timestamp": self.timestamp, "sampledValue": [{"value": str(self.meter)}]}
                ],
            }
        return {
            "transactionId": transaction_id,
            "meterStop": self.meter,
            "timestamp": self.timestamp,
        }


@dataclass
class QueuedChargePoint:
    id: str
    # Its pauses' jitter: seeded from the test's seed and its id, each charge point its own.
    rng: random.Random
    queue: deque[Message] = field(default_factory=deque)
    acked: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    acked_unique_ids: list[str] = field(default_factory=list)  # BootNotification's too
    transaction_id: int | None = None

    def script(self, number: int) -> None:
        seconds = itertools.count()
        meter = itertools.count(1000 * number, 37)
        actions = ["StartTransaction", *["MeterValues"] * METER_VALUES, "StopTransaction"]
        for action in actions * SESSIONS:
            moment = EPOCH + timedelta(minutes=number, seconds=next(seconds))
            timestamp = moment.isoformat().replace("+00:00", "Z")
            self.queue.append(Message(action, timestamp, next(meter)))

    async def call(self, ws: aiohttp.ClientWebSocketResponse, action: str, payload: dict) -> dict:
        unique_id = f"m{next(_ids)}"
        await ws.send_str(json.dumps([2, unique_id, action, payload]))
        while True:
            msg = await ws.receive(timeout=15)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise Dropped(msg.type.name)
            frame = json.loads(msg.data)
            if frame[0] == 3 and frame[1] == unique_id:
                self.acked_unique_ids.append(unique_id)
                return frame[2]
            if frame[0] == 4 and frame[1] == unique_id:
                raise AssertionError(f"{action} refused: {frame}")

    async def run(self, http: aiohttp.ClientSession, url: str, acks: list[int]) -> None:
        while self.queue:
            try:
                async with http.ws_connect(f"{url}/{self.id}", protocols=("ocpp1.6",)) as ws:
                    await self.call(
                        ws, "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                    )
                    while self.queue:
                        message = self.queue[0]
                        if message.payload is None:
                            message.payload = message.build(self.transaction_id)
                        answer = await self.call(ws, message.action, message.payload)
                        if message.action == "StartTransaction":
                            self.transaction_id = answer["transactionId"]
                        self.acked.append((message.action, message.payload, answer))
                        self.queue.popleft()
                        acks[0] += 1
                        await asyncio.sleep(self.rng.uniform(0.02, 0.12))
            except (Dropped, aiohttp.ClientError, OSError, TimeoutError, ConnectionError):
                await asyncio.sleep(self.rng.uniform(0.2, 0.8))  # reconnect jitter


@pytest.mark.timeout(300)
async def test_sigkill_mid_run_loses_and_duplicates_nothing(database_url, seed: int) -> None:
    port = unused_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "SECRET_KEY": "crash",
        "LOG_LEVEL": "ERROR",
        "RATE_LIMIT": "0",
        "WS_PING_INTERVAL": "0",
    }
    add_tag = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webapp", "id-tag", "add", "CRASH", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await add_tag.wait() == 0
    server = start_server(env)
    charge_points = []
    for number in range(1, CHARGE_POINTS + 1):
        cp = QueuedChargePoint(f"CRASH{number}", random.Random(f"{seed}-{number}"))
        cp.script(number)
        charge_points.append(cp)
    total = sum(len(cp.queue) for cp in charge_points)
    acks = [0]
    try:
        await wait_until_listening(port)
        url = f"ws://127.0.0.1:{port}/ocpp"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            runs = asyncio.gather(*(cp.run(http, url, acks) for cp in charge_points))
            for _ in range(1200):  # kill it mid-run
                if acks[0] >= total * 0.4:
                    break
                await asyncio.sleep(0.05)
            assert acks[0] < total, "the run finished before the kill"
            server.send_signal(signal.SIGKILL)
            server.wait()
            acked_at_kill = acks[0]
            server = start_server(env)
            await asyncio.wait_for(runs, 240)
        assert 0 < acked_at_kill < total
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            for cp in charge_points:
                assert not cp.queue
                for action, payload, answer in cp.acked:
                    if action == "StartTransaction":
                        rows = (
                            await session.scalars(
                                select(Transaction).where(
                                    Transaction.charge_point_id == cp.id,
                                    Transaction.meter_start == payload["meterStart"],
                                )
                            )
                        ).all()
                        assert [r.id for r in rows] == [answer["transactionId"]], (cp.id, payload)
                    elif action == "StopTransaction":
                        tx = await session.get(Transaction, payload["transactionId"])
                        assert tx is not None and tx.charge_point_id == cp.id
                        assert tx.meter_stop == payload["meterStop"] and tx.stop_time is not None
                    else:
                        sample = payload["meterValue"][0]
                        count = await session.scalar(
                            select(func.count())
                            .select_from(MeterValue)
                            .where(
                                MeterValue.charge_point_id == cp.id,
                                MeterValue.value == sample["sampledValue"][0]["value"],
                                MeterValue.transaction_id == payload["transactionId"],
                            )
                        )
                        assert count == 1, (cp.id, payload, count)
                logged = set(
                    await session.scalars(
                        select(OcppMessage.unique_id).where(
                            OcppMessage.charge_point_id == cp.id,
                            OcppMessage.direction == "in",
                            OcppMessage.message_type == 2,
                        )
                    )
                )
                # Stored in the transaction of the data it brought, before its answer.
                assert set(cp.acked_unique_ids) <= logged, (cp.id, cp.acked_unique_ids)
            transactions = await session.scalar(select(func.count()).select_from(Transaction))
            assert transactions == CHARGE_POINTS * SESSIONS  # no session born twice
            values = await session.scalar(select(func.count()).select_from(MeterValue))
            assert values == CHARGE_POINTS * SESSIONS * METER_VALUES
    finally:
        await engine.dispose()
