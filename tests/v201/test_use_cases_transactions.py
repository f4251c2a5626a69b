"""OCPP 2.0.1 functional block E (Transactions), the CSMS side, one test per use case as
the OCTT CSMS test cases (TC_E_*_CSMS) drive it: TransactionEvents from a station on a
real WebSocket, answered with the token's status, and the sessions the API then shows.
E15/E16 (cost, limits) are n/a: Voltaro sends no tariffs."""

from __future__ import annotations

from datetime import timedelta

from tests.helpers import get_json, iso, journal, sessions
from tests.v201.charging_station import (
    ENERGY,
    V201,
    boot,
    ended,
    event,
    recent,
    started,
    station,
    updated,
)
from tests.v201.use_cases import add_tag, answered

ACCEPTED = {"idTokenInfo": {"status": "Accepted"}}


async def by_tx(client, charge_point_id: str) -> dict[str, dict]:
    return {t["ocpp_transaction_id"]: t for t in await sessions(client, charge_point_id)}


async def test_E01_start_transaction_options(client, connect) -> None:
    """E01: whatever starts the transaction on the station (cable plugged in, EV detected,
    authorized), its Started event opens a session on its EVSE and connector; an event
    without idToken is answered without idTokenInfo, one with a token with the token's
    status."""
    await add_tag(client, "E01TAG")
    cp = await station(connect, "E01", evses=3)
    t0 = recent()
    plugged = event(
        "Started",
        0,
        "TX-PLUG",
        t0,
        "CablePluggedIn",
        evse=1,
        energy=100,
        context="Transaction.Begin",
    )
    assert await cp.result("TransactionEvent", plugged) == {}
    detected = event(
        "Started", 0, "TX-EV", t0, "EVDetected", evse=2, energy=200, context="Transaction.Begin"
    )
    assert await cp.result("TransactionEvent", detected) == {}
    authorized = started("TX-AUTH", t0, token="E01TAG", evse=3, energy=300)
    assert await cp.result("TransactionEvent", authorized) == ACCEPTED
    shown = await by_tx(client, "E01")
    assert {
        k: (t["evse_id"], t["connector_id"], t["id_tag"], t["meter_start"], t["stop_time"])
        for k, t in shown.items()
    } == {
        "TX-PLUG": (1, 1, None, 100, None),
        "TX-EV": (2, 1, None, 200, None),
        "TX-AUTH": (3, 1, "E01TAG", 300, None),
    }
    assert len(await get_json(client, "/api/transactions?active=true", role="viewer")) == 3


