"""The central system's service API: serving connections and sending operations.

Everything that reaches a charge point goes through here: the JSON API, the portal and the
CLI call these methods, which look the charge point up in the registry and send the CALL,
or, when another instance holds its socket, have the cluster send it there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp_core import charge_point_state, payload_checks
from ocpp_core.catalogue import Operation
from ocpp_core.cluster import Cluster, SingleInstance
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
from ocpp_core.handler import ChargePointHandler, Connection, camel_keys, snake_keys
from ocpp_core.registry import ConnectionRegistry
from ocpp_core.services import Services
from ocpp_core.services.admission import ConnectionProfile
from ocpp_core.services.charge_points import ChargePointView
from ocpp_core.settings import Settings
from ocpp_core.v16 import operations as v16_operations
from ocpp_core.v16.handler import V16Handler
from ocpp_core.v201 import operations as v201_operations
from ocpp_core.v201.handler import V201Handler

LOGGER = logging.getLogger(__name__)

# The handler class of each version a charge point may connect with.
HANDLERS: dict[str, type[ChargePointHandler]] = {"1.6": V16Handler, "2.0.1": V201Handler}
# The operations of each version sent through the generic routes, by their URL name.
CATALOGUES: dict[str, dict[str, Operation]] = {
    "1.6": v16_operations.CATALOGUE,
    "2.0.1": v201_operations.CATALOGUE,
}

# OCPP 1.6 4.2.1, 2.0.1 B02.FR.05: not allowed while the registration is Pending.
NOT_WHILE_PENDING = frozenset(
    {
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "RequestStartTransaction",
        "RequestStopTransaction",
    }
)

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
class LiveChargePoint:
    """A charge point as stored, plus whether it is connected right now, its one-word
    status (`charge_point_state`, the same for portal and API) and its times."""

    charge_point: ChargePointView
    connected: bool
    status: str = charge_point_state.OFFLINE
    # The version it speaks, or last spoke (or is pinned to); 1.6 for one never connected.
    ocpp_version: str = "1.6"
    connected_since: datetime | None = None
    # Its last message of any kind: this instance's connection knows it to the moment;
    # for one held elsewhere (or gone) the last persisted (heartbeat, connection, close).
    last_message_at: datetime | None = None
    status_since: datetime | None = None


class CentralSystem:
    def __init__(
        self,
        settings: Settings,
        services: Services,
        bus: EventBus,
        cluster: Cluster | None = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.bus = bus
        self.registry: ConnectionRegistry[ChargePointHandler] = ConnectionRegistry()
        self.cluster = cluster or SingleInstance()
        self.cluster.attach(self, bus)
        self._closing: set[asyncio.Task[None]] = set()
        bus.add_listener("lenient", self._lenient_changed)
        bus.add_listener("removed", self._removed)

    def _lenient_changed(self, event: Event) -> None:
        handler = self.registry.get(event.charge_point_id)
        if handler is not None:
            handler.lenient = bool(event.data["lenient"])

    def _removed(self, event: Event) -> None:
        """A charge point removed by an operator (on any instance) is disconnected: it
        comes back as a new one would, under UNKNOWN_CHARGE_POINTS."""
        handler = self.registry.get(event.charge_point_id)
        if handler is not None:
            LOGGER.info("%s: removed by an operator; closing its connection", handler.id)
            self._close_soon(handler)

    # --- connections --------------------------------------------------------------------

    def open(
        self,
        charge_point_id: str,
        connection: Connection,
        profile: ConnectionProfile,
        ocpp_version: str = "1.6",
    ) -> ChargePointHandler:
        """The handler of a new connection in the version it chose, set up from what
        admission read of the charge point (before the WebSocket handshake completes, so
        `serve` registers it at once)."""
        handler = HANDLERS[ocpp_version](
            charge_point_id, connection, self.services, self.settings.call_timeout
        )
        handler.registration_status = profile.registration_status
        handler.lenient = profile.lenient
        return handler

    def serving(self, handler: ChargePointHandler) -> Serving:
        """The connection of `handler` registered for as long as the block runs (which
        runs `handler.start()`). A newer connection with the same id replaces it, and the
        one it replaces is closed.

        A context manager, not a coroutine wrapping `start()`: one suspended frame fewer
        for each idle connection."""
        return Serving(self, handler)

    def _registered(self, handler: ChargePointHandler) -> None:
        charge_point_id = handler.id
        previous = self.registry.add(handler)  # first, before any await: no window unregistered
        self.cluster.claim(charge_point_id)
        self.bus.publish(
            "connected", charge_point_id, instance=self.cluster.instance_id, at=handler.connected_at
        )
        LOGGER.info("%s: connected", charge_point_id)
        if previous is not None:
            LOGGER.info("%s: new connection replaces the previous one", charge_point_id)
            self._close_soon(previous)

    def _unregistered(self, handler: ChargePointHandler) -> None:
        handler.connection_lost()
        if self.registry.remove(handler):
            LOGGER.info("%s: disconnected", handler.id)
            last_message_at = datetime.fromtimestamp(handler.last_message_at, UTC)
            self.services.charge_points.note_disconnected(handler.id, last_message_at)
            self.cluster.release(handler.id)
            self.bus.publish("disconnected", handler.id, instance=self.cluster.instance_id)

    def _close_soon(self, handler: ChargePointHandler) -> None:
        """A replaced or removed connection: its waiting CALLs fail now, its socket closes
        meanwhile (a dead link's closing handshake can take seconds; the new one is served
        at once)."""
        handler.connection_lost()
        task = asyncio.get_running_loop().create_task(handler.close())
        self._closing.add(task)  # asyncio holds tasks by weak reference only
        task.add_done_callback(self._closing.discard)

    def is_connected(self, charge_point_id: str) -> bool:
        """Connected to this instance or to another live one."""
        return (
            self.registry.is_connected(charge_point_id)
            or self.cluster.holder(charge_point_id) is not None
        )

    def connected_by_version(self) -> dict[str, int]:
        """How many charge points are connected to this instance, by OCPP version (counted
        when asked, for the metrics: nothing kept per connection)."""
        counts: dict[str, int] = {}
        for handler in self.registry.values():
            counts[handler.ocpp_version] = counts.get(handler.ocpp_version, 0) + 1
        return counts

    async def close_all(self, seconds: float = 5) -> None:
        """Close every connection at once (on shutdown): each close waits for the charger's
        closing handshake, which a dead link never sends, so one at a time could take
        hours with thousands connected. What is still open after `seconds` is left to the
        server's own shutdown, which drops the sockets."""
        closing = [asyncio.ensure_future(handler.close()) for handler in self.registry.values()]
        if closing:
            await asyncio.wait(closing, timeout=seconds)

    # --- the cluster's view of this instance (ocpp_core.cluster.Node) ---------------------

    def connected_since(self, charge_point_id: str) -> float | None:
        handler = self.registry.get(charge_point_id)
        return handler.connected_at if handler is not None else None

    def local_ids(self) -> list[str]:
        return self.registry.ids()

    def taken_elsewhere(self, charge_point_id: str, connected_at: float) -> None:
        handler = self.registry.get(charge_point_id)
        if handler is None or handler.connected_at >= connected_at:
            return
        LOGGER.info("%s: a newer connection on another instance replaces this one", handler.id)
        self._close_soon(handler)

    async def serve_remote_call(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Another instance's operation for a charge point connected here: sent as it
        came; the asker validated it and journals it."""
        handler = self.registry.get(charge_point_id)
        if handler is None:
            raise NotConnected(charge_point_id)
        self._check_registration(handler, action)
        return await handler.send_payload(action, payload)

    @staticmethod
    def _check_registration(handler: ChargePointHandler, action: str) -> None:
        if action in NOT_WHILE_PENDING and handler.registration_status != "Accepted":
            raise NotAccepted(handler.id, handler.registration_status)

    # --- operations ---------------------------------------------------------------------

    def connected_version(self, charge_point_id: str) -> str | None:
        """The version of this instance's connection of the charge point, if it holds one."""
        handler = self.registry.get(charge_point_id)
        return handler.ocpp_version if handler is not None else None

    async def send_json(
        self, charge_point_id: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Send a (checked) CALL's JSON payload to the charge point, through whichever
        instance holds its socket; the answer's JSON payload, checked against the schema."""
        handler = self.registry.get(charge_point_id)
        if handler is not None:
            self._check_registration(handler, action)
            return await handler.send_payload(action, payload)
        holder = self.cluster.holder(charge_point_id)
        if holder is None:
            raise NotConnected(charge_point_id)
        # The holder may queue it behind other CALLs to the charge point, each with its own
        # CALL_TIMEOUT; if the holder dies meanwhile the wait ends at once.
        timeout = 2 * self.settings.call_timeout + self.settings.instance_ttl
        return await self.cluster.call(holder, charge_point_id, action, payload, timeout)

    async def operate(
        self,
        charge_point_id: str,
        version: str,
        entry: Operation,
        request: dict[str, Any],
        requested_by: str | None = None,
    ) -> dict[str, Any]:
        """Send an operation of `version`'s catalogue, given as a snake_case request; return
        the charge point's answer, snake_case.

        The request is checked against its schema, then the entry's checks of meaning; it
        is journalled with who asked and how it went, and audited as theirs; what the
        answer changes is kept, and announced. Raises NotFound, InvalidInput, NotConnected,
        NotAccepted, CallTimedOut, CallErrorReply or InvalidReply.
        """
        await self.services.charge_points.get(charge_point_id)  # NotFound for unknown ids
        dialect = HANDLERS[version].dialect
        payload = camel_keys(request)
        errors = payload_checks.schema_errors(
            dialect.request_schema(entry.action), payload, dialect
        )
        if errors:
            raise InvalidInput(payload_checks.describe(errors[0]))
        if entry.check is not None:
            await entry.check(self.services, charge_point_id, request)
        action = entry.action
        operations = self.services.operations
        operation_id = await operations.begin(charge_point_id, action, payload, requested_by)
        try:
            answer = snake_keys(await self.send_json(charge_point_id, action, payload))
        except OperationFailed as error:
            await operations.finish(operation_id, _OUTCOMES[type(error)], _failure(error))
            raise
        await operations.finish(operation_id, "answered", answer)
        if entry.apply is not None:
            await entry.apply(self.services, charge_point_id, request, answer)
            self.bus.publish("state", charge_point_id, action=action)
        return answer

    async def live_charge_point(self, charge_point_id: str) -> LiveChargePoint:
        """One charge point as stored and as connected now (NotFound if unknown)."""
        view = await self.services.charge_points.get(charge_point_id)
        states = await self.services.transaction_queries.charging_states([charge_point_id])
        return self._status_of(view, states.get(view.id, []))

    async def live_charge_points(self) -> list[LiveChargePoint]:
        """Every charge point as stored and as connected now."""
        views = await self.services.charge_points.list()
        states = await self.services.transaction_queries.charging_states()
        return [self._status_of(view, states.get(view.id, [])) for view in views]

    async def statuses_of(self, charge_point_ids: Sequence[str]) -> list[LiveChargePoint]:
        """The status of each of these charge points that is registered, by id."""
        views = await self.services.charge_points.list(charge_point_ids)
        states = await self.services.transaction_queries.charging_states(list(charge_point_ids))
        return [self._status_of(view, states.get(view.id, [])) for view in views]

    def version_of(self, view: ChargePointView) -> str:
        """The version a charge point speaks: its live connection's here, else the last one
        it connected with, else its pinned one; 1.6 for one never connected."""
        return (
            self.connected_version(view.id) or view.ocpp_version or view.pinned_ocpp_version
            or "1.6"
        )  # fmt: skip

    def _status_of(
        self, view: ChargePointView, charging_states: list[str | None]
    ) -> LiveChargePoint:
        connected = self.is_connected(view.id)
        version = self.version_of(view)
        status = charge_point_state.overall_status(
            connected, view.registration_status, view.connectors, version, charging_states
        )
        handler = self.registry.get(view.id)
        last_message_at = view.last_seen_at
        connected_since = view.connected_at if connected else None
        if handler is not None:
            live = datetime.fromtimestamp(handler.last_message_at, UTC)
            if last_message_at is None or live > last_message_at:
                last_message_at = live
            connected_since = datetime.fromtimestamp(handler.connected_at, UTC)
        since = charge_point_state.status_since(
            status, view.connectors, connected_since, view.offline_since
        )
        return LiveChargePoint(
            view, connected, status, version, connected_since, last_message_at, since
        )


class Serving:
    """`with central.serving(handler): await handler.start()`: see CentralSystem.serving."""

    __slots__ = ("_central", "_handler")

    def __init__(self, central: CentralSystem, handler: ChargePointHandler) -> None:
        self._central = central
        self._handler = handler

    def __enter__(self) -> ChargePointHandler:
        self._central._registered(self._handler)
        return self._handler

    def __exit__(self, *exc_info: object) -> None:
        self._central._unregistered(self._handler)
