"""Every charge-point-initiated OCPP 1.6J message, over a real WebSocket, and what it stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.models import (
    ChargePoint,
    DataTransferMessage,
    MeterValue,
    StatusNotification,
    StatusReport,
)
from ocpp_core.services.event_log import EVENTS_WRITTEN
from tests.helpers import ADMIN, get_json
from webapp.keys import BUS, CENTRAL_SYSTEM, ENGINE, SERVICES


async def rows(client, model, *where):
    async with AsyncSession(client.app[ENGINE]) as session:
        return (await session.scalars(select(model).where(*where))).all()


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def test_full_session_is_stored(client, connect) -> None:
    await client.app[SERVICES].id_tags.add("TAG1")
    cp = await connect("CP1")

    boot = await cp.boot(
        chargePointSerialNumber="SN-1",
        chargeBoxSerialNumber="BOX-1",
        firmwareVersion="4.2",
        iccid="8931",
        imsi="2040",
        meterType="EM340",
        meterSerialNumber="M-1",
    )
    assert boot["status"] == "Accepted"
    assert boot["interval"] == 120
    sent_time = datetime.fromisoformat(boot["currentTime"])
    assert abs(sent_time - datetime.now(UTC)) < timedelta(seconds=5)

    heartbeat = await cp.result("Heartbeat", {})
    assert datetime.fromisoformat(heartbeat["currentTime"]).tzinfo is not None

    assert (await cp.result("Authorize", {"idTag": "TAG1"})) == {
        "idTagInfo": {"status": "Accepted"}
    }
    await cp.status(1, "Preparing")

    start_time = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    start = await cp.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": _iso(start_time)},
    )
    assert start["idTagInfo"] == {"status": "Accepted"}
    tx_id = start["transactionId"]
    assert isinstance(tx_id, int)
    await cp.status(1, "Charging")

    await cp.result(
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": tx_id,
            "meterValue": [
                {
                    "timestamp": _iso(start_time + timedelta(minutes=1)),
                    "sampledValue": [
                        {
                            "value": "1200",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                            "context": "Sample.Periodic",
                            "location": "Outlet",
                        },
                        {
                            "value": "16.1",
                            "measurand": "Current.Import",
                            "unit": "A",
                            "phase": "L1",
                        },
                        {"value": "7400", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        },
    )
    active = await get_json(client, "/api/transactions?active=true")
    assert [(t["id"], t["energy_wh"]) for t in active] == [(tx_id, 200.0)]

    stop = await cp.result(
        "StopTransaction",
        {
            "transactionId": tx_id,
            "meterStop": 1500,
            "timestamp": _iso(start_time + timedelta(minutes=2)),
            "idTag": "TAG1",
            "reason": "EVDisconnected",
            "transactionData": [
                {
                    "timestamp": _iso(start_time + timedelta(minutes=2)),
                    "sampledValue": [{"value": "1500", "context": "Transaction.End"}],
                }
            ],
        },
    )
    assert stop == {"idTagInfo": {"status": "Accepted"}}
    await cp.status(1, "Available")

    [tx] = await get_json(client, "/api/transactions?charge_point_id=CP1")
    assert tx == {
        "id": tx_id,
        "charge_point_id": "CP1",
        "connector_id": 1,
        "id_tag": "TAG1",
        "id_tag_status": "Accepted",
        "meter_start": 1000,
        "meter_stop": 1500,
        "start_time": "2026-11-25T08:00:00Z",
        "stop_time": "2026-11-25T08:02:00Z",
        "stop_reason": "EVDisconnected",
        "energy_wh": 500.0,
        "ocpp_transaction_id": str(tx_id),
        "evse_id": None,
        "flags": tx["flags"],
        "meter_values_pruned": 0,  # retention has removed none of its samples
        "meter_values_pruned_at": None,
    }
    assert await get_json(client, "/api/transactions?active=true") == []

    values = await get_json(client, f"/api/transactions/{tx_id}/meter-values")
    assert [(v["measurand"], v["value"], v["unit"], v["phase"], v["context"]) for v in values] == [
        ("Energy.Active.Import.Register", "1200", "Wh", None, "Sample.Periodic"),
        ("Current.Import", "16.1", "A", "L1", "Sample.Periodic"),
        ("Power.Active.Import", "7400", "W", None, "Sample.Periodic"),
        # Defaults of the specification filled in for the omitted fields.
        ("Energy.Active.Import.Register", "1500", "Wh", None, "Transaction.End"),
    ]

    [charge_point] = await rows(client, ChargePoint, ChargePoint.id == "CP1")
    assert (
        charge_point.vendor,
        charge_point.model,
        charge_point.serial_number,
        charge_point.charge_box_serial_number,
        charge_point.firmware_version,
        charge_point.iccid,
        charge_point.imsi,
        charge_point.meter_type,
        charge_point.meter_serial_number,
    ) == ("TestVendor", "TestModel", "SN-1", "BOX-1", "4.2", "8931", "2040", "EM340", "M-1")
    assert charge_point.last_heartbeat_at is not None

    history = await rows(client, StatusNotification, StatusNotification.charge_point_id == "CP1")
    assert [h.status for h in history] == ["Preparing", "Charging", "Available"]

    info = await get_json(client, "/api/charge-points/CP1")
    assert info["connected"] is True
    assert info["vendor"] == "TestVendor"
    assert info["firmware_version"] == "4.2"
    assert info["connectors"] == [
        {"evse_id": None, "connector_id": 1, "status": "Available", "error_code": "NoError"}
    ]


async def test_status_notification_keeps_connector_zero_and_error_codes(client, connect) -> None:
    cp = await connect("CP-Z")
    await cp.boot()
    await cp.status(0, "Available")
    await cp.status(1, "Available")
    await cp.status(2, "Faulted", error_code="GroundFailure")
    # An older notification delivered late must not overwrite the current status.
    await cp.result(
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Charging",
            "timestamp": "2020-01-01T00:00:00Z",
        },
    )
    info = await get_json(client, "/api/charge-points/CP-Z")
    # The one status rule (ocpp_core.charge_point_state): a connector Faulted and none
    # charging; the late Charging counted for nothing.
    assert info["status"] == "Faulted"
    assert info["connectors"] == [
        {"evse_id": None, "connector_id": 0, "status": "Available", "error_code": "NoError"},
        {"evse_id": None, "connector_id": 1, "status": "Available", "error_code": "NoError"},
        {"evse_id": None, "connector_id": 2, "status": "Faulted", "error_code": "GroundFailure"},
    ]
    history = await rows(client, StatusNotification, StatusNotification.charge_point_id == "CP-Z")
    assert len(history) == 4


async def test_authorize_statuses_from_the_id_tag_table(client, connect) -> None:
    tags = client.app[SERVICES].id_tags
    now = datetime.now(UTC)
    await tags.add("GOOD", expiry_date=now + timedelta(days=30), parent_id_tag="FLEET")
    await tags.add("BLOCKED", blocked=True)
    await tags.add("OLD", expiry_date=now - timedelta(days=1))
    await tags.add("BUSY")
    cp = await connect("CP-A")
    await cp.boot()

    good = await cp.result("Authorize", {"idTag": "GOOD"})
    assert good["idTagInfo"]["status"] == "Accepted"
    assert good["idTagInfo"]["parentIdTag"] == "FLEET"
    assert datetime.fromisoformat(good["idTagInfo"]["expiryDate"]) > now
    for tag, status in [("BLOCKED", "Blocked"), ("OLD", "Expired"), ("NOPE", "Invalid")]:
        answer = await cp.result("Authorize", {"idTag": tag})
        assert answer["idTagInfo"]["status"] == status, tag

    await cp.result(
        "StartTransaction",
        {"connectorId": 1, "idTag": "BUSY", "meterStart": 0, "timestamp": _iso(now)},
    )
    # Authorize answers the tag's own status; ConcurrentTx is StartTransaction's (OCPP 1.6).
    assert (await cp.result("Authorize", {"idTag": "BUSY"}))["idTagInfo"]["status"] == ("Accepted")
    # StartTransaction re-checks the tag: the same tag on a second connector is concurrent.
    second = await cp.result(
        "StartTransaction",
        {"connectorId": 2, "idTag": "BUSY", "meterStart": 0, "timestamp": _iso(now)},
    )
    assert second["idTagInfo"]["status"] == "ConcurrentTx"


async def test_stop_transaction_answers_the_tag_of_the_stop(client, connect) -> None:
    """StopTransaction.conf's idTagInfo: the session being stopped is no concurrent one
    (nor, replayed, after it was stopped); another open session of the tag is, also one
    of another charger's that the stop names by an id not its own."""
    tags = client.app[SERVICES].id_tags
    await tags.add("FLEET")
    await tags.add("BANNED", blocked=True)
    cp = await connect("CP-STOP")
    other = await connect("CP-OTHER")
    await cp.boot()
    await other.boot()
    now = _iso(datetime.now(UTC))

    async def start(charger, connector: int, tag: str) -> int:
        payload = {"connectorId": connector, "idTag": tag, "meterStart": 0, "timestamp": now}
        return (await charger.result("StartTransaction", payload))["transactionId"]

    async def stop(transaction_id: int, tag: str) -> str:
        payload = {"transactionId": transaction_id, "idTag": tag, "meterStop": 5, "timestamp": now}
        return (await cp.result("StopTransaction", payload))["idTagInfo"]["status"]

    own = await start(cp, 1, "FLEET")
    assert await stop(own, "FLEET") == "Accepted"
    assert await stop(own, "FLEET") == "Accepted"  # replayed: stopped already

    first, second = await start(cp, 1, "FLEET"), await start(cp, 2, "FLEET")
    assert await stop(first, "FLEET") == "ConcurrentTx"  # the one on connector 2
    assert await stop(second, "FLEET") == "Accepted"

    foreign = await start(other, 1, "FLEET")
    assert await stop(foreign, "FLEET") == "ConcurrentTx"  # not this charger's to stop
    assert (await client.app[SERVICES].transaction_queries.get(foreign)).stop_time is None

    banned = await start(cp, 1, "BANNED")
    assert await stop(banned, "BANNED") == "Blocked"
    assert await stop(banned, "NOBODY") == "Invalid"


