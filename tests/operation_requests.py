"""A valid API request of each 1.6 operation a central system sends, the action it goes
out as, and a refusal a charge point may answer it with: what the operation tests and
the fuzz tests send."""

from __future__ import annotations

from typing import Any

from tests.helpers import soon

# A charging profile as SetChargingProfile's cs_charging_profiles takes it.
PROFILE = {
    "charging_profile_id": 7,
    "stack_level": 1,
    "charging_profile_purpose": "TxDefaultProfile",
    "charging_profile_kind": "Absolute",
    "charging_schedule": {
        "charging_rate_unit": "A",
        "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
    },
}

# operation -> (a valid body, the action on the wire, a refusal the charge point may answer)
OPERATIONS: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
    "reset": ({"type": "Soft"}, "Reset", {"status": "Rejected"}),
    "change-availability": (
        {"connector_id": 1, "type": "Inoperative"},
        "ChangeAvailability",
        {"status": "Rejected"},
    ),
    "get-configuration": (
        {"key": ["Nope"]},
        "GetConfiguration",
        {"configurationKey": [], "unknownKey": ["Nope"]},
    ),
    "change-configuration": (
        {"key": "HeartbeatInterval", "value": "60"},
        "ChangeConfiguration",
        {"status": "Rejected"},
    ),
    "clear-cache": ({}, "ClearCache", {"status": "Rejected"}),
    "unlock-connector": ({"connector_id": 1}, "UnlockConnector", {"status": "UnlockFailed"}),
    "data-transfer": ({"vendor_id": "Other"}, "DataTransfer", {"status": "Rejected"}),
    "trigger-message": (
        {"requested_message": "Heartbeat"},
        "TriggerMessage",
        {"status": "Rejected"},
    ),
    "reserve-now": (
        {"connector_id": 1, "expiry_date": soon(), "id_tag": "TAG", "reservation_id": 41},
        "ReserveNow",
        {"status": "Occupied"},
    ),
    "send-local-list": (
        {"list_version": 3, "update_type": "Full", "local_authorization_list": []},
        "SendLocalList",
        {"status": "VersionMismatch"},
    ),
    "get-local-list-version": ({}, "GetLocalListVersion", {"listVersion": -1}),
    "set-charging-profile": (
        {"connector_id": 1, "cs_charging_profiles": PROFILE},
        "SetChargingProfile",
        {"status": "Rejected"},
    ),
    "clear-charging-profile": ({"id": 7}, "ClearChargingProfile", {"status": "Unknown"}),
    "get-composite-schedule": (
        {"connector_id": 1, "duration": 3600},
        "GetCompositeSchedule",
        {"status": "Rejected"},
    ),
    "get-diagnostics": ({"location": "ftp://logs.example.com/up"}, "GetDiagnostics", {}),
    "update-firmware": (
        {"location": "https://fw.example.com/v2.bin", "retrieve_date": soon(0)},
        "UpdateFirmware",
        {},
    ),
}
