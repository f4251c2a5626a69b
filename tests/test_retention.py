"""Retention: the message log, closed sessions' samples, the status history, the journal
and the audit log are kept for their RETAIN_*_DAYS, pruned in batches by
`python -m webapp db prune [--dry-run]` and in the server's background, while the charge
points go on being answered; a pruned session keeps its totals and says so."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import Connection, func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.migrate import alembic_config, upgrade
from ocpp_core.db.models import (
    AuditEntry,
    MeterValue,
    OcppMessage,
    Operation,
    StatusNotification,
    Transaction,
)
from ocpp_core.services.retention import RETENTION_LOCK, Retention
from ocpp_core.settings import Settings, SettingsError
from tests.helpers import PG_HOST, PG_PORT, PG_USER, VIEWER, bounded_close, eventually
from tests.ocpp_client import RawChargePoint
from tests.v201.charging_station import event, recent, started, station, updated
from webapp.api import METER_VALUES_PRUNED_HEADER
from webapp.app import create_app
from webapp.keys import ENGINE, SERVICES

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)
RETAIN = {
    "RETAIN_MESSAGE_LOG_DAYS": "30",
    "RETAIN_METER_VALUES_DAYS": "90",
    "RETAIN_STATUS_HISTORY_DAYS": "90",
    "RETAIN_JOURNAL_DAYS": "180",
    "RETAIN_AUDIT_DAYS": "365",
    "RETAIN_EVENTS_DAYS": "7",
}
FOREVER = dict.fromkeys(RETAIN, "0")
TABLES = (
    "ocpp_messages",
    "meter_values",
    "status_notifications",
    "operations",
    "audit_log",
    "events",
)
LINE = re.compile(
    r"^(?P<table>\w+): (?P<verb>would remove|removed) (?P<rows>\d+) rows"
    r"(?: of (?P<sessions>\d+) sessions closed| stored) before (?P<cutoff>\S+) "
    r"\((?P<setting>\w+)=(?P<days>\d+)\), (?P<batches>\d+) batch(?:es)?$"
)


async def prune_cli(database_url: str, *args: str, **env: str) -> tuple[int, str]:
    """`python -m webapp db prune ...` as an operator runs it, beside the running app."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "webapp", "db", "prune", *args,
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "retention-test",
             "LOG_LEVEL": "WARNING", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, output.decode()


def report(output: str) -> dict[str, dict[str, Any]]:
    """The CLI's lines by table: rows, sessions, batches, cut-off, setting."""
    found = {}
    for line in output.splitlines():
        if (match := LINE.match(line)) is not None:
            found[match["table"]] = match.groupdict()
        elif m := re.match(r"^(\w+): kept forever \((\w+)=0\)$", line):
            found[m[1]] = {"verb": "kept forever", "setting": m[2]}
    assert set(found) == set(TABLES), output
    return found


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def seed(engine, model, rows: list[dict[str, Any]]) -> list[int]:
    """Rows as the services store them, with times in the past; their ids."""
    async with AsyncSession(engine) as session, session.begin():
        result = await session.execute(insert(model).returning(model.id), rows)
        return list(result.scalars())


async def ids(engine, model, *where) -> set[int]:
    async with AsyncSession(engine) as session:
        return set((await session.scalars(select(model.id).where(*where))).all())


async def count(engine, model, *where) -> int:
    async with AsyncSession(engine) as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def backdate_stop(engine, transaction_id: int, days: float, stored: bool = True) -> None:
    """The session ended `days` ago, and (`stored`) was stored then too: otherwise only the
    charger's clock says so."""
    times = {"stop_time": days_ago(days), "start_time": days_ago(days + 0.1)}
    if stored:
        times["created_at"] = days_ago(days + 0.1)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(
            update(Transaction).where(Transaction.id == transaction_id).values(**times)
        )


def samples(transaction_id: int, energy: int, power: int) -> dict[str, Any]:
    return {"connectorId": 1, "transactionId": transaction_id, "meterValue": [{
        "timestamp": NOW.isoformat(),
        "sampledValue": [
            {"value": str(energy), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power), "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "230", "measurand": "Voltage", "unit": "V"},
        ],
    }]}  # fmt: skip