async def test_start_transaction_keeps_charger_timestamp_reservation_and_replays(
    client, connect
) -> None:
    await client.app[SERVICES].id_tags.add("T")
    cp = await connect("CP-S")
    await cp.boot()
    payload = {
        "connectorId": 2,
        "idTag": "T",
        "meterStart": 42,
        "timestamp": "2026-01-02T03:04:05Z",
        "reservationId": 7,
    }
    first = await cp.result("StartTransaction", payload)
    # The charger lost our answer and sends the same StartTransaction again (ocpp #186).
    replay = await cp.result("StartTransaction", payload)
    assert replay["transactionId"] == first["transactionId"]
    assert replay["idTagInfo"]["status"] == "Accepted"

    tx = await client.app[SERVICES].transaction_queries.get(first["transactionId"])
    assert tx.start_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert tx.reservation_id == 7
    assert tx.meter_start == 42
    assert len(await get_json(client, "/api/transactions")) == 1


async def test_unknown_tag_still_gets_a_transaction_id(client, connect) -> None:
    cp = await connect("CP-U")
    await cp.boot()
    answer = await cp.result(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "STRANGER",
            "meterStart": 0,
            "timestamp": "2026-01-01T00:00:00Z",
        },
    )
    assert answer["idTagInfo"]["status"] == "Invalid"
    assert isinstance(answer["transactionId"], int)


