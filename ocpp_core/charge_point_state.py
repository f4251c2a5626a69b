"""One word for a charge point as a whole, the same on the portal and in the API.

The rule (README, JSON API):

1. not connected (on any instance): `Offline`, whatever its connectors last said;
2. registration not Accepted: `Pending` or `Rejected`;
3. OCPP 1.6: connector 0 `Faulted` or `Unavailable` (the whole charge point is); else the
   first of Charging, SuspendedEV, SuspendedEVSE, Preparing, Finishing, Reserved that a
   connector is in; else `Faulted` if a connector is; else connector 0's status; else
   the first connector's; `Connected` when none has reported;
4. OCPP 2.0.1: a connector says only Occupied while a car is plugged in, so an open
   session's chargingState comes first (Charging, SuspendedEVSE, SuspendedEV); then the
   connectors' Occupied, Reserved, Faulted, Available, Unavailable, in that order;
   `Connected` when none has reported.

It knows nothing of HTML: the portal gives each word its colour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

OFFLINE = "Offline"
CONNECTED = "Connected"

# The order in which a 1.6 connector's state tells most about the charge point.
_PRIORITY_16 = ("Charging", "SuspendedEV", "SuspendedEVSE", "Preparing", "Finishing", "Reserved")
# A 2.0.1 session's chargingState, likewise.
_CHARGING_STATES = ("Charging", "SuspendedEVSE", "SuspendedEV")
# 2.0.1 connector statuses: a fault outranks an idle EVSE, an idle EVSE an unavailable one.
_CONNECTOR_STATUSES_201 = ("Occupied", "Reserved", "Faulted", "Available", "Unavailable")

# Every word `overall_status` can give, the ones that want an operator first: the order
# the portal lists and sorts them in.
STATUSES = (
    "Faulted",
    "Unavailable",
    OFFLINE,
    "Rejected",
    "Pending",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Preparing",
    "Finishing",
    "Occupied",
    "Reserved",
    CONNECTED,
    "Available",
)


class Connector(Protocol):
    """What a connector's last status says; read only, as a frozen view is."""

    @property
    def connector_id(self) -> int: ...

    @property
    def status(self) -> str: ...

    @property
    def timestamp(self) -> datetime | None: ...

    @property
    def updated_at(self) -> datetime | None: ...


def overall_status(
    connected: bool,
    registration_status: str,
    connectors: Sequence[Connector],
    ocpp_version: str = "1.6",
    charging_states: Iterable[str | None] = (),
) -> str:
    """The charge point's status by the rule of this module's docstring. `charging_states`:
    the chargingState of each of its open 2.0.1 sessions."""
    if not connected:
        return OFFLINE
    if registration_status != "Accepted":
        return registration_status
    if ocpp_version == "2.0.1":
        return _status_201(connectors, set(charging_states))
    return _status_16(connectors)


def _status_16(connectors: Sequence[Connector]) -> str:
    by_id = {c.connector_id: c.status for c in connectors}
    if by_id.get(0) in ("Faulted", "Unavailable"):
        return by_id[0]
    outlets = [status for connector_id, status in sorted(by_id.items()) if connector_id > 0]
    for status in _PRIORITY_16:
        if status in outlets:
            return status
    if "Faulted" in outlets:
        return "Faulted"
    if 0 in by_id:
        return by_id[0]
    return outlets[0] if outlets else CONNECTED


def _status_201(connectors: Sequence[Connector], states: set[str | None]) -> str:
    for state in _CHARGING_STATES:
        if state in states:
            return state
    statuses = {c.status for c in connectors}
    for status in _CONNECTOR_STATUSES_201:
        if status in statuses:
            return status
    return CONNECTED


def status_since(
    status: str,
    connectors: Sequence[Connector],
    connected_since: datetime | None,
    offline_since: datetime | None,
) -> datetime | None:
    """Since when the charge point has been in `status`: offline since it was last heard
    from; connected (no status reported) since it connected; else since the latest of its
    connectors to report that status (when it said so, or when we received it if it gave
    no time). None when nothing tells (a 2.0.1 chargingState has no time of its own)."""
    if status == OFFLINE:
        return offline_since
    if status == CONNECTED:
        return connected_since
    times = [
        time
        for c in connectors
        if c.status == status and (time := c.timestamp or c.updated_at) is not None
    ]
    return max(times) if times else None
