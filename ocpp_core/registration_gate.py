"""What a charge point whose registration is not Accepted may send.

BootNotification always. While Pending also Heartbeat (OCPP 1.6 4.2.1), and what the
central system asked it for (2.0.1 B02.FR.09: while Pending the CSMS may retrieve and set
the station's configuration): the report or notification that follows a request, and the
message a TriggerMessage named, for a while after the charger answered. While Rejected
nothing else (2.0.1 B03.FR.07).
"""

from __future__ import annotations

import time
from typing import Any

# How long after its request was answered a follow-up is taken: reports come in parts,
# and firmware or log uploads report their progress over minutes.
ASKED_FOR_SECONDS = 600.0

# The central system's request -> what the charger sends because of it.
FOLLOW_UPS: dict[str, tuple[str, ...]] = {
    "GetBaseReport": ("NotifyReport",),
    "GetReport": ("NotifyReport",),
    "GetMonitoringReport": ("NotifyMonitoringReport",),
    "GetChargingProfiles": ("ReportChargingProfiles",),
    "GetDisplayMessages": ("NotifyDisplayMessages",),
    "CustomerInformation": ("NotifyCustomerInformation",),
    "GetLog": ("LogStatusNotification",),
    "GetDiagnostics": ("DiagnosticsStatusNotification",),
    "UpdateFirmware": ("FirmwareStatusNotification",),
    "SignedUpdateFirmware": ("SignedFirmwareStatusNotification",),
    "PublishFirmware": ("PublishFirmwareStatusNotification",),
}
TRIGGERS = frozenset({"TriggerMessage", "ExtendedTriggerMessage"})
# A TriggerMessage's requestedMessage that is not itself the action the charger sends.
TRIGGERED_AS = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "SignChargePointCertificate": "SignCertificate",
}


class AskedFor:
    """The follow-ups a connection's charger may send while Pending, each until when."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def note(self, action: str, payload: dict[str, Any]) -> None:
        """The central system's `action` with `payload` was answered just now."""
        follow_ups = FOLLOW_UPS.get(action, ())
        if action in TRIGGERS:
            requested = payload.get("requestedMessage")
            if isinstance(requested, str):
                follow_ups = (TRIGGERED_AS.get(requested, requested),)
        until = time.monotonic() + ASKED_FOR_SECONDS
        for follow_up in follow_ups:
            self._until[follow_up] = until

    def has(self, action: str) -> bool:
        until = self._until.get(action)
        return until is not None and time.monotonic() < until


def may_send(registration_status: str, action: str, asked: AskedFor | None) -> bool:
    """Whether a charger of this registration status may send `action` now."""
    if registration_status == "Accepted" or action == "BootNotification":
        return True
    if registration_status != "Pending":
        return False
    return action == "Heartbeat" or (asked is not None and asked.has(action))
