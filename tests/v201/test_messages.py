"""OCPP 2.0.1 beside 1.6 on one endpoint: the version each connection speaks, and every
charge-point-initiated 2.0.1 message answered and stored with its meaning; operations from
the API answered by a charger speaking 2.0.1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from tests.helpers import ACCOUNTS, basic, get_json
from tests.v201.charging_station import STAMP, boot
from webapp.keys import SERVICES


async def test_first_offered_version_is_spoken_and_recorded(client, connect) -> None:
    cp = await connect("CP2", protocols=("ocpp0.1", "ocpp2.0.1", "ocpp1.6"))
    assert cp.ws.protocol == "ocpp2.0.1"
    answer = await boot(cp, serialNumber="S-1", firmwareVersion="2.1")
    assert answer["status"] == "Accepted" and answer["interval"] == 120
    old = await connect("CP16", protocols=("ocpp1.6", "ocpp2.0.1"))
    assert old.ws.protocol == "ocpp1.6"
    await old.boot()
    listed = {c["id"]: c for c in await get_json(client, "/api/charge-points", role="viewer")}
    assert listed["CP2"]["ocpp_version"] == "2.0.1"
    assert listed["CP2"]["vendor"] == "UC-Vendor" and listed["CP2"]["firmware_version"] == "2.1"
    assert listed["CP16"]["ocpp_version"] == "1.6"
    view = await client.app[SERVICES].charge_points.get("CP2")
    assert view.boot_reason == "PowerUp" and view.serial_number == "S-1"


async def test_compression_is_taken_when_a_201_charger_offers_it(client) -> None:
    ws = await client.ws_connect("/ocpp/Z2", protocols=("ocpp2.0.1",), compress=15)
    assert ws.protocol == "ocpp2.0.1" and ws.compress == 15
    await ws.send_str(json.dumps([2, "c1", "Heartbeat", {}]))
    answer = json.loads((await ws.receive(timeout=5)).data)
    assert answer[0] == 3 and "currentTime" in answer[2]
    await ws.close()
    old = await client.ws_connect("/ocpp/Z16", protocols=("ocpp1.6",), compress=15)
    assert old.compress == 0
    await old.close()


async def test_pinned_version_only_and_nothing_registered_without_one(client) -> None:
    await client.app[SERVICES].charge_points.register("PIN", ocpp_version="2.0.1")
    ws = await client.ws_connect("/ocpp/PIN", protocols=("ocpp1.6", "ocpp2.0.1"))
    assert ws.protocol == "ocpp2.0.1"
    await ws.close()
    ws = await client.ws_connect("/ocpp/PIN", protocols=("ocpp1.6",))
    assert ws.protocol is None
    assert (await ws.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    await ws.close()
    ws = await client.ws_connect("/ocpp/NEWBIE", protocols=("ocpp0.1",))
    assert ws.protocol is None
    assert (await ws.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    await ws.close()
    ids = [c["id"] for c in await get_json(client, "/api/charge-points", role="viewer")]
    assert "NEWBIE" not in ids


async def test_status_per_evse_and_connector(client, connect) -> None:
    cp = await connect("EV2", protocols=("ocpp2.0.1",))
    await boot(cp)
    for evse, connector, status in ((1, 1, "Available"), (2, 1, "Occupied"), (2, 2, "Faulted")):
        payload = {"timestamp": STAMP, "connectorStatus": status, "evseId": evse,
                   "connectorId": connector}  # fmt: skip
        assert await cp.result("StatusNotification", payload) == {}
    [listed] = [
        c for c in await get_json(client, "/api/charge-points", role="viewer") if c["id"] == "EV2"
    ]
    assert listed["connectors"] == [
        {"evse_id": 1, "connector_id": 1, "status": "Available", "error_code": "NoError"},
        {"evse_id": 2, "connector_id": 1, "status": "Occupied", "error_code": "NoError"},
        {"evse_id": 2, "connector_id": 2, "status": "Faulted", "error_code": "NoError"},
    ]


async def test_every_notification_is_answered_and_kept(client, connect) -> None:
    cp = await connect("N2", protocols=("ocpp2.0.1",))
    await boot(cp)
    component = {"name": "EVSE", "evse": {"id": 1}}
    variable = {"name": "Power"}
    sent = {
        "NotifyEvent": {
            "generatedAt": STAMP, "seqNo": 0,
            "eventData": [{"eventId": 1, "timestamp": STAMP, "trigger": "Alerting",
                           "actualValue": "Faulted", "component": component,
                           "eventNotificationType": "HardWiredNotification",
                           "variable": variable}],
        },
        "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "EMS"}, "evseId": 1},
        "ClearedChargingLimit": {"chargingLimitSource": "EMS"},
        "NotifyCustomerInformation": {"data": "none held", "seqNo": 0, "generatedAt": STAMP,
                                      "requestId": 7},
        "PublishFirmwareStatusNotification": {"status": "Published", "requestId": 3,
                                              "location": ["http://local/fw.bin"]},
        "NotifyDisplayMessages": {"requestId": 4, "messageInfo": [
            {"id": 9, "priority": "NormalCycle",
             "message": {"format": "UTF8", "content": "Welcome"}}]},
    }  # fmt: skip
    for action, payload in sent.items():
        assert await cp.result(action, payload) == {}, action
    needs = await cp.result(
        "NotifyEVChargingNeeds",
        {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}},
    )
    assert needs["status"] == "Rejected"
    ev_cert = await cp.result(
        "Get15118EVCertificate",
        {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef", "action": "Install",
         "exiRequest": "AAAA"},
    )  # fmt: skip
    assert ev_cert["status"] == "Failed"
    status = await cp.result(
        "GetCertificateStatus",
        {"ocspRequestData": {"hashAlgorithm": "SHA256", "issuerNameHash": "a" * 64,
                             "issuerKeyHash": "b" * 64, "serialNumber": "01",
                             "responderURL": "http://ocsp.local"}},
    )  # fmt: skip
    assert status["status"] == "Failed"
    kept = await client.app[SERVICES].notifications.recent("N2")
    actions = {n.action for n in kept}
    assert set(sent) | {"NotifyEVChargingNeeds", "Get15118EVCertificate",
                        "GetCertificateStatus"} <= actions  # fmt: skip
    [event] = [n for n in kept if n.action == "NotifyEvent"]
    assert "EVSE.Power=Faulted (Alerting)" in event.summary
    assert event.payload["eventData"][0]["actualValue"] == "Faulted"
    messages = await client.app[SERVICES].device_model.messages("N2")
    assert [m["message"]["content"] for m in messages] == ["Welcome"]
    assert await cp.result("DataTransfer", {"vendorId": "acme", "data": {"k": [1, 2]}}) == {
        "status": "UnknownVendorId"
    }
    sec = {"type": "FirmwareUpdated", "timestamp": STAMP, "techInfo": "v2"}
    assert await cp.result("SecurityEventNotification", sec) == {}
    assert await cp.result("FirmwareStatusNotification", {"status": "Installed"}) == {}
    view = await client.app[SERVICES].charge_points.get("N2")
    assert view.firmware_status == "Installed"
    assert await cp.result("LogStatusNotification", {"status": "Uploaded", "requestId": 1}) == {}


async def test_notify_report_fills_the_device_model(client, connect) -> None:
    cp = await connect("DM", protocols=("ocpp2.0.1",))
    await boot(cp)
    parts = [
        [("OCPPCommCtrlr", "HeartbeatInterval", "60", "ReadWrite"),
         ("SecurityCtrlr", "BasicAuthPassword", "s3cret-s3cret-s3cret", "WriteOnly")],
        [("ChargingStation", "Model", "M201", "ReadOnly")],
    ]  # fmt: skip
    for seq_no, part in enumerate(parts):
        report = [
            {"component": {"name": component}, "variable": {"name": name},
             "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
             "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False}}
            for component, name, value, mutability in part
        ]  # fmt: skip
        payload = {"requestId": 5, "generatedAt": STAMP, "seqNo": seq_no, "reportData": report,
                   "tbc": seq_no == 0}  # fmt: skip
        assert await cp.result("NotifyReport", payload) == {}
    variables = {v.name: v for v in await client.app[SERVICES].device_model.variables("DM")}
    assert variables["OCPPCommCtrlr.HeartbeatInterval"].value == "60"
    assert variables["OCPPCommCtrlr.HeartbeatInterval"].writable
    assert variables["ChargingStation.Model"].mutability == "ReadOnly"
    # A password is never kept in clear, in the model or in the message log.
    assert variables["SecurityCtrlr.BasicAuthPassword"].value == "***"
    logged = await client.app[SERVICES].message_log.recent("DM")
    assert not any("s3cret" in m.payload for m in logged)
    kept = await client.app[SERVICES].notifications.recent("DM", action="NotifyReport")
    assert [n.summary for n in reversed(kept)] == [
        "report 5 part 0, more to come: 2 variables",
        "report 5 part 1: 1 variable",
    ]


async def answer_next(cp, answer: dict[str, Any]) -> list[Any]:
    """Receive the central system's next CALL and answer it; the CALL."""
    call = await cp.receive()
    assert call[0] == 2, call
    await cp.send_raw(json.dumps([3, call[1], answer]))
    return call