async def session_16(cp: RawChargePoint, connector: int, stop: bool = True) -> int:
    """A 1.6 session from 1,000 to 5,000 Wh with six samples."""
    transaction_id = await cp.start("TAG", meter_start=1000, connector_id=connector)
    for energy in (2000, 4000):
        payload = samples(transaction_id, energy, 7000)
        payload["connectorId"] = connector
        assert await cp.result("MeterValues", payload) == {}
    if stop:
        stopped = {"transactionId": transaction_id, "meterStop": 5000, "timestamp": NOW.isoformat()}
        assert await cp.result("StopTransaction", stopped) == {}
    return transaction_id


def log_rows(charge_point_id: str, n: int, age_days: float) -> list[dict[str, Any]]:
    return [
        {"charge_point_id": charge_point_id, "direction": "in", "message_type": 2,
         "unique_id": f"old{i}", "action": "Heartbeat", "payload": '[2,"x","Heartbeat",{}]',
         "created_at": days_ago(age_days) + timedelta(microseconds=i)}
        for i in range(n)
    ]  # fmt: skip


async def test_db_prune_removes_only_what_is_older_and_a_dry_run_says_the_same(
    client, connect, portal, database_url
) -> None:
    engine, services = client.app[ENGINE], client.app[SERVICES]
    await services.id_tags.add("TAG")
    await services.id_tags.add("TAG201")
    cp = await connect("RET1")
    await cp.boot()
    await cp.status(1, "Available")
    old_session = await session_16(cp, 1)
    young_session = await session_16(cp, 2)
    # A charger whose clock is years behind: its session only looks old.
    clock_session = await session_16(cp, 4)
    open_session = await session_16(cp, 3, stop=False)
    await backdate_stop(engine, old_session, 100)
    await backdate_stop(engine, clock_session, 1000, stored=False)
    # A 2.0.1 session ended without a final reading: its energy is its samples'.
    at = recent()
    station_201 = await station(connect, "RET201", connector_status="Occupied")
    await station_201.result("TransactionEvent", started("T201", at, token="TAG201"))
    await station_201.result(
        "TransactionEvent", updated("T201", at + timedelta(seconds=30), 1, energy=3500)
    )
    ended = event("Ended", 2, "T201", at + timedelta(seconds=60), "EVDeparted")
    await station_201.result("TransactionEvent", ended)
    [listed] = await (await client.get("/api/transactions?charge_point_id=RET201",
                                       headers=VIEWER)).json()  # fmt: skip
    session_201 = await (await client.get(f"/api/transactions/{listed['id']}",
                                          headers=VIEWER)).json()  # fmt: skip
    assert (session_201["meter_stop"], session_201["energy_wh"]) == (None, 2500)
    await backdate_stop(engine, session_201["id"], 100)

    # More old frames than one batch of 1,000 holds, and a few old rows of each table.
    old_log = await seed(engine, OcppMessage, log_rows("RET1", 2500, 40))
    old_status = await seed(engine, StatusNotification, [
        {"charge_point_id": "RET1", "connector_id": 1, "status": "Available",
         "error_code": "NoError", "received_at": days_ago(100 + i)}
        for i in range(3)
    ])  # fmt: skip
    await seed(engine, Operation, [
        {"charge_point_id": "RET1", "action": "Reset", "request": "{}", "requested_by": "oper",
         "requested_at": days_ago(200), "outcome": "answered"},
        {"charge_point_id": "RET1", "action": "Reset", "request": "{}", "requested_by": "oper",
         "requested_at": days_ago(190), "outcome": "timeout"},
    ])  # fmt: skip
    young_ops = await seed(engine, Operation, [
        {"charge_point_id": "RET1", "action": "Reset", "request": "{}", "requested_by": "oper",
         "requested_at": days_ago(10), "outcome": "answered"},
    ])  # fmt: skip
    old_audit = await seed(engine, AuditEntry, [
        {"at": days_ago(400 + i), "actor": "admin", "action": "add user", "target": f"u{i}"}
        for i in range(2)
    ])  # fmt: skip
    await services.audit.record("admin", "add id tag", "TAG")
    await services.message_log.flush()

    old_samples = await count(engine, MeterValue, MeterValue.transaction_id == old_session)
    assert old_samples == 6
    before = {model: await ids(engine, model) for model in
              (OcppMessage, StatusNotification, Operation, AuditEntry, MeterValue)}  # fmt: skip
    young_log = before[OcppMessage] - set(old_log)
    assert young_log  # the frames just exchanged

    # 0 keeps forever.
    code, out = await prune_cli(database_url, **FOREVER)
    assert code == 0, out
    assert all(r["verb"] == "kept forever" for r in report(out).values()), out
    for model, kept in before.items():
        assert await ids(engine, model) >= kept, f"0 removed {model.__tablename__}"
    before[AuditEntry] = await ids(engine, AuditEntry)  # the command audits its run

    ran_from = datetime.now(UTC)
    code, out = await prune_cli(database_url, "--dry-run", **RETAIN)
    ran_to = datetime.now(UTC)
    assert code == 0, out
    assert out.splitlines()[0] == "dry run: nothing is removed"
    dry = report(out)
    expected = {"ocpp_messages": 2500, "meter_values": 6, "status_notifications": 3,
                "operations": 2, "audit_log": 2, "events": 0}  # fmt: skip
    assert {t: int(r["rows"]) for t, r in dry.items()} == expected, out
    assert {r["verb"] for r in dry.values()} == {"would remove"}
    assert dry["ocpp_messages"]["batches"] == "3"  # 1,000 + 1,000 + 500
    assert dry["meter_values"]["sessions"] == "1"
    for table, setting, days in (("ocpp_messages", "RETAIN_MESSAGE_LOG_DAYS", 30),
                                 ("audit_log", "RETAIN_AUDIT_DAYS", 365)):  # fmt: skip
        cutoff = datetime.fromisoformat(dry[table]["cutoff"])
        assert (dry[table]["setting"], int(dry[table]["days"])) == (setting, days)
        # The cut-off is `days` before the moment the command ran, whenever that was.
        second = timedelta(seconds=1)
        assert ran_from - timedelta(days=days) - second <= cutoff
        assert cutoff <= ran_to - timedelta(days=days) + second
    for model, kept in before.items():
        assert await ids(engine, model) == kept, f"the dry run removed {model.__tablename__}"

    code, out = await prune_cli(database_url, **RETAIN)
    assert code == 0, out
    done = report(out)
    assert {t: int(r["rows"]) for t, r in done.items()} == expected, out
    assert {r["verb"] for r in done.values()} == {"removed"}
    keys = ("rows", "sessions", "batches", "setting", "days")
    assert {t: {k: r[k] for k in keys} for t, r in done.items()} == {
        t: {k: r[k] for k in keys} for t, r in dry.items()
    }

    assert await ids(engine, OcppMessage) == young_log
    assert await ids(engine, StatusNotification) == before[StatusNotification] - set(old_status)
    assert await ids(engine, Operation) == set(young_ops)
    audit_left = await ids(engine, AuditEntry)
    assert not audit_left & set(old_audit)
    assert before[AuditEntry] - set(old_audit) <= audit_left
    async with AsyncSession(engine) as session:
        prune_entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "prune").order_by(AuditEntry.id.desc())
        )
    assert prune_entry is not None and prune_entry.actor == "cli"
    assert "ocpp_messages 2500" in prune_entry.detail

    # The old session lost its samples, not its totals, and says so.
    assert await count(engine, MeterValue, MeterValue.transaction_id == old_session) == 0
    response = await client.get(f"/api/transactions/{old_session}", headers=VIEWER)
    tx = await response.json()
    assert (tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (1000, 5000, 4000)
    assert tx["meter_values_pruned"] == 6 and tx["meter_values_pruned_at"]
    response = await client.get(f"/api/transactions/{old_session}/meter-values", headers=VIEWER)
    assert await response.json() == []
    assert response.headers[METER_VALUES_PRUNED_HEADER] == "6"
    viewer = await portal("viewer")
    status, html = await viewer.get(f"/transactions/{old_session}")
    assert status == 200
    notice = re.search(r'<p class="message" id="meter-values-pruned">([^<]*)', html)
    assert notice and notice[1].startswith("6 meter values of this session were removed on ")
    assert "No meter values for this session" not in html and "4.00 kWh" in html

    # Younger and open sessions keep theirs, and the 2.0.1 one whose energy they are.
    for kept in (young_session, clock_session, open_session, session_201["id"]):
        response = await client.get(f"/api/transactions/{kept}/meter-values", headers=VIEWER)
        assert len(await response.json()) >= 2
        assert METER_VALUES_PRUNED_HEADER not in response.headers
        tx = await (await client.get(f"/api/transactions/{kept}", headers=VIEWER)).json()
        assert (tx["meter_values_pruned"], tx["meter_values_pruned_at"]) == (0, None)
    tx = await (await client.get(f"/api/transactions/{session_201['id']}", headers=VIEWER)).json()
    assert tx["energy_wh"] == 2500
    status, html = await viewer.get(f"/transactions/{young_session}")
    assert 'id="meter-values-pruned"' not in html and "<canvas" in html

    # Nothing left to remove: a second run says so.
    code, out = await prune_cli(database_url, "--dry-run", **RETAIN)
    assert code == 0, out
    assert {int(r["rows"]) for r in report(out).values()} == {0}


@pytest.fixture
def retaining(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, retain_message_log_days=30, retain_meter_values_days=90, prune_interval=1
    )


async def test_the_server_prunes_in_the_background(retaining, aiohttp_client) -> None:
    client = await aiohttp_client(create_app(retaining))
    engine, services = client.app[ENGINE], client.app[SERVICES]
    await services.charge_points.register("BG1")
    old = await seed(engine, OcppMessage, log_rows("BG1", 1200, 31))
    young = await seed(engine, OcppMessage, log_rows("BG1", 5, 29))
    removed = 0
    for _ in range(5):  # the first run may have begun while the rows were being written
        results = await asyncio.wait_for(services.retention.next_run(), 30)
        assert results is not None
        removed += {r.table: r.rows for r in results}["ocpp_messages"]
        if removed >= len(old):
            break
    assert removed == len(old)
    assert await ids(engine, OcppMessage, OcppMessage.charge_point_id == "BG1") == set(young)


async def test_a_charge_point_is_answered_while_a_large_prune_runs(
    retaining, client, connect
) -> None:
    """Batches of 100 with a long pause between, as many as 30: the charge point's
    heartbeat is answered while the prune is under way, not after it."""
    engine = client.app[ENGINE]
    cp = await connect("BUSY1")
    await cp.boot()
    old = await seed(engine, OcppMessage, log_rows("BUSY1", 3000, 60))
    retention = Retention(create_session_factory(engine), retaining, batch=100, pause=0.3)
    pruning = asyncio.create_task(retention.prune())
    try:
        while await count(engine, OcppMessage, OcppMessage.id.in_(old)) == len(old):
            assert not pruning.done(), pruning
            await asyncio.sleep(0.01)
        answer = await cp.result("Heartbeat", {})
        assert "currentTime" in answer
        assert not pruning.done(), "the prune ended before the heartbeat was answered"
    finally:
        await retention.stop()  # after the batch under way
    results = {r.table: r for r in await pruning}
    left = await count(engine, OcppMessage, OcppMessage.id.in_(old))
    assert 0 < left < len(old)
    assert results["ocpp_messages"].rows == len(old) - left
    # Never more than a batch's 100 rows a transaction.
    assert 0 < results["ocpp_messages"].rows <= 100 * results["ocpp_messages"].batches


async def test_one_instance_prunes_at_a_time(pg_database_url: str, caplog) -> None:
    caplog.set_level(logging.INFO, "ocpp_core.services.retention")
    settings = Settings(database_url=pg_database_url, secret_key="k")
    engine = create_engine(pg_database_url)
    retention = Retention(create_session_factory(engine), settings)
    other = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=pg_database_url.rsplit("/", 1)[1]
    )
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK)
        assert await retention.prune(wait=False) is None
        waiting = asyncio.create_task(retention.prune())
        await eventually(
            lambda: "another instance is pruning; waiting" in caplog.text,
            what="the prune found the lock taken and waits",
        )
        assert not waiting.done()
        await other.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK)
        results = await asyncio.wait_for(waiting, 30)
        assert [r.table for r in results] == list(TABLES)
        # And released after: another may take it.
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK)
    finally:
        await other.close()
        await engine.dispose()


