"""The central system's service API: serving connections and sending operations.

Everything that reaches a charge point goes through here: the JSON API, the portal and the
CLI call these methods, which look the charge point up in the registry and send the CALL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ocpp.charge_point import remove_nones, serialize_as_dict
from ocpp.v16 import call

from ocpp_core import frames, operation_rules
from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidInput,
    InvalidReply,
    NotAccepted,
    NotConnected,
    OperationFailed,
)
from ocpp_core.events import Event, EventBus
from ocpp_core.handler import ChargePointHandler, Connection, camel_payload
from ocpp_core.registry import ConnectionRegistry
from ocpp_core.services import Services
from ocpp_core.services.charge_points import ChargePointView
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)

# OCPP 1.6 4.2.1: not allowed while the charge point's registration is Pending.
NOT_WHILE_PENDING = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})

# How each failed operation is written in the journal.
_OUTCOMES: dict[type[OperationFailed], str] = {
    NotConnected: "not_connected",
    NotAccepted: "not_accepted",
    CallTimedOut: "timeout",
    CallErrorReply: "callerror",
    InvalidReply: "invalid_reply",
}


def _failure(error: OperationFailed) -> dict[str, Any]:
    if isinstance(error, CallErrorReply):
        return {"error_code": error.code, "error_description": error.description}
    return {"error": str(error)}


@dataclass(frozen=True)
class ChargePointStatus:
    """A charge point as stored, plus whether it is connected right now."""

    charge_point: ChargePointView
    connected: bool


def validate_request(payload: Any) -> None:
    """Check a `ocpp.v16.call` payload against its 1.6 schema before it is sent."""
    errors = frames.schema_errors(type(payload).__name__, camel_payload(payload))
    if errors:
        raise InvalidInput(frames.describe(errors[0]))


class CentralSystem:
    def __init__(self, settings: Settings, services: Services, bus: EventBus) -> None:
        self.settings = settings
        self.services = services
        self.bus = bus
        self.registry: ConnectionRegistry[ChargePointHandler] = ConnectionRegistry()
        bus.add_listener("lenient", self._lenient_changed)

    def _lenient_changed(self, event: Event) -> None:
        handler = self.registry.get(event.charge_point_id)
        if handler is not None:
            handler.lenient = bool(event.data["lenient"])

    # --- connections --------------------------------------------------------------------

    async def open(
        self, charge_point_id: str, connection: Connection
    ) -> tuple[ChargePointHandler, int | None]:
        """Prepare the handler of a new connection: the database work happens here, before
        the WebSocket handshake completes, so `serve` can register it at once after.
        Also returns the charger's own ping interval (None: the global one)."""
        handler = ChargePointHandler(
            charge_point_id, connection, self.services, self.settings.call_timeout
        )
        profile = await self.services.charge_points.seen(charge_point_id)
        handler.registration_status = profile.registration_status
        handler.lenient = profile.lenient
        return handler, profile.ping_interval

    async def serve(self, handler: ChargePointHandler) -> None:
        """Run one charge point connection until it closes. A newer connection with the
        same id replaces this one, which is closed."""
        charge_point_id = handler.id
        previous = self.registry.add(handler)  # first, before any await: no window unregistered
        self.bus.publish("connected", charge_point_id)
        LOGGER.info("%s: connected", charge_point_id)
        try:
            if previous is not None:
                LOGGER.info("%s: new connection replaces the previous one", charge_point_id)
                previous.connection_lost()
                await previous.close()
            await handler.start()
        finally:
            handler.connection_lost()
            if self.registry.remove(handler):
                LOGGER.info("%s: disconnected", charge_point_id)
                self.bus.publish("disconnected", charge_point_id)

    def is_connected(self, charge_point_id: str) -> bool:
        return self.registry.is_connected(charge_point_id)

    async def close_all(self) -> None:
        for charge_point_id in self.registry.ids():
            handler = self.registry.get(charge_point_id)
            if handler is not None:
                await handler.close()

    # --- operations ---------------------------------------------------------------------

    async def call(
        self, charge_point_id: str, payload: Any, requested_by: str | None = None
    ) -> Any:
        """Validate and send any `ocpp.v16.call` payload; return the charge point's answer.

        The operation is journalled with who asked and how it went; an answer updates the
        state it establishes. Raises NotFound, InvalidInput, NotConnected, NotAccepted,
        CallTimedOut, CallErrorReply or InvalidReply.
        """
        await self.services.charge_points.get(charge_point_id)  # NotFound for unknown ids
        validate_request(payload)
        action = type(payload).__name__
        request = remove_nones(serialize_as_dict(payload))
        await operation_rules.check(self.services, charge_point_id, action, request)

        operations = self.services.operations
        operation_id = await operations.begin(
            charge_point_id, action, camel_payload(payload), requested_by
        )
        await self.services.audit.record(requested_by, f"operation {action}", charge_point_id)
        try:
            handler = self.registry.get(charge_point_id)
            if handler is None:
                raise NotConnected(charge_point_id)
            if action in NOT_WHILE_PENDING and handler.registration_status != "Accepted":
                raise NotAccepted(charge_point_id, handler.registration_status)
            result = await handler.send_call(payload)
        except OperationFailed as error:
            await operations.finish(operation_id, _OUTCOMES[type(error)], _failure(error))
            raise
        answer = remove_nones(serialize_as_dict(result))
        await operations.finish(operation_id, "answered", answer)
        await operations.apply(charge_point_id, action, request, answer)
        return result

    async def remote_start_transaction(
        self,
        charge_point_id: str,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        requested_by: str | None = None,
    ) -> Any:
        payload = call.RemoteStartTransaction(
            id_tag=id_tag, connector_id=connector_id, charging_profile=charging_profile
        )
        return await self.call(charge_point_id, payload, requested_by)

    async def remote_stop_transaction(
        self, charge_point_id: str, transaction_id: int, requested_by: str | None = None
    ) -> Any:
        payload = call.RemoteStopTransaction(transaction_id=transaction_id)
        return await self.call(charge_point_id, payload, requested_by)

    async def get_charge_point_status(
        self, charge_point_id: str | None = None
    ) -> ChargePointStatus | list[ChargePointStatus]:
        """One charge point's status (NotFound if unknown), or all of them."""
        if charge_point_id is not None:
            view = await self.services.charge_points.get(charge_point_id)
            return ChargePointStatus(view, self.is_connected(view.id))
        return [
            ChargePointStatus(view, self.is_connected(view.id))
            for view in await self.services.charge_points.list()
        ]