async def operate(client, charge_point_id: str, name: str, body: dict, role: str = "operator"):
    return await client.post(
        f"/api/charge-points/{charge_point_id}/{name}",
        json=body,
        headers=basic(*ACCOUNTS[role]),
    )


async def test_set_and_get_variables_through_the_api(client, connect) -> None:
    cp = await connect("OP2", protocols=("ocpp2.0.1",))
    await boot(cp)
    data = {"set_variable_data": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "attribute_value": "90"}]}  # fmt: skip
    posting = asyncio.ensure_future(operate(client, "OP2", "set-variables", data))
    call = await answer_next(
        cp,
        {"setVariableResult": [{"attributeStatus": "RebootRequired",
                                "component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "HeartbeatInterval"}}]},
    )  # fmt: skip
    assert call[2] == "SetVariables"
    assert call[3]["setVariableData"][0]["attributeValue"] == "90"
    response = await posting
    assert response.status == 200, await response.text()
    assert (await response.json())["set_variable_result"][0]["attribute_status"] == (
        "RebootRequired"
    )
    [held] = await client.app[SERVICES].device_model.variables("OP2", "heartbeat")
    assert (held.value, held.reboot_required) == ("90", True)
    await boot(cp)  # the reboot it asked for
    [held] = await client.app[SERVICES].device_model.variables("OP2", "heartbeat")
    assert (held.value, held.reboot_required) == ("90", False)

    query = {
        "get_variable_data": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        ]
    }
    posting = asyncio.ensure_future(operate(client, "OP2", "get-variables", query))
    await answer_next(
        cp,
        {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "120",
                                "component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "HeartbeatInterval"}}]},
    )  # fmt: skip
    assert (await posting).status == 200
    [held] = await client.app[SERVICES].device_model.variables("OP2", "heartbeat")
    assert held.value == "120" and held.source == "GetVariables"

    # A 1.6 operation named for a 2.0.1 charger: 400 naming the version, nothing sent.
    response = await operate(client, "OP2", "get-configuration", {})
    assert response.status == 400
    assert "2.0.1" in (await response.json())["error"]
    # A request its schema refuses never reaches the charger.
    response = await operate(client, "OP2", "reset", {"type": "Sometime"})
    assert response.status == 400
    assert "type" in (await response.json())["error"]
    # A malformed SetVariables too (whether it sets the key is read as far as it goes).
    for malformed in ([{}], ["x"], 5):
        response = await operate(client, "OP2", "set-variables", {"set_variable_data": malformed})
        assert response.status == 400, malformed
        assert (await response.json())["error"], malformed
    assert await cp.nothing_within(0.2)


async def test_basic_auth_password_rotation_counts_once_accepted(client, connect) -> None:
    services = client.app[SERVICES]
    await services.charge_points.register("ROT", "old-password-1234", ocpp_version="2.0.1")
    cp = await connect("ROT", protocols=("ocpp2.0.1",), headers=basic("ROT", "old-password-1234"))
    await boot(cp)
    data = {"set_variable_data": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
         "attribute_value": "new-password-5678"}]}  # fmt: skip
    # An operator may not change a charger's key; an admin may.
    assert (await operate(client, "ROT", "set-variables", data)).status == 403
    result = {"setVariableResult": [{"attributeStatus": "Accepted",
                                     "component": {"name": "SecurityCtrlr"},
                                     "variable": {"name": "BasicAuthPassword"}}]}  # fmt: skip
    posting = asyncio.ensure_future(operate(client, "ROT", "set-variables", data, "admin"))
    await answer_next(cp, result)
    assert (await posting).status == 200
    await cp.ws.close()
    # The old key stops working once the charger has accepted the new one.
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect(
            "/ocpp/ROT", protocols=("ocpp2.0.1",), headers=basic("ROT", "old-password-1234")
        )
    assert refused.value.status == 401
    again = await connect(
        "ROT", protocols=("ocpp2.0.1",), headers=basic("ROT", "new-password-5678")
    )
    assert again.ws.protocol == "ocpp2.0.1"
    journal = await services.operations.journal("ROT")
    assert "new-password" not in json.dumps([o.request for o in journal])
    logged = await services.message_log.recent("ROT")
    assert not any("new-password" in m.payload for m in logged)


async def test_remote_start_and_stop_for_a_201_charger(client, connect) -> None:
    cp = await connect("RS2", protocols=("ocpp2.0.1",))
    await boot(cp)
    await cp.result(
        "StatusNotification",
        {"timestamp": STAMP, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
    )
    posting = asyncio.ensure_future(
        operate(client, "RS2", "remote-start", {"id_tag": "TAG9", "evse_id": 1})
    )
    call = await answer_next(cp, {"status": "Accepted"})
    assert call[2] == "RequestStartTransaction"
    assert call[3]["idToken"] == {"idToken": "TAG9", "type": "Central"}
    remote_start_id = call[3]["remoteStartId"]
    assert (await (await posting).json()) == {"status": "Accepted"}
    started = {
        "eventType": "Started", "timestamp": STAMP, "triggerReason": "RemoteStart", "seqNo": 0,
        "transactionInfo": {"transactionId": "T-RS", "remoteStartId": remote_start_id},
        "evse": {"id": 1, "connectorId": 1}, "idToken": {"idToken": "TAG9", "type": "Central"},
    }  # fmt: skip
    await cp.result("TransactionEvent", started)
    [tx] = await get_json(client, "/api/transactions?charge_point_id=RS2", role="viewer")
    posting = asyncio.ensure_future(
        operate(client, "RS2", "remote-stop", {"transaction_id": tx["id"]})
    )
    call = await answer_next(cp, {"status": "Accepted"})
    assert call[2:] == ["RequestStopTransaction", {"transactionId": "T-RS"}]
    assert (await (await posting).json()) == {"status": "Accepted"}
    [tx] = await get_json(client, "/api/transactions?charge_point_id=RS2", role="viewer")
    assert (tx["ocpp_transaction_id"], tx["evse_id"], tx["id_tag"]) == ("T-RS", 1, "TAG9")


async def test_profiles_and_certificates_kept_from_answers(client, connect) -> None:
    services = client.app[SERVICES]
    cp = await connect("PR2", protocols=("ocpp2.0.1",))
    await boot(cp)
    profile = {
        "id": 7, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
        "charging_profile_kind": "Absolute",
        "charging_schedule": [{"id": 1, "charging_rate_unit": "A", "start_schedule": STAMP,
                               "charging_schedule_period": [{"start_period": 0, "limit": 16}]}],
    }  # fmt: skip
    body = {"evse_id": 0, "charging_profile": profile}
    posting = asyncio.ensure_future(operate(client, "PR2", "set-charging-profile", body))
    call = await answer_next(cp, {"status": "Accepted"})
    assert call[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16}
    ]
    assert (await posting).status == 200
    [held] = await services.operations.charging_profiles("PR2")
    assert (held.charging_profile_id, held.purpose) == (7, "TxDefaultProfile")
    posting = asyncio.ensure_future(
        operate(client, "PR2", "clear-charging-profile", {"charging_profile_id": 7})
    )
    await answer_next(cp, {"status": "Accepted"})
    assert (await posting).status == 200
    assert await services.operations.charging_profiles("PR2") == []

    posting = asyncio.ensure_future(operate(client, "PR2", "get-installed-certificate-ids", {}))
    await answer_next(
        cp,
        {"status": "Accepted", "certificateHashDataChain": [
            {"certificateType": "CSMSRootCertificate",
             "certificateHashData": {"hashAlgorithm": "SHA256", "issuerNameHash": "ab" * 32,
                                     "issuerKeyHash": "cd" * 32, "serialNumber": "0A"}}]},
    )  # fmt: skip
    assert (await posting).status == 200
    [certificate] = await services.operations.certificates("PR2")
    assert (certificate["certificate_type"], certificate["serial_number"]) == (
        "CSMSRootCertificate",
        "0A",
    )


async def test_lenient_mode_leaves_201_strict(client, connect, portal) -> None:
    """Lenient mode tolerates 1.6 chargers' known mistakes; a 2.0.1 connection stays
    strict with it on (a number sent as text is refused), and its page says so."""
    await client.app[SERVICES].charge_points.register("LAX201", ocpp_version="2.0.1")
    await client.app[SERVICES].charge_points.set_protocol_settings("LAX201", lenient=True)
    cp = await connect("LAX201", protocols=("ocpp2.0.1",))
    await boot(cp)
    frame = await cp.call(
        "StatusNotification",
        {"timestamp": STAMP, "connectorStatus": "Available", "evseId": "1", "connectorId": 1},
    )
    assert frame[0] == 4 and frame[2] == "TypeConstraintViolation", frame
    _, page = await (await portal("admin")).get("/charge-points/LAX201")
    assert 'id="lenient-note">applies to OCPP 1.6 connections only' in page
