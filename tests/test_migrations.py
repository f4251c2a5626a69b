"""The alembic migrations build exactly the schema the models describe, on both databases,
and the newest one can be undone and done again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ocpp_core.db.engine import create_engine
from ocpp_core.db.migrate import alembic_config, upgrade
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
