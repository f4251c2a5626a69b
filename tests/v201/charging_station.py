"""A 2.0.1 charging station as tests drive it over a raw WebSocket (tests/ocpp_client.py):
its boot, its connectors' status, a station booted and Accepted, and the
TransactionEvent requests of a session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import iso
from tests.ocpp_client import RawChargePoint

V201 = ("ocpp2.0.1",)
ENERGY = "Energy.Active.Import.Register"
# A fixed moment for messages whose time only has to be well-formed.
STAMP = "2026-11-25T08:00:00Z"


def now() -> str:
    """Now, as OCPP writes it."""
    return iso(datetime.now(UTC))


def recent() -> datetime:
    """A start two minutes ago, to the second: no timing flag (offline, future) applies to
    events within the next few minutes of it."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)


async def boot(cp: RawChargePoint, reason: str = "PowerUp", **station: Any) -> dict[str, Any]:
    """A BootNotification that gets an answer (whatever its status); the answer.
    `station` adds to chargingStation (serialNumber, firmwareVersion, ...)."""
    return await cp.result(
        "BootNotification",
        {
            "chargingStation": {"model": "UC-Model", "vendorName": "UC-Vendor", **station},
            "reason": reason,
        },
    )


async def status(
    cp: RawChargePoint, connector_status: str, evse: int = 1, connector: int = 1
) -> dict[str, Any]:
    """A StatusNotification of one connector that must be answered; the answer."""
    return await cp.result(
        "StatusNotification",
        {
            "timestamp": now(),
            "connectorStatus": connector_status,
            "evseId": evse,
            "connectorId": connector,
        },
    )


async def station(
    connect: Any,
    charge_point_id: str,
    evses: int = 1,
    connector_status: str = "Available",
    **kwargs: Any,
) -> RawChargePoint:
    """A 2.0.1 station through the `connect` fixture (`kwargs` go to it), booted and
    Accepted, connector 1 of each of its EVSEs in `connector_status` ("Occupied": a cable
    in, as before a transaction)."""
    cp = await connect(charge_point_id, protocols=V201, **kwargs)
    assert cp.ws.protocol == "ocpp2.0.1"
    answer = await boot(cp)
    assert answer["status"] == "Accepted", answer
    for evse in range(1, evses + 1):
        assert await status(cp, connector_status, evse) == {}
    return cp


def event(
    event_type: str,
    seq_no: int,
    transaction_id: str,
    timestamp: datetime,
    trigger: str,
    *,
    evse: int | None = 1,
    connector: int = 1,
    token: str | None = None,
    energy: int | None = None,
    context: str | None = None,
    offline: bool | None = None,
    **info: Any,
) -> dict[str, Any]:
    """A TransactionEventRequest: `info` adds to transactionInfo (chargingState,
    stoppedReason); `energy` is one register reading in Wh with `context`."""
    payload: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": iso(timestamp),
        "triggerReason": trigger,
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **info},
    }
    if evse is not None:
        payload["evse"] = {"id": evse, "connectorId": connector}
    if token is not None:
        payload["idToken"] = {"idToken": token, "type": "ISO14443"}
    if energy is not None:
        sample: dict[str, Any] = {
            "value": energy,
            "measurand": ENERGY,
            "unitOfMeasure": {"unit": "Wh"},
        }
        if context is not None:
            sample["context"] = context
        payload["meterValue"] = [{"timestamp": iso(timestamp), "sampledValue": [sample]}]
    if offline is not None:
        payload["offline"] = offline
    return payload


def started(tx: str, at: datetime, seq_no: int = 0, **kwargs: Any) -> dict[str, Any]:
    """The Started event of `tx`, authorized, with a register reading of 1000 Wh."""
    kwargs.setdefault("energy", 1000)
    return event("Started", seq_no, tx, at, "Authorized", context="Transaction.Begin", **kwargs)


def updated(tx: str, at: datetime, seq_no: int, **kwargs: Any) -> dict[str, Any]:
    """A periodic Updated event of `tx`."""
    kwargs.setdefault("context", "Sample.Periodic")
    return event("Updated", seq_no, tx, at, "MeterValuePeriodic", **kwargs)


def ended(tx: str, at: datetime, seq_no: int, **kwargs: Any) -> dict[str, Any]:
    """The Ended event of `tx`, the EV gone, with a register reading of 2000 Wh."""
    kwargs.setdefault("energy", 2000)
    kwargs.setdefault("stoppedReason", "EVDisconnected")
    return event("Ended", seq_no, tx, at, "EVDeparted", context="Transaction.End", **kwargs)
