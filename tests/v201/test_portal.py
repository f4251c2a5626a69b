"""The portal for a charger speaking OCPP 2.0.1, over real HTTP against a raw 2.0.1
charger: its version and EVSEs, its device model (search, set in place), the operation
forms sending 2.0.1 CALLs and showing the answers, its reports and sessions; bad fields a
message, viewers refused."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import read_events
from tests.v201.charging_station import STAMP, boot
from webapp.keys import SERVICES

HTMX = {"HX-Request": "true"}


def soon(seconds: float = 3600) -> str:
    """A moment from now as `<input type=datetime-local>` sends it (UTC, no zone)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M")


def answer_of(html: str) -> str:
    match = re.search(r'data-answer="([^"]*)"', html)
    assert match, html
    return match[1]


async def station(connect, charge_point_id: str, evses: dict[int, list[str]] | None = None):
    """A booted 2.0.1 raw charger that has reported the status of each EVSE's connectors."""
    cp = await connect(charge_point_id, protocols=("ocpp2.0.1",))
    await boot(cp)
    for evse_id, statuses in (evses or {1: ["Available"]}).items():
        for connector_id, status in enumerate(statuses, start=1):
            payload = {"timestamp": STAMP, "connectorStatus": status, "evseId": evse_id,
                       "connectorId": connector_id}  # fmt: skip
            assert await cp.result("StatusNotification", payload) == {}
    return cp


async def answered(cp, posting, answer: dict[str, Any]) -> tuple[list[Any], int, str]:
    """Answer the CALL a portal post makes the central system send; the CALL and the
    post's (status, html)."""
    task = asyncio.ensure_future(posting)
    receiving = asyncio.ensure_future(cp.receive())
    await asyncio.wait({task, receiving}, return_when=asyncio.FIRST_COMPLETED)
    if not receiving.done():  # answered without a CALL: say what the page said
        receiving.cancel()
        raise AssertionError(f"nothing sent; the page said {await task}")
    call = receiving.result()
    assert call[0] == 2, call
    await cp.send_raw(json.dumps([3, call[1], answer]))
    status, html = await task
    return call, status, html


async def until_pushed(stream, wanted: dict[str, str], timeout: float = 5) -> None:
    """Read the SSE stream until each event named in `wanted` has come with its text."""
    missing = dict(wanted)
    async with asyncio.timeout(timeout):
        event, data = None, []
        async for raw in stream.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line == "":
                if event in missing and missing[event] in "\n".join(data):
                    del missing[event]
                    if not missing:
                        return
                event, data = None, []
    raise AssertionError(f"never pushed: {missing}")


def report_item(component: dict, name: str, value: str, mutability: str, **extra) -> dict:
    return {
        "component": component,
        "variable": {"name": name},
        "variableAttribute": [{"type": "Actual", "value": value, "mutability": mutability}],
        "variableCharacteristics": {"dataType": "string", "supportsMonitoring": False, **extra},
    }


async def report(cp, request_id: int = 5) -> None:
    items = [
        report_item({"name": "OCPPCommCtrlr"}, "HeartbeatInterval", "60", "ReadWrite",
                    unit="s"),
        report_item({"name": "ChargingStation"}, "Model", "M201", "ReadOnly"),
        report_item({"name": "EVSE", "evse": {"id": 1}}, "Power", "22000", "ReadOnly",
                    unit="W"),
        report_item({"name": "SecurityCtrlr"}, "BasicAuthPassword", "s3cret-s3cret-s3cret",
                    "WriteOnly"),
    ]  # fmt: skip
    payload = {"requestId": request_id, "generatedAt": STAMP, "seqNo": 0, "reportData": items}
    assert await cp.result("NotifyReport", payload) == {}


