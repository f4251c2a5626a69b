"""The embedded SQLite's connection: the charge points' writer runs its statements on the
event loop's thread, its COMMIT and everyone else's statements on aiosqlite's thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.group_commit import GroupCommit


async def _writer_over_a_table(
    engine: AsyncEngine,
) -> tuple[async_sessionmaker[AsyncSession], GroupCommit]:
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE tags (tag TEXT)")
    sessions = create_session_factory(engine)
    return sessions, GroupCommit(sessions)


async def test_writer_statements_run_on_the_loop_thread_and_commits_do_not(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'voltaro.db'}")
    executed: list[tuple[str, bool]] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _trace(dbapi_connection, _record) -> None:
        # SQLite calls the trace callback on the thread that runs the statement.
        sqlite = dbapi_connection.driver_connection._connection
        main = threading.main_thread()
        sqlite.set_trace_callback(
            lambda sql: executed.append((sql, threading.current_thread() is main))
        )

    sessions, writes = await _writer_over_a_table(engine)

    async def work(session: AsyncSession) -> int:
        await session.execute(text("INSERT INTO tags (tag) VALUES ('W')"))
        return (await session.execute(text("SELECT count(*) FROM tags"))).scalar_one()

    executed.clear()
    assert await writes.run(work) == 1
    on_loop = {sql: loop for sql, loop in executed}
    assert on_loop["INSERT INTO tags (tag) VALUES ('W')"] is True
    assert on_loop["SELECT count(*) FROM tags"] is True
    assert on_loop["COMMIT"] is False

    # A portal page's query, outside the writer: aiosqlite's thread, as ever.
    executed.clear()
    async with sessions() as session:
        assert (await session.execute(text("SELECT tag FROM tags"))).scalar_one() == "W"
    assert ("SELECT tag FROM tags", False) in executed

    # Both kinds at once share the one connection without getting in each other's way.
    async def read() -> str:
        async with sessions() as session:
            return (await session.execute(text("SELECT tag FROM tags"))).scalar_one()

    async def noop(session: AsyncSession) -> None:
        await session.execute(text("SELECT 1"))

    results = await asyncio.gather(
        *[read() for _ in range(20)], *[writes.run(noop) for _ in range(20)]
    )
    assert results[:20] == ["W"] * 20
    await engine.dispose()


async def test_a_failed_statement_on_the_loop_thread_rolls_back_its_batch(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'voltaro.db'}")
    sessions, writes = await _writer_over_a_table(engine)

    async def good(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO tags (tag) VALUES ('OK')"))

    async def bad(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO no_such_table VALUES (1)"))

    outcomes = await asyncio.gather(writes.run(good), writes.run(bad), return_exceptions=True)
    assert outcomes[0] is None
    assert "no_such_table" in str(outcomes[1])
    async with sessions() as session:
        tags = (await session.execute(text("SELECT tag FROM tags"))).scalars().all()
    assert tags == ["OK"]
    await engine.dispose()


async def test_work_handed_in_as_the_writer_stops_is_written(tmp_path: Path) -> None:
    """A work handed in after the writer found nothing more to do, before its task's
    callbacks ran, once waited until another work came (a charge point's BootNotification
    unanswered for minutes in a quiet test)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'voltaro.db'}")
    sessions, _ = await _writer_over_a_table(engine)
    late: list[asyncio.Future[None]] = []
    handed_in = asyncio.Event()

    async def insert(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO tags VALUES ('x')"))

    class Probe(GroupCommit):
        async def _commit(self, batch) -> None:
            await super()._commit(batch)
            if not late:
                # Runs right after this writer's last step, before its task's callbacks.
                asyncio.get_running_loop().call_soon(self._hand_in_late)

        def _hand_in_late(self) -> None:
            late.append(self.submit(insert))
            handed_in.set()

    try:
        writes = Probe(sessions)
        await writes.run(insert)
        await asyncio.wait_for(handed_in.wait(), 5)
        await asyncio.wait_for(late[0], 5)
        async with sessions() as session:
            assert (await session.scalar(text("SELECT count(*) FROM tags"))) == 2
    finally:
        await engine.dispose()
