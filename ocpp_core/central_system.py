"""The central system's service API: serving connections and sending operations.

Everything that reaches a charge point goes through here: the JSON API, the portal and the
CLI call these methods, which look the charge point up in the registry and send the CALL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ocpp.v16 import call

from ocpp_core import frames
from ocpp_core.errors import InvalidInput, NotAccepted, NotConnected, NotFound
from ocpp_core.events import EventBus
from ocpp_core.handler import ChargePointHandler, Connection, camel_payload
from ocpp_core.registry import ConnectionRegistry
from ocpp_core.services import Services
from ocpp_core.services.charge_points import ChargePointView
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)

# OCPP 1.6 4.2.1: not allowed while the charge point's registration is Pending.
NOT_WHILE_PENDING = frozenset({"RemoteStartTransaction", "RemoteStopTransaction"})


@dataclass(frozen=True)
class ChargePointStatus:
    """A charge point as stored, plus whether it is connected right now."""

    charge_point: ChargePointView
    connected: bool


def validate_request(payload: Any) -> None:
    """Check a `ocpp.v16.call` payload against its 1.6 schema before it is sent, and for
    what the schema leaves out: connector ids are never negative."""
    errors = frames.schema_errors(type(payload).__name__, camel_payload(payload))
    if errors:
        raise InvalidInput(frames.describe(errors[0]))
    connector_id = getattr(payload, "connector_id", None)
    if connector_id is not None and connector_id < 0:
        raise InvalidInput(f"connector_id: {connector_id} is less than the minimum of 0")


class CentralSystem:
    def __init__(self, settings: Settings, services: Services, bus: EventBus) -> None:
        self.settings = settings
        self.services = services
        self.bus = bus
        self.registry: ConnectionRegistry[ChargePointHandler] = ConnectionRegistry()

    # --- connections --------------------------------------------------------------------

    async def serve(self, charge_point_id: str, connection: Connection) -> None:
        """Run one charge point connection until it closes. A newer connection with the
        same id replaces this one, which is closed."""
        handler = ChargePointHandler(
            charge_point_id, connection, self.services, self.settings.call_timeout
        )
        await self.services.charge_points.seen(charge_point_id)
        handler.registration_status = (
            await self.services.charge_points.get(charge_point_id)
        ).registration_status
        previous = self.registry.add(handler)
        if previous is not None:
            LOGGER.info("%s: new connection replaces the previous one", charge_point_id)
            previous.connection_lost()
            await previous.close()
        LOGGER.info("%s: connected", charge_point_id)
        self.bus.publish("connected", charge_point_id)
        try:
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

    async def call(self, charge_point_id: str, payload: Any) -> Any:
        """Validate and send any `ocpp.v16.call` payload; return the charge point's answer.

        Raises NotFound, InvalidInput, NotConnected, CallTimedOut, CallErrorReply or
        InvalidReply.
        """
        await self.services.charge_points.get(charge_point_id)  # NotFound for unknown ids
        validate_request(payload)
        handler = self.registry.get(charge_point_id)
        if handler is None:
            raise NotConnected(charge_point_id)
        if (
            type(payload).__name__ in NOT_WHILE_PENDING
            and handler.registration_status != "Accepted"
        ):
            raise NotAccepted(charge_point_id, handler.registration_status)
        return await handler.send_call(payload)

    async def remote_start_transaction(
        self,
        charge_point_id: str,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
    ) -> Any:
        payload = call.RemoteStartTransaction(
            id_tag=id_tag, connector_id=connector_id, charging_profile=charging_profile
        )
        await self.services.charge_points.get(charge_point_id)
        validate_request(payload)
        if connector_id is not None and connector_id <= 0:
            raise InvalidInput("connector_id must be greater than 0 for RemoteStartTransaction")
        if charging_profile is not None:
            if charging_profile.get("charging_profile_purpose") != "TxProfile":
                raise InvalidInput(
                    "charging_profile.charging_profile_purpose must be TxProfile "
                    "for RemoteStartTransaction"
                )
        return await self.call(charge_point_id, payload)

    async def remote_stop_transaction(self, charge_point_id: str, transaction_id: int) -> Any:
        await self.services.charge_points.get(charge_point_id)
        try:
            transaction = await self.services.transactions.get(transaction_id)
        except NotFound:
            raise InvalidInput(f"transaction {transaction_id} does not exist") from None
        if transaction.charge_point_id != charge_point_id:
            raise InvalidInput(
                f"transaction {transaction_id} does not belong to charge point {charge_point_id!r}"
            )
        if not transaction.active:
            raise InvalidInput(f"transaction {transaction_id} has already stopped")
        return await self.call(
            charge_point_id, call.RemoteStopTransaction(transaction_id=transaction_id)
        )

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
