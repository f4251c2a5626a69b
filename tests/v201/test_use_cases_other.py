"""OCPP 2.0.1 functional blocks K (Smart charging), L (Firmware management), N
(Diagnostics), O (Display message) and P (Data transfer), the CSMS side, one test per use
case as the OCTT CSMS test cases (TC_K_*, TC_L_*, TC_N_*, TC_O_*, TC_P_*_CSMS) drive it.
ISO 15118 schedules (K15-K17) are n/a: Voltaro computes none."""

from __future__ import annotations

from sqlalchemy import select

from ocpp_core.db.models import DataTransferMessage, StatusReport
from tests.helpers import get_json, journal
from tests.v201.charging_station import station
from tests.v201.use_cases import answered, charge_point, later, refused
from webapp.keys import ENGINE, SERVICES

STAMP = "2026-11-25T08:00:00Z"


def profile(profile_id: int, purpose: str = "TxDefaultProfile", limit: float = 16) -> dict:
    return {
        "id": profile_id,
        "stack_level": 1,
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Absolute",
        "charging_schedule": [
            {
                "id": profile_id,
                "charging_rate_unit": "A",
                "start_schedule": STAMP,
                "charging_schedule_period": [{"start_period": 0, "limit": limit}],
            }
        ],
    }


async def profiles(client, charge_point_id: str) -> list[tuple[int, int, str]]:
    shown = await get_json(
        client, f"/api/charge-points/{charge_point_id}/charging-profiles", role="viewer"
    )
    return [(p["connector_id"], p["charging_profile_id"], p["purpose"]) for p in shown]


async def rows(client, model, charge_point_id: str) -> list:
    async with client.app[ENGINE].connect() as conn:
        query = select(model).where(model.charge_point_id == charge_point_id).order_by(model.id)
        return list(await conn.execute(query))


async def test_K01_set_charging_profile(client, connect) -> None:
    """K01: SetChargingProfile carries the EVSE and the profile in camelCase; a profile the
    station Accepted is shown as the station's, a Rejected one is not; an unknown EVSE is
    refused before sending."""
    cp = await station(connect, "K01")
    call, code, answer = await answered(
        client,
        cp,
        "K01",
        "set-charging-profile",
        {"evse_id": 1, "charging_profile": profile(11)},
        {"status": "Accepted"},
    )
    assert call[2] == "SetChargingProfile" and (code, answer) == (200, {"status": "Accepted"})
    sent = call[3]["chargingProfile"]
    assert (call[3]["evseId"], sent["id"], sent["chargingProfilePurpose"]) == (
        1,
        11,
        "TxDefaultProfile",
    )
    assert sent["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16}
    ]
    _, _, answer = await answered(
        client,
        cp,
        "K01",
        "set-charging-profile",
        {"evse_id": 0, "charging_profile": profile(12, "ChargingStationMaxProfile")},
        {"status": "Rejected"},
    )
    assert answer == {"status": "Rejected"}
    assert await profiles(client, "K01") == [(1, 11, "TxDefaultProfile")]
    code, _ = await refused(
        client, "K01", "set-charging-profile", {"evse_id": 6, "charging_profile": profile(13)}
    )
    assert code == 400
    assert await cp.nothing_within(0.05)


async def test_K08_get_composite_schedule(client, connect) -> None:
    """K08: GetCompositeSchedule names the duration, EVSE and rate unit; the schedule the
    station computed is shown as given."""
    cp = await station(connect, "K08")
    schedule = {
        "evseId": 1,
        "duration": 3600,
        "scheduleStart": STAMP,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 7400.0},
            {"startPeriod": 1800, "limit": 3700.0},
        ],
    }
    call, code, answer = await answered(
        client,
        cp,
        "K08",
        "get-composite-schedule",
        {"duration": 3600, "evse_id": 1, "charging_rate_unit": "W"},
        {"status": "Accepted", "schedule": schedule},
    )
    assert call[2:] == [
        "GetCompositeSchedule",
        {"duration": 3600, "evseId": 1, "chargingRateUnit": "W"},
    ]
    assert code == 200 and answer["status"] == "Accepted"
    assert [p["limit"] for p in answer["schedule"]["charging_schedule_period"]] == [7400.0, 3700.0]


