"""INSERT ... ON CONFLICT, in the dialect of the session's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def _dialect_insert_of(name: str) -> Callable[[Any], Any]:
    return postgresql.insert if name == "postgresql" else sqlite.insert


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An `insert(table)` that has `on_conflict_do_update` / `on_conflict_do_nothing`.

    Given a Table (not an ORM class), many rows go in one executemany: the ORM's bulk
    insert splits them by which values are None."""
    return _dialect_insert_of(session.get_bind().dialect.name)(table)


def per_dialect(build: Callable[[Callable[[Any], Any]], T]) -> Callable[[AsyncSession], T]:
    """`build(insert)`, the statement made with that dialect's `insert`, made once per
    dialect: statements written with every batch of the hot path (an upsert's `excluded`
    columns alone cost more to build than the batch's rows to bind)."""
    built: dict[str, T] = {}

    def statement(session: AsyncSession) -> T:
        name = session.get_bind().dialect.name
        if name not in built:
            built[name] = build(_dialect_insert_of(name))
        return built[name]

    return statement
