"""OCPP 2.0.1 functional block B (Provisioning), the CSMS side, one test per use case as
the OCTT CSMS test cases (TC_B_*_CSMS) drive it: a station on a real WebSocket, operations
posted to the JSON API and answered by the station, and what the CSMS then shows."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from tests.helpers import ADMIN, get_json, journal
from tests.v201.charging_station import V201, boot, ended, recent, started, station, status
from tests.v201.use_cases import add_tag, answered, charge_point, refused
from webapp.keys import SERVICES

STAMP = "2026-11-25T08:00:00Z"


def report_item(component: str, variable: str, value: str, mutability: str = "ReadWrite"):
    return {
        "component": {"name": component},
        "variable": {"name": variable},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False},
    }


async def test_B01_cold_boot_accepted(client, connect) -> None:
    """B01 (TC_B_01_CSMS, B01.FR.02): a registered station's BootNotification is answered
    Accepted with the heartbeat interval and the current time; what it says of itself and of
    its connectors (StatusNotification) is shown, and a Heartbeat is answered with the time
    and recorded (G02)."""
    cp = await connect("B01", protocols=V201)
    before = datetime.now(UTC) - timedelta(seconds=1)
    answer = await boot(
        cp, serialNumber="SN-B01", firmwareVersion="1.2.3", modem={"iccid": "8931", "imsi": "2040"}
    )
    assert answer["status"] == "Accepted"
    assert answer["interval"] == 120  # the settings' HEARTBEAT_INTERVAL
    current = datetime.fromisoformat(answer["currentTime"])
    assert before <= current <= datetime.now(UTC) + timedelta(seconds=1)
    assert await status(cp, "Available", 1, 1) == {}
    assert await status(cp, "Occupied", 2, 1) == {}
    heartbeat = await cp.result("Heartbeat", {})
    assert datetime.fromisoformat(heartbeat["currentTime"]) >= current

    shown = await charge_point(client, "B01")
    assert (shown["registration_status"], shown["ocpp_version"], shown["connected"]) == (
        "Accepted",
        "2.0.1",
        True,
    )
    assert (shown["vendor"], shown["model"], shown["firmware_version"]) == (
        "UC-Vendor",
        "UC-Model",
        "1.2.3",
    )
    assert shown["last_heartbeat"] is not None
    assert [(c["evse_id"], c["connector_id"], c["status"]) for c in shown["connectors"]] == [
        (1, 1, "Available"),
        (2, 1, "Occupied"),
    ]
    view = await client.app[SERVICES].charge_points.get("B01")
    assert (view.serial_number, view.iccid, view.imsi, view.boot_reason) == (
        "SN-B01",
        "8931",
        "2040",
        "PowerUp",
    )


async def test_B02_cold_boot_pending(client, connect, portal) -> None:
    """B02 (TC_B_02_CSMS: B02.FR.01, B02.FR.06; TC_B_30_CSMS: B02.FR.09; B02.FR.05 as
    Voltaro cites it): a station the CSMS holds Pending is answered Pending with an interval
    to boot again after; a message it sends unasked is refused with a CALLERROR
    SecurityError and not stored; no RequestStartTransaction is sent to it; once an operator
    accepts it, its next boot is Accepted and its messages are taken."""
    await client.app[SERVICES].charge_points.register("B02", status="Pending")
    cp = await connect("B02", protocols=V201)
    answer = await boot(cp)
    assert answer["status"] == "Pending" and answer["interval"] > 0
    assert (await charge_point(client, "B02"))["registration_status"] == "Pending"

    payload = {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    frame = await cp.call("StatusNotification", payload)
    assert frame[0] == 4 and frame[2] == "SecurityError", frame
    event = {
        "generatedAt": STAMP,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": STAMP,
                "trigger": "Delta",
                "actualValue": "Available",
                "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                "variable": {"name": "AvailabilityState"},
                "eventNotificationType": "HardWiredNotification",
            }
        ],
    }
    frame = await cp.call("NotifyEvent", event)
    assert frame[0] == 4 and frame[2] == "SecurityError", frame
    assert (await charge_point(client, "B02"))["connectors"] == []
    assert await client.app[SERVICES].notifications.recent("B02") == []

    # No transaction is started on a station that is not Accepted: 409, nothing sent.
    status_code, error = await refused(client, "B02", "remote-start", {"id_tag": "T"})
    assert status_code == 409 and "Pending" in error
    assert await cp.nothing_within(0.05)

    admin = await portal("admin")
    code, _, _ = await admin.submit("/charge-points/B02/accept")
    assert code == 303
    assert (await boot(cp))["status"] == "Accepted"
    assert await cp.result("StatusNotification", payload) == {}
    shown = await charge_point(client, "B02")
    assert shown["registration_status"] == "Accepted"
    assert [c["status"] for c in shown["connectors"]] == ["Available"]


async def test_B02_pending_station_answers_what_the_csms_asks(client, connect) -> None:
    """B02 (TC_B_30_CSMS: B02.FR.09 and its exception): while Pending the CSMS may retrieve
    or set the station's configuration; the messages the station sends because the CSMS
    asked (NotifyReport after GetBaseReport, a message requested by TriggerMessage) are
    allowed and must be taken, not refused with SecurityError."""
    await client.app[SERVICES].charge_points.register("B02R", status="Pending")
    cp = await connect("B02R", protocols=V201)
    assert (await boot(cp))["status"] == "Pending"

    body = {"request_id": 21, "report_base": "ConfigurationInventory"}
    call, code, answer = await answered(
        client, cp, "B02R", "get-base-report", body, {"status": "Accepted"}
    )
    assert call[2:] == ["GetBaseReport", {"requestId": 21, "reportBase": "ConfigurationInventory"}]
    assert (code, answer) == (200, {"status": "Accepted"})
    report = {
        "requestId": 21,
        "generatedAt": STAMP,
        "seqNo": 0,
        "reportData": [report_item("OCPPCommCtrlr", "HeartbeatInterval", "300")],
    }
    frame = await cp.call("NotifyReport", report)
    assert frame[0] == 3, f"NotifyReport asked for by GetBaseReport was refused: {frame}"
    [held] = await client.app[SERVICES].device_model.variables("B02R", "heartbeat")
    assert held.value == "300"

    body = {"requested_message": "StatusNotification", "evse": {"id": 1, "connector_id": 1}}
    call, code, answer = await answered(
        client, cp, "B02R", "trigger-message", body, {"status": "Accepted"}
    )
    assert call[2] == "TriggerMessage" and code == 200
    payload = {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    frame = await cp.call("StatusNotification", payload)
    assert frame[0] == 3, f"StatusNotification asked for by TriggerMessage was refused: {frame}"


async def test_B03_cold_boot_rejected(client, connect) -> None:
    """B03 (TC_B_30_CSMS: B03.FR.07): a station the CSMS rejects is answered Rejected with
    an interval; until it is accepted every CALL but BootNotification is answered with a
    CALLERROR SecurityError (Heartbeat included) and nothing of it is stored."""
    await client.app[SERVICES].charge_points.register("B03", status="Rejected")
    cp = await connect("B03", protocols=V201)
    answer = await boot(cp, firmwareVersion="9.9")
    assert answer["status"] == "Rejected" and answer["interval"] > 0
    shown = await charge_point(client, "B03")
    assert shown["registration_status"] == "Rejected"

    payload = {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
    frame = await cp.call("StatusNotification", payload)
    assert frame[0] == 4 and frame[2] == "SecurityError", frame
    frame = await cp.call("Authorize", {"idToken": {"idToken": "ANY", "type": "ISO14443"}})
    assert frame[0] == 4 and frame[2] == "SecurityError", frame
    assert (await charge_point(client, "B03"))["connectors"] == []
    # A Rejected station may not send a Heartbeat either (only BootNotification).
    frame = await cp.call("Heartbeat", {})
    assert frame[0] == 4 and frame[2] == "SecurityError", frame
    assert (await charge_point(client, "B03"))["last_heartbeat"] is None


async def test_B04_offline_idle_station_reconnects_without_boot(client, connect) -> None:
    """B04: an Accepted station that lost its connection and comes back without rebooting
    sends no BootNotification, only the connector states that changed; the CSMS takes them
    as from an Accepted station."""
    cp = await station(connect, "B04")
    await cp.ws.close()
    again = await connect("B04", protocols=V201)
    assert await status(again, "Unavailable") == {}
    assert await again.result("Heartbeat", {}) != {}
    shown = await charge_point(client, "B04")
    assert shown["connected"] and shown["registration_status"] == "Accepted"
    assert [c["status"] for c in shown["connectors"]] == ["Unavailable"]


async def test_B05_set_variables(client, connect) -> None:
    """B05: SetVariables carries each variable asked for; the answer is shown per variable,
    and only the values the station Accepted (or will use after a reboot) are held as its
    values; unknown components and variables, rejected values and unsupported attribute
    types leave nothing behind."""
    cp = await station(connect, "B05")
    data = [
        ("OCPPCommCtrlr", "HeartbeatInterval", "90", None, "Accepted"),
        ("TxCtrlr", "EVConnectionTimeOut", "60", None, "RebootRequired"),
        ("AuthCtrlr", "LocalPreAuthorize", "maybe", None, "Rejected"),
        ("NoSuchCtrlr", "Anything", "1", None, "UnknownComponent"),
        ("OCPPCommCtrlr", "NoSuchVariable", "1", None, "UnknownVariable"),
        ("SampledDataCtrlr", "TxUpdatedInterval", "5", "MinSet", "NotSupportedAttributeType"),
    ]
    request = []
    for component, variable, value, attribute_type, _ in data:
        item = {
            "component": {"name": component},
            "variable": {"name": variable},
            "attribute_value": value,
        }
        if attribute_type:
            item["attribute_type"] = attribute_type
        request.append(item)
    result = [
        {
            "attributeStatus": outcome,
            "component": {"name": component},
            "variable": {"name": variable},
            **({"attributeType": kind} if kind else {}),
        }
        for component, variable, _, kind, outcome in data
    ]
    call, code, answer = await answered(
        client,
        cp,
        "B05",
        "set-variables",
        {"set_variable_data": request},
        {"setVariableResult": result},
    )
    assert call[2] == "SetVariables" and code == 200
    sent = call[3]["setVariableData"]
    assert [(s["component"]["name"], s["variable"]["name"], s["attributeValue"]) for s in sent] == [
        (c, v, value) for c, v, value, _, _ in data
    ]
    assert sent[5]["attributeType"] == "MinSet"
    assert [r["attribute_status"] for r in answer["set_variable_result"]] == [
        outcome for *_, outcome in data
    ]
    held = {v.name: v for v in await client.app[SERVICES].device_model.variables("B05")}
    assert (
        held["OCPPCommCtrlr.HeartbeatInterval"].value,
        held["OCPPCommCtrlr.HeartbeatInterval"].reboot_required,
    ) == ("90", False)
    assert (
        held["TxCtrlr.EVConnectionTimeOut"].value,
        held["TxCtrlr.EVConnectionTimeOut"].reboot_required,
    ) == ("60", True)
    assert set(held) == {"OCPPCommCtrlr.HeartbeatInterval", "TxCtrlr.EVConnectionTimeOut"}
    [entry] = await journal(client, "B05")
    assert (entry["action"], entry["outcome"]) == ("SetVariables", "answered")
    assert entry["status"] == "1 of 6 Accepted"  # per variable: the journal counts them


async def test_B05_read_only_variable_is_not_sent(client, connect) -> None:
    """B05 (with the device model of B07): a variable the station reported ReadOnly is
    refused by the API with a reason before anything reaches the station."""
    cp = await station(connect, "B05R")
    report = {
        "requestId": 1,
        "generatedAt": STAMP,
        "seqNo": 0,
        "reportData": [report_item("ChargingStation", "Model", "M", "ReadOnly")],
    }
    assert await cp.result("NotifyReport", report) == {}
    body = {
        "set_variable_data": [
            {
                "component": {"name": "ChargingStation"},
                "variable": {"name": "Model"},
                "attribute_value": "X",
            }
        ]
    }
    code, error = await refused(client, "B05R", "set-variables", body)
    assert code == 400 and "read-only" in error
    assert await cp.nothing_within(0.05)
    assert await journal(client, "B05R") == []


async def test_B06_get_variables(client, connect) -> None:
    """B06 (TC_B_07_CSMS: B06.FR.01..B06.FR.03): GetVariables asks for each variable (and
    attribute type); each result is shown, and the values read Accepted are held as read by
    GetVariables, Target beside Actual; unknown ones are not invented."""
    cp = await station(connect, "B06")
    query = {
        "get_variable_data": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {
                "component": {"name": "SampledDataCtrlr"},
                "variable": {"name": "TxEndedInterval"},
                "attribute_type": "Target",
            },
            {"component": {"name": "NoSuchCtrlr"}, "variable": {"name": "X"}},
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchVariable"}},
        ]
    }
    results = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "300",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
            },
            {
                "attributeStatus": "Accepted",
                "attributeValue": "60",
                "attributeType": "Target",
                "component": {"name": "SampledDataCtrlr"},
                "variable": {"name": "TxEndedInterval"},
            },
            {
                "attributeStatus": "UnknownComponent",
                "component": {"name": "NoSuchCtrlr"},
                "variable": {"name": "X"},
            },
            {
                "attributeStatus": "UnknownVariable",
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "NoSuchVariable"},
            },
        ]
    }
    call, code, answer = await answered(client, cp, "B06", "get-variables", query, results)
    assert call[2] == "GetVariables" and code == 200
    assert call[3]["getVariableData"][1]["attributeType"] == "Target"
    assert [r["attribute_status"] for r in answer["get_variable_result"]] == [
        "Accepted",
        "Accepted",
        "UnknownComponent",
        "UnknownVariable",
    ]
    held = await client.app[SERVICES].device_model.variables("B06")
    assert sorted((v.name, v.attribute_type, v.value, v.source) for v in held) == [
        ("OCPPCommCtrlr.HeartbeatInterval", "Actual", "300", "GetVariables"),
        ("SampledDataCtrlr.TxEndedInterval", "Target", "60", "GetVariables"),
    ]
    assert (await journal(client, "B06"))[0]["status"] == "2 of 4 Accepted"


async def test_B07_get_base_report_in_parts(client, connect) -> None:
    """B07: GetBaseReport names the report and its requestId; the NotifyReport parts that
    follow (seqNo, tbc) are all answered and kept, and fill the device model."""
    cp = await station(connect, "B07")
    body = {"request_id": 7, "report_base": "FullInventory"}
    call, code, answer = await answered(
        client, cp, "B07", "get-base-report", body, {"status": "Accepted"}
    )
    assert call[2:] == ["GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}]
    assert (code, answer) == (200, {"status": "Accepted"})
    parts = [
        [
            report_item("OCPPCommCtrlr", "HeartbeatInterval", "300"),
            report_item("ChargingStation", "Model", "UC-Model", "ReadOnly"),
        ],
        [report_item("AuthCtrlr", "AuthorizeRemoteStart", "true")],
        [report_item("TxCtrlr", "StopTxOnEVSideDisconnect", "true")],
    ]
    for seq_no, part in enumerate(parts):
        payload = {
            "requestId": 7,
            "generatedAt": STAMP,
            "seqNo": seq_no,
            "reportData": part,
            "tbc": seq_no < len(parts) - 1,
        }
        assert await cp.result("NotifyReport", payload) == {}
    names = {v.name for v in await client.app[SERVICES].device_model.variables("B07")}
    assert names == {
        "OCPPCommCtrlr.HeartbeatInterval",
        "ChargingStation.Model",
        "AuthCtrlr.AuthorizeRemoteStart",
        "TxCtrlr.StopTxOnEVSideDisconnect",
    }
    kept = await client.app[SERVICES].notifications.recent("B07", action="NotifyReport")
    assert sorted((n.request_id, n.payload["seqNo"]) for n in kept) == [(7, 0), (7, 1), (7, 2)]

    # A report base the station does not support: its answer is shown as it gave it.
    body = {"request_id": 8, "report_base": "SummaryInventory"}
    _, code, answer = await answered(
        client, cp, "B07", "get-base-report", body, {"status": "NotSupported"}
    )
    assert (code, answer) == (200, {"status": "NotSupported"})
    assert (await journal(client, "B07"))[0]["status"] == "NotSupported"


async def test_B08_get_custom_report(client, connect) -> None:
    """B08: GetReport carries the component variables and criteria asked for; an empty
    result set is shown as such, and a report that follows is kept with its requestId."""
    cp = await station(connect, "B08")
    body = {
        "request_id": 31,
        "component_criteria": ["Available", "Problem"],
        "component_variable": [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ],
    }
    call, code, answer = await answered(
        client, cp, "B08", "get-report", body, {"status": "Accepted"}
    )
    assert call[2] == "GetReport" and code == 200
    assert call[3] == {
        "requestId": 31,
        "componentCriteria": ["Available", "Problem"],
        "componentVariable": [
            {
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ],
    }
    item = {
        "component": {"name": "EVSE", "evse": {"id": 1}},
        "variable": {"name": "AvailabilityState"},
        "variableAttribute": [{"type": "Actual", "value": "Available", "mutability": "ReadOnly"}],
    }
    report = {"requestId": 31, "generatedAt": STAMP, "seqNo": 0, "reportData": [item]}
    assert await cp.result("NotifyReport", report) == {}
    [held] = await client.app[SERVICES].device_model.variables("B08")
    assert (held.component, held.evse_id, held.variable, held.value) == (
        "EVSE",
        1,
        "AvailabilityState",
        "Available",
    )
    body = {"request_id": 32, "component_criteria": ["Problem"]}
    _, code, answer = await answered(
        client, cp, "B08", "get-report", body, {"status": "EmptyResultSet"}
    )
    assert (code, answer) == (200, {"status": "EmptyResultSet"})


async def test_B09_set_network_profile(client, connect) -> None:
    """B09: SetNetworkProfile carries the slot and connection data; it changes where and how
    the station connects, so only an admin may send it; the station's answer is shown and
    journalled."""
    cp = await station(connect, "B09")
    body = {
        "configuration_slot": 2,
        "connection_data": {
            "ocpp_version": "OCPP20",
            "ocpp_transport": "JSON",
            "ocpp_csms_url": "wss://csms.example.com/ocpp",
            "message_timeout": 30,
            "security_profile": 2,
            "ocpp_interface": "Wired0",
        },
    }
    code, _ = await refused(client, "B09", "set-network-profile", body)
    assert code == 403
    assert await cp.nothing_within(0.05)
    call, code, answer = await answered(
        client, cp, "B09", "set-network-profile", body, {"status": "Accepted"}, role="admin"
    )
    assert call[2] == "SetNetworkProfile" and code == 200
    assert call[3]["configurationSlot"] == 2
    assert call[3]["connectionData"]["ocppCsmsUrl"] == "wss://csms.example.com/ocpp"
    assert call[3]["connectionData"]["securityProfile"] == 2
    assert answer == {"status": "Accepted"}
    [entry] = await journal(client, "B09")
    assert (entry["action"], entry["status"], entry["requested_by"]) == (
        "SetNetworkProfile",
        "Accepted",
        "admin",
    )


async def test_B11_reset_without_ongoing_transaction(client, connect) -> None:
    """B11 (TC_B_20_CSMS, TC_B_25_CSMS: B11.FR.04): Reset OnIdle and Immediate, for the
    station and for one EVSE, carry the type (and evseId) asked for; the station's reboot
    (BootNotification RemoteReset) is Accepted and recorded; an EVSE the station never
    reported is refused before anything is sent."""
    cp = await station(connect, "B11")
    call, code, answer = await answered(
        client, cp, "B11", "reset", {"type": "OnIdle"}, {"status": "Accepted"}
    )
    assert call[2:] == ["Reset", {"type": "OnIdle"}] and (code, answer) == (
        200,
        {"status": "Accepted"},
    )
    assert (await boot(cp, reason="RemoteReset"))["status"] == "Accepted"
    assert await status(cp, "Available") == {}
    assert (await client.app[SERVICES].charge_points.get("B11")).boot_reason == "RemoteReset"

    call, code, answer = await answered(
        client, cp, "B11", "reset", {"type": "Immediate", "evse_id": 1}, {"status": "Accepted"}
    )
    assert call[2:] == ["Reset", {"type": "Immediate", "evseId": 1}] and code == 200
    code, error = await refused(client, "B11", "reset", {"type": "Immediate", "evse_id": 5})
    assert code == 400 and "evse_id 5" in error
    assert await cp.nothing_within(0.05)
    assert [e["request"] for e in await journal(client, "B11")] == [
        {"type": "Immediate", "evseId": 1},
        {"type": "OnIdle"},
    ]


async def test_B12_reset_with_ongoing_transaction(client, connect) -> None:
    """B12 (TC_B_22_CSMS, TC_B_27_CSMS; TC_B_26_CSMS: B12.FR.07): OnIdle during a
    transaction is answered Scheduled and shown so; Immediate ends the transaction with
    stoppedReason ImmediateReset, which the CSMS records before the station reboots."""
    await add_tag(client, "B12TAG")
    cp = await station(connect, "B12")
    t0 = recent()
    assert (await cp.result("TransactionEvent", started("TX-B12", t0, token="B12TAG")))[
        "idTokenInfo"
    ]["status"] == "Accepted"
    _, code, answer = await answered(
        client, cp, "B12", "reset", {"type": "OnIdle", "evse_id": 1}, {"status": "Scheduled"}
    )
    assert (code, answer) == (200, {"status": "Scheduled"})
    assert (await journal(client, "B12"))[0]["status"] == "Scheduled"

    _, code, answer = await answered(
        client, cp, "B12", "reset", {"type": "Immediate"}, {"status": "Accepted"}
    )
    assert (code, answer) == (200, {"status": "Accepted"})
    end = ended("TX-B12", t0 + timedelta(seconds=30), 1, stoppedReason="ImmediateReset")
    end["triggerReason"] = "ResetCommand"
    end["transactionInfo"]["chargingState"] = "EVConnected"
    assert await cp.result("TransactionEvent", end) == {}
    assert (await boot(cp, reason="RemoteReset"))["status"] == "Accepted"
    [tx] = await get_json(client, "/api/transactions?charge_point_id=B12", role="viewer")
    assert (tx["stop_reason"], tx["meter_stop"]) == ("ImmediateReset", 2000)
    assert await get_json(client, "/api/transactions?active=true", role="viewer") == []


async def test_B11_reset_not_connected_or_refused(client, connect) -> None:
    """B11 (the CSMS reports what happened): a Reset for a station that is not connected is
    a 409 and journalled as not sent; one the station answers with a CALLERROR is a 502
    naming its error code, journalled with it."""
    cp = await station(connect, "BX")
    await cp.ws.close()
    code, _ = await refused(client, "BX", "reset", {"type": "OnIdle"})
    assert code == 409
    assert (await journal(client, "BX"))[0]["outcome"] == "not_connected"
    again = await connect("BX", protocols=V201)
    assert (await boot(again))["status"] == "Accepted"
    posting = asyncio.ensure_future(
        client.post("/api/charge-points/BX/reset", json={"type": "OnIdle"}, headers=ADMIN)
    )
    call = await again.expect_call("Reset")
    await again.send_raw(json.dumps([4, call[1], "NotSupported", "no reset here", {}]))
    response = await posting
    assert response.status == 502
    assert "NotSupported" in (await response.json())["error"]
    entry = (await journal(client, "BX"))[0]
    assert (entry["outcome"], entry["response"]["error_code"]) == ("callerror", "NotSupported")