async def test_version_evses_and_boot_reason_shown(portal, connect) -> None:
    await station(connect, "P2", {1: ["Available"], 2: ["Occupied", "Faulted"]})
    old = await connect("P16")
    await old.boot()
    await old.status(1, "Available")
    viewer = await portal("viewer")
    status, html = await viewer.get("/")
    assert status == 200
    rows = {
        m[1]: m[0] for m in re.finditer(r'<tr id="cp-([^"]+)" class="cp-row".*?</tr>', html, re.S)
    }
    assert 'data-ocpp-version="2.0.1"' in rows["P2"] and "OCPP 2.0.1" in rows["P2"]
    assert 'data-ocpp-version="1.6"' in rows["P16"] and "OCPP 1.6" in rows["P16"]
    text = " ".join(re.sub(r"<[^>]+>", " ", rows["P2"]).split())
    assert "EVSE 1: connector 1 Available" in text
    assert "EVSE 2: connector 1 Occupied connector 2 Faulted" in text
    assert "#1" in rows["P16"] and "EVSE" not in rows["P16"]

    status, page = await viewer.get("/charge-points/P2")
    assert status == 200 and 'id="cp-version"' in page and "OCPP 2.0.1" in page
    assert re.search(r'id="evse-2-connector-2" data-status="Faulted"', page)
    assert re.search(r'<dd id="boot-reason">PowerUp</dd>', page)
    assert 'id="cp-notifications"' in page
    _, page16 = await viewer.get("/charge-points/P16")
    assert "OCPP 1.6" in page16 and 'id="evses"' not in page16 and "Boot reason" not in page16

    # An operator's remote start asks for an EVSE of a 2.0.1 charger, a connector of 1.6.
    operator = await portal("operator")
    _, page = await operator.get("/charge-points/P2")
    assert 'name="evse_id"' in page and 'name="connector_id"' not in page.split("op-result")[0]
    _, page16 = await operator.get("/charge-points/P16")
    assert 'id="connector_id" name="connector_id"' in page16 and 'name="evse_id"' not in page16
    # The operations page has the 2.0.1 forms, and the 1.6 ones for the 1.6 charger.
    _, ops = await operator.get("/charge-points/P2/operations")
    assert "Get base report" in ops and "Read configuration" not in ops
    _, ops16 = await operator.get("/charge-points/P16/operations")
    assert "Get diagnostics" in ops16 and "Get base report" not in ops16
    # A 2.0.1 form posted for the 1.6 charger (it reconnected since): said, nothing sent.
    status, html = await operator.post(
        "/charge-points/P16/operations/get-base-report", {}, headers=HTMX
    )
    assert answer_of(html) == "invalid input" and "is an OCPP 2.0.1 operation" in html
    assert await old.nothing_within(0.1)
    _, dm16 = await operator.get("/charge-points/P16/device-model")
    assert "has no device model" in dm16 and "Get base report" not in dm16


