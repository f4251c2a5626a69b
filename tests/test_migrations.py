"""The alembic migrations build exactly the schema the models describe, on both databases,
the newest one can be undone and done again, and start-up runs them only when needed."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ocpp_core.db.engine import create_engine
from ocpp_core.db.migrate import (
    HEAD_REVISION,
    PROJECT_ROOT,
    alembic_config,
    current_revision,
    upgrade,
)
from ocpp_core.db.models import Base


async def test_migrations_build_the_models_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert differences == []


async def test_the_open_session_index_can_be_undone_and_redone(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)

    def indexes(sync) -> set[str]:
        return {index["name"] for index in inspect(sync).get_indexes("transactions")}

    def step(sync, direction: str, target: str) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        getattr(command, direction)(config, target)

    async with engine.begin() as connection:
        assert "ix_transactions_tag_active" in await connection.run_sync(indexes)
        await connection.run_sync(step, "downgrade", "0011")
        after = await connection.run_sync(indexes)
        assert "ix_transactions_tag_active" not in after
        assert "ix_transactions_id_tag" in after
        await connection.run_sync(step, "upgrade", "head")
        assert "ix_transactions_tag_active" in await connection.run_sync(indexes)
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