async def test_K09_get_charging_profiles(client, connect) -> None:
    """K09: GetChargingProfiles carries the requestId and criteria; the
    ReportChargingProfiles that follow are answered, kept, and the profiles they list shown
    as the station's."""
    cp = await station(connect, "K09", evses=2)
    body = {"request_id": 40, "charging_profile": {"charging_profile_purpose": "TxDefaultProfile"}}
    call, code, answer = await answered(
        client, cp, "K09", "get-charging-profiles", body, {"status": "Accepted"}
    )
    assert call[2:] == [
        "GetChargingProfiles",
        {"requestId": 40, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}},
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    for evse, profile_id, tbc in ((1, 21, True), (2, 22, False)):
        camel = {
            "id": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "startSchedule": STAMP,
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
                }
            ],
        }
        report = {
            "requestId": 40,
            "chargingLimitSource": "CSO",
            "evseId": evse,
            "chargingProfile": [camel],
            "tbc": tbc,
        }
        assert await cp.result("ReportChargingProfiles", report) == {}
    assert await profiles(client, "K09") == [
        (1, 21, "TxDefaultProfile"),
        (2, 22, "TxDefaultProfile"),
    ]
    kept = await client.app[SERVICES].notifications.recent("K09", action="ReportChargingProfiles")
    assert sorted(n.request_id for n in kept) == [40, 40]
    _, _, answer = await answered(
        client,
        cp,
        "K09",
        "get-charging-profiles",
        {**body, "request_id": 41},
        {"status": "NoProfiles"},
    )
    assert answer == {"status": "NoProfiles"}


async def test_K10_clear_charging_profile(client, connect) -> None:
    """K10: ClearChargingProfile by id or by criteria; what the station Accepted is no
    longer shown, an Unknown answer leaves the profiles as they were."""
    cp = await station(connect, "K10", evses=2)
    for evse, profile_id in ((1, 31), (2, 32)):
        await answered(
            client,
            cp,
            "K10",
            "set-charging-profile",
            {"evse_id": evse, "charging_profile": profile(profile_id)},
            {"status": "Accepted"},
        )
    _, _, answer = await answered(
        client,
        cp,
        "K10",
        "clear-charging-profile",
        {"charging_profile_id": 31},
        {"status": "Unknown"},
    )
    assert answer == {"status": "Unknown"}
    assert len(await profiles(client, "K10")) == 2
    call, _, _ = await answered(
        client,
        cp,
        "K10",
        "clear-charging-profile",
        {"charging_profile_id": 31},
        {"status": "Accepted"},
    )
    assert call[2:] == ["ClearChargingProfile", {"chargingProfileId": 31}]
    assert await profiles(client, "K10") == [(2, 32, "TxDefaultProfile")]
    criteria = {
        "charging_profile_criteria": {"evse_id": 2, "charging_profile_purpose": "TxDefaultProfile"}
    }
    call, _, _ = await answered(
        client, cp, "K10", "clear-charging-profile", criteria, {"status": "Accepted"}
    )
    assert call[3] == {
        "chargingProfileCriteria": {"evseId": 2, "chargingProfilePurpose": "TxDefaultProfile"}
    }
    assert await profiles(client, "K10") == []


