"""Engine and session factory for the configured database."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ocpp_core.db import sqlite_loop


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
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    return create_async_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
