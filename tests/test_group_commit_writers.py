"""The group commit's writers on PostgreSQL: one transaction under way while they are
short, so that what comes meanwhile shares the next (fewer, larger transactions); another
as soon as the running one is held up, so a charger whose write waits for a lock does not
hold up every other charger."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.group_commit import GroupCommit
from tests.helpers import PG_HOST, PG_PORT, PG_USER
from webapp.keys import SERVICES


@pytest.fixture
def database_url(pg_database_url: str) -> str:
    """PostgreSQL only (SQLite has one writer): conftest's client and connect on it."""
    return pg_database_url


async def _transaction_id(session: AsyncSession) -> int:
    return (await session.execute(text("SELECT txid_current()"))).scalar_one()


async def test_works_that_come_while_a_transaction_is_written_share_the_next(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    writes = GroupCommit(create_session_factory(engine), writers=4, stall=5.0)

    async def slow(session: AsyncSession) -> int:
        await session.execute(text("SELECT pg_sleep(0.3)"))
        return await _transaction_id(session)

    try:
        first = writes.submit(slow)
        later = []
        for _ in range(4):
            # Each comes while the one before could have had a transaction of its own.
            await asyncio.sleep(0.03)
            later.append(writes.submit(_transaction_id))
        first_id = await first
        later_ids = set(await asyncio.gather(*later))
        assert len(later_ids) == 1, f"{len(later_ids)} transactions for four works"
        assert later_ids != {first_id}
    finally:
        await writes.drain()
        await engine.dispose()


async def test_a_charger_held_up_by_a_lock_does_not_hold_up_the_others(
    client, connect, database_url: str
) -> None:
    for charge_point_id in ("CP-HELD", "CP-FREE"):
        await client.app[SERVICES].charge_points.register(charge_point_id)
    held = await connect("CP-HELD")
    free = await connect("CP-FREE")
    # An operator's transaction holding CP-HELD's row, as a removal would.
    lock = await asyncpg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        database=urlsplit(database_url).path.lstrip("/"),
    )
    try:
        await held.boot()
        await free.boot()
        locking = lock.transaction()
        await locking.start()
        await lock.execute("SELECT 1 FROM charge_points WHERE id = 'CP-HELD' FOR UPDATE")
        await held.send_raw(json.dumps([2, "held-1", "Heartbeat", {}]))
        assert await held.nothing_within(0.3)  # its write waits for the lock

        frame = await free.call("Heartbeat", {})
        assert frame[0] == 3, frame
        assert await held.nothing_within(0.1)

        await locking.rollback()
        frame = await held.receive()
        assert frame[:2] == [3, "held-1"], frame
    finally:
        await lock.close()
