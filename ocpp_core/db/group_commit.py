"""Group commit: the database work of many charge point messages in one transaction.

Each message's work is a function of a session. Works that arrive while a transaction is
being written wait for the next one, which takes them all: at low load every message is
written at once, under load a commit (and, on SQLite, every page it touches) is shared by
many. Each caller returns only once the commit that holds its work is done, so an
answer is still never sent before the data it acknowledges is stored.

The most frequent writes (meter values, status notifications, heartbeats) are `Batched`:
all of a kind in a transaction are written by one call of their class's `write_all`, a few
statements for all of them rather than a few each; everything else is a function of the
session, run in turn.

A work must touch only the session it is given, and have no effect outside the database
(events are published by the caller, after): if any work of a transaction fails, the
transaction is rolled back and every work in it is run again on its own, so one bad
message costs the others nothing but time. Works of one transaction come from different
charge points (each has one CALL outstanding, answered after the commit), so the order in
which they are written among themselves does not matter.

`add_to_each_transaction(source)` adds a work of the source's to every transaction: the
message log's entries share the commits of the messages they record: a transaction of
their own would hold SQLite's one connection while every charge point's write waited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.engine import once_more_if_reconnected
from ocpp_core.db.sqlite_loop import on_loop_thread

T = TypeVar("T")


class Batched(Protocol[T]):
    """A write whose class writes all of its kind in a transaction at once; each one's
    result is a `T`."""

    batched: ClassVar[bool]

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[Any]) -> list[T]:
        """Write `items` (all of this class); return each one's result, in order."""
        ...


Work = Callable[[AsyncSession], Awaitable[T]] | Batched[T]
# What a rider hands in: a work and the future its commit settles, or None for nothing.
ExtraWork = Callable[[], tuple[Work[Any], asyncio.Future[Any]] | None]
# Told of each transaction written: how many works it held, and how long it took.
OnCommit = Callable[[int, float], None]


class GroupCommit:
    """Up to `writers` transactions may be under way at once: one for SQLite (one
    connection), a few for PostgreSQL. There one writer is started at a time, and another
    only while every running one has been in its transaction for more than `stall`
    seconds: fewer, larger transactions cost less per message (each has its BEGIN, its
    reads and its COMMIT), and a writer held up by a lock (an operator removing a charge
    point) or a slow statement does not hold up every charger. Works of different charge
    points touch different rows, so writers do not contend."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        writers: int = 1,
        max_batch: int = 500,
        stall: float = 0.02,
        on_commit: OnCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_writers = writers
        self._max_batch = max_batch
        self._stall = stall
        self._waiting: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        # Each running writer, with the loop time its current transaction began.
        self._writers: dict[asyncio.Task[None], float] = {}
        self._extra: ExtraWork | None = None
        self._on_commit = on_commit

    def add_to_each_transaction(self, source: ExtraWork) -> None:
        """Call `source` as each transaction is formed; what it returns is written in it."""
        self._extra = source

    async def run(self, work: Work[T]) -> T:
        """Run `work` in the next transaction; return its result once that is committed."""
        # Shielded: a caller that goes away (its socket closed) must not cancel a
        # transaction that holds other callers' work.
        return await asyncio.shield(self.submit(work))

    def submit(self, work: Work[T]) -> asyncio.Future[T]:
        """Hand `work` in for the next transaction: the future settles at its commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiting.append((work, future))
        now = loop.time()
        if self._writer_due(now):
            self._writers[loop.create_task(self._write())] = now
        return future

    def _writer_due(self, now: float) -> bool:
        if not self._writers:
            return True
        if len(self._writers) >= self._max_writers:
            return False
        return all(now - began > self._stall for began in self._writers.values())

    async def _write(self) -> None:
        batch: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        me = asyncio.current_task()
        assert me is not None  # a writer is a task of its own
        loop = asyncio.get_running_loop()
        try:
            # Short, indexed statements: on SQLite cheaper run where they are made.
            with on_loop_thread():
                while self._waiting:
                    self._writers[me] = loop.time()
                    batch = self._waiting[: self._max_batch]
                    del self._waiting[: self._max_batch]
                    extra = self._extra() if self._extra is not None else None
                    if extra is not None:
                        # Last: what it carries came after the works already waiting
                        # (the message log's own flush among them), and is written after.
                        batch.append(extra)
                    began = loop.time()
                    await self._commit(batch)
                    if self._on_commit is not None:
                        self._on_commit(len(batch), loop.time() - began)
        except BaseException:
            # Cancelled at shutdown: nobody may wait for a commit that will not come.
            for _, future in batch + self._waiting:
                _settle(future, error=ConnectionAbortedError("database writer stopped"))
            self._waiting.clear()
            raise
        finally:
            # Gone from the writers the moment it stops looking for work, not when its
            # task's done callbacks run: a work handed in between would find a writer
            # that will never take it, and wait until someone else's work came.
            self._writers.pop(me, None)

    async def _commit(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> None:
        try:
            results = await once_more_if_reconnected(lambda: self._transaction(batch))
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            # Which one failed is not known: each on its own now.
            for one in batch:
                await self._commit([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)

    async def _transaction(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self._sessions.begin() as session:
            return await _write(session, [work for work, _ in batch])

    async def drain(self) -> None:
        """Wait until everything handed in is written (on shutdown, before disposal)."""
        while self._writers:
            await asyncio.wait(list(self._writers))


async def write_one(session: AsyncSession, work: Work[T]) -> T:
    """Write one work, batched or not, in `session` (inside another work)."""
    result: T = (await _write(session, [work]))[0]
    return result


async def _write(session: AsyncSession, works: list[Work[Any]]) -> list[Any]:
    results: list[Any] = [None] * len(works)
    kinds: dict[type[Batched[Any]], list[int]] = {}
    for index, work in enumerate(works):
        # Told apart by the flag, cheaper than isinstance(work, Batched); the casts say so.
        if getattr(work, "batched", False):
            kinds.setdefault(cast("type[Batched[Any]]", type(work)), []).append(index)
        else:
            results[index] = await cast("Callable[[AsyncSession], Awaitable[Any]]", work)(session)
    for kind, indexes in kinds.items():
        written = await kind.write_all(session, [works[i] for i in indexes])
        for index, result in zip(indexes, written, strict=True):
            results[index] = result
    return results


def _settle(
    future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
