"""OCPP 2.0.1 transactions over a real WebSocket: TransactionEvent messages as sessions in
the API, whatever order, repetition or gaps they arrive with, and hostile frames refused
with 2.0.1's error codes on a connection that stays usable."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ocpp_core.services.session_flags import OVERLAP
from ocpp_core.services.transaction_events import LATE_EVENT, NO_STARTED, SEQ_GAP
from tests.helpers import get_json, iso, sessions
from tests.ocpp_client import RawChargePoint
from tests.v201.charging_station import ENERGY, ended, event, recent, started, station, updated
from tests.v201.use_cases import add_tag


async def meter_values(client, transaction_id: int) -> list[dict[str, Any]]:
    return await get_json(client, f"/api/transactions/{transaction_id}/meter-values", role="viewer")


ACCEPTED = {"idTokenInfo": {"status": "Accepted"}}


async def test_full_session(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    answer = await cp.result("TransactionEvent", started("TX-A", t0, token="TAG1"))
    assert answer == ACCEPTED
    [open_tx] = await sessions(client, "CS1")
    assert open_tx["stop_time"] is None
    assert open_tx["meter_start"] == 1000

    update = updated("TX-A", t0 + timedelta(seconds=30), 1, energy=1500, chargingState="Charging")
    assert await cp.result("TransactionEvent", update) == {}
    with_token = updated(
        "TX-A", t0 + timedelta(seconds=40), 2, energy=1600, token="TAG1", chargingState="Charging"
    )
    assert await cp.result("TransactionEvent", with_token) == ACCEPTED

    end = ended("TX-A", t0 + timedelta(minutes=1), 3, token="TAG1")
    assert await cp.result("TransactionEvent", end) == ACCEPTED

    [tx] = await sessions(client, "CS1")
    assert isinstance(tx["id"], int)
    assert tx == {
        "id": tx["id"],
        "charge_point_id": "CS1",
        "connector_id": 1,
        "id_tag": "TAG1",
        "id_tag_status": "Accepted",
        "meter_start": 1000,
        "meter_stop": 2000,
        "start_time": iso(t0),
        "stop_time": iso(t0 + timedelta(minutes=1)),
        "stop_reason": "EVDisconnected",
        "energy_wh": 1000.0,
        "ocpp_transaction_id": "TX-A",
        "evse_id": 1,
        "flags": [],
        "meter_values_pruned": 0,  # retention has removed none of its samples
        "meter_values_pruned_at": None,
    }
    assert open_tx["id"] == tx["id"]
    assert await get_json(client, "/api/transactions?active=true", role="viewer") == []

    values = await meter_values(client, tx["id"])
    assert [
        (v["timestamp"], v["measurand"], v["value"], v["unit"], v["context"]) for v in values
    ] == [
        (iso(t0), ENERGY, "1000", "Wh", "Transaction.Begin"),
        (iso(t0 + timedelta(seconds=30)), ENERGY, "1500", "Wh", "Sample.Periodic"),
        (iso(t0 + timedelta(seconds=40)), ENERGY, "1600", "Wh", "Sample.Periodic"),
        (iso(t0 + timedelta(minutes=1)), ENERGY, "2000", "Wh", "Transaction.End"),
    ]


async def test_repeated_event_is_stored_once_and_answered_each_time(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()
    messages = [
        started("TX-R", t0, token="TAG1"),
        updated("TX-R", t0 + timedelta(seconds=30), 1, energy=1500),
        ended("TX-R", t0 + timedelta(minutes=1), 2),
    ]
    expected = [ACCEPTED, {}, {}]
    for payload, answer in zip(messages, expected, strict=True):
        # Sent again as a charger does whose answer was lost: answered both times.
        assert await cp.result("TransactionEvent", payload) == answer
        assert await cp.result("TransactionEvent", payload) == answer

    [tx] = await sessions(client, "CS1")
    assert (tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (1000, 2000, 1000.0)
    assert tx["stop_reason"] == "EVDisconnected"
    # A repetition is no event arriving late.
    assert tx["flags"] == []
    values = await meter_values(client, tx["id"])
    assert [(v["value"], v["context"]) for v in values] == [
        ("1000", "Transaction.Begin"),
        ("1500", "Sample.Periodic"),
        ("2000", "Transaction.End"),
    ]


async def test_events_out_of_order(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    # Queued while offline: the Updated comes first, then the Started it follows.
    first = updated(
        "TX-O", t0 + timedelta(seconds=30), 1, energy=1500, offline=True, chargingState="Charging"
    )
    assert await cp.result("TransactionEvent", first) == {}
    late_start = started("TX-O", t0, token="TAG1", offline=True)
    assert await cp.result("TransactionEvent", late_start) == ACCEPTED
    assert await cp.result("TransactionEvent", ended("TX-O", t0 + timedelta(minutes=1), 2)) == {}

    [tx] = await sessions(client, "CS1")
    assert tx["start_time"] == iso(t0)
    assert tx["stop_time"] == iso(t0 + timedelta(minutes=1))
    assert tx["meter_start"] == 1000
    assert tx["meter_stop"] == 2000
    assert tx["energy_wh"] == 1000.0
    assert tx["id_tag"] == "TAG1"
    assert (tx["evse_id"], tx["connector_id"]) == (1, 1)
    assert LATE_EVENT == "out_of_order"
    assert "out_of_order" in tx["flags"]
    # Its Started came after all: the flag that said it never did is gone.
    assert "started_not_received" not in tx["flags"]
    values = await meter_values(client, tx["id"])
    assert [(v["value"], v["context"]) for v in values] == [
        ("1000", "Transaction.Begin"),
        ("1500", "Sample.Periodic"),
        ("2000", "Transaction.End"),
    ]


async def test_ended_without_started(client, connect) -> None:
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    end = ended("TX-E", t0, 4, energy=5000, stoppedReason="StoppedByEV")
    assert await cp.result("TransactionEvent", end) == {}

    [tx] = await sessions(client, "CS1")
    assert tx["ocpp_transaction_id"] == "TX-E"
    assert (tx["evse_id"], tx["connector_id"]) == (1, 1)
    assert tx["stop_time"] == iso(t0)
    assert tx["stop_reason"] == "StoppedByEV"
    assert tx["meter_stop"] == 5000
    assert NO_STARTED == "started_not_received"
    assert "started_not_received" in tx["flags"]
    assert await get_json(client, "/api/transactions?active=true", role="viewer") == []


async def test_seq_no_gap_is_flagged_until_filled(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()
    assert SEQ_GAP == "seq_no_gap"

    await cp.result("TransactionEvent", started("TX-G", t0, token="TAG1"))
    [tx] = await sessions(client, "CS1")
    assert "seq_no_gap" not in tx["flags"]

    await cp.result("TransactionEvent", updated("TX-G", t0 + timedelta(seconds=40), 2, energy=1600))
    [tx] = await sessions(client, "CS1")
    assert "seq_no_gap" in tx["flags"]

    await cp.result("TransactionEvent", ended("TX-G", t0 + timedelta(minutes=1), 3))
    [tx] = await sessions(client, "CS1")
    assert "seq_no_gap" in tx["flags"]
    assert tx["meter_stop"] == 2000

    # The missing event arrives after the end: the gap is gone, the end stays as it was.
    await cp.result("TransactionEvent", updated("TX-G", t0 + timedelta(seconds=20), 1, energy=1400))
    [tx] = await sessions(client, "CS1")
    assert "seq_no_gap" not in tx["flags"]
    assert (tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (1000, 2000, 1000.0)
    assert tx["stop_time"] == iso(t0 + timedelta(minutes=1))
    values = await meter_values(client, tx["id"])
    assert [v["value"] for v in values] == ["1000", "1400", "1600", "2000"]


async def test_token_arriving_in_an_update(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    # Plugged in first, no token yet: the answer has no idTokenInfo.
    plug_in = event("Started", 0, "TX-T", t0, "CablePluggedIn", energy=1000,
                    context="Transaction.Begin")  # fmt: skip
    assert await cp.result("TransactionEvent", plug_in) == {}
    [tx] = await sessions(client, "CS1")
    assert tx["id_tag"] is None

    authorized = event("Updated", 1, "TX-T", t0 + timedelta(seconds=20), "Authorized", token="TAG1")
    assert await cp.result("TransactionEvent", authorized) == ACCEPTED
    [tx] = await sessions(client, "CS1")
    assert tx["id_tag"] == "TAG1"

    assert await cp.result("TransactionEvent", ended("TX-T", t0 + timedelta(minutes=1), 2)) == {}
    [tx] = await sessions(client, "CS1")
    assert tx["id_tag"] == "TAG1"
    assert (tx["meter_start"], tx["meter_stop"]) == (1000, 2000)
    # The tag's session is open no more: the tag is free for another.
    assert await cp.result("Authorize", {"idToken": {"idToken": "TAG1", "type": "ISO14443"}}) == (
        ACCEPTED
    )


async def test_unknown_tag_is_invalid_and_the_session_recorded(client, connect) -> None:
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    answer = await cp.result("TransactionEvent", started("TX-U", t0, token="NOBODY"))
    assert answer == {"idTokenInfo": {"status": "Invalid"}}
    await cp.result("TransactionEvent", ended("TX-U", t0 + timedelta(minutes=1), 1))

    [tx] = await sessions(client, "CS1")
    assert tx["ocpp_transaction_id"] == "TX-U"
    assert tx["id_tag"] == "NOBODY"
    assert (tx["meter_start"], tx["meter_stop"]) == (1000, 2000)
    assert tx["stop_reason"] == "EVDisconnected"


async def test_tag_in_use_elsewhere_is_concurrent(client, connect) -> None:
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    assert await cp.result("TransactionEvent", started("TX-1", t0, token="TAG1")) == ACCEPTED
    second = started("TX-2", t0 + timedelta(seconds=10), token="TAG1", evse=2)
    assert await cp.result("TransactionEvent", second) == {
        "idTokenInfo": {"status": "ConcurrentTx"}
    }
    listed = await sessions(client, "CS1")
    assert sorted((t["ocpp_transaction_id"], t["evse_id"]) for t in listed) == [
        ("TX-1", 1),
        ("TX-2", 2),
    ]

    # Once the first ends, the tag has no other open session than the second's own.
    await cp.result("TransactionEvent", ended("TX-1", t0 + timedelta(seconds=30), 1))
    again = updated("TX-2", t0 + timedelta(seconds=40), 1, token="TAG1", evse=2)
    assert await cp.result("TransactionEvent", again) == ACCEPTED


async def test_same_transaction_id_on_two_chargers(client, connect) -> None:
    await add_tag(client, "TAG-A")
    await add_tag(client, "TAG-B")
    a = await station(connect, "CS-A", connector_status="Occupied")
    b = await station(connect, "CS-B", connector_status="Occupied")
    t0 = recent()

    assert await a.result("TransactionEvent", started("TX-1", t0, token="TAG-A")) == ACCEPTED
    b_start = started("TX-1", t0 + timedelta(seconds=5), token="TAG-B", energy=7000)
    assert await b.result("TransactionEvent", b_start) == ACCEPTED
    b_end = ended("TX-1", t0 + timedelta(seconds=50), 1, energy=7300)
    await b.result("TransactionEvent", b_end)

    [on_a] = await sessions(client, "CS-A")
    [on_b] = await sessions(client, "CS-B")
    assert on_a["id"] != on_b["id"]
    assert on_a["ocpp_transaction_id"] == on_b["ocpp_transaction_id"] == "TX-1"
    # B's Ended closed B's session only.
    assert (on_a["id_tag"], on_a["meter_start"], on_a["stop_time"]) == ("TAG-A", 1000, None)
    assert (on_b["id_tag"], on_b["meter_start"], on_b["meter_stop"]) == ("TAG-B", 7000, 7300)

    await a.result("TransactionEvent", ended("TX-1", t0 + timedelta(minutes=1), 1))
    [on_a] = await sessions(client, "CS-A")
    assert (on_a["meter_start"], on_a["meter_stop"], on_a["energy_wh"]) == (1000, 2000, 1000.0)
    assert [v["value"] for v in await meter_values(client, on_a["id"])] == ["1000", "2000"]
    assert [v["value"] for v in await meter_values(client, on_b["id"])] == ["7000", "7300"]
    assert len(await get_json(client, "/api/transactions", role="viewer")) == 2


async def assert_still_usable(cp: RawChargePoint) -> None:
    heartbeat = await cp.result("Heartbeat", {})
    assert datetime.fromisoformat(heartbeat["currentTime"]).tzinfo is not None


async def test_hostile_frames_are_refused_with_201_codes(client, connect) -> None:
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    wrong_type = started("TX-H", t0)
    wrong_type["seqNo"] = "x"
    frame = await cp.call("TransactionEvent", wrong_type, unique_id="wrong-type")
    assert frame[:3] == [4, "wrong-type", "TypeConstraintViolation"], frame
    assert "seqNo" in json.dumps(frame[4])
    await assert_still_usable(cp)

    missing = started("TX-H", t0)
    del missing["triggerReason"]
    frame = await cp.call("TransactionEvent", missing, unique_id="missing")
    assert frame[:3] == [4, "missing", "OccurrenceConstraintViolation"], frame
    await assert_still_usable(cp)

    # Nothing of the refused events was stored.
    assert await sessions(client, "CS1") == []

    frame = await cp.call("NoSuchAction", {}, unique_id="unknown-action")
    assert frame[:3] == [4, "unknown-action", "NotImplemented"], frame
    await assert_still_usable(cp)

    await cp.send_raw(json.dumps([7, "id1", "Heartbeat", {}]))
    frame = await cp.receive()
    assert frame[:3] == [4, "id1", "MessageTypeNotSupported"], frame
    await assert_still_usable(cp)

    await cp.send_raw('[2, "not-json", "Heartbeat", {')
    frame = await cp.receive()
    assert frame[:3] == [4, "not-json", "RpcFrameworkError"], frame
    await assert_still_usable(cp)

    # And a valid event after all that is stored.
    assert await cp.result("TransactionEvent", started("TX-H", t0)) == {}
    [tx] = await sessions(client, "CS1")
    assert tx["ocpp_transaction_id"] == "TX-H"


async def test_seq_no_gaps_come_and_go_as_events_arrive(client, connect) -> None:
    """The next seqNo of a session without gaps is taken without counting; a gap after a
    filled one is still seen."""
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    async def send(seq_no: int) -> list[str]:
        at = t0 + timedelta(seconds=10 * seq_no)
        payload = started("TX-S", at, token="TAG1") if seq_no == 0 else updated("TX-S", at, seq_no)
        await cp.result("TransactionEvent", payload)
        [tx] = await sessions(client, "CS1")
        return tx["flags"]

    order = [0, 2, 1, 3, 4, 7, 5, 6, 8]
    gaps = [SEQ_GAP in await send(seq_no) for seq_no in order]
    assert gaps == [False, True, False, False, False, True, True, False, False]


async def test_second_session_on_a_busy_evse_is_flagged_overlap(client, connect) -> None:
    await add_tag(client, "TAG1")
    await add_tag(client, "TAG2")
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()

    await cp.result("TransactionEvent", started("TX-A", t0, token="TAG1"))
    await cp.result("TransactionEvent", started("TX-B", t0 + timedelta(seconds=5), token="TAG2"))
    await cp.result("TransactionEvent", started("TX-C", t0 + timedelta(seconds=6), evse=2))
    flags = {t["ocpp_transaction_id"]: t["flags"] for t in await sessions(client, "CS1")}
    assert OVERLAP not in flags["TX-A"]
    assert OVERLAP in flags["TX-B"]  # EVSE 1 had TX-A open
    assert OVERLAP not in flags["TX-C"]  # EVSE 2 had none


async def test_station_wide_seq_no_is_no_gap(client, connect) -> None:
    """A charger numbering events across its EVSEs gives a transaction seqNos with holes
    from its first: no gap can be told from that."""
    cp = await station(connect, "CS1", connector_status="Occupied")
    t0 = recent()
    for n, seq_no in enumerate((40, 42, 45)):
        at = t0 + timedelta(seconds=10 * n)
        payload = started("TX-W", at, seq_no=40) if n == 0 else updated("TX-W", at, seq_no)
        await cp.result("TransactionEvent", payload)
    await cp.result("TransactionEvent", ended("TX-W", t0 + timedelta(minutes=1), 47))
    [tx] = await sessions(client, "CS1")
    assert SEQ_GAP not in tx["flags"]
    assert tx["stop_time"] is not None


def _phases(count: int, at: datetime, context: str) -> list[dict[str, Any]]:
    """`count` voltage samples (their values 200, 201, ...) with an energy register."""
    samples: list[dict[str, Any]] = [
        {"value": 200 + n, "measurand": "Voltage", "unitOfMeasure": {"unit": "V"},
         "context": context, "phase": "L1-N"}
        for n in range(count)
    ]  # fmt: skip
    samples.append({"value": 5000, "measurand": ENERGY, "context": context})
    return [{"timestamp": iso(at), "sampledValue": samples}]


async def test_events_of_any_number_of_samples_are_stored_whole(client, connect) -> None:
    """An event and its samples are written in one statement on PostgreSQL up to some
    number of samples, apart beyond it: both ways keep every sample, linked to the
    session, and the session's columns (a new one's id included) as the events leave them."""
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1")
    t0 = recent()
    for n, count in enumerate((0, 1, 40)):
        tx = f"TX-{count}"
        begin = started(tx, t0, energy=None, token="TAG1")
        begin["meterValue"] = _phases(count, t0, "Transaction.Begin")
        assert await cp.result("TransactionEvent", begin) == ACCEPTED
        update = updated(tx, t0 + timedelta(seconds=10), 1, energy=None)
        update["meterValue"] = _phases(count + 2, t0 + timedelta(seconds=10), "Sample.Periodic")
        assert await cp.result("TransactionEvent", update) == {}
        end = ended(tx, t0 + timedelta(seconds=20), 2, energy=None)
        end["meterValue"] = _phases(count, t0 + timedelta(seconds=20), "Transaction.End")
        assert await cp.result("TransactionEvent", end) == {}
        t0 += timedelta(seconds=30 + n)
    by_id = {s["ocpp_transaction_id"]: s for s in await sessions(client, "CS1")}
    assert len({s["id"] for s in by_id.values()}) == 3
    for count in (0, 1, 40):
        session = by_id[f"TX-{count}"]
        assert session["meter_start"] == session["meter_stop"] == 5000
        assert session["stop_reason"] == "EVDisconnected" and session["flags"] == []
        values = await meter_values(client, session["id"])
        assert len(values) == 3 * (count + 1) + 2
        voltages = sorted(int(v["value"]) for v in values if v["measurand"] == "Voltage")
        assert voltages == sorted([*range(200, 200 + count)] * 2 + [*range(200, 202 + count)])


async def test_two_transactions_of_the_same_start_are_two_sessions(client, connect) -> None:
    """A station whose clock does not move (reset to its build date at every power-up)
    starts two transactions on the same connector, with the same token, at the same time
    and the same meter reading: they differ by transactionId alone. Both are sessions,
    each Started is answered; the 1.6 rule that calls such a second start a retry of the
    first is no 2.0.1 rule."""
    await add_tag(client, "TAG1")
    cp = await station(connect, "CS1")
    t0 = recent()

    assert await cp.result("TransactionEvent", started("TX-1", t0, token="TAG1")) == ACCEPTED
    await cp.result("TransactionEvent", ended("TX-1", t0, 1, energy=1000))
    frame = await cp.call("TransactionEvent", started("TX-2", t0, token="TAG1"))
    assert frame[0] == 3, f"the second transaction's Started was refused: {frame}"
    assert frame[2] == ACCEPTED
    listed = await sessions(client, "CS1")
    starts = sorted((t["ocpp_transaction_id"], t["start_time"], t["meter_start"]) for t in listed)
    assert starts == [("TX-1", iso(t0), 1000), ("TX-2", iso(t0), 1000)]
