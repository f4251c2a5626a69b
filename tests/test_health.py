"""`/healthz` and `/readyz` over real HTTP, with no login: ready when the database answers
at the newest migration (and, on PostgreSQL, the instance's membership is current); 503
naming the check that fails when the schema is one migration behind, the database is gone
or the membership has expired; `/healthz` answers 200 through all of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from ocpp_core.db.migrate import HEAD_REVISION, PROJECT_ROOT, alembic_config
from ocpp_core.settings import Settings
from tests.helpers import pg_admin, scrape
from webapp.app import create_app
from webapp.keys import CENTRAL_SYSTEM, ENGINE


async def get(client, path: str) -> tuple[int, Any]:
    response = await client.get(path)
    return response.status, await response.json()


def _migrate(database_url: str, direction: str, target: str) -> Callable[[Connection], None]:
    def step(sync: Connection) -> None:
        sync.commit()  # alembic's own transactions, as at start-up
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        getattr(command, direction)(config, target)

    return step


async def migrate(database_url: str, direction: str, target: str) -> None:
    """Move the database's schema from outside the running application."""
    # A plain engine: the application's turns SQLite's foreign keys on, under which a
    # migration's table copies would run the ON DELETE actions.
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate(database_url, direction, target))
    finally:
        await engine.dispose()


async def test_ready_when_all_is_well(client, settings) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}

    response = await client.get("/readyz")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["status"] == "ready" and "failed" not in body
    checks = body["checks"]
    assert checks["database"]["ok"] is True
    assert checks["schema"] == {"ok": True, "detail": f"at {HEAD_REVISION}, the newest migration"}
    if settings.database_url.startswith("postgresql"):
        assert checks["cluster"] == {"ok": True, "detail": "membership current"}
    else:  # one instance by design: no membership to keep
        assert set(checks) == {"database", "schema"}
    raw = await response.text()
    assert settings.database_url not in raw and settings.secret_key not in raw


async def test_not_ready_one_migration_behind(client, settings) -> None:
    url = settings.database_url
    await migrate(url, "downgrade", "-1")

    status, body = await get(client, "/readyz")
    assert status == 503
    assert body["status"] == "not ready"
    assert body["failed"] == ["schema"]
    assert body["checks"]["database"]["ok"] is True
    # The newest migration's own predecessor: revision numbers may skip one.
    previous = (
        ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_revision(HEAD_REVISION).down_revision
    )
    assert body["checks"]["schema"] == {
        "ok": False,
        "detail": f"at {previous}, behind the newest migration {HEAD_REVISION}",
    }
    assert (await client.get("/healthz")).status == 200

    await migrate(url, "upgrade", "head")
    status, body = await get(client, "/readyz")
    assert (status, body["status"]) == (200, "ready")


async def test_not_ready_at_a_revision_migrations_lack(client, settings) -> None:
    """A database a newer version migrated (or someone else's): not this code's schema."""
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await engine.dispose()

    status, body = await get(client, "/readyz")
    assert status == 503 and body["failed"] == ["schema"]
    assert body["checks"]["schema"]["detail"] == (
        f"at 9999, which migrations/ (newest {HEAD_REVISION}) lacks"
    )


@pytest.fixture
async def pg_client(pg_database_url: str, aiohttp_client) -> TestClient:
    """The application on PostgreSQL only: what these tests break exists there alone."""
    settings = Settings(database_url=pg_database_url, secret_key="test-secret-key")
    return await aiohttp_client(create_app(settings))


async def test_not_ready_when_the_database_is_gone(pg_client, pg_database_url) -> None:
    client = pg_client
    assert (await client.get("/readyz")).status == 200
    database = pg_database_url.rsplit("/", 1)[1]
    await pg_admin(f'DROP DATABASE "{database}" WITH (FORCE)')

    status, body = await get(client, "/readyz")
    assert status == 503
    assert body["failed"] == ["database"]
    # What went wrong, not where: no host, port, user or database name.
    assert body["checks"]["database"] == {
        "ok": False,
        "detail": "unreachable (InvalidCatalogNameError)",
    }
    assert body["checks"]["schema"]["ok"] is None
    assert body["checks"]["cluster"]["ok"] is None
    assert database not in str(body) and "5432" not in str(body)
    assert (await client.get("/healthz")).status == 200

    # The metrics still answer, with the driver's errors counted and without the
    # sessions' totals, which only the database knows.
    scraped = await scrape(client)
    assert scraped.value("voltaro_database_errors_total") >= 1
    assert scraped.value("voltaro_active_sessions") is None
    assert scraped.value("voltaro_charge_points_connected", ocpp_version="1.6") == 0


async def test_not_ready_when_the_membership_expired(pg_client) -> None:
    """The others count an instance whose row is gone as dead (frozen past INSTANCE_TTL),
    until its next renewal joins it again: meanwhile it is not ready."""
    client = pg_client
    cluster = client.app[CENTRAL_SYSTEM].cluster
    async with client.app[ENGINE].begin() as connection:
        await connection.execute(
            text("DELETE FROM instances WHERE id = :id"), {"id": cluster.instance_id}
        )

    status, body = await get(client, "/readyz")
    assert status == 503
    assert body["failed"] == ["cluster"]
    assert body["checks"]["cluster"] == {
        "ok": False,
        "detail": "this instance's presence has expired: the others count it as dead",
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["schema"]["ok"]
