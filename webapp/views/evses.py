"""A 2.0.1 charging station as the portal shows it: its connectors by EVSE. Its one word is
ocpp_core's (`charge_point_state`), as every charger's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocpp_core.services.charge_points import ConnectorView
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


def tone(status: str | None) -> str:
    """`presentation.tone`, and 2.0.1's Occupied (a car plugged in) as busy."""
    return "busy" if status == "Occupied" else presentation.tone(status)
