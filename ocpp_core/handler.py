"""The central system's side of one charge point connection, on the `ocpp` library's v16
ChargePoint: routing, payload classes and CALL bookkeeping come from the library; frame
decoding and error codes from `frames` (OCPP-J 1.6 spellings); what messages mean from
the services."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from functools import lru_cache
from typing import Any, Protocol

import ocpp.messages
import orjson
from ocpp.charge_point import (
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.exceptions import NotSupportedError, OCPPError, SecurityError
from ocpp.messages import Call, CallError, CallResult, MessageType
from ocpp.routing import after, create_route_map, on
from ocpp.v16 import ChargePoint as LibraryChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, DataTransferStatus, GenericStatus, RegistrationStatus

from ocpp_core import certificates, frames, lenient
from ocpp_core.db.models import utcnow
from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidReply,
    NotConnected,
    NotFound,
    NotRegistered,
    OperationFailed,
)
from ocpp_core.services import Services
from ocpp_core.services.budget import STORED_TEXT_CHARS, bounded
from ocpp_core.services.charge_points import (
    REGISTRATION_RETRY_INTERVAL,
    BootInfo,
    ahead_of_clock,
)
from ocpp_core.services.id_tags import IdTagInfo
from ocpp_core.services.message_log import redact_text
from ocpp_core.timeutil import format_datetime, parse_datetime

LOGGER = logging.getLogger(__name__)

# The library validates outgoing CALLs and their answers in a thread pool by default; for
# payloads this small the thread hop costs more than the check (mobilityhouse/ocpp #676).
ocpp.messages.ASYNC_VALIDATION = False


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, message: str) -> None: ...

    async def close(self) -> None: ...


# What a charge point whose registration is not Accepted may still send (OCPP 1.6 4.2.1).
ALLOWED_BEFORE_ACCEPTED = frozenset({"BootNotification", "Heartbeat"})

# Put in the response queue when the socket goes, so a waiting CALL fails at once.
_CONNECTION_LOST = object()


def camel_payload(payload: Any) -> dict[str, Any]:
    """The JSON payload of a `ocpp.v16.call` dataclass, as it goes on the wire."""
    return camel_keys(remove_nones(serialize_as_dict(payload)))


@lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


@lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    return next(iter(snake_to_camel_case({key: None})))


def snake_keys(data: Any) -> Any:
    """The library's camel_to_snake_case, each key's conversion computed once."""
    if isinstance(data, dict):
        return {_snake_key(key): snake_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_keys(value) for value in data]
    return data


def camel_keys(data: Any) -> Any:
    """The library's snake_to_camel_case, each key's conversion computed once."""
    if isinstance(data, dict):
        return {_camel_key(key): camel_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [camel_keys(value) for value in data]
    return data


# Messages whose timestamps order what is held: one further ahead of our clock than the
# clocks may differ is flagged for the operator (it is stored as sent, and does not outrank
# the present: ChargePointService.status_notification).
_TIMESTAMPED = frozenset({"StatusNotification", "MeterValues"})


def ahead_of_clock_deviations(action: str, payload: dict[str, Any]) -> list[str]:
    """`timestamp: ... is ahead of the central system's clock by ...` for each timestamp of
    a (schema-valid) StatusNotification or MeterValues further ahead than the tolerance."""
    if action == "StatusNotification":
        stamped = [("timestamp", payload.get("timestamp"))]
    else:
        stamped = [
            (f"meterValue.{i}.timestamp", meter_value["timestamp"])
            for i, meter_value in enumerate(payload["meterValue"])
        ]
    now = utcnow()
    found = []
    for path, text in stamped:
        if text is None:
            continue
        timestamp = parse_datetime(text)
        if ahead_of_clock(timestamp, now):
            found.append(
                f"{path}: {text} is ahead of the central system's clock by "
                f"{timestamp - now}; ordered as received, stored as sent"
            )
    return found


def _bounded_samples(meter_values: list[dict[str, Any]] | None) -> int:
    """How many samples (snake_case) `meter_values` holds; a reading longer than a stored
    text may be is cut short in place, saying so (OCPP 1.6 gives readings no length)."""
    count = 0
    for meter_value in meter_values or ():
        samples = meter_value["sampled_value"]
        count += len(samples)
        for sample in samples:
            if len(sample["value"]) > STORED_TEXT_CHARS:
                sample["value"] = bounded(sample["value"])
    return count


def answer_result(action: str, payload: dict[str, Any]) -> Any:
    """The `ocpp.v16.call_result` dataclass of an answer's JSON payload."""
    try:
        return getattr(call_result, action)(**snake_keys(payload))
    except TypeError as error:
        raise InvalidReply(f"{action} answer: {error}") from None