async def test_K12_charging_limit_set_and_cleared_by_external_system(client, connect) -> None:
    """K12/K13: a limit an external system (EMS) put on the station is reported by
    NotifyChargingLimit and its end by ClearedChargingLimit: both answered and kept with
    what they say."""
    cp = await station(connect, "K12")
    limit = {"chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": True}, "evseId": 1}
    assert await cp.result("NotifyChargingLimit", limit) == {}
    assert (
        await cp.result("ClearedChargingLimit", {"chargingLimitSource": "EMS", "evseId": 1}) == {}
    )
    kept = await client.app[SERVICES].notifications.recent("K12")
    assert sorted(n.summary for n in kept) == [
        "limit by EMS cleared on EVSE 1",
        "limit by EMS on EVSE 1, grid critical",
    ]


async def test_L01_secure_firmware_update(client, connect) -> None:
    """L01: UpdateFirmware carries the requestId, location, retrieve time, signing
    certificate and signature; the FirmwareStatusNotifications that follow are answered and
    the newest is the station's firmware status; a location that is no file URL is refused
    before sending."""
    cp = await station(connect, "L01")
    body = {
        "request_id": 51,
        "retries": 2,
        "firmware": {
            "location": "https://firmware.example.com/fw-2.0.bin",
            "retrieve_date_time": later(1),
            "signing_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "signature": "c2lnbmF0dXJl",
        },
    }
    call, code, answer = await answered(
        client, cp, "L01", "update-firmware", body, {"status": "Accepted"}
    )
    assert call[2] == "UpdateFirmware" and (code, answer) == (200, {"status": "Accepted"})
    firmware = call[3]["firmware"]
    assert (call[3]["requestId"], firmware["location"], firmware["signature"]) == (
        51,
        "https://firmware.example.com/fw-2.0.bin",
        "c2lnbmF0dXJl",
    )
    assert "signingCertificate" in firmware
    steps = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]
    for step in steps:
        assert (
            await cp.result("FirmwareStatusNotification", {"status": step, "requestId": 51}) == {}
        )
    view = await client.app[SERVICES].charge_points.get("L01")
    assert view.firmware_status == "Installed"
    reports = await rows(client, StatusReport, "L01")
    assert [(r.kind, r.status) for r in reports] == [("firmware", s) for s in steps]
    bad = {**body, "firmware": {**body["firmware"], "location": "file:///etc/passwd"}}
    code, error = await refused(client, "L01", "update-firmware", bad)
    assert code == 400 and "location" in error
    assert await cp.nothing_within(0.05)


async def test_L01_firmware_update_failure_statuses(client, connect) -> None:
    """L01: a rejected update is shown Rejected; failure statuses (InvalidSignature,
    DownloadFailed) reported later become the station's firmware status."""
    cp = await station(connect, "L01F")
    body = {
        "request_id": 52,
        "firmware": {"location": "ftp://fw.example.com/fw.bin", "retrieve_date_time": later(1)},
    }
    _, _, answer = await answered(
        client, cp, "L01F", "update-firmware", body, {"status": "InvalidCertificate"}
    )
    assert answer == {"status": "InvalidCertificate"}
    for failure in ("DownloadFailed", "InvalidSignature"):
        assert (
            await cp.result("FirmwareStatusNotification", {"status": failure, "requestId": 52})
            == {}
        )
        assert (await client.app[SERVICES].charge_points.get("L01F")).firmware_status == failure