async def test_device_model_table_search_and_set_in_place(portal, client, connect) -> None:
    cp = await station(connect, "DM2")
    await report(cp)
    operator = await portal("operator")
    status, html = await operator.get("/charge-points/DM2/device-model")
    assert status == 200 and "<html" in html
    pattern = r'<tr id="dm-[^"]*" class="dm-row" data-variable="([^"]+)".*?</tr>'
    rows = {m[1]: m[0] for m in re.finditer(pattern, html, re.S)}
    assert set(rows) == {
        "OCPPCommCtrlr.HeartbeatInterval", "ChargingStation.Model", "EVSE@1.Power",
        "SecurityCtrlr.BasicAuthPassword",
    }  # fmt: skip
    heartbeat = rows["OCPPCommCtrlr.HeartbeatInterval"]
    assert (
        'name="value" value="60"' in heartbeat and "ReadWrite" in heartbeat and ">s<" in heartbeat
    )
    assert "<form" not in rows["ChargingStation.Model"] and "M201" in rows["ChargingStation.Model"]
    power = rows["EVSE@1.Power"]
    assert re.search(r'<td class="small">1</td>', power) and ">W<" in power
    # A charger's password: never shown, and set only by an admin.
    assert "s3cret" not in html and "<form" not in rows["SecurityCtrlr.BasicAuthPassword"]

    # The search is the server's: by query parameter, the table alone for htmx.
    status, found = await operator.get("/charge-points/DM2/device-model?q=HEART", headers=HTMX)
    assert status == 200 and "<html" not in found
    assert "HeartbeatInterval" in found and "Model" not in found and "1 variable attribute" in found
    _, none = await operator.get("/charge-points/DM2/device-model?q=nothing-like-it")
    assert "No variable matches." in none and 'value="nothing-like-it"' in none

    # Set in place: SetVariables sent, the row drawn again with the charger's answer.
    fields = {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval",
              "attribute_type": "Actual", "value": "90"}  # fmt: skip
    result = {"setVariableResult": [{"attributeStatus": "RebootRequired",
                                     "component": {"name": "OCPPCommCtrlr"},
                                     "variable": {"name": "HeartbeatInterval"}}]}  # fmt: skip
    call, status, row = await answered(
        cp, operator.post("/charge-points/DM2/device-model/set", fields, headers=HTMX), result
    )
    assert call[2] == "SetVariables"
    assert call[3] == {"setVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"},
         "attributeType": "Actual", "attributeValue": "90"}]}  # fmt: skip
    assert status == 200 and row.lstrip().startswith("<tr")
    assert answer_of(row) == "RebootRequired" and 'name="value" value="90"' in row
    assert "reboot required" in row
    [held] = await client.app[SERVICES].device_model.variables("DM2", "heartbeat")
    assert (held.value, held.reboot_required) == ("90", True)

    # Refused: the row says so, and keeps the value held.
    fields["value"] = "abc"
    result["setVariableResult"][0]["attributeStatus"] = "Rejected"
    result["setVariableResult"][0]["attributeStatusInfo"] = {"reasonCode": "InvalidValue"}
    _, _, row = await answered(
        cp, operator.post("/charge-points/DM2/device-model/set", fields, headers=HTMX), result
    )
    assert answer_of(row) == "Rejected" and "InvalidValue" in row and 'value="90"' in row

    # A form without its variable: a message, nothing sent.
    status, row = await operator.post(
        "/charge-points/DM2/device-model/set", {"component": "OCPPCommCtrlr"}, headers=HTMX
    )
    assert status == 200 and answer_of(row) == "invalid input" and "give the variable" in row
    assert await cp.nothing_within(0.2)
    # Without htmx: the device model page with the answer.
    status, page = await operator.post(
        "/charge-points/DM2/device-model/set", {"component": "X"}
    )  # fmt: skip
    assert status == 200 and "<html" in page and "give the variable" in page

    # An admin may set the password (a password field, never its value).
    admin = await portal("admin")
    _, html = await admin.get("/charge-points/DM2/device-model?q=password")
    assert 'type="password"' in html and "s3cret" not in html


async def test_base_report_from_the_page_and_notifications_live(portal, connect) -> None:
    cp = await station(connect, "BR2")
    operator = await portal("operator")
    _, page = await operator.get("/charge-points/BR2")
    assert "Not reported yet" in page and "Get base report" in page
    async with operator.http.get(operator.base + "/events?charge_point=BR2") as stream:
        call, status, html = await answered(
            cp,
            operator.post(
                "/charge-points/BR2/operations/get-base-report",
                {"report_base": "FullInventory"},
                headers=HTMX,
            ),
            {"status": "Accepted"},
        )
        assert call[2] == "GetBaseReport" and call[3]["reportBase"] == "FullInventory"
        request_id = call[3]["requestId"]
        assert isinstance(request_id, int) and request_id > 0
        assert status == 200 and answer_of(html) == "Accepted" and "Base report" in html
        await report(cp, request_id)
        await until_pushed(
            stream,
            {
                "notifications": f"report {request_id} part 0: 4 variables",
                "operations": "search and set its variables",
            },
        )
    async with operator.http.get(
        operator.base + "/events?charge_point=BR2&view=device-model"
    ) as stream:
        await report(cp, request_id)
        assert await read_events(stream, "device-model") == "report"
    _, page = await operator.get("/charge-points/BR2")
    assert re.search(r'data-action="NotifyReport">.*?report \d+ part 0: 4 variables', page, re.S)


