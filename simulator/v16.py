"""A simulated OCPP 1.6J charge point, on the `ocpp` library's client side.

It boots (waiting out Pending), reports every connector's status, heartbeats at the
interval it is given, runs charging sessions with rising meter values, and answers
RemoteStartTransaction / RemoteStopTransaction by really starting and stopping a session.
Of the security extension it holds root certificates and a certificate of its own (asked
for with a real CSR), and runs signed firmware updates.
Transport-agnostic: give it anything with `recv()` and `send()`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.routing import on
from ocpp.v16 import ChargePoint as LibraryChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    AvailabilityStatus,
    CancelReservationStatus,
    CertificateSignedStatus,
    CertificateStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearCacheStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    DataTransferStatus,
    DeleteCertificateStatus,
    GetCompositeScheduleStatus,
    GetInstalledCertificateStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnlockStatus,
    UpdateFirmwareStatus,
    UpdateStatus,
)

from ocpp_core.db.models import utcnow
from ocpp_core.timeutil import format_datetime, parse_datetime
from simulator.common import (
    InstalledCertificate,
    SimulatorConfig,
    chain_for_key,
    issuer_among,
    refused_tag_hint,
    same_certificate,
    signing_request,
)

LOGGER = logging.getLogger(__name__)
# The library logs every frame at INFO through the logger it is given; keep that apart.
FRAME_LOGGER = logging.getLogger(__name__ + ".frames")
FRAME_LOGGER.setLevel(logging.WARNING)


@dataclass
class Session:
    connector_id: int
    id_tag: str
    transaction_id: int | None = None
    stop_reason: Reason = Reason.local
    reservation_id: int | None = None
    task: asyncio.Task[None] | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)


class SimulatedChargePoint(LibraryChargePoint):
    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        config: SimulatorConfig,
        *,
        seed: int | str | None = None,
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30, logger=FRAME_LOGGER)
        self.config = config
        # Seeded by its id unless told otherwise: the same charge point plays the same way.
        self.rng = random.Random(charge_point_id if seed is None else seed)
        self.heartbeat_interval = 300
        self.status: dict[int, str] = {}
        # Energy meter per connector, in Wh; starts where a real meter might.
        self.meters: dict[int, float] = {
            c: float(self.rng.randint(1_000, 100_000)) for c in range(1, config.connectors + 1)
        }
        self.sessions: dict[int, Session] = {}
        # value, read-only: what GetConfiguration reports and ChangeConfiguration may change.
        self.configuration: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": ("300", False),
            "MeterValueSampleInterval": (f"{config.meter_interval:g}", False),
            "MeterValuesSampledData": (
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage",
                False,
            ),
            "ConnectionTimeOut": ("60", False),
            "AuthorizeRemoteTxRequests": ("false", False),
            "LocalAuthListEnabled": ("true", False),
            "LocalAuthorizeOffline": ("true", False),
            "WebSocketPingInterval": ("0", False),
            "NumberOfConnectors": (str(config.connectors), True),
            "LocalAuthListMaxLength": ("1000", True),
            "SendLocalListMaxLength": ("1000", True),
            "ChargeProfileMaxStackLevel": ("10", True),
            "ChargingScheduleAllowedChargingRateUnit": ("Current,Power", True),
            "ChargingScheduleMaxPeriods": ("24", True),
            "MaxChargingProfilesInstalled": ("20", True),
            "ReserveConnectorZeroSupported": ("false", True),
            "SupportedFeatureProfiles": (
                "Core,FirmwareManagement,LocalAuthListManagement,Reservation,"
                "SmartCharging,RemoteTrigger",
                True,
            ),
        }
        self.authorization_key: str | None = None  # write-only: never reported
        self.reservations: dict[int, dict[str, Any]] = {}
        self.local_list_version = 0
        self.local_list: dict[str, dict[str, Any]] = {}
        self.profiles: list[dict[str, Any]] = []
        self.firmware_version = config.firmware_version
        self.serial_number = f"{charge_point_id}-SN"
        self.installed_certificates: list[InstalledCertificate] = []
        # Its own certificate (CertificateSigned) and the key of the CSR it was asked with.
        self.certificate_chain: str | None = None
        self.certificate_key: ec.EllipticCurvePrivateKey | None = None
        self._csr_key: ec.EllipticCurvePrivateKey | None = None
        self.booted = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection and play the charge point until the connection closes."""
        receiver = asyncio.create_task(self.start())
        self._spawn(self._play())
        try:
            await receiver
        finally:
            receiver.cancel()
            for task in list(self._tasks):
                task.cancel()

    async def _play(self) -> None:
        await self.boot()
        for connector_id in range(0, self.config.connectors + 1):
            await self.report_status(connector_id, ChargePointStatus.available)
        self._spawn(self._heartbeat_loop())
        if self.config.session_every:
            self._spawn(self._local_session_loop())

    async def route_message(self, raw_msg: str) -> None:
        # A fault in one handler must not end the whole simulated charge point.
        try:
            await super().route_message(raw_msg)
        except Exception:
            LOGGER.exception("%s: could not handle %s", self.id, raw_msg[:200])

    async def boot(self) -> None:
        while True:
            answer = await self.call(
                call.BootNotification(
                    charge_point_vendor=self.config.vendor,
                    charge_point_model=self.config.model,
                    charge_point_serial_number=self.serial_number,
                    firmware_version=self.firmware_version,
                    meter_type="SimMeter",
                ),
                suppress=False,
            )
            if answer.status == RegistrationStatus.accepted:
                self.heartbeat_interval = answer.interval or self.heartbeat_interval
                self.configuration["HeartbeatInterval"] = (str(self.heartbeat_interval), False)
                self.booted.set()
                LOGGER.info("%s: boot accepted, heartbeat every %ss", self.id, answer.interval)
                return
            LOGGER.info("%s: boot %s, retrying in %ss", self.id, answer.status, answer.interval)
            await asyncio.sleep(max(answer.interval, 1))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.error("%s: %r", self.id, task.exception())

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(int(self.configuration["HeartbeatInterval"][0]))
            await self.call(call.Heartbeat(), suppress=False)

    async def _local_session_loop(self) -> None:
        assert self.config.session_every is not None
        while True:
            await asyncio.sleep(self.config.session_every * self.rng.uniform(0.5, 1.5))
            free = [c for c in self.meters if c not in self.sessions]
            if not free:
                continue
            answer = await self.call(call.Authorize(id_tag=self.config.id_tag), suppress=False)
            if answer.id_tag_info["status"] != AuthorizationStatus.accepted:
                LOGGER.warning(
                    "%s: %s",
                    self.id,
                    refused_tag_hint(self.config.id_tag, answer.id_tag_info["status"]),
                )
                continue
            session = self.begin_session(self.rng.choice(free), self.config.id_tag)
            self._spawn(self._stop_after(session, self.config.session_length))

    async def _stop_after(self, session: Session, seconds: float) -> None:
        await asyncio.sleep(seconds)
        session.stop_requested.set()

    # --- sessions -----------------------------------------------------------------------

    async def report_status(self, connector_id: int, status: ChargePointStatus) -> None:
        self.status[connector_id] = status
        await self.call(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=format_datetime(utcnow()),
            ),
            suppress=False,
        )

    def begin_session(
        self, connector_id: int, id_tag: str, reservation_id: int | None = None
    ) -> Session:
        session = Session(connector_id, id_tag, reservation_id=reservation_id)
        self.sessions[connector_id] = session
        session.task = self._spawn(self._run_session(session))
        return session

    async def _run_session(self, session: Session) -> None:
        connector_id = session.connector_id
        meter: asyncio.Task[None] | None = None
        try:
            await self.report_status(connector_id, ChargePointStatus.preparing)
            answer = await self.call(
                call.StartTransaction(
                    connector_id=connector_id,
                    id_tag=session.id_tag,
                    meter_start=int(self.meters[connector_id]),
                    timestamp=format_datetime(utcnow()),
                    reservation_id=session.reservation_id,
                ),
                suppress=False,
            )
            session.transaction_id = answer.transaction_id
            if answer.id_tag_info["status"] != AuthorizationStatus.accepted:
                reason = Reason.de_authorized
            else:
                await self.report_status(connector_id, ChargePointStatus.charging)
                meter = asyncio.create_task(self._meter_loop(session))
                await session.stop_requested.wait()
                meter.cancel()  # no meter value after the StopTransaction
                reason = session.stop_reason
            await self.call(
                call.StopTransaction(
                    meter_stop=int(self.meters[connector_id]),
                    timestamp=format_datetime(utcnow()),
                    transaction_id=session.transaction_id,
                    reason=reason,
                    id_tag=session.id_tag,
                ),
                suppress=False,
            )
            await self.report_status(connector_id, ChargePointStatus.finishing)
            await self.report_status(connector_id, ChargePointStatus.available)
        finally:
            if meter is not None:
                meter.cancel()
            self.sessions.pop(connector_id, None)

    async def _meter_loop(self, session: Session) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        power = self.config.power_w
        while True:
            await asyncio.sleep(self.config.meter_interval)
            now = loop.time()
            self.meters[session.connector_id] += (
                power * (now - last) / 3600 * self.config.energy_speedup
            )
            last = now
            await self.call(
                self._meter_values(session.connector_id, "Sample.Periodic", power),
                suppress=False,
            )

    def _meter_values(
        self, connector_id: int, context: str, power: float | None = None
    ) -> call.MeterValues:
        """The meter's register; while charging also power, current and voltage."""
        sampled: list[dict[str, Any]] = [
            {
                "value": f"{self.meters[connector_id]:.1f}",
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
                "context": context,
                "location": "Outlet",
            }
        ]
        if power is not None:
            voltage = 230.0
            current = power / voltage / 3
            sampled.append(
                {"value": f"{power:.0f}", "measurand": "Power.Active.Import", "unit": "W"}
            )
            sampled += [
                {"value": f"{current:.1f}", "measurand": "Current.Import", "unit": "A", "phase": p}
                for p in ("L1", "L2", "L3")
            ]
            sampled.append(
                {"value": f"{voltage:.1f}", "measurand": "Voltage", "unit": "V", "phase": "L1-N"}
            )
        session = self.sessions.get(connector_id)
        return call.MeterValues(
            connector_id=connector_id,
            transaction_id=session.transaction_id if session else None,
            meter_value=[{"timestamp": format_datetime(utcnow()), "sampled_value": sampled}],
        )

    # --- central-system-initiated operations --------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        if connector_id is None:
            free = [c for c in sorted(self.meters) if c not in self.sessions]
            connector_id = free[0] if free else None
        reservation = self._reservation_on(connector_id)
        usable = (
            connector_id is not None
            and self.status.get(connector_id) == ChargePointStatus.available
        ) or (reservation is not None and reservation["id_tag"] == id_tag)
        if (
            connector_id is None
            or connector_id not in self.meters
            or connector_id in self.sessions
            or not usable
        ):
            return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)
        if reservation is not None:
            del self.reservations[reservation["reservation_id"]]
        self.begin_session(
            connector_id, id_tag, reservation["reservation_id"] if reservation else None
        )
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    def _reservation_on(self, connector_id: int | None) -> dict[str, Any] | None:
        for reservation in self.reservations.values():
            if reservation["connector_id"] == connector_id:
                return reservation
        return None

    @on(Action.remote_stop_transaction)
    async def on_remote_stop_transaction(
        self, transaction_id: int
    ) -> call_result.RemoteStopTransaction:
        for session in self.sessions.values():
            if session.transaction_id == transaction_id:
                session.stop_reason = Reason.remote
                session.stop_requested.set()
                return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)
        return call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected)

    # --- the other operations of the six feature profiles -------------------------------

    def _later(self, coroutine: Any) -> None:
        """Run after the answer has gone out (answers come before follow-up messages)."""

        async def delayed() -> None:
            await asyncio.sleep(0)
            await coroutine

        self._spawn(delayed())

    @on(Action.get_configuration)
    async def on_get_configuration(self, key: list[str] | None = None) -> Any:
        wanted = key or list(self.configuration)
        known = [k for k in wanted if k in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "readonly": self.configuration[k][1], "value": self.configuration[k][0]}
                for k in known
            ],
            unknown_key=[k for k in wanted if k not in self.configuration] or None,
        )

    @on(Action.change_configuration)
    async def on_change_configuration(self, key: str, value: str) -> Any:
        if key == "AuthorizationKey":
            self.authorization_key = value
            return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)
        if key not in self.configuration:
            return call_result.ChangeConfiguration(status=ConfigurationStatus.not_supported)
        current, readonly = self.configuration[key]
        if readonly or (current.isdigit() and not value.isdigit()):
            return call_result.ChangeConfiguration(status=ConfigurationStatus.rejected)
        self.configuration[key] = (value, False)
        return call_result.ChangeConfiguration(status=ConfigurationStatus.accepted)

    @on(Action.reset)
    async def on_reset(self, type: str) -> Any:
        self._later(self._reboot(Reason.hard_reset if type == "Hard" else Reason.soft_reset))
        return call_result.Reset(status=ResetStatus.accepted)

    async def _reboot(self, reason: Reason) -> None:
        running = list(self.sessions.values())
        for session in running:
            session.stop_reason = reason
            session.stop_requested.set()
        await asyncio.gather(*(s.task for s in running if s.task), return_exceptions=True)
        await self.boot()
        for connector_id in range(0, self.config.connectors + 1):
            await self.report_status(connector_id, ChargePointStatus.available)

    @on(Action.change_availability)
    async def on_change_availability(self, connector_id: int, type: str) -> Any:
        if connector_id != 0 and connector_id not in self.meters:
            return call_result.ChangeAvailability(status=AvailabilityStatus.rejected)
        targets = list(self.meters) if connector_id == 0 else [connector_id]
        if any(c in self.sessions for c in targets):
            return call_result.ChangeAvailability(status=AvailabilityStatus.scheduled)
        status = (
            ChargePointStatus.unavailable if type == "Inoperative" else ChargePointStatus.available
        )

        async def report() -> None:
            for target in [0, *targets] if connector_id == 0 else targets:
                await self.report_status(target, status)

        self._later(report())
        return call_result.ChangeAvailability(status=AvailabilityStatus.accepted)

    @on(Action.clear_cache)
    async def on_clear_cache(self) -> Any:
        return call_result.ClearCache(status=ClearCacheStatus.accepted)

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, connector_id: int) -> Any:
        if connector_id not in self.meters:
            return call_result.UnlockConnector(status=UnlockStatus.not_supported)
        session = self.sessions.get(connector_id)
        if session is not None:
            session.stop_reason = Reason.unlock_command
            session.stop_requested.set()
        return call_result.UnlockConnector(status=UnlockStatus.unlocked)

    @on(Action.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> Any:
        if vendor_id != "Voltaro":
            return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)
        if message_id != "echo":
            return call_result.DataTransfer(status=DataTransferStatus.unknown_message_id)
        return call_result.DataTransfer(status=DataTransferStatus.accepted, data=data)

    @on(Action.trigger_message)
    async def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> Any:
        if connector_id is not None and connector_id != 0 and connector_id not in self.meters:
            return call_result.TriggerMessage(status=TriggerMessageStatus.rejected)
        senders = {
            **self._triggered(connector_id),
            "DiagnosticsStatusNotification": lambda: self.call(
                call.DiagnosticsStatusNotification(status="Idle"), suppress=False
            ),
            "FirmwareStatusNotification": lambda: self.call(
                call.FirmwareStatusNotification(status="Idle"), suppress=False
            ),
        }
        sender = senders.get(requested_message)
        if sender is None:
            return call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented)
        self._later(sender())
        return call_result.TriggerMessage(status=TriggerMessageStatus.accepted)

    def _triggered(self, connector_id: int | None) -> dict[str, Any]:
        """What TriggerMessage and ExtendedTriggerMessage both may ask for."""
        return {
            "BootNotification": self.boot,
            "Heartbeat": lambda: self.call(call.Heartbeat(), suppress=False),
            "StatusNotification": lambda: self._report_statuses(connector_id),
            "MeterValues": lambda: self._send_meter_values(connector_id),
        }

    async def _report_statuses(self, connector_id: int | None) -> None:
        targets = [connector_id] if connector_id is not None else sorted(self.status)
        for target in targets:
            await self.report_status(target, self.status.get(target, ChargePointStatus.available))

    async def _send_meter_values(self, connector_id: int | None) -> None:
        for target in [connector_id] if connector_id else sorted(self.meters):
            await self.call(self._meter_values(target, "Trigger"), suppress=False)

    @on(Action.reserve_now)
    async def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
    ) -> Any:
        if connector_id not in self.meters:
            return call_result.ReserveNow(status=ReservationStatus.rejected)
        existing = self._reservation_on(connector_id)
        if existing is not None and existing["reservation_id"] != reservation_id:
            return call_result.ReserveNow(status=ReservationStatus.occupied)
        if connector_id in self.sessions:
            return call_result.ReserveNow(status=ReservationStatus.occupied)
        if self.status.get(connector_id) == ChargePointStatus.faulted:
            return call_result.ReserveNow(status=ReservationStatus.faulted)
        if self.status.get(connector_id) == ChargePointStatus.unavailable:
            return call_result.ReserveNow(status=ReservationStatus.unavailable)
        self.reservations[reservation_id] = {
            "reservation_id": reservation_id,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "expiry_date": expiry_date,
        }
        self._later(self.report_status(connector_id, ChargePointStatus.reserved))
        self._spawn(self._expire(reservation_id, expiry_date))
        return call_result.ReserveNow(status=ReservationStatus.accepted)

    async def _expire(self, reservation_id: int, expiry_date: str) -> None:
        delay = (parse_datetime(expiry_date) - utcnow()).total_seconds()
        await asyncio.sleep(max(delay, 0))
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is not None and reservation["connector_id"] not in self.sessions:
            await self.report_status(reservation["connector_id"], ChargePointStatus.available)

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int) -> Any:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is None:
            return call_result.CancelReservation(status=CancelReservationStatus.rejected)
        self._later(self.report_status(reservation["connector_id"], ChargePointStatus.available))
        return call_result.CancelReservation(status=CancelReservationStatus.accepted)

    @on(Action.send_local_list)
    async def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
    ) -> Any:
        entries = local_authorization_list or []
        if update_type == "Differential":
            if list_version <= self.local_list_version:
                return call_result.SendLocalList(status=UpdateStatus.version_mismatch)
            for entry in entries:
                if entry.get("id_tag_info") is None:
                    self.local_list.pop(entry["id_tag"], None)
                else:
                    self.local_list[entry["id_tag"]] = entry["id_tag_info"]
        else:
            self.local_list = {e["id_tag"]: e["id_tag_info"] for e in entries}
        self.local_list_version = list_version
        return call_result.SendLocalList(status=UpdateStatus.accepted)

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self) -> Any:
        return call_result.GetLocalListVersion(list_version=self.local_list_version)

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any]
    ) -> Any:
        profile = cs_charging_profiles
        purpose = profile["charging_profile_purpose"]
        if connector_id != 0 and connector_id not in self.meters:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
        if purpose == "TxProfile" and connector_id not in self.sessions:
            return call_result.SetChargingProfile(status=ChargingProfileStatus.rejected)
        self.profiles = [
            p
            for p in self.profiles
            if p["profile"]["charging_profile_id"] != profile["charging_profile_id"]
            and not (
                p["connector_id"] == connector_id
                and p["profile"]["stack_level"] == profile["stack_level"]
                and p["profile"]["charging_profile_purpose"] == purpose
            )
        ]
        # The library hands limits over as Decimal (for multipleOf checks); keep plain floats.
        plain = json.loads(json.dumps(profile, default=float))
        self.profiles.append({"connector_id": connector_id, "profile": plain})
        return call_result.SetChargingProfile(status=ChargingProfileStatus.accepted)

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(
        self,
        id: int | None = None,
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
    ) -> Any:
        def matches(p: dict[str, Any]) -> bool:
            profile = p["profile"]
            if id is not None:
                return profile["charging_profile_id"] == id
            return (
                (connector_id is None or p["connector_id"] == connector_id)
                and (
                    charging_profile_purpose is None
                    or profile["charging_profile_purpose"] == charging_profile_purpose
                )
                and (stack_level is None or profile["stack_level"] == stack_level)
            )

        kept = [p for p in self.profiles if not matches(p)]
        if len(kept) == len(self.profiles):
            return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.unknown)
        self.profiles = kept
        return call_result.ClearChargingProfile(status=ClearChargingProfileStatus.accepted)

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None
    ) -> Any:
        if connector_id != 0 and connector_id not in self.meters:
            return call_result.GetCompositeSchedule(status=GetCompositeScheduleStatus.rejected)
        relevant = [p for p in self.profiles if p["connector_id"] in (0, connector_id)]
        unit = charging_rate_unit or "W"
        if relevant:
            top = max(relevant, key=lambda p: p["profile"]["stack_level"])["profile"]
            periods = top["charging_schedule"]["charging_schedule_period"]
            unit = charging_rate_unit or top["charging_schedule"]["charging_rate_unit"]
        else:
            periods = [{"start_period": 0, "limit": self.config.power_w}]
        return call_result.GetCompositeSchedule(
            status=GetCompositeScheduleStatus.accepted,
            connector_id=connector_id,
            schedule_start=format_datetime(utcnow()),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": unit,
                "charging_schedule_period": periods,
            },
        )

    @on(Action.get_diagnostics)
    async def on_get_diagnostics(self, location: str, **_: Any) -> Any:
        file_name = f"diagnostics-{self.id}.log"

        async def upload() -> None:
            for status in ("Uploading", "Uploaded"):
                await asyncio.sleep(self.config.notification_delay)
                await self.call(call.DiagnosticsStatusNotification(status=status), suppress=False)

        self._later(upload())
        return call_result.GetDiagnostics(file_name=file_name)

    @on(Action.update_firmware)
    async def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        async def update() -> None:
            delay = (parse_datetime(retrieve_date) - utcnow()).total_seconds()
            await asyncio.sleep(max(delay, 0))
            for status in ("Downloading", "Downloaded", "Installing", "Installed"):
                await asyncio.sleep(self.config.notification_delay)
                await self.call(call.FirmwareStatusNotification(status=status), suppress=False)
            self.firmware_version = location.rstrip("/").rsplit("/", 1)[-1] or "updated"
            await self._reboot(Reason.reboot)

        self._later(update())
        return call_result.UpdateFirmware()

    # --- the OCPP 1.6 security extension (Security Whitepaper ed. 3) ----------------------

    @on(Action.extended_trigger_message)
    async def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None
    ) -> Any:
        if connector_id is not None and connector_id != 0 and connector_id not in self.meters:
            return call_result.ExtendedTriggerMessage(status=TriggerMessageStatus.rejected)
        senders = {
            **self._triggered(connector_id),
            # Its signed counterparts, with no request running.
            "FirmwareStatusNotification": lambda: self.call(
                call.SignedFirmwareStatusNotification(status="Idle", request_id=None),
                suppress=False,
            ),
            "LogStatusNotification": lambda: self.call(
                call.LogStatusNotification(status="Idle", request_id=None), suppress=False
            ),
            "SignChargePointCertificate": self.sign_certificate,
        }
        sender = senders.get(requested_message)
        if sender is None:
            return call_result.ExtendedTriggerMessage(status=TriggerMessageStatus.not_implemented)
        self._later(sender())
        return call_result.ExtendedTriggerMessage(status=TriggerMessageStatus.accepted)

    async def sign_certificate(self) -> str:
        """Ask for a certificate of its own: SignCertificate with the CSR of a new key whose
        CN is its serial number, for TLS client authentication. The certificate comes
        later, in CertificateSigned. Returns the central system's answer."""
        key, pem = signing_request(self.config.vendor, self.serial_number)
        self._csr_key = key  # before the CALL: CertificateSigned may follow the answer at once
        answer = await self.call(call.SignCertificate(csr=pem), suppress=False)
        LOGGER.info("%s: SignCertificate %s", self.id, answer.status)
        return answer.status

    @on(Action.certificate_signed)
    async def on_certificate_signed(self, certificate_chain: str) -> Any:
        key = self._csr_key
        if not chain_for_key(certificate_chain, key):
            # Not PEM, or not for the key it asked for: of no use to it.
            return call_result.CertificateSigned(status=CertificateSignedStatus.rejected)
        self.certificate_chain = certificate_chain
        self.certificate_key, self._csr_key = key, None
        return call_result.CertificateSigned(status=CertificateSignedStatus.accepted)

    @on(Action.install_certificate)
    async def on_install_certificate(self, certificate_type: str, certificate: str) -> Any:
        try:
            parsed = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            return call_result.InstallCertificate(status=CertificateStatus.rejected)
        issuer = issuer_among(parsed, self.installed_certificates)
        if issuer is None:
            # Neither a root nor issued by one it holds: it could never check a chain to it.
            return call_result.InstallCertificate(status=CertificateStatus.rejected)
        installed = InstalledCertificate(certificate_type, parsed, issuer)
        if installed not in self.installed_certificates:
            self.installed_certificates.append(installed)
        return call_result.InstallCertificate(status=CertificateStatus.accepted)

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(self, certificate_type: str) -> Any:
        held = [c for c in self.installed_certificates if c.certificate_type == certificate_type]
        if not held:
            return call_result.GetInstalledCertificateIds(
                status=GetInstalledCertificateStatus.not_found
            )
        return call_result.GetInstalledCertificateIds(
            status=GetInstalledCertificateStatus.accepted,
            certificate_hash_data=[c.hash_data() for c in held],
        )

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, certificate_hash_data: dict[str, Any]) -> Any:
        algorithm = certificate_hash_data["hash_algorithm"]
        for installed in self.installed_certificates:
            if same_certificate(installed.hash_data(algorithm), certificate_hash_data):
                self.installed_certificates.remove(installed)
                return call_result.DeleteCertificate(status=DeleteCertificateStatus.accepted)
        return call_result.DeleteCertificate(status=DeleteCertificateStatus.not_found)

    @on(Action.signed_update_firmware)
    async def on_signed_update_firmware(
        self, request_id: int, firmware: dict[str, Any], **_: Any
    ) -> Any:
        try:
            x509.load_pem_x509_certificate(firmware["signing_certificate"].encode())
        except ValueError:
            return call_result.SignedUpdateFirmware(status=UpdateFirmwareStatus.invalid_certificate)

        async def update() -> None:
            delay = (parse_datetime(firmware["retrieve_date_time"]) - utcnow()).total_seconds()
            await asyncio.sleep(max(delay, 0))
            for status in ("Downloading", "Downloaded", "Installing", "Installed"):
                await asyncio.sleep(self.config.notification_delay)
                await self.call(
                    call.SignedFirmwareStatusNotification(status=status, request_id=request_id),
                    suppress=False,
                )
            location = firmware["location"]
            self.firmware_version = location.rstrip("/").rsplit("/", 1)[-1] or "updated"
            await self._reboot(Reason.reboot)

        self._later(update())
        return call_result.SignedUpdateFirmware(status=UpdateFirmwareStatus.accepted)