@pytest.mark.parametrize(("keep", "low", "high"), [(20, 20, 40), (0, 62, 62)])
async def test_the_message_log_cap_is_a_setting(
    settings, aiohttp_client, keep: int, low: int, high: int
) -> None:
    client = await aiohttp_client(create_app(dataclasses.replace(settings, keep_message_log=keep)))
    cp = RawChargePoint(await client.ws_connect("/ocpp/CAPPED", protocols=("ocpp1.6",)))
    try:
        await cp.boot()
        for _ in range(30):
            await cp.result("Heartbeat", {})
    finally:
        await bounded_close("the charge point", cp.ws.close())
    await client.app[SERVICES].message_log.flush()
    # 62 frames: every KEEP_MESSAGE_LOG writes the newest KEEP_MESSAGE_LOG are kept.
    assert low <= await count(client.app[ENGINE], OcppMessage) <= high


def test_retention_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = Settings.from_env({})
    assert (
        defaults.retain_message_log_days,
        defaults.retain_meter_values_days,
        defaults.retain_status_history_days,
        defaults.retain_journal_days,
        defaults.retain_audit_days,
        defaults.prune_interval,
        defaults.keep_message_log,
    ) == (30, 0, 90, 180, 365, 3600, 5000)
    custom = Settings.from_env(
        {**FOREVER, "RETAIN_AUDIT_DAYS": "730", "PRUNE_INTERVAL": "0", "KEEP_MESSAGE_LOG": "0"}
    )
    assert (custom.retain_message_log_days, custom.retain_audit_days) == (0, 730)
    assert (custom.prune_interval, custom.keep_message_log) == (0, 0)
    for name, value, message in (
        ("RETAIN_JOURNAL_DAYS", "-1", "RETAIN_JOURNAL_DAYS must be at least 0"),
        ("RETAIN_AUDIT_DAYS", "36501", "RETAIN_AUDIT_DAYS must be at most 36500 days"),
        ("RETAIN_MESSAGE_LOG_DAYS", "a month", "must be a whole number"),
        ("PRUNE_INTERVAL", "-5", "PRUNE_INTERVAL must be at least 0"),
    ):
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({name: value})


