"""The alembic migrations build exactly the schema the models describe, on both databases,
the newest one can be undone and done again, and start-up runs them only when needed."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from ocpp_core.db.engine import create_engine
from ocpp_core.db.migrate import (
    HEAD_REVISION,
    PROJECT_ROOT,
    alembic_config,
    current_revision,
    upgrade,
)
from ocpp_core.db.models import Base

# On SQLite every test here starts from an empty file and migrates it itself.
pytestmark = pytest.mark.unmigrated


async def test_migrations_build_the_models_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert differences == []


def _indexes(table: str) -> Callable[[Connection], dict[str, list[str]]]:
    """The table's indexes, by name, with their columns."""
    return lambda sync: {
        index["name"]: index["column_names"] for index in inspect(sync).get_indexes(table)
    }


# meter_values' one index since 0015.
METER_VALUES_INDEXES = {
    "ix_meter_values_charge_point": ["charge_point_id", "transaction_id", "timestamp"]
}


def _migrate(database_url: str, direction: str, target: str) -> Callable[[Connection], None]:
    def step(sync: Connection) -> None:
        # Alembic's own transactions, as at start-up: on PostgreSQL 0015 builds its index
        # outside any.
        sync.commit()
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        getattr(command, direction)(config, target)

    return step


async def test_the_open_session_index_can_be_undone_and_redone(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    indexes = _indexes("transactions")
    async with engine.connect() as connection:
        assert "ix_transactions_tag_active" in await connection.run_sync(indexes)
        await connection.run_sync(_migrate(database_url, "downgrade", "0011"))
        after = await connection.run_sync(indexes)
        assert "ix_transactions_tag_active" not in after
        assert "ix_transactions_id_tag" in after
        await connection.run_sync(_migrate(database_url, "upgrade", "head"))
        assert "ix_transactions_tag_active" in await connection.run_sync(indexes)
    await engine.dispose()


async def test_the_meter_values_index_can_be_undone_and_redone(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    indexes = _indexes("meter_values")
    async with engine.connect() as connection:
        assert await connection.run_sync(indexes) == METER_VALUES_INDEXES
        await connection.run_sync(_migrate(database_url, "downgrade", "0014"))
        assert set(await connection.run_sync(indexes)) == {
            "ix_meter_values_transaction",
            "ix_meter_values_unlinked",
        }
        await connection.run_sync(_migrate(database_url, "upgrade", "head"))
        assert await connection.run_sync(indexes) == METER_VALUES_INDEXES
    await engine.dispose()


async def test_instances_upgrading_together_take_turns(pg_database_url: str) -> None:
    """Started together on a database one revision behind, as a platform scales out: one
    builds 0015's index CONCURRENTLY, which waits for every open transaction, while the
    others wait for the migration lock with none open (waiting inside pg_advisory_lock
    was one, and a deadlock)."""
    engines = [create_engine(pg_database_url) for _ in range(3)]
    async with engines[0].connect() as connection:
        await connection.run_sync(_migrate(pg_database_url, "downgrade", "0014"))
    await asyncio.gather(*(upgrade(engine) for engine in engines))
    async with engines[0].connect() as connection:
        assert await connection.run_sync(current_revision) == HEAD_REVISION
        assert await connection.run_sync(_indexes("meter_values")) == METER_VALUES_INDEXES
    for engine in engines:
        await engine.dispose()


async def test_an_upgrade_to_0015_cut_short_is_done_again(pg_database_url: str) -> None:
    """On PostgreSQL 0015 works outside a transaction: killed halfway, it has left its new
    index (INVALID, if killed during the build) and perhaps dropped an old one."""
    engine = create_engine(pg_database_url)
    async with engine.connect() as connection:
        await connection.run_sync(_migrate(pg_database_url, "downgrade", "0014"))
        await connection.exec_driver_sql(
            "CREATE INDEX ix_meter_values_charge_point ON meter_values (charge_point_id)"
        )
        await connection.exec_driver_sql("DROP INDEX ix_meter_values_unlinked")
        await connection.commit()
    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == HEAD_REVISION
        indexes = await connection.run_sync(_indexes("meter_values"))
    await engine.dispose()
    assert indexes == METER_VALUES_INDEXES


async def test_removing_a_charge_point_checks_its_samples_by_index(database_url: str) -> None:
    """Removing a charge point checks the foreign key meter_values.charge_point_id. Without
    an index led by that column both databases read every sample of every charger for it
    (on SQLite 0.1 s a million samples, every writer waiting)."""
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = await connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN DELETE FROM charge_points WHERE id = 'CP'"
            )
            steps = [row[3] for row in plan if "meter_values" in row[3]]
        else:
            # The table is empty, so any plan would do: reading it whole must be the last
            # resort, as on a large one.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            # What PostgreSQL's referential trigger runs for the removed row.
            plan = await connection.exec_driver_sql(
                "EXPLAIN SELECT 1 FROM ONLY meter_values x WHERE charge_point_id = 'CP'"
                " FOR KEY SHARE OF x"
            )
            steps = [row[0] for row in plan]
    await engine.dispose()
    assert any("ix_meter_values_charge_point" in step for step in steps), steps
    assert not any("SCAN meter_values" in step or "Seq Scan" in step for step in steps), steps


def test_the_head_revision_is_the_newest_script() -> None:
    """HEAD_REVISION, by which a database already there is left alone at start-up, names
    the newest migration."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_heads() == [HEAD_REVISION]


async def test_a_database_behind_is_brought_to_head(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)

    def downgrade(sync) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        command.downgrade(config, "0013")

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
        assert await connection.run_sync(current_revision) == "0013"
    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == HEAD_REVISION
    await engine.dispose()


async def test_a_database_at_head_starts_without_alembic(database_url: str) -> None:
    """Start-up on a migrated database neither imports alembic nor reads its scripts."""
    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    program = (
        "import asyncio, sys\n"
        "from ocpp_core.db.engine import create_engine\n"
        "from ocpp_core.db.migrate import upgrade\n"
        "async def main():\n"
        f"    engine = create_engine({database_url!r})\n"
        "    await upgrade(engine)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
        "print('alembic' in sys.modules)\n"
    )
    started = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program, cwd=PROJECT_ROOT, stdout=PIPE, stderr=PIPE
    )
    out, err = await started.communicate()
    assert started.returncode == 0, err.decode()
    assert out.decode().strip() == "False"
