"""The OCPP 2.0.1 `@on` handlers: what each charge-point-initiated 2.0.1 message means, on
the shared protocol engine (`ocpp_core.handler`). Every message is stored with its meaning:
boots, statuses per EVSE and connector, transactions by their events, the device model
from reports, and the reports and notifications that have no table of their own kept as
sent with a one-line summary."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from ocpp.v201 import call_result
from ocpp.v201.enums import Action

from ocpp_core import dialects
from ocpp_core.db.models import utcnow
from ocpp_core.handler import ChargePointHandler, camel_keys
from ocpp_core.routes import after, on, routes_of
from ocpp_core.services.charge_points import REGISTRATION_RETRY_INTERVAL, BootInfo
from ocpp_core.timeutil import format_datetime, parse_datetime

LOGGER = logging.getLogger(__name__)


def _count(items: Any, noun: str) -> str:
    n = len(items or ())
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _parts(seq_no: int, tbc: bool | None) -> str:
    return f"part {seq_no}{', more to come' if tbc else ''}"


def _event_summary(event_data: list[dict[str, Any]]) -> str:
    shown = []
    for event in event_data[:3]:
        component = event["component"]["name"]
        variable = event["variable"]["name"]
        shown.append(f"{component}.{variable}={event['actual_value']} ({event['trigger']})")
    more = f" and {len(event_data) - 3} more" if len(event_data) > 3 else ""
    return "; ".join(shown) + more


class V201Handler(ChargePointHandler):
    """A charging station connected with OCPP 2.0.1."""

    __slots__ = ()
    dialect = dialects.V201
    ocpp_version = "2.0.1"

    async def _keep(
        self, action: str, summary: str, payload: dict[str, Any], request_id: int | None = None
    ) -> None:
        """A report or notification kept as sent (camelCase), with what it says in a line."""
        await self._services.notifications.record(
            self.id, action, summary, camel_keys(payload), request_id
        )

    # --- provisioning: boot, heartbeat, status ------------------------------------------

    @on(Action.boot_notification, skip_schema_validation=True)
    async def on_boot_notification(
        self, charging_station: dict[str, Any], reason: str, **kwargs: Any
    ) -> call_result.BootNotification:
        serial = charging_station.get("serial_number")
        if await self.refuses_certificate({serial}, serial):
            return call_result.BootNotification(
                current_time=format_datetime(utcnow()),
                interval=REGISTRATION_RETRY_INTERVAL,
                status="Rejected",
            )
        modem = charging_station.get("modem") or {}
        status, interval = await self._services.charge_points.boot(
            self.id,
            BootInfo(
                vendor=charging_station["vendor_name"],
                model=charging_station["model"],
                serial_number=serial,
                firmware_version=charging_station.get("firmware_version"),
                iccid=modem.get("iccid"),
                imsi=modem.get("imsi"),
                boot_reason=reason,
            ),
        )
        self.registration_status = status
        # A boot is a reboot: values set RebootRequired are in force now.
        await self._services.device_model.rebooted(self.id)
        return call_result.BootNotification(
            current_time=format_datetime(utcnow()), interval=interval, status=status
        )

    @on(Action.heartbeat, skip_schema_validation=True)
    async def on_heartbeat(self, **kwargs: Any) -> call_result.Heartbeat:
        now = await self._services.charge_points.heartbeat(self.id)
        return call_result.Heartbeat(current_time=format_datetime(now))

    @on(Action.status_notification, skip_schema_validation=True)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kwargs: Any
    ) -> call_result.StatusNotification:
        await self._services.charge_points.status_notification(
            self.id,
            connector_id,
            connector_status,
            "NoError",  # 2.0.1 reports faults by NotifyEvent, not in the status
            timestamp=parse_datetime(timestamp),
            evse_id=evse_id,
        )
        return call_result.StatusNotification()

    # --- authorization and transactions -------------------------------------------------

    @on(Action.authorize, skip_schema_validation=True)
    async def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> call_result.Authorize:
        info = await self._services.transaction_events.authorize(id_token)
        return call_result.Authorize(id_token_info=info)

    @on(Action.transaction_event, skip_schema_validation=True)
    async def on_transaction_event(self, **event: Any) -> call_result.TransactionEvent:
        info = await self._services.transaction_events.event(self.id, event)
        return call_result.TransactionEvent(id_token_info=info)

    @on(Action.meter_values, skip_schema_validation=True)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **kwargs: Any
    ) -> call_result.MeterValues:
        await self._services.transaction_events.meter_values(self.id, evse_id, meter_value)
        return call_result.MeterValues()

    @on(Action.reservation_status_update, skip_schema_validation=True)
    async def on_reservation_status_update(
        self, reservation_id: int, reservation_update_status: str, **kwargs: Any
    ) -> call_result.ReservationStatusUpdate:
        await self._services.operations.reservation_ended(
            self.id, reservation_id, reservation_update_status
        )
        await self._keep(
            "ReservationStatusUpdate",
            f"reservation {reservation_id}: {reservation_update_status}",
            {"reservation_id": reservation_id, **kwargs,
             "reservation_update_status": reservation_update_status},
        )  # fmt: skip
        return call_result.ReservationStatusUpdate()

    # --- the device model, events and monitoring ----------------------------------------

    @on(Action.notify_report, skip_schema_validation=True)
    async def on_notify_report(
        self,
        request_id: int,
        generated_at: str,
        seq_no: int,
        report_data: list[dict[str, Any]] | None = None,
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.NotifyReport:
        await self._services.device_model.report(self.id, report_data or [])
        await self._keep(
            "NotifyReport",
            f"report {request_id} {_parts(seq_no, tbc)}: {_count(report_data, 'variable')}",
            {"request_id": request_id, "generated_at": generated_at, "seq_no": seq_no,
             "report_data": report_data, "tbc": tbc},
            request_id,
        )  # fmt: skip
        return call_result.NotifyReport()

    @on(Action.notify_event, skip_schema_validation=True)
    async def on_notify_event(
        self,
        generated_at: str,
        seq_no: int,
        event_data: list[dict[str, Any]],
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.NotifyEvent:
        await self._keep(
            "NotifyEvent",
            f"{_count(event_data, 'event')}: {_event_summary(event_data)}",
            {"generated_at": generated_at, "seq_no": seq_no, "event_data": event_data,
             "tbc": tbc},
        )  # fmt: skip
        return call_result.NotifyEvent()

    @on(Action.notify_monitoring_report, skip_schema_validation=True)
    async def on_notify_monitoring_report(
        self,
        request_id: int,
        seq_no: int,
        generated_at: str,
        monitor: list[dict[str, Any]] | None = None,
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.NotifyMonitoringReport:
        await self._services.device_model.monitoring_report(self.id, monitor or [])
        await self._keep(
            "NotifyMonitoringReport",
            f"monitoring report {request_id} {_parts(seq_no, tbc)}: "
            f"{_count(monitor, 'monitored variable')}",
            {"request_id": request_id, "seq_no": seq_no, "generated_at": generated_at,
             "monitor": monitor, "tbc": tbc},
            request_id,
        )  # fmt: skip
        return call_result.NotifyMonitoringReport()

    # --- security -----------------------------------------------------------------------

    @on(Action.security_event_notification, skip_schema_validation=True)
    async def on_security_event_notification(
        self, type: str, timestamp: str, tech_info: str | None = None, **kwargs: Any
    ) -> call_result.SecurityEventNotification:
        await self._services.charge_points.security_event(
            self.id, type, parse_datetime(timestamp), tech_info
        )
        return call_result.SecurityEventNotification()

    @on(Action.sign_certificate, skip_schema_validation=True)
    async def on_sign_certificate(self, csr: str, **kwargs: Any) -> call_result.SignCertificate:
        # A V2GCertificate needs a V2G PKI, which Voltaro does not run.
        if kwargs.get("certificate_type") == "V2GCertificate":
            await self._services.charge_points.security_event(
                self.id, "SignCertificateRequest", utcnow(), "refused: no V2G PKI configured"
            )
            return call_result.SignCertificate(
                status="Rejected", status_info={"reason_code": "NoV2GPKI"}
            )
        accepted = await self.csr_accepted(csr)
        return call_result.SignCertificate(status="Accepted" if accepted else "Rejected")

    @after(Action.sign_certificate)
    async def after_sign_certificate(self, csr: str, **kwargs: Any) -> None:
        async def deliver(chain: str) -> dict[str, Any]:
            payload = {"certificateChain": chain, "certificateType": "ChargingStationCertificate"}
            return await self.send_payload("CertificateSigned", payload)

        await self.sign_accepted(csr, deliver)

    @on(Action.get_15118_ev_certificate, skip_schema_validation=True)
    async def on_get_15118_ev_certificate(
        self, iso15118_schema_version: str, action: str, exi_request: str, **kwargs: Any
    ) -> call_result.Get15118EVCertificate:
        await self._keep(
            "Get15118EVCertificate",
            f"{action} of an EV contract certificate ({iso15118_schema_version}): "
            "Failed, no contract certificate PKI configured",
            {"iso15118_schema_version": iso15118_schema_version, "action": action},
        )
        return call_result.Get15118EVCertificate(
            status="Failed",
            exi_response="",
            status_info={"reason_code": "NoPKI", "additional_info": "no V2G PKI configured"},
        )

    @on(Action.get_certificate_status, skip_schema_validation=True)
    async def on_get_certificate_status(
        self, ocsp_request_data: dict[str, Any], **kwargs: Any
    ) -> call_result.GetCertificateStatus:
        await self._keep(
            "GetCertificateStatus",
            f"OCSP status of certificate {ocsp_request_data.get('serial_number')}: "
            "Failed, no OCSP responder configured",
            {"ocsp_request_data": ocsp_request_data},
        )
        return call_result.GetCertificateStatus(
            status="Failed", status_info={"reason_code": "NoOCSPResponder"}
        )

    # --- firmware, logs, data transfer ---------------------------------------------------

    @on(Action.firmware_status_notification, skip_schema_validation=True)
    async def on_firmware_status_notification(
        self, status: str, request_id: int | None = None, **kwargs: Any
    ) -> call_result.FirmwareStatusNotification:
        await self._services.charge_points.status_report(self.id, "firmware", status)
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification, skip_schema_validation=True)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None, **kwargs: Any
    ) -> call_result.LogStatusNotification:
        await self._services.charge_points.status_report(self.id, "log", status)
        return call_result.LogStatusNotification()

    @on(Action.publish_firmware_status_notification, skip_schema_validation=True)
    async def on_publish_firmware_status_notification(
        self, status: str, **kwargs: Any
    ) -> call_result.PublishFirmwareStatusNotification:
        await self._keep(
            "PublishFirmwareStatusNotification",
            f"publishing firmware: {status}",
            {"status": status, **kwargs},
            kwargs.get("request_id"),
        )
        return call_result.PublishFirmwareStatusNotification()

    @on(Action.data_transfer, skip_schema_validation=True)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None, **kwargs: Any
    ) -> call_result.DataTransfer:
        # 2.0.1 data is any JSON: kept as its JSON text.
        text = None if data is None else orjson.dumps(data).decode()
        await self._services.charge_points.data_transfer(self.id, vendor_id, message_id, text)
        # Stored for the operator; Voltaro implements no vendor extension (2.0.1 P01).
        return call_result.DataTransfer(status="UnknownVendorId")

    # --- smart charging -----------------------------------------------------------------

    @on(Action.notify_charging_limit, skip_schema_validation=True)
    async def on_notify_charging_limit(
        self, charging_limit: dict[str, Any], **kwargs: Any
    ) -> call_result.NotifyChargingLimit:
        where = f"EVSE {kwargs['evse_id']}" if kwargs.get("evse_id") else "the station"
        critical = ", grid critical" if charging_limit.get("is_grid_critical") else ""
        await self._keep(
            "NotifyChargingLimit",
            f"limit by {charging_limit['charging_limit_source']} on {where}{critical}",
            {"charging_limit": charging_limit, **kwargs},
        )
        return call_result.NotifyChargingLimit()

    @on(Action.cleared_charging_limit, skip_schema_validation=True)
    async def on_cleared_charging_limit(
        self, charging_limit_source: str, **kwargs: Any
    ) -> call_result.ClearedChargingLimit:
        where = f"EVSE {kwargs['evse_id']}" if kwargs.get("evse_id") else "the station"
        await self._keep(
            "ClearedChargingLimit",
            f"limit by {charging_limit_source} cleared on {where}",
            {"charging_limit_source": charging_limit_source, **kwargs},
        )
        return call_result.ClearedChargingLimit()

    @on(Action.notify_ev_charging_needs, skip_schema_validation=True)
    async def on_notify_ev_charging_needs(
        self, charging_needs: dict[str, Any], evse_id: int, **kwargs: Any
    ) -> call_result.NotifyEVChargingNeeds:
        mode = charging_needs.get("requested_energy_transfer")
        await self._keep(
            "NotifyEVChargingNeeds",
            f"EV on EVSE {evse_id} asks for {mode}; no schedule offered",
            {"charging_needs": charging_needs, "evse_id": evse_id, **kwargs},
        )
        # Voltaro computes no ISO 15118 schedules: the station charges without one.
        return call_result.NotifyEVChargingNeeds(
            status="Rejected", status_info={"reason_code": "NoSchedule"}
        )

    @on(Action.notify_ev_charging_schedule, skip_schema_validation=True)
    async def on_notify_ev_charging_schedule(
        self, time_base: str, charging_schedule: dict[str, Any], evse_id: int, **kwargs: Any
    ) -> call_result.NotifyEVChargingSchedule:
        periods = charging_schedule.get("charging_schedule_period")
        await self._keep(
            "NotifyEVChargingSchedule",
            f"EV schedule on EVSE {evse_id} from {time_base}: {_count(periods, 'period')}",
            {"time_base": time_base, "charging_schedule": charging_schedule,
             "evse_id": evse_id},
        )  # fmt: skip
        return call_result.NotifyEVChargingSchedule(status="Accepted")

    @on(Action.report_charging_profiles, skip_schema_validation=True)
    async def on_report_charging_profiles(
        self,
        request_id: int,
        charging_limit_source: str,
        charging_profile: list[dict[str, Any]],
        evse_id: int,
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.ReportChargingProfiles:
        await self._services.operations.reported_charging_profiles(
            self.id, evse_id, charging_profile
        )
        await self._keep(
            "ReportChargingProfiles",
            f"request {request_id}: {_count(charging_profile, 'profile')} on EVSE {evse_id} "
            f"set by {charging_limit_source}{', more to come' if tbc else ''}",
            {"request_id": request_id, "charging_limit_source": charging_limit_source,
             "charging_profile": charging_profile, "evse_id": evse_id, "tbc": tbc},
            request_id,
        )  # fmt: skip
        return call_result.ReportChargingProfiles()

    # --- display messages and customer information --------------------------------------

    @on(Action.notify_display_messages, skip_schema_validation=True)
    async def on_notify_display_messages(
        self,
        request_id: int,
        message_info: list[dict[str, Any]] | None = None,
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.NotifyDisplayMessages:
        await self._services.device_model.display_messages(self.id, message_info or [])
        await self._keep(
            "NotifyDisplayMessages",
            f"request {request_id}: {_count(message_info, 'display message')}",
            {"request_id": request_id, "message_info": message_info, "tbc": tbc},
            request_id,
        )
        return call_result.NotifyDisplayMessages()

    @on(Action.notify_customer_information, skip_schema_validation=True)
    async def on_notify_customer_information(
        self,
        data: str,
        seq_no: int,
        generated_at: str,
        request_id: int,
        tbc: bool | None = None,
        **kwargs: Any,
    ) -> call_result.NotifyCustomerInformation:
        await self._keep(
            "NotifyCustomerInformation",
            f"request {request_id} {_parts(seq_no, tbc)}: {len(data)} characters",
            {"data": data, "seq_no": seq_no, "generated_at": generated_at,
             "request_id": request_id, "tbc": tbc},
            request_id,
        )  # fmt: skip
        return call_result.NotifyCustomerInformation()


# The library's routing, from the @on and @after decorators above, once for every
# connection: its entries are the functions, called with the handler.
V201Handler.routes = routes_of(V201Handler)
