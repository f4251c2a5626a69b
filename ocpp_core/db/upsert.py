"""INSERT ... ON CONFLICT, in the dialect of the session's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def _dialect_insert_of(name: str) -> Callable[[Any], Any]:
    return postgresql.insert if name == "postgresql" else sqlite.insert


def per_dialect(build: Callable[[Callable[[Any], Any]], T]) -> Callable[[AsyncSession], T]:
    """`build(insert)`, made once per dialect, `insert` being the session's dialect's (it
    has `on_conflict_do_update` / `on_conflict_do_nothing`; given a Table, not an ORM
    class, many rows go in one executemany). For statements of every batch on the hot
    path: an upsert's `excluded` columns alone cost more to build than its rows to bind."""
    built: dict[str, T] = {}

    def statement(session: AsyncSession) -> T:
        name = session.get_bind().dialect.name
        if name not in built:
            built[name] = build(_dialect_insert_of(name))
        return built[name]

    return statement
