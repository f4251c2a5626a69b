"""BulkInsert, the executemany the message log and the meter values are written with
(rows as tuples, only the columns that need it converted): the rows are stored as given,
in their order, and on PostgreSQL a value too long for its column is refused, not cut
short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import OcppMessage, utcnow
from ocpp_core.services.message_log import LOG_ROWS


@asynccontextmanager
async def _migrated(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with _migrated(database_url) as made:
        yield made


@pytest.fixture
async def pg_sessions(pg_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with _migrated(pg_database_url) as made:
        yield made


async def test_rows_are_stored_as_given_in_their_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    at = utcnow()
    rows = [
        (f"CP-{n % 3}", "in" if n % 2 else "out", None if n == 7 else 2, f"u{n}", "Heartbeat",
         f'[2,"u{n}","Heartbeat",{{}}]', at)
        for n in range(60)
    ]  # fmt: skip
    async with sessions.begin() as session:
        await LOG_ROWS.write(session, rows[:30])
        await LOG_ROWS.write(session, rows[30:])
    async with sessions() as session:
        stored = (await session.scalars(select(OcppMessage).order_by(OcppMessage.id))).all()
    assert [
        (m.charge_point_id, m.direction, m.message_type, m.unique_id, m.action, m.payload,
         m.created_at)
        for m in stored
    ] == rows  # fmt: skip


async def test_a_value_too_long_for_its_column_is_refused_not_cut(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = ("CP-1", "in", 2, "x" * 65, "Heartbeat", "[]", utcnow())  # unique_id: 64 at most
    with pytest.raises(DBAPIError, match="too long"):
        async with pg_sessions.begin() as session:
            await LOG_ROWS.write(session, [row])
    async with pg_sessions() as session:
        assert (await session.scalars(select(OcppMessage))).all() == []