async def test_stop_and_meter_values_for_foreign_transactions_are_accepted_not_applied(
    client, connect
) -> None:
    await client.app[SERVICES].id_tags.add("T")
    owner = await connect("OWNER")
    other = await connect("OTHER")
    tx_id = await owner.start()
    sample = [{"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": "5"}]}]

    # Another charger naming this transaction is answered (or it retries forever) ...
    assert (
        await other.result(
            "MeterValues", {"connectorId": 1, "transactionId": tx_id, "meterValue": sample}
        )
        == {}
    )
    assert (
        await other.result(
            "StopTransaction",
            {"transactionId": tx_id, "meterStop": 99, "timestamp": "2026-01-01T00:02:00Z"},
        )
        == {}
    )
    # ... and so is one naming a transaction that never existed (SteVe #156).
    assert (
        await other.result(
            "StopTransaction",
            {
                "transactionId": -1,
                "meterStop": 1,
                "timestamp": "2026-01-01T00:02:00Z",
                "transactionData": sample,
            },
        )
        == {}
    )

    # ... but nothing of it touches the owner's session.
    tx = await client.app[SERVICES].transaction_queries.get(tx_id)
    assert tx.active and tx.meter_stop is None
    assert await get_json(client, f"/api/transactions/{tx_id}/meter-values") == []
    stray = await rows(client, MeterValue, MeterValue.charge_point_id == "OTHER")
    assert sorted(v.claimed_transaction_id for v in stray) == [-1, tx_id]
    assert all(v.transaction_id is None for v in stray)