async def test_L03_publish_firmware(client, connect) -> None:
    """L03: PublishFirmware (a local controller) carries the location, checksum and
    requestId; the PublishFirmwareStatusNotification is answered and kept with the locations
    it publishes."""
    cp = await station(connect, "L03")
    body = {"location": "https://fw.example.com/fw.bin", "checksum": "0" * 32, "request_id": 53}
    call, code, answer = await answered(
        client, cp, "L03", "publish-firmware", body, {"status": "Accepted"}
    )
    assert call[2:] == [
        "PublishFirmware",
        {"location": "https://fw.example.com/fw.bin", "checksum": "0" * 32, "requestId": 53},
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    published = {"status": "Published", "requestId": 53, "location": ["http://lc.local/fw.bin"]}
    assert await cp.result("PublishFirmwareStatusNotification", published) == {}
    [kept] = await client.app[SERVICES].notifications.recent(
        "L03", action="PublishFirmwareStatusNotification"
    )
    assert (kept.request_id, kept.payload["location"]) == (53, ["http://lc.local/fw.bin"])


async def test_N01_retrieve_log_information(client, connect, portal) -> None:
    """N01: GetLog carries the log type, requestId and upload location; the file name
    answered is shown; the LogStatusNotifications that follow are answered and kept in
    order."""
    cp = await station(connect, "N01")
    body = {
        "log_type": "DiagnosticsLog",
        "request_id": 61,
        "log": {"remote_location": "ftp://logs.example.com/upload/"},
    }
    call, code, answer = await answered(
        client, cp, "N01", "get-log", body, {"status": "Accepted", "filename": "diag-61.tar.gz"}
    )
    assert call[2:] == [
        "GetLog",
        {
            "logType": "DiagnosticsLog",
            "requestId": 61,
            "log": {"remoteLocation": "ftp://logs.example.com/upload/"},
        },
    ]
    assert (code, answer) == (200, {"status": "Accepted", "filename": "diag-61.tar.gz"})
    for step in ("Uploading", "Uploaded"):
        assert await cp.result("LogStatusNotification", {"status": step, "requestId": 61}) == {}
    reports = await rows(client, StatusReport, "N01")
    assert [(r.kind, r.status) for r in reports] == [("log", "Uploading"), ("log", "Uploaded")]
    _, page = await (await portal("viewer")).get("/charge-points/N01/operations")
    assert 'Log upload status</dt><dd id="log-status">Uploaded ' in page
    _, _, answer = await answered(
        client,
        cp,
        "N01",
        "get-log",
        {**body, "log_type": "SecurityLog", "request_id": 62},
        {"status": "AcceptedCanceled"},
    )
    assert answer == {"status": "AcceptedCanceled"}
    assert (await journal(client, "N01"))[0]["status"] == "AcceptedCanceled"


async def test_N04_set_and_clear_variable_monitoring(client, connect) -> None:
    """N04/N06: SetVariableMonitoring asks for monitors per variable; those the station
    Accepted are kept with the id it gave, others not; ClearVariableMonitoring removes those
    it cleared."""
    cp = await station(connect, "N04")
    body = {
        "set_monitoring_data": [
            {
                "value": 10,
                "type": "Delta",
                "severity": 5,
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
            },
            {
                "value": 1,
                "type": "UpperThreshold",
                "severity": 3,
                "component": {"name": "NoSuch"},
                "variable": {"name": "Thing"},
            },
        ]
    }
    result = {
        "setMonitoringResult": [
            {
                "id": 71,
                "status": "Accepted",
                "type": "Delta",
                "severity": 5,
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"},
            },
            {
                "status": "UnknownComponent",
                "type": "UpperThreshold",
                "severity": 3,
                "component": {"name": "NoSuch"},
                "variable": {"name": "Thing"},
            },
        ]
    }
    call, code, _ = await answered(client, cp, "N04", "set-variable-monitoring", body, result)
    assert call[2] == "SetVariableMonitoring" and code == 200
    assert [m["type"] for m in call[3]["setMonitoringData"]] == ["Delta", "UpperThreshold"]
    monitors = await client.app[SERVICES].device_model.monitors("N04")
    assert [(m["id"], m["type"], m["severity"]) for m in monitors] == [(71, "Delta", 5)]
    call, code, answer = await answered(
        client,
        cp,
        "N04",
        "clear-variable-monitoring",
        {"id": [71]},
        {"clearMonitoringResult": [{"id": 71, "status": "Accepted"}]},
    )
    assert call[2:] == ["ClearVariableMonitoring", {"id": [71]}] and code == 200
    assert answer["clear_monitoring_result"] == [{"id": 71, "status": "Accepted"}]
    assert await client.app[SERVICES].device_model.monitors("N04") == []


async def test_N07_alert_event(client, connect) -> None:
    """N07/N08: NotifyEvent (a monitor's alert or a periodic event) is answered and kept
    with what it says."""
    cp = await station(connect, "N07")
    event = {
        "generatedAt": STAMP,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 5,
                "timestamp": STAMP,
                "trigger": "Alerting",
                "actualValue": "95",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Temperature"},
                "eventNotificationType": "CustomMonitor",
                "variableMonitoringId": 71,
            }
        ],
    }
    assert await cp.result("NotifyEvent", event) == {}
    [kept] = await client.app[SERVICES].notifications.recent("N07", action="NotifyEvent")
    assert "EVSE.Temperature=95 (Alerting)" in kept.summary
    assert kept.payload["eventData"][0]["variableMonitoringId"] == 71