# operation -> (form fields, the 2.0.1 request sent, the charger's answer, shown)
FORMS: list[tuple[str, dict, dict, dict, str]] = [
    ("reset", {"type": "Immediate", "evse_id": "1"}, {"type": "Immediate", "evseId": 1},
     {"status": "Scheduled"}, "Scheduled"),
    ("change-availability", {"operational_status": "Inoperative", "evse_id": "1",
                             "connector_id": "1"},
     {"operationalStatus": "Inoperative", "evse": {"id": 1, "connectorId": 1}},
     {"status": "Accepted"}, "Accepted"),
    ("unlock-connector", {"evse_id": "1", "connector_id": "1"}, {"evseId": 1, "connectorId": 1},
     {"status": "Unlocked"}, "Unlocked"),
    ("trigger-message", {"requested_message": "StatusNotification", "evse_id": ""},
     {"requestedMessage": "StatusNotification"}, {"status": "Accepted"}, "Accepted"),
    ("get-variables", {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval",
                       "attribute_type": "Actual"},
     {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                           "variable": {"name": "HeartbeatInterval"}, "attributeType": "Actual"}]},
     {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300",
                             "component": {"name": "OCPPCommCtrlr"},
                             "variable": {"name": "HeartbeatInterval"}}]}, "Accepted"),
    ("data-transfer", {"vendor_id": "acme", "message_id": "echo", "data": "ping"},
     {"vendorId": "acme", "messageId": "echo", "data": "ping"},
     {"status": "Accepted", "data": "pong"}, "Accepted"),
]  # fmt: skip