async def test_meter_values_without_transaction_are_stored(client, connect) -> None:
    cp = await connect("CP-M")
    await cp.boot()
    await cp.result(
        "MeterValues",
        {
            "connectorId": 0,
            "meterValue": [
                {
                    "timestamp": "2026-01-01T00:00:00Z",
                    "sampledValue": [
                        {
                            "value": "50.0",
                            "measurand": "Frequency",
                            "location": "Inlet",
                            "format": "Raw",
                            "context": "Sample.Clock",
                        }
                    ],
                }
            ],
        },
    )
    [value] = await rows(client, MeterValue, MeterValue.charge_point_id == "CP-M")
    assert (value.measurand, value.location, value.context, value.transaction_id) == (
        "Frequency",
        "Inlet",
        "Sample.Clock",
        None,
    )


async def test_a_reading_of_any_length_is_stored_as_sent(client, connect) -> None:
    # OCPP 1.6 sets sampledValue.value no length; PostgreSQL kept 64 characters and
    # answered a valid MeterValues with an InternalError.
    cp = await connect("CP-LONG")
    await cp.boot()
    reading = "1234567890." + "0" * 189
    sample = {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": reading}]}
    assert await cp.result("MeterValues", {"connectorId": 1, "meterValue": [sample]}) == {}
    [value] = await rows(client, MeterValue, MeterValue.charge_point_id == "CP-LONG")
    assert value.value == reading


async def test_data_transfer_and_status_reports_are_stored(client, connect) -> None:
    cp = await connect("CP-D")
    await cp.boot()
    answer = await cp.result(
        "DataTransfer", {"vendorId": "com.example", "messageId": "Hello", "data": '{"a":1}'}
    )
    assert answer == {"status": "UnknownVendorId"}
    await cp.result("DiagnosticsStatusNotification", {"status": "Uploading"})
    await cp.result("DiagnosticsStatusNotification", {"status": "Uploaded"})
    await cp.result("FirmwareStatusNotification", {"status": "Downloading"})

    [transfer] = await rows(client, DataTransferMessage)
    assert (transfer.charge_point_id, transfer.vendor_id, transfer.message_id, transfer.data) == (
        "CP-D",
        "com.example",
        "Hello",
        '{"a":1}',
    )
    reports = await rows(client, StatusReport)
    assert [(r.kind, r.status) for r in reports] == [
        ("diagnostics", "Uploading"),
        ("diagnostics", "Uploaded"),
        ("firmware", "Downloading"),
    ]
    [charge_point] = await rows(client, ChargePoint, ChargePoint.id == "CP-D")
    assert (charge_point.diagnostics_status, charge_point.firmware_status) == (
        "Uploaded",
        "Downloading",
    )


async def test_events_are_published_after_each_commit(client, connect) -> None:
    """What the portal's live view will follow: ids and values, in the order they happened."""
    bus = client.app[BUS]
    await client.app[SERVICES].id_tags.add("TAG")
    async with bus.subscribe() as events:
        cp = await connect("CP-EV")
        await cp.boot()
        await cp.status(1, "Charging")
        start = await cp.result(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "TAG",
                "meterStart": 0,
                "timestamp": "2026-01-01T00:00:00Z",
            },
        )
        await cp.result(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": start["transactionId"],
                "meterValue": [
                    {"timestamp": "2026-01-01T00:01:00Z", "sampledValue": [{"value": "10"}]}
                ],
            },
        )
        await cp.result(
            "StopTransaction",
            {"transactionId": start["transactionId"], "meterStop": 20,
             "timestamp": "2026-01-01T00:02:00Z"},
        )  # fmt: skip
        await cp.ws.close()
        seen = []
        while not seen or seen[-1].kind != "disconnected":
            event = await asyncio.wait_for(events.get(), 5)
            # The message log's own events, and the outbox readers' wake-ups: tested apart.
            if event.kind not in ("message", EVENTS_WRITTEN):
                seen.append(event)
    assert [e.kind for e in seen] == [
        "connected",
        "boot",
        "status",
        "transaction_started",
        "meter_values",
        "transaction_stopped",
        "disconnected",
    ]
    assert all(e.charge_point_id == "CP-EV" for e in seen)
    assert seen[2].data == {"connector_id": 1, "status": "Charging", "error_code": "NoError"}
    assert seen[4].data["values"][0]["value"] == "10"
    assert seen[5].data["meter_stop"] == 20
    assert bus.subscriber_count == 0