async def test_E02_cable_plugin_first(client, connect) -> None:
    """E02: plugged in first, then authorized: the token arrives in an Updated event, is
    answered with its status and becomes the session's; the readings of every event are the
    session's meter values in order."""
    await add_tag(client, "E02TAG")
    cp = await station(connect, "E02")
    t0 = recent()
    plug = event(
        "Started",
        0,
        "TX-E02",
        t0,
        "CablePluggedIn",
        energy=1000,
        context="Transaction.Begin",
        chargingState="EVConnected",
    )
    assert await cp.result("TransactionEvent", plug) == {}
    auth = event("Updated", 1, "TX-E02", t0 + timedelta(seconds=10), "Authorized", token="E02TAG")
    assert await cp.result("TransactionEvent", auth) == ACCEPTED
    charging = updated(
        "TX-E02", t0 + timedelta(seconds=20), 2, energy=1100, chargingState="Charging"
    )
    charging["triggerReason"] = "ChargingStateChanged"
    assert await cp.result("TransactionEvent", charging) == {}
    assert await cp.result("TransactionEvent", ended("TX-E02", t0 + timedelta(minutes=1), 3)) == {}
    [tx] = await sessions(client, "E02")
    assert (tx["id_tag"], tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (
        "E02TAG",
        1000,
        2000,
        1000.0,
    )
    assert (tx["start_time"], tx["stop_time"]) == (iso(t0), iso(t0 + timedelta(minutes=1)))
    values = await get_json(client, f"/api/transactions/{tx['id']}/meter-values", role="viewer")
    assert [(v["measurand"], v["value"], v["context"]) for v in values] == [
        (ENERGY, "1000", "Transaction.Begin"),
        (ENERGY, "1100", "Sample.Periodic"),
        (ENERGY, "2000", "Transaction.End"),
    ]


async def test_E03_id_token_first(client, connect) -> None:
    """E03: authorized first (Authorize), then the Started event names the token: both
    answered Accepted, the session is the token's from its start."""
    await add_tag(client, "E03TAG")
    cp = await station(connect, "E03")
    authorize = await cp.result("Authorize", {"idToken": {"idToken": "E03TAG", "type": "ISO14443"}})
    assert authorize["idTokenInfo"]["status"] == "Accepted"
    t0 = recent()
    assert await cp.result("TransactionEvent", started("TX-E03", t0, token="E03TAG")) == ACCEPTED
    [tx] = await sessions(client, "E03")
    assert (tx["id_tag"], tx["start_time"], tx["stop_time"]) == ("E03TAG", iso(t0), None)


async def test_E04_transaction_started_while_offline(client, connect) -> None:
    """E04: a transaction the station started while offline arrives after it reconnects,
    offline true and with its own old timestamps; the session starts when the station says
    it did, not when the message arrived."""
    await add_tag(client, "E04TAG")
    cp = await station(connect, "E04")
    t0 = recent() - timedelta(hours=1)
    late = started("TX-E04", t0, token="E04TAG", offline=True)
    assert await cp.result("TransactionEvent", late) == ACCEPTED
    live = updated("TX-E04", recent() + timedelta(minutes=1), 1, energy=1500)
    assert await cp.result("TransactionEvent", live) == {}
    [tx] = await sessions(client, "E04")
    assert (tx["start_time"], tx["meter_start"], tx["id_tag"]) == (iso(t0), 1000, "E04TAG")


async def test_E05_start_transaction_id_not_accepted(client, connect) -> None:
    """E05/E06(S3) (TC_E_16_CSMS: E06.FR.04, E01.FR.11, E01.FR.12): a transaction started
    with a token the CSMS does not accept is answered with that status (Invalid, Blocked),
    so the station deauthorizes it; its Ended event (Deauthorized, DeAuthorized) closes the
    session with that reason."""
    await add_tag(client, "E05-BLOCKED", blocked=True)
    cp = await station(connect, "E05", evses=2)
    t0 = recent()
    unknown = await cp.result("TransactionEvent", started("TX-E05", t0, token="E05-NOBODY"))
    assert unknown["idTokenInfo"]["status"] in ("Invalid", "Unknown")
    blocked = await cp.result(
        "TransactionEvent", started("TX-E05B", t0, token="E05-BLOCKED", evse=2)
    )
    assert blocked["idTokenInfo"]["status"] == "Blocked"
    for tx, evse in (("TX-E05", 1), ("TX-E05B", 2)):
        stop = ended(tx, t0 + timedelta(seconds=5), 1, stoppedReason="DeAuthorized", evse=evse)
        stop["triggerReason"] = "Deauthorized"
        assert await cp.result("TransactionEvent", stop) == {}
    shown = await by_tx(client, "E05")
    assert {k: (t["id_tag"], t["stop_reason"]) for k, t in shown.items()} == {
        "TX-E05": ("E05-NOBODY", "DeAuthorized"),
        "TX-E05B": ("E05-BLOCKED", "DeAuthorized"),
    }
    assert await get_json(client, "/api/transactions?active=true", role="viewer") == []


async def test_E06_stop_transaction_options(client, connect) -> None:
    """E06/E09: whatever ends the transaction (EV disconnected, stop authorized, energy
    transfer stopped, power loss), the Ended event closes the session with its stoppedReason
    and last reading."""
    cp = await station(connect, "E06", evses=4)
    t0 = recent()
    cases = [
        ("TX-DISC", 1, "EVDeparted", "EVDisconnected"),
        ("TX-LOCAL", 2, "StopAuthorized", "Local"),
        ("TX-EVSTOP", 3, "ChargingStateChanged", "StoppedByEV"),
        ("TX-POWER", 4, "AbnormalCondition", "PowerLoss"),
    ]
    for tx, evse, _, _ in cases:
        assert await cp.result("TransactionEvent", started(tx, t0, evse=evse)) == {}
    for i, (tx, evse, trigger, reason) in enumerate(cases):
        stop = ended(
            tx, t0 + timedelta(minutes=1), 1, evse=evse, stoppedReason=reason, energy=2000 + i
        )
        stop["triggerReason"] = trigger
        assert await cp.result("TransactionEvent", stop) == {}
    shown = await by_tx(client, "E06")
    assert {k: (t["stop_reason"], t["meter_stop"]) for k, t in shown.items()} == {
        tx: (reason, 2000 + i) for i, (tx, _, _, reason) in enumerate(cases)
    }
    assert all(t["stop_time"] == iso(t0 + timedelta(minutes=1)) for t in shown.values())


async def test_E07_transaction_locally_stopped_by_id_token(client, connect) -> None:
    """E07: the driver presents the token again: the Updated (or Ended) event with
    triggerReason StopAuthorized and the token is answered with its status, and the Ended
    event stops the session with stoppedReason Local."""
    await add_tag(client, "E07TAG")
    cp = await station(connect, "E07")
    t0 = recent()
    assert await cp.result("TransactionEvent", started("TX-E07", t0, token="E07TAG")) == ACCEPTED
    stop_auth = event(
        "Updated",
        1,
        "TX-E07",
        t0 + timedelta(seconds=30),
        "StopAuthorized",
        token="E07TAG",
        chargingState="EVConnected",
    )
    assert await cp.result("TransactionEvent", stop_auth) == ACCEPTED
    end = ended("TX-E07", t0 + timedelta(seconds=40), 2, stoppedReason="Local")
    assert await cp.result("TransactionEvent", end) == {}
    [tx] = await sessions(client, "E07")
    assert (tx["stop_reason"], tx["stop_time"], tx["id_tag"]) == (
        "Local",
        iso(t0 + timedelta(seconds=40)),
        "E07TAG",
    )


async def test_E08_transaction_stopped_while_offline(client, connect) -> None:
    """E08: a transaction that ended while the station was offline is closed at the time the
    station gives, by events that arrive late (offline true), with the readings taken
    then."""
    await add_tag(client, "E08TAG")
    cp = await station(connect, "E08")
    t0 = recent() - timedelta(minutes=30)
    assert await cp.result("TransactionEvent", started("TX-E08", t0, token="E08TAG")) == ACCEPTED
    await cp.ws.close()
    cp = await connect("E08", protocols=V201)  # back, without a reboot (B04)
    queued = [
        updated("TX-E08", t0 + timedelta(minutes=5), 1, energy=1500, offline=True),
        ended("TX-E08", t0 + timedelta(minutes=10), 2, energy=1800, offline=True),
    ]
    for payload in queued:
        assert await cp.result("TransactionEvent", payload) == {}
    [tx] = await sessions(client, "E08")
    assert (tx["stop_time"], tx["meter_stop"], tx["energy_wh"], tx["stop_reason"]) == (
        iso(t0 + timedelta(minutes=10)),
        1800,
        800.0,
        "EVDisconnected",
    )


async def test_E11_connection_loss_during_transaction(client, connect) -> None:
    """E11/E12: the connection drops during a transaction; the session stays open meanwhile;
    after the reconnect the station delivers what it queued (offline true) and then carries
    on live; the session resumes with every reading in order, ended once."""
    await add_tag(client, "E11TAG")
    cp = await station(connect, "E11")
    t0 = recent() - timedelta(minutes=10)
    assert await cp.result("TransactionEvent", started("TX-E11", t0, token="E11TAG")) == ACCEPTED
    await cp.ws.close()
    [tx] = await sessions(client, "E11")
    assert tx["stop_time"] is None
    cp = await connect("E11", protocols=V201)
    for seq_no in (1, 2):
        queued = updated(
            "TX-E11",
            t0 + timedelta(minutes=seq_no),
            seq_no,
            energy=1000 + 100 * seq_no,
            offline=True,
        )
        assert await cp.result("TransactionEvent", queued) == {}
    live = updated("TX-E11", t0 + timedelta(minutes=5), 3, energy=1500)
    assert await cp.result("TransactionEvent", live) == {}
    assert await cp.result("TransactionEvent", ended("TX-E11", t0 + timedelta(minutes=8), 4)) == {}
    [tx] = await sessions(client, "E11")
    assert (tx["meter_start"], tx["meter_stop"], tx["stop_time"]) == (
        1000,
        2000,
        iso(t0 + timedelta(minutes=8)),
    )
    assert "seq_no_gap" not in tx["flags"] and "out_of_order" not in tx["flags"]
    values = await get_json(client, f"/api/transactions/{tx['id']}/meter-values", role="viewer")
    assert [v["value"] for v in values] == ["1000", "1100", "1200", "1500", "2000"]

    # A whole transaction that happened offline (E12), delivered after a reboot.
    assert (await boot(cp, reason="PowerUp"))["status"] == "Accepted"
    t1 = t0 + timedelta(minutes=9)
    for payload in (
        started("TX-E12", t1, token="E11TAG", offline=True),
        ended("TX-E12", t1 + timedelta(seconds=30), 1, energy=1250, offline=True),
    ):
        await cp.result("TransactionEvent", payload)
    shown = await by_tx(client, "E11")
    assert (shown["TX-E12"]["start_time"], shown["TX-E12"]["energy_wh"]) == (iso(t1), 250.0)


async def test_E13_transaction_message_sent_again(client, connect) -> None:
    """E13: a station that got no answer (or a CALLERROR) sends the same TransactionEvent
    again; each is answered the same, and it is stored once: one session, one reading each,
    no flag."""
    await add_tag(client, "E13TAG")
    cp = await station(connect, "E13")
    t0 = recent()
    for payload, answer in (
        (started("TX-E13", t0, token="E13TAG"), ACCEPTED),
        (ended("TX-E13", t0 + timedelta(minutes=1), 1), {}),
    ):
        for _ in range(3):
            assert await cp.result("TransactionEvent", payload) == answer
    [tx] = await sessions(client, "E13")
    assert (tx["meter_start"], tx["meter_stop"], tx["flags"]) == (1000, 2000, [])
    values = await get_json(client, f"/api/transactions/{tx['id']}/meter-values", role="viewer")
    assert [v["value"] for v in values] == ["1000", "2000"]


async def test_E14_check_transaction_status(client, connect) -> None:
    """E14: GetTransactionStatus names the transaction as the station knows it (its
    transactionId), or none to ask about queued messages in general; ongoingIndicator and
    messagesInQueue are shown as answered and journalled."""
    await add_tag(client, "E14TAG")
    cp = await station(connect, "E14")
    await cp.result("TransactionEvent", started("TX-E14", recent(), token="E14TAG"))
    call, code, answer = await answered(
        client,
        cp,
        "E14",
        "get-transaction-status",
        {"transaction_id": "TX-E14"},
        {"ongoingIndicator": True, "messagesInQueue": False},
    )
    assert call[2:] == ["GetTransactionStatus", {"transactionId": "TX-E14"}]
    assert (code, answer) == (200, {"ongoing_indicator": True, "messages_in_queue": False})
    call, code, answer = await answered(
        client, cp, "E14", "get-transaction-status", {}, {"messagesInQueue": True}
    )
    assert call[2:] == ["GetTransactionStatus", {}]
    assert (code, answer) == (200, {"messages_in_queue": True})
    [latest, first] = await journal(client, "E14")
    assert first["response"] == {"ongoing_indicator": True, "messages_in_queue": False}
    assert latest["request"] == {}