async def test_operation_forms_send_201_calls_and_show_answers(portal, client, connect) -> None:
    cp = await station(connect, "OF2")
    await client.app[SERVICES].id_tags.add("CARD-A")
    operator = await portal("operator")
    for operation, fields, sent, answer, shown in FORMS:
        call, status, html = await answered(
            cp, operator.post(f"/charge-points/OF2/operations/{operation}", fields, headers=HTMX),
            answer,
        )  # fmt: skip
        assert call[3] == sent, operation
        assert status == 200 and "<html" not in html and answer_of(html) == shown, operation

    # The answers' details: a value read, a reason, data back.
    _, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/get-variables",
                      {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"},
                      headers=HTMX),
        FORMS[4][3],
    )  # fmt: skip
    assert "value 300" in html
    [held] = await client.app[SERVICES].device_model.variables("OF2", "heartbeat")
    assert held.value == "300" and held.source == "GetVariables"

    # Requests built with what the central system knows: a profile from now, a new
    # reservation id, the id tags as a list, new request and message ids.
    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/set-charging-profile",
                      {"evse_id": "0", "charging_profile_purpose": "ChargingStationMaxProfile",
                       "charging_profile_id": "3", "stack_level": "0", "limit": "11000",
                       "charging_rate_unit": "W"}, headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    profile = call[3]["chargingProfile"]
    assert call[2] == "SetChargingProfile" and call[3]["evseId"] == 0
    assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert profile["chargingProfileKind"] == "Absolute" and profile["id"] == 3
    [schedule] = profile["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "W" and "startSchedule" in schedule
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 11000.0}]
    assert answer_of(html) == "Accepted"
    # Kept, listed with its EVSE and limits, and cleared from its own row.
    _, page = await operator.get("/charge-points/OF2/operations")
    row = re.search(r'<tr id="profile-3">.*?</tr>', page, re.S)[0]
    assert "ChargingStationMaxProfile" in row and "0 s: 11000.0 W" in row
    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/clear-charging-profile", {"id": "3"},
                      headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[2:] == ["ClearChargingProfile", {"chargingProfileId": 3}]
    _, page = await operator.get("/charge-points/OF2/operations")
    assert 'id="profile-3"' not in page

    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/reserve-now",
                      {"id_token": "CARD-A", "expiry_date_time": soon(), "evse_id": "1"},
                      headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[2] == "ReserveNow" and call[3]["idToken"] == {
        "idToken": "CARD-A",
        "type": "Central",
    }
    assert call[3]["evseId"] == 1 and isinstance(call[3]["id"], int)
    assert answer_of(html) == "Accepted"
    [reservation] = await client.app[SERVICES].operations.reservations("OF2")
    assert (reservation.id, reservation.status) == (call[3]["id"], "Reserved")
    _, page = await operator.get("/charge-points/OF2")
    assert re.search(rf'id="reservation-{reservation.id}">.*?CARD-A.*?Reserved', page, re.S)
    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/cancel-reservation",
                      {"reservation_id": str(reservation.id)}, headers=HTMX),
        {"status": "Rejected", "statusInfo": {"reasonCode": "TooLate"}},
    )  # fmt: skip
    assert call[3] == {"reservationId": reservation.id}
    assert answer_of(html) == "Rejected" and "TooLate" in html

    call, _, html = await answered(
        cp, operator.post("/charge-points/OF2/operations/send-local-list", {}, headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[3] == {"versionNumber": 1, "updateType": "Full", "localAuthorizationList": [
        {"idToken": {"idToken": "CARD-A", "type": "Central"}, "idTokenInfo": {"status": "Accepted"}}
    ]}  # fmt: skip
    assert answer_of(html) == "Accepted"
    assert (await client.app[SERVICES].charge_points.get("OF2")).local_list_version == 1

    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/update-firmware",
                      {"location": "https://fw.example.com/2.1.bin", "retrieve_date_time": ""},
                      headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[3]["firmware"]["location"] == "https://fw.example.com/2.1.bin"
    assert "retrieveDateTime" in call[3]["firmware"] and call[3]["requestId"] > 0

    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/get-log",
                      {"location": "ftp://logs.example.com/in", "log_type": "SecurityLog"},
                      headers=HTMX),
        {"status": "Accepted", "filename": "security.log"},
    )  # fmt: skip
    assert call[3]["log"] == {"remoteLocation": "ftp://logs.example.com/in"}
    assert call[3]["logType"] == "SecurityLog" and "file security.log" in html

    call, _, html = await answered(
        cp,
        operator.post("/charge-points/OF2/operations/set-display-message",
                      {"text": "Welcome", "priority": "InFront"}, headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    content = {"format": "UTF8", "content": "Welcome"}
    assert call[3] == {"message": {"id": 1, "priority": "InFront", "message": content}}
    [message] = await client.app[SERVICES].device_model.messages("OF2")
    assert message["id"] == 1

    # Each went into the journal as the operator's.
    journal = await client.app[SERVICES].operations.journal("OF2", limit=100)
    assert {o.requested_by for o in journal} == {"oper"}
    assert {"Reset", "GetVariables", "SendLocalList", "GetLog"} <= {o.action for o in journal}


async def test_remote_start_stop_and_the_session_page(portal, client, connect) -> None:
    await client.app[SERVICES].id_tags.add("TAG9")  # an unknown one is not sent (checked)
    cp = await station(connect, "RS2")
    operator = await portal("operator")
    call, status, html = await answered(
        cp,
        operator.post("/charge-points/RS2/remote-start", {"id_tag": "TAG9", "evse_id": "1"},
                      headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[2] == "RequestStartTransaction"
    assert call[3]["idToken"] == {"idToken": "TAG9", "type": "Central"} and call[3]["evseId"] == 1
    assert answer_of(html) == "Accepted" and "Remote start" in html
    started = {
        "eventType": "Started", "timestamp": STAMP, "triggerReason": "RemoteStart", "seqNo": 0,
        "transactionInfo": {"transactionId": "T-RS", "remoteStartId": call[3]["remoteStartId"],
                            "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1}, "idToken": {"idToken": "TAG9", "type": "Central"},
    }  # fmt: skip
    await cp.result("TransactionEvent", started)
    updated = {**started, "eventType": "Updated", "seqNo": 1, "triggerReason": "MeterValuePeriodic",
               "offline": True}  # fmt: skip
    del updated["idToken"]
    await cp.result("TransactionEvent", updated)
    [tx] = await client.app[SERVICES].transaction_queries.list(charge_point_id="RS2")

    _, page = await operator.get("/charge-points/RS2")
    box = page[page.index(f'id="active-{tx.id}"') :]
    assert "on EVSE 1 · Charging · TAG9" in box and 'hx-confirm="Stop session' in box
    assert re.search(r'<span id="cp-status"><span class="badge busy">Charging', page)

    call, status, html = await answered(
        cp,
        operator.post("/charge-points/RS2/remote-stop", {"transaction_id": str(tx.id)},
                      headers=HTMX),
        {"status": "Accepted"},
    )  # fmt: skip
    assert call[2:] == ["RequestStopTransaction", {"transactionId": "T-RS"}]
    assert answer_of(html) == "Accepted" and "Remote stop" in html

    status, page = await operator.get(f"/transactions/{tx.id}")
    assert status == 200
    assert '<dd class="mono" id="ocpp-transaction-id">T-RS</dd>' in page and "EVSE 1" in page
    events = re.findall(
        r'<tr data-seq-no="(\d+)"><td class="num">\d+</td><td>(\w+)</td><td>(\w+)</td>\s*'
        r"<td>(.*?)</td>",
        page,
    )
    assert [(seq, kind, trigger) for seq, kind, trigger, _ in events] == [
        ("0", "Started", "RemoteStart"), ("1", "Updated", "MeterValuePeriodic"),
    ]  # fmt: skip
    assert "offline" not in events[0][3] and "offline" in events[1][3]


async def test_bad_fields_give_a_message_never_a_500(portal, client, connect) -> None:
    await client.app[SERVICES].id_tags.add("T")  # known: the form's fields are what is bad
    cp = await station(connect, "BAD2")
    operator = await portal("operator")
    refused = [
        ("operations/unlock-connector", {"evse_id": "x", "connector_id": "1"}, "whole number"),
        ("operations/unlock-connector", {"evse_id": "99999999999", "connector_id": "1"},
         "from 1 to"),
        ("operations/reset", {}, "give the reset type"),
        ("operations/reset", {"type": "Sometime"}, "type"),  # the schema's check
        ("operations/change-availability", {"operational_status": "Operative",
                                            "connector_id": "1"}, "EVSE of the connector"),
        ("operations/reserve-now", {"id_token": "T", "expiry_date_time": "soon"},
         "must be a date and time"),
        ("operations/reserve-now", {"id_token": "T", "expiry_date_time": "2001-01-01T00:00"},
         "in the future"),
        ("operations/set-charging-profile",
         {"evse_id": "1", "charging_profile_purpose": "ChargingStationMaxProfile",
          "charging_profile_id": "1", "stack_level": "0", "limit": "16"}, "EVSE 0"),
        ("operations/set-charging-profile",
         {"charging_profile_id": "1", "stack_level": "0", "limit": "inf"}, "must be a number"),
        ("operations/get-log", {"location": "file:///etc/passwd"}, "URL"),
        ("operations/trigger-message", {"requested_message": "Coffee"}, "requestedMessage"),
        ("operations/get-configuration", {}, "is an OCPP 1.6 operation"),
        ("remote-start", {"id_tag": ""}, "give the id tag"),
        ("remote-start", {"id_tag": "T", "evse_id": "9"}, "not an EVSE of"),
        ("remote-stop", {"transaction_id": "12345"}, "does not exist"),
        ("device-model/set", {"component": "", "variable": "X"}, "give the component"),
    ]  # fmt: skip
    for path, fields, said in refused:
        status, html = await operator.post(f"/charge-points/BAD2/{path}", fields, headers=HTMX)
        assert status == 200 and answer_of(html) == "invalid input", (path, fields, html)
        assert said in html, (path, said, html)
    assert await cp.nothing_within(0.2)
    journal = await client.app[SERVICES].operations.journal("BAD2")
    assert journal == []
    status, _ = await operator.post("/charge-points/BAD2/operations/fly", {}, headers=HTMX)
    assert status == 404
    status, _ = await operator.post("/charge-points/NOWHERE/operations/reset", {"type": "OnIdle"})
    assert status == 404
    # A charger gone: said on the page.
    await cp.ws.close()
    status, html = await operator.post(
        "/charge-points/BAD2/operations/reset", {"type": "OnIdle"}, headers=HTMX
    )
    assert answer_of(html) == "not connected"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/charge-points/V2/operations/reset", {"type": "Immediate"}),
        ("/charge-points/V2/operations/get-base-report", {"report_base": "FullInventory"}),
        ("/charge-points/V2/remote-start", {"id_tag": "T"}),
        ("/charge-points/V2/remote-stop", {"transaction_id": "1"}),
        ("/charge-points/V2/device-model/set",
         {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "1"}),
    ],
)  # fmt: skip
async def test_a_viewer_sees_no_forms_and_gets_403_on_posts(
    portal, connect, path: str, data: dict
) -> None:
    cp = await station(connect, "V2")
    await report(cp)
    viewer = await portal("viewer")
    for page in ("/charge-points/V2", "/charge-points/V2/operations",
                 "/charge-points/V2/device-model"):  # fmt: skip
        status, html = await viewer.get(page)
        assert status == 200, page
        assert '<form method="post" action="/charge-points/V2/' not in html, page
    status, _ = await viewer.post(path, data, headers=HTMX)
    assert status == 403
    # The operator's post without the CSRF token: refused too.
    operator = await portal("operator")
    status, _ = await operator.post(path, data, csrf=False, headers=HTMX)
    assert status == 403
    assert await cp.nothing_within(0.1)


async def test_a_password_change_from_the_table_is_an_admins(portal, client, connect) -> None:
    cp = await station(connect, "PW2")
    await report(cp)
    fields = {"component": "SecurityCtrlr", "variable": "BasicAuthPassword",
              "attribute_type": "Actual", "value": "new-password-5678"}  # fmt: skip
    operator = await portal("operator")
    status, _ = await operator.post("/charge-points/PW2/device-model/set", fields, headers=HTMX)
    assert status == 403
    admin = await portal("admin")
    result = {"setVariableResult": [{"attributeStatus": "Accepted",
                                     "component": {"name": "SecurityCtrlr"},
                                     "variable": {"name": "BasicAuthPassword"}}]}  # fmt: skip
    call, status, row = await answered(
        cp, admin.post("/charge-points/PW2/device-model/set", fields, headers=HTMX), result
    )
    assert call[3]["setVariableData"][0]["attributeValue"] == "new-password-5678"
    assert answer_of(row) == "Accepted" and "new-password-5678" not in row
    journal = await client.app[SERVICES].operations.journal("PW2")
    assert "new-password" not in json.dumps([o.request for o in journal])


async def test_a_201_session_without_a_token_in_the_list_and_the_csv(portal, connect) -> None:
    cp = await station(connect, "NT2", {1: ["Occupied"]})
    started = {
        "eventType": "Started", "timestamp": STAMP, "triggerReason": "CablePluggedIn",
        "seqNo": 0, "transactionInfo": {"transactionId": "=T-NT"},
        "evse": {"id": 1, "connectorId": 1},
    }  # fmt: skip
    await cp.result("TransactionEvent", started)
    viewer = await portal("viewer")
    status, html = await viewer.get("/transactions?charge_point_id=NT2")
    assert status == 200 and "None" not in html.split('class="tx-row"')[1]
    assert "EVSE 1" in html
    status, page = await viewer.get("/charge-points/NT2")
    assert status == 200 and "no id token yet" in page and "Occupied" in page
    async with viewer.http.get(viewer.base + "/transactions.csv?charge_point_id=NT2") as response:
        assert response.status == 200
        [row] = list(csv.DictReader(io.StringIO(await response.text())))
    # The charger's own id is its text: one a spreadsheet would run is made text.
    assert (row["id_tag"], row["evse_id"], row["ocpp_transaction_id"]) == ("", "1", "'=T-NT")
    assert row["meter_start_wh"] == ""