async def test_N09_get_customer_information(client, connect) -> None:
    """N09/N10: the request names the customer (idToken) and whether to report and/or clear;
    the NotifyCustomerInformation parts that follow are answered and kept by requestId."""
    cp = await station(connect, "N09")
    body = {
        "request_id": 81,
        "report": True,
        "clear": False,
        "id_token": {"id_token": "N09TAG", "type": "ISO14443"},
    }
    call, code, answer = await answered(
        client, cp, "N09", "customer-information", body, {"status": "Accepted"}
    )
    assert call[2:] == [
        "CustomerInformation",
        {
            "requestId": 81,
            "report": True,
            "clear": False,
            "idToken": {"idToken": "N09TAG", "type": "ISO14443"},
        },
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    for seq_no, (data, tbc) in enumerate((("card N09TAG: 3 sessions", True), ("cache: 1", False))):
        payload = {"data": data, "seqNo": seq_no, "generatedAt": STAMP, "requestId": 81, "tbc": tbc}
        assert await cp.result("NotifyCustomerInformation", payload) == {}
    kept = await client.app[SERVICES].notifications.recent(
        "N09", action="NotifyCustomerInformation"
    )
    assert sorted((n.request_id, n.payload["seqNo"], n.payload["data"]) for n in kept) == [
        (81, 0, "card N09TAG: 3 sessions"),
        (81, 1, "cache: 1"),
    ]
    _, _, answer = await answered(
        client,
        cp,
        "N09",
        "customer-information",
        {**body, "request_id": 82, "report": False, "clear": True},
        {"status": "Invalid"},
    )
    assert answer == {"status": "Invalid"}


def message(message_id: int, content: str, priority: str = "NormalCycle") -> dict:
    return {
        "id": message_id,
        "priority": priority,
        "message": {"format": "UTF8", "content": content},
    }


async def test_O01_set_display_message(client, connect) -> None:
    """O01/O06: SetDisplayMessage carries the message; an Accepted one is held as the
    station's, replaced when sent again with the same id; NotSupportedMessageFormat or
    Rejected leave nothing."""
    cp = await station(connect, "O01")
    call, code, answer = await answered(
        client,
        cp,
        "O01",
        "set-display-message",
        {"message": message(1, "Welcome")},
        {"status": "Accepted"},
    )
    assert call[2:] == [
        "SetDisplayMessage",
        {
            "message": {
                "id": 1,
                "priority": "NormalCycle",
                "message": {"format": "UTF8", "content": "Welcome"},
            }
        },
    ]
    assert (code, answer) == (200, {"status": "Accepted"})
    await answered(
        client,
        cp,
        "O01",
        "set-display-message",
        {"message": message(1, "Welcome back", "AlwaysFront")},
        {"status": "Accepted"},
    )
    for outcome in ("NotSupportedMessageFormat", "Rejected"):
        _, _, answer = await answered(
            client,
            cp,
            "O01",
            "set-display-message",
            {"message": message(2, "Nope")},
            {"status": outcome},
        )
        assert answer == {"status": outcome}
    held = await client.app[SERVICES].device_model.messages("O01")
    assert [(m["id"], m["message"]["content"]) for m in held] == [(1, "Welcome back")]


async def test_O03_get_display_messages(client, connect) -> None:
    """O03/O04: GetDisplayMessages (all, or by id) carries the requestId; the
    NotifyDisplayMessages that follow are answered and the messages they list held as the
    station's; Unknown is shown as given."""
    cp = await station(connect, "O03")
    call, code, answer = await answered(
        client, cp, "O03", "get-display-messages", {"request_id": 91}, {"status": "Accepted"}
    )
    assert call[2:] == ["GetDisplayMessages", {"requestId": 91}]
    assert (code, answer) == (200, {"status": "Accepted"})
    notify = {
        "requestId": 91,
        "messageInfo": [message(5, "Tariff 0.30/kWh"), message(6, "Out of order soon")],
    }
    assert await cp.result("NotifyDisplayMessages", notify) == {}
    held = await client.app[SERVICES].device_model.messages("O03")
    assert sorted(m["id"] for m in held) == [5, 6]
    call, _, answer = await answered(
        client,
        cp,
        "O03",
        "get-display-messages",
        {"request_id": 92, "id": [77]},
        {"status": "Unknown"},
    )
    assert call[3] == {"requestId": 92, "id": [77]} and answer == {"status": "Unknown"}


async def test_O05_clear_display_message(client, connect) -> None:
    """O05: ClearDisplayMessage names the message; Accepted removes it from those held,
    Unknown leaves them as they were."""
    cp = await station(connect, "O05")
    for message_id in (1, 2):
        await answered(
            client,
            cp,
            "O05",
            "set-display-message",
            {"message": message(message_id, f"m{message_id}")},
            {"status": "Accepted"},
        )
    _, _, answer = await answered(
        client, cp, "O05", "clear-display-message", {"id": 1}, {"status": "Unknown"}
    )
    assert answer == {"status": "Unknown"}
    assert len(await client.app[SERVICES].device_model.messages("O05")) == 2
    call, _, _ = await answered(
        client, cp, "O05", "clear-display-message", {"id": 1}, {"status": "Accepted"}
    )
    assert call[2:] == ["ClearDisplayMessage", {"id": 1}]
    assert [m["id"] for m in await client.app[SERVICES].device_model.messages("O05")] == [2]


async def test_P01_data_transfer_to_the_charging_station(client, connect) -> None:
    """P01: DataTransfer carries the vendorId, messageId and any JSON data; the station's
    status and data are shown as given."""
    cp = await station(connect, "P01")
    body = {"vendor_id": "com.example", "message_id": "Cfg", "data": {"mode": [1, 2]}}
    call, code, answer = await answered(
        client, cp, "P01", "data-transfer", body, {"status": "Accepted", "data": {"ok": True}}
    )
    assert call[2:] == [
        "DataTransfer",
        {"vendorId": "com.example", "messageId": "Cfg", "data": {"mode": [1, 2]}},
    ]
    assert (code, answer) == (200, {"status": "Accepted", "data": {"ok": True}})
    _, _, answer = await answered(
        client, cp, "P01", "data-transfer", {"vendor_id": "x"}, {"status": "UnknownVendorId"}
    )
    assert answer == {"status": "UnknownVendorId"}


async def test_P02_data_transfer_to_the_csms(client, connect) -> None:
    """P02: a DataTransfer from the station for a vendor the CSMS has no extension for is
    answered UnknownVendorId, and kept as sent."""
    cp = await station(connect, "P02")
    payload = {"vendorId": "com.acme", "messageId": "Ping", "data": {"n": 1}}
    assert await cp.result("DataTransfer", payload) == {"status": "UnknownVendorId"}
    [kept] = await rows(client, DataTransferMessage, "P02")
    assert (kept.vendor_id, kept.message_id, kept.data) == ("com.acme", "Ping", '{"n":1}')
    assert (await charge_point(client, "P02"))["connected"]
