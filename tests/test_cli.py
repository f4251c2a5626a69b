"""`python -m webapp ...` as a user runs it: real processes against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError, encode_basic_auth
from aiohttp.test_utils import unused_port
from sqlalchemy import insert

from ocpp_core.db.engine import create_engine
from ocpp_core.db.models import IdTag
from ocpp_core.settings import Settings
from tests.helpers import ADMIN, migrate_to
from tests.ocpp_client import RawChargePoint
from tests.server_process import ROOT, paas_style, run_cli
from webapp.app import create_app
from webapp.keys import SERVICES


@pytest.mark.unmigrated  # `db upgrade` builds the SQLite schema from nothing
async def test_db_upgrade_user_charge_point_and_id_tag_commands(database_url, aiohttp_client):
    code, out = await run_cli(database_url, "db", "upgrade")
    assert code == 0, out

    code, out = await run_cli(database_url, "user", "add", "ops", "--password", "pw1")
    assert code == 0 and "ops (operator)" in out, out
    code, out = await run_cli(
        database_url, "user", "add", "watcher", "--password", "pw2", "--role", "viewer"
    )
    assert code == 0, out
    code, out = await run_cli(
        database_url, "charge-point", "add", "CP-CLI", "--password", "secret-key-16chars"
    )
    assert code == 0, out
    code, out = await run_cli(
        database_url, "charge-point", "add", "CP-OPEN", "--ping-interval", "0", "--lenient",
        "--ocpp", "2.0.1",
    )  # fmt: skip
    assert code == 0, out
    code, out = await run_cli(
        database_url,
        "id-tag",
        "add",
        "CARD",
        "--expires",
        "2040-01-01T00:00:00Z",
        "--parent",
        "FLEET",
    )
    assert code == 0, out
    code, out = await run_cli(database_url, "id-tag", "add", "LOST", "--blocked")
    assert code == 0, out
    # Id tags are case-insensitive: "lost" is the tag LOST, which stays as it was.
    code, out = await run_cli(database_url, "id-tag", "add", "lost")
    assert code == 2, out
    assert "error: id tag 'lost' exists already as 'LOST' (id tags are case-insensitive)" in out
    assert "Traceback" not in out

    # What the commands wrote is what the server uses.
    app = create_app(Settings(database_url=database_url, secret_key="x"))
    client = await aiohttp_client(app)
    ops = {"Authorization": encode_basic_auth("ops", "pw1")}
    watcher = {"Authorization": encode_basic_auth("watcher", "pw2")}
    assert (await client.get("/api/id-tags", headers=ops)).status == 200
    response = await client.post("/api/id-tags", json={"id_tag": "NEW"}, headers=watcher)
    assert response.status == 403

    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ocpp/CP-CLI", protocols=("ocpp1.6",))
    assert refused.value.status == 401
    # Pinned to 2.0.1: offered 1.6 first, it still speaks 2.0.1.
    pinned = await client.ws_connect("/ocpp/CP-OPEN", protocols=("ocpp1.6", "ocpp2.0.1"))
    assert pinned.protocol == "ocpp2.0.1"
    await pinned.close()
    ws = await client.ws_connect(
        "/ocpp/CP-CLI",
        protocols=("ocpp1.6",),
        headers={"Authorization": encode_basic_auth("CP-CLI", "secret-key-16chars")},
    )
    cp = RawChargePoint(ws)
    assert (await cp.boot())["status"] == "Accepted"
    card = await cp.result("Authorize", {"idTag": "CARD"})
    assert card["idTagInfo"]["status"] == "Accepted"
    assert card["idTagInfo"]["parentIdTag"] == "FLEET"
    assert card["idTagInfo"]["expiryDate"].startswith("2040-01-01T00:00:00")
    lost = await cp.result("Authorize", {"idTag": "LOST"})
    assert lost["idTagInfo"]["status"] == "Blocked"
    await ws.close()
    registered = {cp.id for cp in await app[SERVICES].charge_points.list()}
    assert registered == {"CP-CLI", "CP-OPEN"}
    assert await app[SERVICES].charge_points.ping_interval("CP-OPEN") == 0  # pings off
    assert await app[SERVICES].charge_points.ping_interval("CP-CLI") is None  # the global one
    assert (await app[SERVICES].charge_points.get("CP-OPEN")).lenient
    assert not (await app[SERVICES].charge_points.get("CP-CLI")).lenient


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("id-tag", "add", "X" * 21), "1 to 20"),
        (("id-tag", "add", "T", "--expires", "someday"), "ISO 8601"),
        (("user", "add", "", "--password", "p"), "user name"),
    ],
)
async def test_bad_cli_input_is_a_clear_error(tmp_path, args, message) -> None:
    code, out = await run_cli(f"sqlite+aiosqlite:///{tmp_path / 'v.db'}", *args)
    assert code == 2
    assert "error:" in out and message in out


async def test_an_upgrade_refused_by_a_migration_is_a_clear_error(database_url) -> None:
    """0022 stops at two tags that differ only in case: `db upgrade` says which, and
    fails, without a traceback."""
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        await connection.run_sync(migrate_to(database_url, "downgrade", "0021"))
        await connection.execute(insert(IdTag), [{"id_tag": "ABC"}, {"id_tag": "abc"}])
        await connection.commit()
    await engine.dispose()
    code, out = await run_cli(database_url, "db", "upgrade")
    assert code == 2, out
    assert "error: revision 0022 makes id tags case-insensitive" in out
    assert "'ABC' = 'abc'" in out and "Traceback" not in out


async def test_bad_database_url_is_a_clear_error(tmp_path) -> None:
    code, out = await run_cli("mysql://nobody@nowhere/db", "db", "upgrade")
    assert code == 2 and "DATABASE_URL" in out


@pytest.mark.unmigrated  # the server migrates a new SQLite file itself
async def test_server_starts_with_migrations_and_admin_account(database_url, tmp_path) -> None:
    port = unused_port()
    env = {
        **os.environ,
        "DATABASE_URL": paas_style(database_url),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "ADMIN_USER": "boss",
        "ADMIN_PASSWORD": "boss-pw",
        "SECRET_KEY": "serve-test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webapp", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        auth = {"Authorization": encode_basic_auth("boss", "boss-pw")}
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(
                        f"http://127.0.0.1:{port}/api/charge-points", headers=auth
                    ) as response:
                        assert response.status == 200
                        assert await response.json() == []
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("server did not start")
            async with http.ws_connect(
                f"ws://127.0.0.1:{port}/ocpp/CP-PROC", protocols=("ocpp1.6",)
            ) as ws:
                assert (await RawChargePoint(ws).boot())["status"] == "Accepted"
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]


async def test_simulate_command_runs_sessions_against_the_server(client) -> None:
    # One tag per simulated charger: SIMTAG1, SIMTAG2.
    for tag in ("SIMTAG1", "SIMTAG2"):
        await client.app[SERVICES].id_tags.add(tag)
    url = f"ws://127.0.0.1:{client.port}/ocpp"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webapp", "simulate",
        "--url", url, "--charge-points", "2", "--id-prefix", "T",
        "--meter-interval", "0.2", "--session-every", "0.3", "--session-length", "1",
        "--duration", "6", "--ocpp", "mixed",
        cwd=ROOT, env={**os.environ, "SECRET_KEY": "sim", "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()

    response = await client.get("/api/charge-points", headers=ADMIN)
    charge_points = await response.json()
    # --ocpp mixed: odd numbers speak 1.6, even ones 2.0.1.
    assert [
        (c["id"], c["vendor"], c["registration_status"], c["ocpp_version"]) for c in charge_points
    ] == [("T1", "Voltaro", "Accepted", "1.6"), ("T2", "Voltaro", "Accepted", "2.0.1")]
    assert len(charge_points[0]["connectors"]) == 3  # 1.6: connector 0 and two
    assert {c["evse_id"] for c in charge_points[1]["connectors"]} == {1, 2}
    response = await client.get("/api/transactions?active=false", headers=ADMIN)
    finished = await response.json()
    assert finished, "the simulator finished no session"
    assert {t["charge_point_id"] for t in finished} == {"T1", "T2"}
    tags = {"T1": "SIMTAG1", "T2": "SIMTAG2"}
    assert all(t["id_tag"] == tags[t["charge_point_id"]] for t in finished)
    assert all(t["energy_wh"] is not None and t["energy_wh"] >= 0 for t in finished)
    values = await (
        await client.get(f"/api/transactions/{finished[-1]['id']}/meter-values", headers=ADMIN)
    ).json()
    energy = [float(v["value"]) for v in values if v["measurand"].startswith("Energy")]
    assert energy == sorted(energy) and len(energy) >= 2
