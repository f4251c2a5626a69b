"""PostgreSQL drops every connection (a restart, a failover, an idle timeout in between):
the charge points' next messages are still answered and stored, and so is the message
log; nothing that was acknowledged is lost."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from ocpp_core.db import engine
from ocpp_core.settings import Settings
from tests.helpers import ACCOUNTS, ADMIN, bounded_close, terminate_backends
from tests.ocpp_client import RawChargePoint
from webapp.app import create_app
from webapp.keys import SERVICES


async def _drop_connections(database: str) -> int:
    """Terminate every server process of `database`."""
    return await terminate_backends("datname = $1", database)


@pytest.fixture
def pg_settings(pg_database_url: str) -> Settings:
    return Settings(
        database_url=pg_database_url, secret_key="test-secret-key", heartbeat_interval=120
    )


async def test_messages_after_postgresql_dropped_every_connection_are_stored(
    pg_settings: Settings, aiohttp_client
) -> None:
    app = create_app(pg_settings)
    client = await aiohttp_client(app)
    services = app[SERVICES]
    await services.charge_points.register("CP-DB-FAULT")
    cp = RawChargePoint(await client.ws_connect("/ocpp/CP-DB-FAULT", protocols=("ocpp1.6",)))
    database = urlsplit(pg_settings.database_url).path.lstrip("/")
    try:
        await cp.boot()
        await cp.status(1, "Available")
        await services.message_log.recent("CP-DB-FAULT")  # its writer's connection too

        # The message log's writer meets the dropped connections first: a frame refused
        # without touching the database, then the log read (which writes what it holds).
        assert await _drop_connections(database) > 0
        refused = await cp.call("NoSuchAction", {})
        assert refused[0] == 4
        logged = await services.message_log.recent("CP-DB-FAULT")
        assert [entry.action for entry in logged[:2]] == ["NoSuchAction", "NoSuchAction"]

        # Then the group commit, each message alone in its transaction: no batch-mate to
        # retry it beside.
        assert await _drop_connections(database) > 0
        await cp.status(1, "Preparing")
        await cp.status(1, "Charging")
        assert (await cp.call("Heartbeat", {}))[0] == 3

        view = await services.charge_points.get("CP-DB-FAULT")
        assert {c.connector_id: c.status for c in view.connectors}[1] == "Charging"
        logged = [
            entry.payload
            for entry in await services.message_log.recent("CP-DB-FAULT")
            if entry.action == "StatusNotification" and entry.direction == "in"
        ]
        assert any('"Preparing"' in payload for payload in logged)
        assert any('"Charging"' in payload for payload in logged)
    finally:
        await bounded_close("the charge point", cp.ws.close())


async def test_a_pooled_connection_idle_long_enough_is_checked_before_it_is_lent(
    pg_settings: Settings, aiohttp_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every pooled connection counts as idle long enough: checked at each checkout.
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_SECONDS", 0.0)
    app = create_app(pg_settings)
    await aiohttp_client(app)
    services = app[SERVICES]
    await services.charge_points.register("CP-IDLE")

    assert await _drop_connections(urlsplit(pg_settings.database_url).path.lstrip("/")) > 0

    # A read that runs nothing again by itself: the pool lent a live connection.
    assert (await services.charge_points.get("CP-IDLE")).id == "CP-IDLE"


async def test_operator_requests_right_after_postgresql_dropped_every_connection_succeed(
    pg_settings: Settings, aiohttp_client
) -> None:
    """Connections used a moment ago are lent unchecked only to the charge points' writers,
    which run their work again; a page or an API call gets a checked one."""
    app = create_app(pg_settings)
    client = await aiohttp_client(app)
    await app[SERVICES].users.add(*ACCOUNTS["admin"], "admin")
    database = urlsplit(pg_settings.database_url).path.lstrip("/")

    assert (await client.get("/api/id-tags", headers=ADMIN)).status == 200
    assert await _drop_connections(database) > 0
    listed = await client.get("/api/id-tags", headers=ADMIN)
    assert listed.status == 200, await listed.text()

    assert await _drop_connections(database) > 0
    added = await client.post("/api/id-tags", json={"id_tag": "AFTER-DROP"}, headers=ADMIN)
    assert added.status == 201, await added.text()
    tags = await (await client.get("/api/id-tags", headers=ADMIN)).json()
    assert [tag["id_tag"] for tag in tags] == ["AFTER-DROP"]