async def test_a_bad_retention_setting_is_refused_by_the_command(database_url) -> None:
    code, out = await prune_cli(database_url, RETAIN_METER_VALUES_DAYS="-3")
    assert code == 2
    assert "error: RETAIN_METER_VALUES_DAYS must be at least 0, got -3" in out


def _indexes_and_columns(sync: Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(sync)
    return (
        {index["name"] for index in inspector.get_indexes("transactions")},
        {column["name"] for column in inspector.get_columns("transactions")},
    )


def _migrate(database_url: str, direction: str, target: str):
    def step(sync: Connection) -> None:
        sync.commit()  # alembic's own transactions, as at start-up
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        getattr(command, direction)(config, target)

    return step


@pytest.mark.unmigrated
# SQLAlchemy cannot reflect the lower(id_tag) index from SQLite (it skips it, warning):
# test_migrations reads that one from its SQL.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
async def test_the_retention_migration_can_be_undone_and_redone(database_url) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    columns = {"meter_values_pruned_at", "meter_values_pruned"}
    try:
        async with engine.connect() as connection:
            indexes, names = await connection.run_sync(_indexes_and_columns)
            assert "ix_transactions_samples_kept" in indexes and columns <= names
            await connection.run_sync(_migrate(database_url, "downgrade", "0018"))
            indexes, names = await connection.run_sync(_indexes_and_columns)
            assert "ix_transactions_samples_kept" not in indexes and not columns & names
            await connection.run_sync(_migrate(database_url, "upgrade", "head"))
            indexes, names = await connection.run_sync(_indexes_and_columns)
            assert "ix_transactions_samples_kept" in indexes and columns <= names
    finally:
        await engine.dispose()