async def test_message_log_keeps_both_directions_with_secrets_redacted(client, connect) -> None:
    cp = await connect("CP-LOG")
    await cp.boot()
    await cp.send_raw("not json at all")
    request = asyncio.create_task(
        client.post(
            "/api/charge-points/CP-LOG/change-configuration",
            json={"key": "AuthorizationKey", "value": "0123456789abcdef0123"},
            headers=ADMIN,
        )
    )
    frame = await cp.expect_call("ChangeConfiguration")
    assert frame[3]["value"] == "0123456789abcdef0123"  # the charge point gets the real key
    await cp.answer(frame, {"status": "Accepted"})
    assert (await request).status == 200

    log = await client.app[SERVICES].message_log.recent("CP-LOG")
    summary = [(m.direction, m.message_type, m.action) for m in log]
    assert summary == [  # newest first
        ("in", 3, "ChangeConfiguration"),
        ("out", 2, "ChangeConfiguration"),
        ("in", None, None),
        ("out", 3, "BootNotification"),
        ("in", 2, "BootNotification"),
    ]
    assert "0123456789abcdef0123" not in log[1].payload
    assert '"value":"***"' in log[1].payload
    assert log[2].payload == "not json at all"
    assert log[0].unique_id == log[1].unique_id


async def test_nul_characters_are_refused_clearly_and_cost_the_log_nothing(client, connect) -> None:
    # PostgreSQL's text holds no NUL (U+0000): an idTag with one met an InternalError, and a
    # frame with one in its id, its action or its raw text failed the log's transaction,
    # and with it the entries of every other charger in it.
    cp = await connect("CP-NUL")
    await cp.boot()
    await cp.send_raw('[2, "nul-1", "Authorize", {"idTag": "TAG\\u0000"}]')
    refused = await cp.receive()
    assert refused[:3] == [4, "nul-1", "PropertyConstraintViolation"]
    assert refused[4]["cause"] == "idTag: contains the NUL character (U+0000)"
    await cp.send_raw('[2, "nul\\u0000id", "Heartbeat", {}]')
    assert (await cp.receive())[:2] == [3, "nul\x00id"]  # the id comes back as sent
    await cp.send_raw('[2, "nul-3", "Heart\\u0000beat", {}]')
    assert (await cp.receive())[:3] == [4, "nul-3", "NotImplemented"]
    await cp.send_raw("\x00 not json")
    assert await cp.result("Heartbeat", {}) != {}

    log = await client.app[SERVICES].message_log.recent("CP-NUL")
    assert [(m.direction, m.unique_id, m.action) for m in log[:9]] == [  # newest first
        ("out", log[0].unique_id, "Heartbeat"),
        ("in", log[0].unique_id, "Heartbeat"),
        ("in", None, None),
        ("out", "nul-3", "Heart\ufffdbeat"),
        ("in", "nul-3", "Heart\ufffdbeat"),
        ("out", "nul\ufffdid", "Heartbeat"),
        ("in", "nul\ufffdid", "Heartbeat"),
        ("out", "nul-1", "Authorize"),
        ("in", "nul-1", "Authorize"),
    ]
    assert log[2].payload == "\ufffd not json"


