"""OCPP 2.0.1 functional blocks F (Remote control), G (Availability) and H (Reservation),
the CSMS side, one test per use case as the OCTT CSMS test cases (TC_F_*_CSMS,
TC_G_*_CSMS, TC_H_*_CSMS) drive it."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.helpers import get_json, journal
from tests.v201.charging_station import ended, event, recent, started, station, status
from tests.v201.use_cases import add_tag, answered, charge_point, later, refused
from webapp.keys import SERVICES

ACCEPTED = {"idTokenInfo": {"status": "Accepted"}}


def connectors(shown: dict) -> list[tuple[int, int, str]]:
    return [(c["evse_id"], c["connector_id"], c["status"]) for c in shown["connectors"]]


async def test_F01_remote_start_cable_plugged_in_first(client, connect, portal) -> None:
    """F01 (TC_F_01_CSMS): RequestStartTransaction names the token (type Central), the EVSE
    and a new remoteStartId; the Started event that echoes the remoteStartId (triggerReason
    RemoteStart) is answered with the token's status and becomes the token's session on that
    EVSE."""
    await add_tag(client, "F01TAG")
    cp = await station(connect, "F01")
    assert await status(cp, "Occupied") == {}
    call, code, answer = await answered(
        client,
        cp,
        "F01",
        "remote-start",
        {"id_tag": "F01TAG", "evse_id": 1},
        {"status": "Accepted"},
    )
    assert call[2] == "RequestStartTransaction"
    assert call[3]["idToken"] == {"idToken": "F01TAG", "type": "Central"}
    assert call[3]["evseId"] == 1 and call[3]["remoteStartId"] > 0
    assert (code, answer) == (200, {"status": "Accepted"})
    start = event(
        "Started",
        0,
        "TX-F01",
        recent(),
        "RemoteStart",
        energy=0,
        context="Transaction.Begin",
        remoteStartId=call[3]["remoteStartId"],
    )
    start["idToken"] = {"idToken": "F01TAG", "type": "Central"}
    assert await cp.result("TransactionEvent", start) == ACCEPTED
    [tx] = await get_json(client, "/api/transactions?charge_point_id=F01", role="viewer")
    assert (tx["ocpp_transaction_id"], tx["evse_id"], tx["id_tag"]) == ("TX-F01", 1, "F01TAG")
    # The session page names the operation that started it (by its remoteStartId).
    [operation] = await client.app[SERVICES].operations.journal("F01")
    _, page = await (await portal("viewer")).get(f"/transactions/{tx['id']}")
    shown = re.search(r'<dd id="remote-start">(.*?)</dd>', page, re.S)[1]
    assert (
        f"requested by {operation.requested_by} " in shown and f"#operation-{operation.id}" in shown
    )
    assert "(Accepted)" in shown
    # Each request has a remoteStartId of its own.
    again, _, _ = await answered(
        client, cp, "F01", "remote-start", {"id_tag": "F01TAG"}, {"status": "Rejected"}
    )
    assert again[3]["remoteStartId"] != call[3]["remoteStartId"] and "evseId" not in again[3]


async def test_F02_remote_start_first_and_rejected(client, connect) -> None:
    """F02 (with K05): a remote start answered Rejected is shown Rejected and opens no
    session; a charging profile sent with it must be a TxProfile (K05), else nothing is
    sent; an unknown EVSE is refused too."""
    await add_tag(client, "F02TAG")
    cp = await station(connect, "F02")
    _, code, answer = await answered(
        client,
        cp,
        "F02",
        "remote-start",
        {"id_tag": "F02TAG", "evse_id": 1},
        {"status": "Rejected"},
    )
    assert (code, answer) == (200, {"status": "Rejected"})
    assert await get_json(client, "/api/transactions?charge_point_id=F02", role="viewer") == []
    profile = {
        "id": 1,
        "stack_level": 0,
        "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Relative",
        "charging_schedule": [
            {
                "id": 1,
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 10}],
            }
        ],
    }
    code, error = await refused(
        client, "F02", "remote-start", {"id_tag": "F02TAG", "charging_profile": profile}
    )
    assert code == 400 and "TxProfile" in error
    code, error = await refused(client, "F02", "remote-start", {"id_tag": "F02TAG", "evse_id": 9})
    assert code == 400 and "evse_id 9" in error
    assert await cp.nothing_within(0.05)
    profile["charging_profile_purpose"] = "TxProfile"
    call, code, _ = await answered(
        client,
        cp,
        "F02",
        "remote-start",
        {"id_tag": "F02TAG", "charging_profile": profile},
        {"status": "Accepted"},
    )
    assert code == 200
    assert call[3]["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
    assert call[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 10}
    ]


async def test_F03_remote_stop_transaction(client, connect) -> None:
    """F03: the API's session id becomes the station's own transactionId in
    RequestStopTransaction; the Ended event (RemoteStop, stoppedReason Remote) closes the
    session; a stopped session is not stopped again."""
    await add_tag(client, "F03TAG")
    cp = await station(connect, "F03")
    t0 = recent()
    assert await cp.result("TransactionEvent", started("TX-F03", t0, token="F03TAG")) == ACCEPTED
    [tx] = await get_json(client, "/api/transactions?charge_point_id=F03", role="viewer")
    call, code, answer = await answered(
        client, cp, "F03", "remote-stop", {"transaction_id": tx["id"]}, {"status": "Accepted"}
    )
    assert call[2:] == ["RequestStopTransaction", {"transactionId": "TX-F03"}]
    assert (code, answer) == (200, {"status": "Accepted"})
    end = ended("TX-F03", t0 + timedelta(minutes=1), 1, stoppedReason="Remote")
    end["triggerReason"] = "RemoteStop"
    assert await cp.result("TransactionEvent", end) == {}
    [tx] = await get_json(client, "/api/transactions?charge_point_id=F03", role="viewer")
    assert (tx["stop_reason"], tx["stop_time"] is not None) == ("Remote", True)
    code, error = await refused(
        client, "F03", "request-stop-transaction", {"transaction_id": "TX-F03"}
    )
    assert code == 400 and "already stopped" in error
    code, error = await refused(
        client, "F03", "request-stop-transaction", {"transaction_id": "TX-NONE"}
    )
    assert code == 400 and "TX-NONE" in error
    assert await cp.nothing_within(0.05)


async def test_F04_remote_stop_rejected(client, connect) -> None:
    """F04: a remote stop the station rejects is shown Rejected and the session stays
    open."""
    await add_tag(client, "F04TAG")
    cp = await station(connect, "F04")
    await cp.result("TransactionEvent", started("TX-F04", recent(), token="F04TAG"))
    [tx] = await get_json(client, "/api/transactions?charge_point_id=F04", role="viewer")
    _, code, answer = await answered(
        client, cp, "F04", "remote-stop", {"transaction_id": tx["id"]}, {"status": "Rejected"}
    )
    assert (code, answer) == (200, {"status": "Rejected"})
    [tx] = await get_json(client, "/api/transactions?charge_point_id=F04", role="viewer")
    assert tx["stop_time"] is None


async def test_F05_remotely_unlock_connector(client, connect) -> None:
    """F05: UnlockConnector names the EVSE and connector; each answer (Unlocked,
    UnlockFailed, OngoingAuthorizedTransaction) is shown as given; an EVSE the station never
    reported is refused before sending."""
    cp = await station(connect, "F05")
    for outcome in ("Unlocked", "UnlockFailed", "OngoingAuthorizedTransaction"):
        call, code, answer = await answered(
            client,
            cp,
            "F05",
            "unlock-connector",
            {"evse_id": 1, "connector_id": 1},
            {"status": outcome},
        )
        assert call[2:] == ["UnlockConnector", {"evseId": 1, "connectorId": 1}]
        assert (code, answer) == (200, {"status": outcome})
    code, _ = await refused(client, "F05", "unlock-connector", {"evse_id": 3, "connector_id": 1})
    assert code == 400
    assert await cp.nothing_within(0.05)
    assert [e["status"] for e in await journal(client, "F05")] == [
        "OngoingAuthorizedTransaction",
        "UnlockFailed",
        "Unlocked",
    ]


async def test_F06_trigger_message(client, connect) -> None:
    """F06: TriggerMessage names the message and EVSE asked for; what the station then sends
    is taken like any other: the triggered StatusNotification changes the connector, the
    Heartbeat the last heartbeat; a NotImplemented answer is shown as such."""
    cp = await station(connect, "F06")
    body = {"requested_message": "StatusNotification", "evse": {"id": 1, "connector_id": 1}}
    call, code, answer = await answered(
        client, cp, "F06", "trigger-message", body, {"status": "Accepted"}
    )
    assert call[2:] == [
        "TriggerMessage",
        {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    assert await status(cp, "Faulted") == {}
    assert connectors(await charge_point(client, "F06")) == [(1, 1, "Faulted")]

    before = (await charge_point(client, "F06"))["last_heartbeat"]
    _, code, _ = await answered(
        client,
        cp,
        "F06",
        "trigger-message",
        {"requested_message": "Heartbeat"},
        {"status": "Accepted"},
    )
    assert code == 200
    await cp.result("Heartbeat", {})
    assert (await charge_point(client, "F06"))["last_heartbeat"] != before
    _, code, answer = await answered(
        client,
        cp,
        "F06",
        "trigger-message",
        {"requested_message": "SignV2GCertificate"},
        {"status": "NotImplemented"},
    )
    assert (code, answer) == (200, {"status": "NotImplemented"})


async def test_G01_status_notification(client, connect) -> None:
    """G01: each StatusNotification is answered and the newest status of each EVSE and
    connector is shown."""
    cp = await station(connect, "G01", evses=2)
    for connector_status in ("Occupied", "Reserved", "Unavailable", "Faulted", "Available"):
        assert await status(cp, connector_status, 2, 1) == {}
    assert await status(cp, "Occupied", 1, 2) == {}
    assert connectors(await charge_point(client, "G01")) == [
        (1, 1, "Available"),
        (1, 2, "Occupied"),
        (2, 1, "Available"),
    ]


async def test_G03_change_availability_evse(client, connect) -> None:
    """G03: ChangeAvailability names the operational status and the EVSE; the station's
    StatusNotification then shows the EVSE Unavailable; Scheduled (during a transaction) is
    shown as given; an unknown EVSE is refused before sending."""
    cp = await station(connect, "G03", evses=2)
    body = {"operational_status": "Inoperative", "evse": {"id": 2}}
    call, code, answer = await answered(
        client, cp, "G03", "change-availability", body, {"status": "Accepted"}
    )
    assert call[2:] == [
        "ChangeAvailability",
        {"operationalStatus": "Inoperative", "evse": {"id": 2}},
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    assert await status(cp, "Unavailable", 2, 1) == {}
    assert connectors(await charge_point(client, "G03")) == [
        (1, 1, "Available"),
        (2, 1, "Unavailable"),
    ]
    _, _, answer = await answered(
        client,
        cp,
        "G03",
        "change-availability",
        {"operational_status": "Inoperative", "evse": {"id": 1}},
        {"status": "Scheduled"},
    )
    assert answer == {"status": "Scheduled"}
    code, _ = await refused(
        client, "G03", "change-availability", {"operational_status": "Operative", "evse": {"id": 7}}
    )
    assert code == 400
    assert await cp.nothing_within(0.05)


async def test_G04_change_availability_charging_station(client, connect) -> None:
    """G04: ChangeAvailability without an EVSE is for the whole station; its
    StatusNotifications then show every connector Unavailable, and Operative brings them
    back."""
    cp = await station(connect, "G04", evses=2)
    for operational, shown_status in (("Inoperative", "Unavailable"), ("Operative", "Available")):
        call, code, answer = await answered(
            client,
            cp,
            "G04",
            "change-availability",
            {"operational_status": operational},
            {"status": "Accepted"},
        )
        assert call[3] == {"operationalStatus": operational}
        assert (code, answer) == (200, {"status": "Accepted"})
        for evse in (1, 2):
            assert await status(cp, shown_status, evse, 1) == {}
        assert connectors(await charge_point(client, "G04")) == [
            (1, 1, shown_status),
            (2, 1, shown_status),
        ]


async def test_H01_reservation(client, connect) -> None:
    """H01/H03: ReserveNow carries the id, expiry, token and EVSE; a reservation the station
    Accepted is shown Reserved, one it did not (Occupied, Faulted, Unavailable, Rejected) is
    not kept; a transaction started with the reservationId uses it."""
    await add_tag(client, "H01TAG")
    cp = await station(connect, "H01")
    expiry = later(30)
    body = {
        "id": 101,
        "expiry_date_time": expiry,
        "evse_id": 1,
        "id_token": {"id_token": "H01TAG", "type": "ISO14443"},
        "group_id_token": {"id_token": "H01GROUP", "type": "Central"},
    }
    call, code, answer = await answered(
        client, cp, "H01", "reserve-now", body, {"status": "Accepted"}
    )
    assert call[2] == "ReserveNow" and (code, answer) == (200, {"status": "Accepted"})
    assert (call[3]["id"], call[3]["evseId"], call[3]["expiryDateTime"]) == (101, 1, expiry)
    assert call[3]["idToken"] == {"idToken": "H01TAG", "type": "ISO14443"}
    assert await status(cp, "Reserved") == {}
    [held] = await get_json(client, "/api/charge-points/H01/reservations", role="viewer")
    assert (
        held["id"],
        held["connector_id"],
        held["id_tag"],
        held["parent_id_tag"],
        held["status"],
    ) == (101, 1, "H01TAG", "H01GROUP", "Reserved")

    for reservation_id, outcome in (
        (102, "Occupied"),
        (103, "Faulted"),
        (104, "Unavailable"),
        (105, "Rejected"),
    ):
        _, code, answer = await answered(
            client, cp, "H01", "reserve-now", {**body, "id": reservation_id}, {"status": outcome}
        )
        assert (code, answer) == (200, {"status": outcome})
    assert [
        r["id"]
        for r in await get_json(client, "/api/charge-points/H01/reservations", role="viewer")
    ] == [101]

    start = started("TX-H01", recent(), token="H01TAG")
    start["reservationId"] = 101
    assert await cp.result("TransactionEvent", start) == ACCEPTED
    [held] = await get_json(client, "/api/charge-points/H01/reservations", role="viewer")
    [tx] = await get_json(client, "/api/transactions?charge_point_id=H01", role="viewer")
    assert (held["status"], held["transaction_id"]) == ("Used", tx["id"])


async def test_H01_reservation_refused_before_sending(client, connect) -> None:
    """H01: a reservation whose expiry is past, or on an EVSE the station never reported, is
    refused by the API with a reason; nothing is sent."""
    cp = await station(connect, "H01R")
    body = {
        "id": 110,
        "expiry_date_time": "2020-01-01T00:00:00Z",
        "evse_id": 1,
        "id_token": {"id_token": "T", "type": "ISO14443"},
    }
    code, error = await refused(client, "H01R", "reserve-now", body)
    assert code == 400 and "future" in error
    code, error = await refused(
        client, "H01R", "reserve-now", {**body, "expiry_date_time": later(), "evse_id": 4}
    )
    assert code == 400 and "evse_id 4" in error
    assert await cp.nothing_within(0.05)
    assert await get_json(client, "/api/charge-points/H01R/reservations", role="viewer") == []


async def test_H02_cancel_reservation(client, connect) -> None:
    """H02: CancelReservation names the reservation; Accepted cancels it, Rejected leaves it
    Reserved; a reservation unknown for this station is refused before sending."""
    cp = await station(connect, "H02")
    body = {
        "id": 201,
        "expiry_date_time": later(),
        "evse_id": 1,
        "id_token": {"id_token": "H02TAG", "type": "ISO14443"},
    }
    await answered(client, cp, "H02", "reserve-now", body, {"status": "Accepted"})
    _, code, answer = await answered(
        client, cp, "H02", "cancel-reservation", {"reservation_id": 201}, {"status": "Rejected"}
    )
    assert (code, answer) == (200, {"status": "Rejected"})
    [held] = await get_json(client, "/api/charge-points/H02/reservations", role="viewer")
    assert held["status"] == "Reserved"
    call, code, answer = await answered(
        client, cp, "H02", "cancel-reservation", {"reservation_id": 201}, {"status": "Accepted"}
    )
    assert call[2:] == ["CancelReservation", {"reservationId": 201}]
    [held] = await get_json(client, "/api/charge-points/H02/reservations", role="viewer")
    assert held["status"] == "Cancelled"
    code, error = await refused(client, "H02", "cancel-reservation", {"reservation_id": 999})
    assert code == 400 and "999" in error
    assert await cp.nothing_within(0.05)


async def test_H04_reservation_ended_not_used(client, connect) -> None:
    """H04: a reservation that expires on the station, or that the station removes, is
    reported by ReservationStatusUpdate: answered, kept, and the reservation shown Expired
    or Cancelled; an update for a reservation it never had changes nothing."""
    cp = await station(connect, "H04")
    for reservation_id in (301, 302):
        body = {
            "id": reservation_id,
            "expiry_date_time": later(),
            "evse_id": 1,
            "id_token": {"id_token": "H04TAG", "type": "ISO14443"},
        }
        await answered(client, cp, "H04", "reserve-now", body, {"status": "Accepted"})
    for reservation_id, update in ((301, "Expired"), (302, "Removed"), (399, "Expired")):
        payload = {"reservationId": reservation_id, "reservationUpdateStatus": update}
        assert await cp.result("ReservationStatusUpdate", payload) == {}
    held = {
        r["id"]: r["status"]
        for r in await get_json(client, "/api/charge-points/H04/reservations", role="viewer")
    }
    assert held == {301: "Expired", 302: "Cancelled"}
    kept = await client.app[SERVICES].notifications.recent("H04", action="ReservationStatusUpdate")
    assert sorted(n.summary for n in kept) == [
        "reservation 301: Expired",
        "reservation 302: Removed",
        "reservation 399: Expired",
    ]
