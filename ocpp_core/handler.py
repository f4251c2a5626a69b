"""The protocol engine: the central system's side of one charge point connection, shared
by every OCPP version. Framing, one CALL at a time, answer timeouts, error codes and the
message log live here; the `@on` handlers of each version live in `ocpp_core.v16.handler`
and `ocpp_core.v201.handler`, subclasses that name their `dialects.Dialect` and their
library route map. Routing and payload classes come from the `ocpp` library; what
messages mean from the services."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import ocpp.messages
import orjson
from ocpp.charge_point import remove_nones, serialize_as_dict
from ocpp.exceptions import NotSupportedError, OCPPError, SecurityError
from ocpp.messages import Call, CallError, CallResult, MessageType

from ocpp_core import certificates, dialects, frame_decoding, lenient, payload_checks
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
from ocpp_core.payload_keys import camel_keys, snake_keys
from ocpp_core.registration_gate import AskedFor, may_send
from ocpp_core.routes import Route
from ocpp_core.services import Services
from ocpp_core.services.message_log import redact_text

LOGGER = logging.getLogger(__name__)

# The library validates outgoing CALLs and their answers in a thread pool by default; for
# payloads this small the thread hop costs more than the check (mobilityhouse/ocpp #676).
ocpp.messages.ASYNC_VALIDATION = False


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, message: str) -> None: ...

    async def close(self) -> None: ...


# Put in the response queue when the socket goes, so a waiting CALL fails at once.
_CONNECTION_LOST = object()


__all__ = ["ChargePointHandler", "Connection", "camel_keys", "snake_keys"]


class ChargePointHandler:
    """Answers a charge point's CALLs and sends the central system's CALLs to it; a
    version's subclass sets `dialect`, `ocpp_version` and (from its `@on` handlers)
    `routes`.

    Every `@on` handler skips the library's own schema check: `route_message` has already
    checked the payload with the version's error codes before the handler runs.
    """

    dialect: dialects.Dialect
    ocpp_version: str
    routes: dict[str, Route]

    # One per connection, 10,000 at once: attributes in slots, no per-instance dict.
    __slots__ = (
        "__weakref__",  # certificates.ACCEPTED keys pending CSRs by connection
        "_actions",
        "_asked",
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
        "last_message_at",
        "lenient",
        "registration_status",
    )

    def __init__(
        self,
        charge_point_id: str,
        connection: Connection,
        services: Services,
        call_timeout: float = 30,
    ) -> None:
        # No route map or queue per connection, as the library's ChargePoint makes: the
        # routes are built once per class (ocpp_core/routes.py), and an answer is awaited
        # on one future, as there is never more than one CALL outstanding.
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
        # While Pending: what the central system asked the charger for (registration_gate).
        self._asked: AskedFor | None = None
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
        # When it last sent anything (epoch seconds): kept here, in memory, not written
        # per message (the hot path); persisted at heartbeats and when the socket closes.
        self.last_message_at = self.connected_at
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

    async def send_payload(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL with its JSON payload; return the answer's JSON payload, checked
        against the version's schema.

        One CALL at a time (OCPP-J 4.1.1): later ones queue on the library's lock. Raises
        NotConnected, CallTimedOut, CallErrorReply or InvalidReply.
        """
        call = Call(str(uuid.uuid4()), action, payload)
        metrics = self._services.metrics
        if self._call_lock is None:
            self._call_lock = asyncio.Lock()
        async with self._call_lock:
            if self._lost:
                raise NotConnected(self.id)
            answer = asyncio.get_running_loop().create_future()
            self._awaiting = (call.unique_id, answer)
            try:
                await self._send(call.to_json(), call)
                sent = time.monotonic()
                response = await self._await_answer(call, answer)
            except Exception:
                metrics.record_call(action, "error")  # no answer: timed out, lost, unsent
                raise
            finally:
                self._awaiting = None
        answered = time.monotonic() - sent
        if isinstance(response, CallError):
            metrics.record_call(action, "callerror", answered)
            raise CallErrorReply(
                response.error_code, response.error_description, response.error_details
            )
        errors = payload_checks.schema_errors(
            self.dialect.answer_schema(action), response.payload, self.dialect
        )
        if errors:
            metrics.record_call(action, "error", answered)
            raise InvalidReply(f"{action} answer: {payload_checks.describe(errors[0])}")
        nul = payload_checks.nul_cause(response.payload)  # answers are few: every one is walked
        if nul is not None:
            if not self.lenient or self.dialect is not dialects.V16:
                metrics.record_call(action, "error", answered)
                raise InvalidReply(f"{action} answer: {nul}")
            evidence = response.to_json()  # as sent, before the NULs go
            deviations = lenient.strip_nul(response.payload)
            await self._services.deviations.record(
                self.id, call.unique_id, f"{action}Response", deviations, evidence
            )
        metrics.record_call(action, "result", answered)
        if self.registration_status == "Pending":
            if self._asked is None:
                self._asked = AskedFor()
            self._asked.note(action, payload)
        answered_payload: dict[str, Any] = response.payload
        return answered_payload

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
                msg = frame_decoding.decode(raw, self.dialect)
            except frame_decoding.FrameError as error:
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
        self.last_message_at = time.time()  # any frame counts, even one refused
        try:
            msg = frame_decoding.decode(raw_msg, self.dialect)
        except frame_decoding.FrameError as error:
            self._log("in", raw_msg, None)
            if error.unique_id is None:
                LOGGER.warning("%s: ignored unreadable frame (%s)", self.id, error)
                self._services.metrics.record_message(None, "in", "ignored")
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
            dialect = self.dialect
            dialects.check_action(msg.action, dialect)
            # The payload is walked for NUL characters only if the frame holds one.
            nul = payload_checks.NUL_ESCAPE in raw_msg
            if self.lenient and dialect is dialects.V16:  # lenient knows 1.6's mistakes
                reading = lenient.read(msg.action, msg.payload, nul)
                msg.payload, deviations = reading.payload, reading.deviations
            else:
                payload_checks.validate(dialect.request_schema(msg.action), msg.payload, dialect)
                if nul:
                    payload_checks.refuse_nul(msg.payload)
            route = self.routes.get(msg.action)
            if route is None or route.on is None:
                raise NotSupportedError(
                    description="Requested Action is recognized but not supported",
                    details={"cause": f"{msg.action} is not handled by this central system"},
                )
            status = self.registration_status
            if status != "Accepted" and not may_send(status, msg.action, self._asked):
                raise SecurityError(
                    details={
                        "cause": f"registration is {status}: only BootNotification"
                        f"{', Heartbeat and what was asked for' if status == 'Pending' else ''}"
                        " until accepted"
                    }
                )
        except OCPPError as error:
            LOGGER.warning("%s: refused %s %s: %s", self.id, msg.action, msg.unique_id, error)
            await self._send_error(msg.unique_id, error, msg.action)
            return
        deviations.extend(self.deviations_of(msg.action, msg.payload))
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
        expressions and inspects the handler's signature on every message; here each key's
        conversion is the library's, done once."""
        route = self.routes[msg.action]
        assert route.on is not None  # route_message refuses an action without a handler
        arguments = snake_keys(msg.payload)
        try:
            response = await route.on(self, **arguments)
        except Exception as error:
            await self._failed(msg, error)
            return
        payload = camel_keys(remove_nones(serialize_as_dict(response)))
        frame = orjson.dumps([MessageType.CallResult, msg.unique_id, payload]).decode()
        await self._send(frame, CallResult(msg.unique_id, payload), msg.action)
        self._services.metrics.record_message(msg.action, "in", "result")
        if route.after is not None:
            self._follow_up(route.after(self, **arguments))

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
        self._services.metrics.record_message(msg.action, "in", "error")

    async def _send_error(
        self, unique_id: str, error: OCPPError, action: str | None = None
    ) -> None:
        answer = CallError(unique_id, error.code, error.description, error.details)
        await self._send(answer.to_json(), answer, action)
        self._services.metrics.record_message(action, "in", "callerror")

    async def refuses_certificate(self, serials: set[str | None], named: str | None) -> bool:
        """Security profile 3: True (and recorded, and the registration Rejected) when this
        connection's client certificate is not for a serial the boot names: it belongs to
        another charger."""
        if self.certificate_cn is None or self.certificate_cn in serials:
            return False
        await self._services.charge_points.security_event(
            self.id,
            "CertificateSerialMismatch",
            utcnow(),
            f"client certificate CN {self.certificate_cn!r}, BootNotification serial {named!r}",
        )
        self.registration_status = "Rejected"
        return True

    def deviations_of(self, action: str, payload: dict[str, Any]) -> list[str]:
        """What a (schema-valid) CALL does that OCPP allows but an operator should see;
        a version's handler says."""
        return []

    # --- shared by the versions: the certificate a charger asks the CA to sign ----------

    async def csr_accepted(self, csr: str) -> bool:
        """Check a SignCertificate's CSR against the configured CA: True if it is to be
        signed (after the answer has gone: `sign_accepted`), False if refused, which is
        recorded as a security event."""
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
                return True
        await charge_points.security_event(self.id, "SignCertificateRequest", utcnow(), refusal)
        return False

    async def sign_accepted(
        self, csr: str, deliver: Callable[[str], Awaitable[dict[str, Any]]]
    ) -> None:
        """Sign a CSR `csr_accepted` took and send the chain with `deliver` (the version's
        CertificateSigned, answering the charger's JSON answer); every step is recorded.
        Run as a follow-up task, not on the receive loop: signing (an external command may
        take seconds) and the charger's answer are waited for here."""
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
                answer = await deliver(chain.pem)
            except OperationFailed as error:
                outcome = f"not delivered: {error}"
            else:
                outcome = f"charge point answered {answer.get('status')}"
            await record(self.id, "CertificateSignedResponse", utcnow(), outcome)
        except Exception:
            # Nobody awaits a follow-up: what failed is logged, not lost.
            LOGGER.exception("%s: signing a certificate failed", self.id)
