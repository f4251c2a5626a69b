"""aiosqlite's connection, able to run statements on the event loop's own thread.

aiosqlite hands every call (cursor, execute, fetch, close) to its worker thread and back,
which costs more CPU than a short statement itself, and one message makes many calls.
Inside `on_loop_thread()` (the charge points' writer: short, indexed statements) calls run
where they are made instead; COMMIT still goes to the thread, since that is where SQLite
checkpoints its WAL and syncs the file, which may take milliseconds the other connections
must not wait for. Outside it (portal pages, reports, exports) every call takes the thread,
so a heavy query never stops the charge points' loop.

The pool holds one connection and lends it to one holder at a time, whose calls follow
one another, so the sqlite3 connection is never used from both threads at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine

_ON_LOOP_THREAD: ContextVar[bool] = ContextVar("sqlite_on_loop_thread", default=False)


@contextmanager
def on_loop_thread() -> Iterator[None]:
    """SQLite calls made in this block (in this task) run on the loop's thread."""
    token = _ON_LOOP_THREAD.set(True)
    try:
        yield
    finally:
        _ON_LOOP_THREAD.reset(token)


class LoopThreadConnection(aiosqlite.Connection):
    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _ON_LOOP_THREAD.get() and self._connection is not None and self._running:
            if fn != self._connection.commit:
                return fn(*args, **kwargs)
        # aiosqlite leaves its private `_execute` unannotated.
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


def connector(engine: Callable[[], AsyncEngine]) -> Callable[[], Awaitable[LoopThreadConnection]]:
    """`async_creator` for `create_async_engine`: the connection the aiosqlite dialect
    would open (same arguments, from `engine()`'s URL), as a LoopThreadConnection."""

    async def connect() -> LoopThreadConnection:
        current = engine()
        # The dialect's positional arguments are the one file name (or URI).
        (database,), kwargs = current.dialect.create_connect_args(current.url)
        # Used from the loop's thread and aiosqlite's, one after the other.
        kwargs["check_same_thread"] = False
        connection = LoopThreadConnection(lambda: sqlite3.connect(database, **kwargs), 64)
        connection._thread.daemon = True  # as the dialect does: never hold up exit
        await connection  # starts its thread and opens the file
        return connection

    return connect
