"""Engine and session factory for the configured database."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from ocpp_core.db import bulk, outbox, sqlite_loop

T = TypeVar("T")


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        # One connection: SQLite allows one writer, and queueing in the pool is kinder than
        # "database is locked" errors when many charge points write at once.
        # The connection can run the charge points' writes on the loop's thread (sqlite_loop).
        engine = create_async_engine(
            database_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            async_creator=sqlite_loop.connector(lambda: engine),
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(
            dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    engine = create_async_engine(database_url, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    if engine.dialect.driver == "asyncpg":
        bulk.copy_rows(engine)
    return engine


# Before a pooled connection is lent it is checked (the database may have restarted, or
# something between dropped it), except to the charge points' writers when it was in use
# less than this long ago: asyncpg's ping is three round trips (BEGIN, ";", ROLLBACK), too
# many for every group commit's transaction. A writer that meets a dead connection runs its
# work again (`once_more_if_reconnected`); everyone else (portal, API, operations journal)
# gets one checked, so an operator's request right after a database restart does not fail.
PING_AFTER_IDLE_SECONDS = 10.0
_RUNS_AGAIN_IF_DROPPED: ContextVar[bool] = ContextVar("runs_again_if_dropped", default=False)


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _idle_from(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_unless_in_use(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        # SQLAlchemy runs this in a greenlet that shares the calling task's context.
        if _RUNS_AGAIN_IF_DROPPED.get():
            idle_since = record.info.get("idle_since")
            if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
                return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards it and lends another (SQLAlchemy's pessimistic handling).
            raise DisconnectionError("pooled connection found dead") from error


# PostgreSQL's codes for a transaction it chose to abort so that others could go on.
_ABORTED_FOR_OTHERS = frozenset({"40P01", "40001"})  # deadlock_detected, serialization


def aborted_for_others(error: BaseException) -> bool:
    """PostgreSQL aborted the transaction for a deadlock (or a serialization failure):
    nothing of it was written, and it may run again."""
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and code in _ABORTED_FOR_OTHERS


def _connection_lost(error: BaseException) -> bool:
    """The database dropped the connection under a statement: SQLAlchemy has invalidated
    the pool, and the same work may run again at once on a new connection."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


async def once_more_if_reconnected(transaction: Callable[[], Awaitable[T]]) -> T:
    """Run `transaction` (a whole transaction of the caller's); if the database dropped
    the connection under it (a restart, a failover), run it once more on a new one."""
    token = _RUNS_AGAIN_IF_DROPPED.set(True)
    try:
        try:
            return await transaction()
        except Exception as error:
            if not _connection_lost(error):
                raise
        return await transaction()
    finally:
        _RUNS_AGAIN_IF_DROPPED.reset(token)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions write the events recorded in them (`outbox`)."""
    assert outbox.OUTBOX_LOCK  # its listeners are installed on import
    return async_sessionmaker(engine, expire_on_commit=False)
