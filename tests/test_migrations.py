"""The alembic migrations build exactly the schema the models describe, on both databases,
the newest one can be undone and done again, and start-up runs them only when needed."""

from __future__ import annotations

import asyncio
import re
import sys
from asyncio.subprocess import PIPE
from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, delete, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocpp_core.db.engine import create_engine
from ocpp_core.db.migrate import (
    HEAD_REVISION,
    PROJECT_ROOT,
    MigrationRefused,
    alembic_config,
    current_revision,
    upgrade,
)
from ocpp_core.db.models import Base, IdTag
from tests.helpers import migrate_to

# On SQLite every test here starts from an empty file and migrates it itself.
pytestmark = pytest.mark.unmigrated


# SQLAlchemy cannot reflect an expression index from SQLite, so alembic cannot compare the
# id tags' lower() indexes there: test_the_id_tag_indexes_are_expressions_of_lower reads them.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping metadata-specified expression-based index",
)
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


async def _index_sql(connection: AsyncConnection, table: str) -> dict[str, str]:
    """The table's indexes by name, each with the SQL that makes it: expression indexes
    too, which SQLAlchemy cannot reflect from SQLite."""
    if connection.dialect.name == "sqlite":
        rows = await connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
            {"t": table},
        )
    else:
        rows = await connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}
        )
    return {name: sql or "" for name, sql in rows}


async def test_the_open_session_index_can_be_undone_and_redone(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        indexes = await _index_sql(connection, "transactions")
        assert "ix_transactions_tag_lower_active" in indexes
        assert "ix_transactions_tag_active" not in indexes
        await connection.run_sync(migrate_to(database_url, "downgrade", "0011"))
        after = await _index_sql(connection, "transactions")
        assert "ix_transactions_tag_lower_active" not in after
        assert "ix_transactions_tag_active" not in after
        assert "ix_transactions_id_tag" in after
        await connection.run_sync(migrate_to(database_url, "upgrade", "0021"))
        assert "ix_transactions_tag_active" in await _index_sql(connection, "transactions")
        await connection.run_sync(migrate_to(database_url, "upgrade", "head"))
        indexes = await _index_sql(connection, "transactions")
        assert "ix_transactions_tag_lower_active" in indexes
        assert "ix_transactions_tag_active" not in indexes
    await engine.dispose()


async def test_the_id_tag_indexes_are_expressions_of_lower(database_url: str) -> None:
    """Id tags are compared by lower() (ocpp_core.db.ci_string), on indexes of lower():
    checked from the SQL that built them, which any later SQLite table copy (a batch
    migration of id_tags or transactions) would lose without saying so."""
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        tags = await _index_sql(connection, "id_tags")
        sessions = await _index_sql(connection, "transactions")
        # The constraints (of the table's SQL on SQLite: reflecting them reads the indexes).
        constraints = await connection.scalar(
            text("SELECT sql FROM sqlite_master WHERE name = 'transactions'")
            if connection.dialect.name == "sqlite"
            else text(
                "SELECT string_agg(conname, ' ') FROM pg_constraint"
                " WHERE conrelid = 'transactions'::regclass"
            )
        )
    await engine.dispose()
    # Compared without spaces, parentheses and PostgreSQL's casts: "lower((id_tag)::text)".
    squeezed = {
        name: re.sub(r"[\s()]|::\w+", "", sql.lower()) for name, sql in {**tags, **sessions}.items()
    }
    assert "uniqueindex" in squeezed["uq_id_tags_lower_id_tag"]
    assert squeezed["uq_id_tags_lower_id_tag"].endswith("lowerid_tag")
    assert "lowerid_tag,stop_time" in squeezed["ix_transactions_tag_lower_active"]
    # The 1.6 start identity holds 1.6 sessions alone; the old constraint is gone.
    identity = squeezed["uq_transactions_v16_start_identity"]
    assert "uniqueindex" in identity and identity.endswith("whereocpp_transaction_idisnull")
    assert "pk_transactions" in constraints
    assert "uq_transactions_start_identity" not in constraints


async def test_the_meter_values_index_can_be_undone_and_redone(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    indexes = _indexes("meter_values")
    async with engine.connect() as connection:
        assert await connection.run_sync(indexes) == METER_VALUES_INDEXES
        await connection.run_sync(migrate_to(database_url, "downgrade", "0014"))
        assert set(await connection.run_sync(indexes)) == {
            "ix_meter_values_transaction",
            "ix_meter_values_unlinked",
        }
        await connection.run_sync(migrate_to(database_url, "upgrade", "head"))
        assert await connection.run_sync(indexes) == METER_VALUES_INDEXES
    await engine.dispose()


async def test_instances_upgrading_together_take_turns(pg_database_url: str) -> None:
    """Started together on a database one revision behind, as a platform scales out: one
    builds 0015's index CONCURRENTLY, which waits for every open transaction, while the
    others wait for the migration lock with none open (waiting inside pg_advisory_lock
    was one, and a deadlock)."""
    engines = [create_engine(pg_database_url) for _ in range(3)]
    async with engines[0].connect() as connection:
        await connection.run_sync(migrate_to(pg_database_url, "downgrade", "0014"))
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
        await connection.run_sync(migrate_to(pg_database_url, "downgrade", "0014"))
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


async def test_tags_differing_only_in_case_stop_the_upgrade(database_url: str) -> None:
    """0022 makes id tags case-insensitive. Two tags that differ only in case cannot both
    be kept (which one's status would a charger get?) nor merged by guessing: the upgrade
    stops, names them and changes nothing; once the operator has kept one of each, it
    goes through."""
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        await connection.run_sync(migrate_to(database_url, "downgrade", "0021"))
        tags = ["ABC", "abc", "x1", "X1", "Solo", "abC"]
        await connection.execute(insert(IdTag), [{"id_tag": tag} for tag in tags])
        await connection.commit()
    with pytest.raises(MigrationRefused) as refused:
        await upgrade(engine)
    assert "'ABC' = 'abC' = 'abc'; 'X1' = 'x1'." in str(refused.value)
    assert "Solo" not in str(refused.value) and "Nothing was changed" in str(refused.value)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == "0021"
        # Still the schema of 0021: the old constraint is there, the new indexes are not.
        assert "uq_id_tags_lower_id_tag" not in await _index_sql(connection, "id_tags")
        assert "ix_transactions_tag_active" in await _index_sql(connection, "transactions")
        stored = set(await connection.scalars(select(IdTag.id_tag)))
        assert stored == set(tags)
        await connection.execute(delete(IdTag).where(IdTag.id_tag.in_(["abc", "abC", "x1"])))
        await connection.commit()
    await upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(current_revision) == HEAD_REVISION
        assert set(await connection.scalars(select(IdTag.id_tag))) == {"ABC", "X1", "Solo"}
    await engine.dispose()


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
