"""The OCPP 1.6J `@on` handlers: what each charge-point-initiated 1.6 message means, on
the shared protocol engine (`ocpp_core.handler`)."""

from __future__ import annotations

import logging
from typing import Any

from ocpp.v16 import call_result
from ocpp.v16.enums import Action, DataTransferStatus, GenericStatus, RegistrationStatus

from ocpp_core import dialects
from ocpp_core.db.models import utcnow
from ocpp_core.handler import ChargePointHandler
from ocpp_core.routes import after, on, routes_of
from ocpp_core.services.budget import STORED_TEXT_CHARS, bounded
from ocpp_core.services.charge_points import (
    REGISTRATION_RETRY_INTERVAL,
    BootInfo,
    ahead_of_clock,
)
from ocpp_core.services.id_tags import IdTagInfo
from ocpp_core.timeutil import format_datetime, parse_datetime

LOGGER = logging.getLogger(__name__)


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


def _id_tag_info(info: IdTagInfo) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": info.status}
    if info.expiry_date is not None:
        answer["expiry_date"] = format_datetime(info.expiry_date)
    if info.parent_id_tag is not None:
        answer["parent_id_tag"] = info.parent_id_tag
    return answer


class V16Handler(ChargePointHandler):
    """A charge point connected with OCPP 1.6J."""

    __slots__ = ()
    dialect = dialects.V16
    ocpp_version = "1.6"

    def deviations_of(self, action: str, payload: dict[str, Any]) -> list[str]:
        if action in _TIMESTAMPED:
            return ahead_of_clock_deviations(action, payload)
        return []

    # --- charge-point-initiated messages ----------------------------------------------

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **kwargs: Any
    ) -> call_result.BootNotification:
        serials = {kwargs.get("charge_point_serial_number"), kwargs.get("charge_box_serial_number")}
        named = kwargs.get("charge_point_serial_number")
        if await self.refuses_certificate(serials, named):
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
        accepted = await self.csr_accepted(csr)
        return call_result.SignCertificate(
            status=GenericStatus.accepted if accepted else GenericStatus.rejected
        )

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str) -> None:
        async def deliver(chain: str) -> dict[str, Any]:
            return await self.send_payload("CertificateSigned", {"certificateChain": chain})

        await self.sign_accepted(csr, deliver)

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
V16Handler.routes = routes_of(V16Handler)
