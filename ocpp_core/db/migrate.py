"""Run the alembic migrations, from the CLI or from inside the running application."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Instances starting together on one PostgreSQL migrate one after the other, not at once.
MIGRATION_LOCK = 0x766F6C74  # "volt"
LOCK_KEY = {"key": MIGRATION_LOCK}
# The newest revision in migrations/versions (tests/test_migrations.py checks it is).
# A database already there is not handed to alembic: importing it and reading the scripts
# would delay listening after a restart, while chargers wait to reconnect.
HEAD_REVISION = "0024"


class MigrationRefused(RuntimeError):
    """A migration found data it cannot carry forward on its own, and changed nothing; its
    message names what is in the way and what to do about it."""


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # '%' would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@functools.cache
def migration_heads() -> tuple[str, ...]:
    """The newest revision(s) in migrations/ (one, unless two branches were left unmerged).
    Read once: importing alembic and reading its scripts is slow."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_heads())


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision in migrations/."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    return frozenset(script.revision for script in scripts.walk_revisions())


# Whether alembic's table is there, asked of the catalogue. Not SQLAlchemy's inspector: its
# PostgreSQL dialect memoizes reflection queries per dialect, process-wide, which keeps
# every engine's dialect (and what its events hold) alive in a process that makes many.
_VERSION_TABLE = {
    "postgresql": "SELECT to_regclass('alembic_version') IS NOT NULL",
    "sqlite": "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' "
    "AND name = 'alembic_version'",
}


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None before the first migration."""
    if not connection.execute(text(_VERSION_TABLE[connection.dialect.name])).scalar():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade_on(connection: Connection, database_url: str) -> None:
    from alembic import command

    config = alembic_config(database_url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision over the application's own engine."""
    async with engine.connect() as connection:
        at_head = await connection.run_sync(current_revision) == HEAD_REVISION
        # Alembic runs its own transactions, and on PostgreSQL builds large indexes outside
        # any (CREATE INDEX CONCURRENTLY: the running instances' writes go on meanwhile).
        await connection.commit()
        if at_head:
            return
        postgres = connection.dialect.name == "postgresql"
        sqlite = connection.dialect.name == "sqlite"
        if postgres:
            await _migration_lock(connection)
        if sqlite:
            # SQLite changes a table by copying it and dropping the old one, and a DROP
            # with foreign keys on runs their ON DELETE actions: every meter value's session
            # would be set NULL. Off (outside any transaction, where the pragma applies)
            # while migrating, then checked.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            await connection.run_sync(_upgrade_on, engine.url.render_as_string(hide_password=False))
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                await connection.rollback()
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()
            if postgres:
                await connection.rollback()  # whatever a failed migration left open
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), LOCK_KEY)
                await connection.commit()


async def _migration_lock(connection: AsyncConnection) -> None:
    """The session's advisory lock, which holds across alembic's transactions. Polled, not
    waited for in pg_advisory_lock: a CREATE INDEX CONCURRENTLY waits for every open
    transaction, a waiting instance's among them, which waits for the lock: a deadlock."""
    while True:
        locked = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), LOCK_KEY)
        await connection.commit()
        if locked:
            return
        await asyncio.sleep(0.1)
