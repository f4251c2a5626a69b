"""INSERT ... ON CONFLICT, in the dialect of the session's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An `insert(table)` that has `on_conflict_do_update` / `on_conflict_do_nothing`.

    Given a Table (not an ORM class), many rows go in one executemany: the ORM's bulk
    insert splits them by which values are None."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
