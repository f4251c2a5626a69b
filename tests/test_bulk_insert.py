"""BulkInsert, the executemany the message log and the meter values are written with
(rows as tuples, only the columns that need it converted): the rows are stored as given,
in their order, and on PostgreSQL a value too long for its column is refused, not cut
short. On PostgreSQL more than one row goes by COPY, inside the caller's transaction and
with SQLAlchemy's errors: a dropped connection is invalidated and the work run again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.engine import create_engine, create_session_factory, once_more_if_reconnected
from ocpp_core.db.migrate import upgrade
from ocpp_core.db.models import MeterValue, OcppMessage, utcnow
from ocpp_core.services.message_log import LOG_ROWS
from ocpp_core.services.meter_samples import METER_VALUE_ROWS
from tests.helpers import terminate_backends


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


def _log_rows(count: int, unique_id: str = "u") -> list[tuple]:
    return [("CP-1", "in", 2, unique_id, "Heartbeat", "[]", utcnow()) for _ in range(count)]


async def _stored(sessions: async_sessionmaker[AsyncSession], model: type) -> list:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


@pytest.mark.parametrize("rows", [1, 3], ids=["INSERT", "COPY"])
async def test_a_value_too_long_for_its_column_is_refused_not_cut(
    pg_sessions: async_sessionmaker[AsyncSession], rows: int
) -> None:
    good = _log_rows(rows - 1)
    bad = _log_rows(1, unique_id="x" * 65)  # unique_id: 64 at most
    with pytest.raises(DBAPIError, match="too long") as refused:
        async with pg_sessions.begin() as session:
            await LOG_ROWS.write(session, good + bad)
    # The path the rows took: PostgreSQL's context of the error names the COPY and its row.
    context = getattr(refused.value.orig.__cause__, "context", None)
    assert context == ("COPY ocpp_messages, line 3, column unique_id" if rows > 1 else None)
    assert await _stored(pg_sessions, OcppMessage) == []


async def test_rows_copied_first_in_a_transaction_go_with_its_rollback(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The COPY opens the transaction itself when it is the first statement in it: sent
    before SQLAlchemy's BEGIN, it would be committed whatever became of the rest."""
    async with pg_sessions() as session:
        async with session.begin():
            await LOG_ROWS.write(session, _log_rows(5))
            await session.rollback()
    assert await _stored(pg_sessions, OcppMessage) == []
    async with pg_sessions.begin() as session:
        await LOG_ROWS.write(session, _log_rows(5))
    assert len(await _stored(pg_sessions, OcppMessage)) == 5


async def test_copied_rows_of_an_unknown_charge_point_are_an_integrity_error(
    pg_sessions: async_sessionmaker[AsyncSession],
) -> None:
    at = utcnow()
    sample = (at, "10", "Energy.Active.Import.Register", "Wh", None, None, None, None)
    rows = [("CP-NONE", 1, None, None, *sample, "meter", None, at, None)] * 2
    with pytest.raises(IntegrityError, match="foreign key"):
        async with pg_sessions.begin() as session:
            await METER_VALUE_ROWS.write(session, rows)
    assert await _stored(pg_sessions, MeterValue) == []


@pytest.mark.parametrize("dropped", ["by PostgreSQL", "as the COPY is sent"])
async def test_a_copy_on_a_dropped_connection_is_run_again_on_a_new_one(
    pg_sessions: async_sessionmaker[AsyncSession], dropped: str
) -> None:
    attempts = []

    async def transaction() -> None:
        async with pg_sessions.begin() as session:
            backend = await session.scalar(text("SELECT pg_backend_pid()"))
            attempts.append(backend)
            if len(attempts) == 1 and dropped == "by PostgreSQL":  # a restart, a failover
                assert await terminate_backends(f"pid = {backend}") == 1
            elif len(attempts) == 1:
                # Gone with nothing awaited before the COPY: the driver learns it there.
                raw = await (await session.connection()).get_raw_connection()
                raw.driver_connection.terminate()
            await LOG_ROWS.write(session, _log_rows(4))

    await once_more_if_reconnected(transaction)
    assert len(attempts) == 2 and attempts[0] != attempts[1]
    assert len(await _stored(pg_sessions, OcppMessage)) == 4
