"""A 2.0.1 charging station as the portal shows it: its connectors by EVSE, and one word for
the whole station. 1.6 chargers keep `presentation.overall_status`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocpp_core.central_system import ChargePointStatus
from ocpp_core.services.charge_points import ConnectorView
from ocpp_core.services.transactions import LiveSession
from webapp import presentation


@dataclass(frozen=True)
class Evse:
    id: int
    connectors: tuple[ConnectorView, ...]


def evses_of(connectors: Iterable[ConnectorView]) -> list[Evse]:
    """Connectors grouped by EVSE, in EVSE and connector order (as the view sorts them).
    A 1.6 connector has EVSE 0 and belongs to none."""
    grouped: dict[int, list[ConnectorView]] = {}
    for connector in connectors:
        if connector.evse_id:
            grouped.setdefault(connector.evse_id, []).append(connector)
    return [Evse(evse_id, tuple(grouped[evse_id])) for evse_id in sorted(grouped)]


# A 2.0.1 session's chargingState, in the order it tells most about the station.
_CHARGING_STATES = ("Charging", "SuspendedEVSE", "SuspendedEV")
# 2.0.1 connector statuses (Available, Occupied, Reserved, Unavailable, Faulted), likewise:
# a fault outranks an idle EVSE, an idle EVSE an unavailable one (the station can charge).
_CONNECTOR_STATUSES = ("Occupied", "Reserved", "Faulted", "Available", "Unavailable")


def overall_status_201(status: ChargePointStatus, sessions: Iterable[LiveSession]) -> str:
    """One word for a 2.0.1 station. Its connectors say only Occupied while a car is
    plugged in; whether it charges is the session's chargingState (TransactionEvent)."""
    if not status.connected:
        return "Offline"
    cp = status.charge_point
    if cp.registration_status != "Accepted":
        return cp.registration_status
    states = {live.transaction.charging_state for live in sessions}
    for state in _CHARGING_STATES:
        if state in states:
            return state
    connector_statuses = {c.status for c in cp.connectors}
    for connector_status in _CONNECTOR_STATUSES:
        if connector_status in connector_statuses:
            return connector_status
    return "Connected"


def tone(status: str | None) -> str:
    """`presentation.tone`, and 2.0.1's Occupied (a car plugged in) as busy."""
    return "busy" if status == "Occupied" else presentation.tone(status)