async def test_answered_calls_leave_nothing_behind_on_the_connection(client, connect) -> None:
    """A charger connected for months must not grow its connection's memory with every
    message it ever sent; the log still names the action of every answer."""
    cp = await connect("CP-LONG")
    await cp.boot()
    for _ in range(20):
        await cp.result("Heartbeat", {})
    await cp.send_raw('[2, "bad-1", "Heartbeat", {"unexpected": 1}]')  # answered by CALLERROR
    await cp.receive()
    handler = client.app[CENTRAL_SYSTEM].registry.get("CP-LONG")
    assert not handler._actions
    log = await client.app[SERVICES].message_log.recent("CP-LONG", limit=4)
    assert [(m.direction, m.message_type, m.action) for m in log] == [
        ("out", 4, "Heartbeat"),
        ("in", 2, "Heartbeat"),
        ("out", 3, "Heartbeat"),
        ("in", 2, "Heartbeat"),
    ]


async def test_message_log_keeps_the_order_of_recording_across_its_two_ways_in(client) -> None:
    """Entries reach the database in the transactions of the group commit (which take
    what is buffered as they form) and through the log's own flush; in whichever
    transaction, they are stored in the order they were recorded."""
    log = client.app[SERVICES].message_log
    log.record("CP-ORDER", "in", "first")
    flushing = asyncio.ensure_future(log.flush())
    await asyncio.sleep(0)  # the flush has handed "first" to the group commit
    log.record("CP-ORDER", "in", "second")  # taken by the transaction that writes "first"
    await flushing
    assert [m.payload for m in await log.recent("CP-ORDER")] == ["second", "first"]


async def test_message_log_keeps_the_newest_entries_of_each_charge_point(client, connect) -> None:
    log = client.app[SERVICES].message_log
    log._keep = 6  # the production limit is 5,000 per charge point; the same rule, smaller
    busy, quiet = await connect("CP-BUSY"), await connect("CP-QUIET")
    await quiet.boot()
    await busy.boot()
    for _ in range(15):
        await busy.result("Heartbeat", {})
        await log.flush()  # as the background writer would, between messages
    kept = await log.recent("CP-BUSY", limit=100)
    assert 6 <= len(kept) < 12  # pruned back to 6 each time 6 more were written
    assert [(m.direction, m.action) for m in kept[:2]] == [
        ("out", "Heartbeat"),
        ("in", "Heartbeat"),
    ]
    assert len(await log.recent("CP-QUIET", limit=100)) == 2  # another charger's are untouched