def _id_tag_info(info: IdTagInfo) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        answer["expiry_date"] = format_datetime(info.expiry_date)
    if info.parent_id_tag is not None:
        answer["parent_id_tag"] = info.parent_id_tag
    return answer


class ChargePointHandler(LibraryChargePoint):
    """Answers a charge point's CALLs and sends the central system's CALLs to it.

    Every `@on` handler skips the library's own schema check: `route_message` has already
    checked the payload with the 1.6 error codes before the handler runs.
    """

    # One per connection, 10,000 at once: attributes in slots, no per-instance dict.
    __slots__ = (
        "_actions",
        "_awaiting",
        "_call_lock",
        "_connection",
        "_follow_ups",
        "_last_meter_values",
        "_lost",
        "_response_timeout",
        "_services",
        "certificate_cn",
        "connected_at",
        "id",
        "lenient",
        "registration_status",
    )
    logger = LOGGER  # what the library's methods log to

    def __init__(
        self,
        charge_point_id: str,
        connection: Connection,
        services: Services,
        call_timeout: float = 30,
    ) -> None:
        # Not the library's __init__: it builds a route map and an asyncio.Queue for every
        # connection (some 5 KiB each, 50 MiB for 10,000 chargers). The route map is the
        # library's, built once for the class (below); an answer is awaited on one future,
        # as there is never more than one CALL outstanding.
        self.id = charge_point_id
        self._connection = connection
        self._response_timeout = call_timeout
        # Made when the first CALL is sent: most connections never get one.
        self._call_lock: asyncio.Lock | None = None
        self._awaiting: tuple[str, asyncio.Future[Any]] | None = None
        self._services = services
        self._lost = False
        # The action of each CALL sent to the charger, until it answers (logged with it).
        self._actions: dict[str, str] | None = None
        # Set from the database when the connection opens, then from each boot's answer.
        self.registration_status = "Pending"
        # Tolerate schema violations whose meaning is clear (see `lenient`); set from the
        # database when the connection opens and whenever an operator changes it.
        self.lenient = False
        # Security profile 3: the CN of the client certificate this connection presented;
        # BootNotification must name it as the serial number.
        self.certificate_cn: str | None = None
        # When the socket was handed over (epoch seconds): across instances the newest
        # connection for an id wins.
        self.connected_at = time.time()
        self._follow_ups: set[asyncio.Future[Any]] | None = None
        # The last MeterValues stored from this connection (its first sample), see
        # on_meter_values.
        self._last_meter_values: tuple[Any, ...] | None = None

    # --- transport ----------------------------------------------------------------------

    async def start(self) -> None:
        # The library logs every frame at INFO; that is too costly at scale, so DEBUG here.
        while True:
            message = await self._connection.recv()
            if LOGGER.isEnabledFor(logging.DEBUG):  # redacting reads every frame's text
                LOGGER.debug("%s: received %s", self.id, redact_text(message))
            await self.route_message(message)

    async def close(self) -> None:
        await self._connection.close()

    def connection_lost(self) -> None:
        self._lost = True
        if self._awaiting is not None and not self._awaiting[1].done():
            self._awaiting[1].set_result(_CONNECTION_LOST)

    async def send_call(self, payload: Any) -> Any:
        """Send a CALL built from a `ocpp.v16.call` dataclass; return the answer as the
        matching `ocpp.v16.call_result` dataclass. Raises as `send_payload`."""
        action = type(payload).__name__
        return answer_result(action, await self.send_payload(action, camel_payload(payload)))

    async def send_payload(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL with its JSON payload; return the answer's JSON payload, checked
        against the 1.6 schema.

        One CALL at a time (OCPP-J 4.1.1): later ones queue on the library's lock. Raises
        NotConnected, CallTimedOut, CallErrorReply or InvalidReply.
        """
        call = Call(str(uuid.uuid4()), action, payload)
        if self._call_lock is None:
            self._call_lock = asyncio.Lock()
        async with self._call_lock:
            if self._lost:
                raise NotConnected(self.id)
            answer = asyncio.get_running_loop().create_future()
            self._awaiting = (call.unique_id, answer)
            try:
                await self._send(call.to_json(), call)
                response = await self._await_answer(call, answer)
            finally:
                self._awaiting = None
        if isinstance(response, CallError):
            raise CallErrorReply(
                response.error_code, response.error_description, response.error_details
            )
        errors = frames.schema_errors(f"{action}Response", response.payload)
        if errors:
            raise InvalidReply(f"{action} answer: {frames.describe(errors[0])}")
        nul = frames.nul_cause(response.payload)  # answers are few: every one is walked
        if nul is not None:
            if not self.lenient:
                raise InvalidReply(f"{action} answer: {nul}")
            evidence = response.to_json()  # as sent, before the NULs go
            deviations = lenient.strip_nul(response.payload)
            await self._services.deviations.record(
                self.id, call.unique_id, f"{action}Response", deviations, evidence
            )
        return response.payload

    async def _await_answer(
        self, call: Call, answer: asyncio.Future[Any]
    ) -> CallResult | CallError:
        try:
            response = await asyncio.wait_for(answer, self._response_timeout)
        except TimeoutError:
            raise CallTimedOut(self.id, call.action, self._response_timeout) from None
        if response is _CONNECTION_LOST:
            raise NotConnected(self.id)
        return response

    def _answered(self, msg: CallResult | CallError) -> None:
        awaiting = self._awaiting
        if awaiting is not None and awaiting[0] == msg.unique_id and not awaiting[1].done():
            awaiting[1].set_result(msg)
            return
        # A late answer to a CALL that timed out: never matched to a later one.
        LOGGER.warning("%s: ignored answer to unknown CALL %s", self.id, msg.unique_id)

    async def _send(
        self, message: str, msg: Call | CallResult | CallError, action: str | None = None
    ) -> None:
        """Send `message`, the frame of `msg`: our CALL, or our answer to the charger's CALL
        of `action` (None if its frame was unreadable)."""
        if LOGGER.isEnabledFor(logging.DEBUG):
            LOGGER.debug("%s: sending %s", self.id, redact_text(message))
        self._log("out", message, msg, action)
        await self._connection.send(message)

    def _follow_up(self, coroutine: Any) -> None:
        if inspect.isawaitable(coroutine):
            task = asyncio.ensure_future(coroutine)
            if self._follow_ups is None:
                self._follow_ups = set()
            self._follow_ups.add(task)
            task.add_done_callback(self._follow_ups.discard)

    def _log(self, direction: str, raw: str, msg: Any = None, answered: str | None = None) -> None:
        """Record a frame in the message log with its action: a CALL's own, for the
        charger's answers the action of our CALL, for ours `answered`."""
        if msg is None:
            try:
                msg = frames.decode(raw)
            except frames.FrameError as error:
                self._services.message_log.record(self.id, direction, raw, None, error.unique_id)
                return
        if isinstance(msg, Call):
            if direction == "out":  # remembered until the charger answers
                if self._actions is None:
                    self._actions = {}
                if len(self._actions) < 1000:
                    self._actions[msg.unique_id] = msg.action
            action = msg.action
        elif direction == "in":  # the charger's answer to our CALL
            action = self._actions.pop(msg.unique_id, None) if self._actions else None
        else:
            action = answered
        self._services.message_log.record(
            self.id, direction, raw, msg.message_type_id, msg.unique_id, action
        )

    async def route_message(self, raw_msg: str) -> None:
        try:
            msg = frames.decode(raw_msg)
        except frames.FrameError as error:
            self._log("in", raw_msg, None)
            if error.unique_id is None:
                LOGGER.warning("%s: ignored unreadable frame (%s)", self.id, error)
                return
            LOGGER.warning("%s: refused frame %s: %s", self.id, error.unique_id, error)
            await self._send_error(error.unique_id, error.error)
            return

        self._log("in", raw_msg, msg)
        if isinstance(msg, Call):
            await self._answer_call(msg, raw_msg)
        else:
            self._answered(msg)

    async def _answer_call(self, msg: Call, raw_msg: str) -> None:
        deviations: list[str] = []
        try:
            frames.check_action(msg.action)
            # The payload is walked for NUL characters only if the frame holds one.
            nul = frames.NUL_ESCAPE in raw_msg
            if self.lenient:
                reading = lenient.read(msg.action, msg.payload, nul)
                msg.payload, deviations = reading.payload, reading.deviations
            else:
                frames.validate(msg.action, msg.payload)
                if nul:
                    frames.refuse_nul(msg.payload)
            handlers = self.route_map.get(msg.action, {})
            if "_on_action" not in handlers:
                raise NotSupportedError(
                    description="Requested Action is recognized but not supported",
                    details={"cause": f"{msg.action} is not handled by this central system"},
                )
            if self.registration_status != "Accepted" and msg.action not in ALLOWED_BEFORE_ACCEPTED:
                raise SecurityError(
                    details={
                        "cause": f"registration is {self.registration_status}: "
                        "only BootNotification until accepted"
                    }
                )
        except OCPPError as error:
            LOGGER.warning("%s: refused %s %s: %s", self.id, msg.action, msg.unique_id, error)
            await self._send_error(msg.unique_id, error, msg.action)
            return
        if msg.action in _TIMESTAMPED:
            deviations.extend(ahead_of_clock_deviations(msg.action, msg.payload))
        if deviations:
            LOGGER.info("%s: %s deviates from OCPP: %s", self.id, msg.action, deviations)
            try:
                await self._services.deviations.record(
                    self.id, msg.unique_id, msg.action, deviations, raw_msg
                )
            except Exception as error:
                # Not handled without its evidence; the charger sends it again later.
                await self._failed(msg, error)
                return
        await self._handle_call(msg)

    async def _handle_call(self, msg: Call) -> None:
        """Run the `@on` handler the library's routing found for the (checked) CALL and
        answer with its `call_result`, or with an InternalError if it raised; then any
        `@after` hook. The library's own version of this converts every key with regular
        expressions and inspects the handler's signature on every message (together some
        0.3 ms a MeterValues); here each key's conversion is the library's, done once."""
        handlers = self.route_map[msg.action]
        arguments = snake_keys(msg.payload)
        try:
            response = await handlers["_on_action"](self, **arguments)
        except Exception as error:
            await self._failed(msg, error)
            return
        payload = camel_keys(remove_nones(serialize_as_dict(response)))
        frame = orjson.dumps([MessageType.CallResult, msg.unique_id, payload]).decode()
        await self._send(frame, CallResult(msg.unique_id, payload), msg.action)
        after = handlers.get("_after_action")
        if after is not None:
            self._follow_up(after(self, **arguments))

    async def _failed(self, msg: Call, error: Exception) -> None:
        """Answer a CALL whose handling raised (the connection stays open).

        NotRegistered: its record was removed (its connection is being closed) and unknown
        charge points are refused: SecurityError, which a charger answers by keeping a
        transaction message to send again, as after any refusal. Anything else failed
        here, not for anything the charger did: InternalError."""
        if isinstance(error, NotRegistered):
            LOGGER.warning("%s: refused %s %s: %s", self.id, msg.action, msg.unique_id, error)
            self.registration_status = "Rejected"
            refusal = SecurityError(details={"cause": f"{error}: removed by an operator"})
            await self._send_error(msg.unique_id, refusal, msg.action)
            return
        LOGGER.exception("%s: error while handling %s %s", self.id, msg.action, msg.unique_id)
        answer = msg.create_call_error(error)
        await self._send(answer.to_json(), answer, msg.action)

    async def _send_error(
        self, unique_id: str, error: OCPPError, action: str | None = None
    ) -> None:
        answer = CallError(unique_id, error.code, error.description, error.details)
        await self._send(answer.to_json(), answer, action)

    # --- charge-point-initiated messages ----------------------------------------------

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        serials = {kwargs.get("charge_point_serial_number"), kwargs.get("charge_box_serial_number")}
        if self.certificate_cn is not None and self.certificate_cn not in serials:
            # The certificate belongs to another charger: refused, and kept for the operator.
            await self._services.charge_points.security_event(
                self.id,
                "CertificateSerialMismatch",
                utcnow(),
                f"client certificate CN {self.certificate_cn!r}, BootNotification serial "
                f"{kwargs.get('charge_point_serial_number')!r}",
            )
            self.registration_status = "Rejected"
            return call_result.BootNotification(
                current_time=format_datetime(utcnow()),
                interval=REGISTRATION_RETRY_INTERVAL,
                status=RegistrationStatus.rejected,
            )
        status, interval = await self._services.charge_points.boot(
            self.id,
            BootInfo(
                vendor=charge_point_vendor,
                model=charge_point_model,
                serial_number=kwargs.get("charge_point_serial_number"),
                charge_box_serial_number=kwargs.get("charge_box_serial_number"),
                firmware_version=kwargs.get("firmware_version"),
                iccid=kwargs.get("iccid"),
                imsi=kwargs.get("imsi"),
                meter_type=kwargs.get("meter_type"),
                meter_serial_number=kwargs.get("meter_serial_number"),
            ),
        )
        self.registration_status = status
        return call_result.BootNotification(
            current_time=format_datetime(utcnow()),
            interval=interval,
            status=RegistrationStatus(status),
        )

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self) -> call_result.Heartbeat:
        now = await self._services.charge_points.heartbeat(self.id)
        return call_result.Heartbeat(current_time=format_datetime(now))

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_tag: str) -> call_result.Authorize:
        info = await self._services.id_tags.authorize(id_tag)
        return call_result.Authorize(id_tag_info=_id_tag_info(info))

    @on(Action.start_transaction, skip_schema_validation=True)
    async def on_start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> call_result.StartTransaction:
        transaction_id, info = await self._services.transactions.start(
            self.id,
            connector_id,
            id_tag,
            meter_start,
            parse_datetime(timestamp),
            reservation_id,
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info=_id_tag_info(info)
        )

    @on(Action.stop_transaction, skip_schema_validation=True)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        id_tag: str | None = None,
        reason: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> call_result.StopTransaction:
        samples = _bounded_samples(transaction_data)
        info = await self._services.transactions.stop(
            self.id,
            transaction_id,
            meter_stop,
            parse_datetime(timestamp),
            id_tag=id_tag,
            reason=reason,
            transaction_data=transaction_data,
        )
        if samples:  # of no session if it names none of this charger's
            self._services.budget.note("meter_values", self.id, samples)
        return call_result.StopTransaction(
            id_tag_info=_id_tag_info(info) if info is not None else None
        )

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
    ) -> call_result.MeterValues:
        first = meter_value[0]["sampled_value"][0] if meter_value[0]["sampled_value"] else {}
        key = (connector_id, transaction_id, meter_value[0]["timestamp"], first.get("value"),
               first.get("measurand"))  # fmt: skip
        if key == self._last_meter_values:
            # The one before, again: the charger gave up waiting for our answer (it was
            # stored, and this connection answers in order) and sent it once more.
            LOGGER.info("%s: MeterValues sent twice, stored once", self.id)
            return call_result.MeterValues()
        samples = _bounded_samples(meter_value)
        await self._services.transactions.meter_values(
            self.id,
            connector_id,
            transaction_id,
            meter_value,
            # Only the first on a connection can repeat one whose answer a dropped link
            # lost (one CALL outstanding): that one is looked up in the database.
            may_be_retry=self._last_meter_values is None,
        )
        self._last_meter_values = key
        # Counted whether applied to a session or not: the budget counts those of none.
        self._services.budget.note("meter_values", self.id, samples)
        return call_result.MeterValues()

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, **kwargs: Any
    ) -> call_result.StatusNotification:
        timestamp = kwargs.get("timestamp")
        await self._services.charge_points.status_notification(
            self.id,
            connector_id,
            status,
            error_code,
            info=kwargs.get("info"),
            timestamp=parse_datetime(timestamp) if timestamp else None,
            vendor_id=kwargs.get("vendor_id"),
            vendor_error_code=kwargs.get("vendor_error_code"),
        )
        return call_result.StatusNotification()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> call_result.DataTransfer:
        await self._services.charge_points.data_transfer(self.id, vendor_id, message_id, data)
        # Stored for the operator; Voltaro implements no vendor extension (OCPP 1.6 4.3).
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.diagnostics_status_notification, skip_schema_validation=True)
    async def on_diagnostics_status_notification(
        self, status: str
    ) -> call_result.DiagnosticsStatusNotification:
        await self._services.charge_points.status_report(self.id, "diagnostics", status)
        return call_result.DiagnosticsStatusNotification()

    # --- the OCPP 1.6 security extension (Security Whitepaper ed. 3) ----------------------

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None
    ) -> call_result.SecurityEventNotification:
        await self._services.charge_points.security_event(
            self.id, type, parse_datetime(timestamp), tech_info
        )
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str) -> call_result.SignCertificate:
        # Checked here, signed after the answer has gone (after_sign_certificate): the
        # answer says whether the CSR is acceptable, CertificateSigned follows.
        charge_points = self._services.charge_points
        try:
            authority = certificates.authority(charge_points.settings)
        except (ValueError, OSError) as error:  # the CA files changed since start-up
            LOGGER.error("%s: the CA cannot be used: %s", self.id, error)
            authority, refusal = None, f"refused: the CA cannot be used: {error}"
        else:
            refusal = "refused: no CA configured"
        if authority is not None:
            try:
                serial_number = (await charge_points.get(self.id)).serial_number
            except NotFound:  # removed meanwhile: recording the refusal raises NotRegistered
                serial_number = None
            try:
                request = certificates.check_request(csr, serial_number)
            except certificates.RequestRefused as error:
                refusal = f"refused: {error}"
            else:
                certificates.ACCEPTED.put(self, csr, authority, request)
                return call_result.SignCertificate(status=GenericStatus.accepted)
        await charge_points.security_event(self.id, "SignCertificateRequest", utcnow(), refusal)
        return call_result.SignCertificate(status=GenericStatus.rejected)

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str) -> None:
        # A follow-up task, not the receive loop: signing (an external command may take
        # seconds) and the charger's answer to CertificateSigned are waited for here.
        accepted = certificates.ACCEPTED.take(self, csr)
        if accepted is None:
            return  # answered Rejected, and recorded then
        authority, request = accepted
        record = self._services.charge_points.security_event
        try:
            try:
                chain = await authority.sign(request)
            except certificates.SigningFailed as error:
                await record(self.id, "SignCertificateFailed", utcnow(), f"not signed: {error}")
                return
            issued = f"{chain.describe()}, {request.key} key; sending it"
            await record(self.id, "CertificateIssued", utcnow(), issued)
            try:
                answer = await self.send_call(call.CertificateSigned(certificate_chain=chain.pem))
            except OperationFailed as error:
                outcome = f"not delivered: {error}"
            else:
                outcome = f"charge point answered {answer.status}"
            await record(self.id, "CertificateSignedResponse", utcnow(), outcome)
        except Exception:
            # Nobody awaits a follow-up: what failed is logged, not lost.
            LOGGER.exception("%s: signing a certificate failed", self.id)

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.LogStatusNotification:
        await self._services.charge_points.status_report(self.id, "log", status)
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification, skip_schema_validation=True)
    async def on_signed_firmware_status_notification(
        self, status: str, request_id: int | None = None
    ) -> call_result.SignedFirmwareStatusNotification:
        await self._services.charge_points.status_report(self.id, "signed_firmware", status)
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(
        self, status: str
    ) -> call_result.FirmwareStatusNotification:
        await self._services.charge_points.status_report(self.id, "firmware", status)
        return call_result.FirmwareStatusNotification()


# The library's routing, from the @on and @after decorators above, once for every
# connection: its entries are the functions, called with the handler.
ChargePointHandler.route_map = create_route_map(ChargePointHandler)
