"""How long a charge point's write waits while retention prunes, on SQLite.

A SQLite file built by Voltaro's migrations gets `--rows` message log frames older than
RETAIN_MESSAGE_LOG_DAYS. A heartbeat-sized write (one UPDATE of the charge point, through
the group commit as a Heartbeat's is) is made every 5 ms, first with nothing else going
on, then while `Retention.prune` removes those frames in its batches, then (with
`--one-statement`) while one DELETE removes them all at once, as a prune without batches
would. It prints each phase's write latency (median, 99th percentile, worst) and how fast
the prune went.

    python bench/prune_latency.py [--rows 200000] [--one-statement]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, update

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import ChargePoint, OcppMessage, utcnow
from ocpp_core.events import EventBus
from ocpp_core.services import Services
from ocpp_core.settings import Settings

CHARGE_POINT = "BENCH1"
WRITE_EVERY = 0.005


def seed(path: str, rows: int) -> None:
    """Old frames, written as the message log stores them."""
    old = (datetime.now(UTC) - timedelta(days=60)).replace(tzinfo=None)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO ocpp_messages (charge_point_id, direction, message_type, unique_id,"
        " action, payload, created_at) VALUES (?, 'in', 2, ?, 'MeterValues', ?, ?)",
        (
            (CHARGE_POINT, f"m{n}", '[2,"m","MeterValues",{"connectorId":1}]' * 20,
             (old + timedelta(microseconds=n)).isoformat(" ", "microseconds"))
            for n in range(rows)
        ),
    )  # fmt: skip
    db.execute("COMMIT")
    db.close()


async def heartbeats(services: Services, until: asyncio.Event) -> list[float]:
    """Latency (ms) of each heartbeat-sized write until `until` is set."""

    async def work(session):
        await session.execute(
            update(ChargePoint)
            .where(ChargePoint.id == CHARGE_POINT)
            .values(last_heartbeat_at=utcnow())
        )

    latencies = []
    while not until.is_set():
        began = time.perf_counter()
        await services.writes.run(work)
        latencies.append((time.perf_counter() - began) * 1000)
        await asyncio.sleep(WRITE_EVERY)
    return latencies


def line(name: str, latencies: list[float], extra: str = "") -> str:
    cut = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return (
        f"{name:<24} writes {len(latencies):>5}  median {statistics.median(latencies):6.2f} ms"
        f"  p99 {cut:7.2f} ms  worst {max(latencies):8.2f} ms{extra}"
    )


async def phase(services: Services, during) -> tuple[list[float], float]:
    done = asyncio.Event()
    writes = asyncio.create_task(heartbeats(services, done))
    began = time.perf_counter()
    await during()
    took = time.perf_counter() - began
    done.set()
    return await writes, took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--one-statement", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        engine = create_engine(url)
        await upgrade(engine)
        settings = Settings(database_url=url, secret_key="bench", retain_message_log_days=30)
        sessions = create_session_factory(engine)
        services = Services.create(sessions, EventBus(), settings)
        await services.charge_points.register(CHARGE_POINT)
        await engine.dispose()
        seed(path, args.rows)
        print(f"SQLite, {args.rows:,} message log frames older than the cut-off")

        latencies, _ = await phase(services, lambda: asyncio.sleep(2))
        print(line("idle", latencies))
        latencies, took = await phase(services, services.retention.prune)
        rate = f"  prune {took:5.1f} s, {args.rows / took:,.0f} rows/s"
        print(line("batched prune", latencies, rate))
        if args.one_statement:
            seed(path, args.rows)
            cutoff = datetime.now(UTC) - timedelta(days=30)

            async def one_delete() -> None:
                async with sessions.begin() as session:
                    await session.execute(
                        delete(OcppMessage).where(OcppMessage.created_at < cutoff)
                    )

            latencies, took = await phase(services, one_delete)
            print(line("one DELETE", latencies, f"  delete {took:5.1f} s"))
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
