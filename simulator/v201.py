"""A simulated OCPP 2.0.1 charging station, on the `ocpp` library's client side.

It boots (PowerUp, or why it rebooted; waiting out Pending), reports every connector of
every EVSE, heartbeats, runs transactions as TransactionEvent Started / Updated / Ended
with meter values, and answers what a CSMS may ask: remote start and stop, resets that
really reboot, availability, triggers, its device model (GetVariables, SetVariables,
reports, monitoring), smart charging, reservations, local authorisation, firmware and log
uploads, display messages, customer information and certificates.

Transport-agnostic: give it anything with `recv()` and `send()` (and `close()`, for a
reset to reconnect). Run by a runner that reconnects (`reconnects=True`), it is one
station across connections: its device model, meters, password and open transactions
survive a lost link (transaction events wait for the link and are sent on it), and a
reset closes the connection for the runner to open a new one (`run()` returns True).
Otherwise its life is one connection, and a reset reboots it on that connection.

Frames are sent with the library's `call` dataclasses and checked against its 2.0.1
schemas both ways. `ocpp.messages.ASYNC_VALIDATION` is left as the process has it, as
the 1.6 simulator leaves it: answers go out before the messages that follow them (see
`route_message`) and transaction events in order, however validation is scheduled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from ocpp.exceptions import OccurenceConstraintViolationError, OCPPError, ValidationError
from ocpp.routing import on
from ocpp.v201 import ChargePoint as LibraryChargePoint
from ocpp.v201 import call, call_result
from ocpp.v201.enums import Action

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
from simulator.device_model import Station, Variable, standard_model

LOGGER = logging.getLogger(__name__)
# The library logs every frame at INFO through the logger it is given; keep that apart.
FRAME_LOGGER = logging.getLogger(__name__ + ".frames")
FRAME_LOGGER.setLevel(logging.WARNING)

# Variables per NotifyReport (and entries per other reports sent in parts).
REPORT_PART = 10
VOLTAGE = 230.0
PHASES = 3
# NotifyCustomerInformation data maxLength.
CUSTOMER_DATA_CHARS = 512
# What a triggered MeterValues reports: everything it measures.
MEASURED = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"
# The only vendor whose DataTransfer it knows: Voltaro's echo.
VENDOR_ID = "Voltaro"

Factory = Callable[[], Coroutine[Any, Any, Any]]


def now() -> str:
    return format_datetime(datetime.now(UTC)) or ""


def _info(reason: str, additional: str | None = None) -> dict[str, str]:
    info = {"reason_code": reason}
    if additional:
        info["additional_info"] = additional
    return info


def _parts(items: list[Any], size: int = REPORT_PART) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


@dataclass
class Transaction:
    evse_id: int
    id_token: dict[str, Any]  # IdTokenType
    transaction_id: str
    trigger: str  # what started it: Authorized (local) or RemoteStart
    remote_start_id: int | None = None
    group_id_token: dict[str, Any] | None = None
    reservation_id: int | None = None
    profile: dict[str, Any] | None = None  # TxProfile given with RequestStartTransaction
    seq_no: int = 0
    charging_state: str = "EVConnected"
    started: bool = False  # Started was sent
    charging_since: float | None = None  # loop time
    time_spent_charging: float = 0.0
    total_cost: float | None = None
    stop_trigger: str | None = None
    stop_reason: str | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[Any] | None = None

    def request_stop(self, trigger: str, reason: str) -> None:
        if not self.stopping.is_set():
            self.stop_trigger, self.stop_reason = trigger, reason
            self.stopping.set()


@dataclass
class Job:
    """A firmware update or log upload, and the status it last reported."""

    request_id: int
    status: str = "Idle"
    active: bool = True  # asked for and not finished (nor replaced)
    task: asyncio.Task[Any] | None = None

    def cancel(self) -> None:
        self.active = False
        if self.task is not None:
            self.task.cancel()

    async def run(self, work: Coroutine[Any, Any, Any]) -> None:
        """Do `work` as this job, unless it was replaced before it began."""
        if not self.active:
            work.close()
            return
        self.task = asyncio.current_task()
        try:
            await work
        finally:
            self.active, self.task = False, None


class SimulatedChargingStation(LibraryChargePoint):
    def __init__(
        self,
        station_id: str,
        connection: Any,
        config: SimulatorConfig,
        *,
        reconnects: bool = False,
        seed: int | str | None = None,
        security_profile: int = 1,
    ) -> None:
        super().__init__(station_id, connection, response_timeout=30, logger=FRAME_LOGGER)
        self.config = config
        self.reconnects = reconnects
        # Seeded by its id unless told otherwise: the same station plays the same way.
        self.rng = random.Random(station_id if seed is None else seed)
        self.evses = list(range(1, config.connectors + 1))
        self.serial_number = f"{station_id}-SN"[:25]  # serialNumber maxLength
        self.firmware_version = config.firmware_version
        self.model = standard_model(
            Station(
                vendor=config.vendor,
                model=config.model[:20],
                serial_number=self.serial_number,
                identity=station_id,
                evses=len(self.evses),
                power_w=config.power_w,
                heartbeat_interval=300,
                tx_updated_interval=max(1, round(config.meter_interval)),
                security_profile=security_profile,
            )
        )
        # Energy register per EVSE, in Wh, starting where a real meter might.
        self.meters = {e: float(self.rng.randint(1_000, 100_000)) for e in self.evses}
        self.power = dict.fromkeys(self.evses, 0.0)  # W drawn now
        self._sampled_at: dict[int, float] = {}
        self.status: dict[int, str] = {}  # per EVSE (each has connector 1)
        self.plugged: set[int] = set()  # EVSEs with an EV plugged in
        self.transactions: dict[int, Transaction] = {}  # by EVSE
        self.idle = asyncio.Event()  # no transaction on any EVSE
        self.idle.set()
        self.inoperative: set[int] = set()  # EVSEs set Inoperative
        self._resetting: set[int] = set()  # EVSEs restarting (Reset with an evseId)
        self.station_inoperative = False
        self._scheduled_availability: dict[int | None, str] = {}  # EVSE (None: all)
        self._scheduled_reset: tuple[int | None, str] | None = None  # (EVSE, type)
        self.reservations: dict[int, dict[str, Any]] = {}  # by id
        self.local_list_version = 0
        self.local_list: dict[tuple[str, str], dict[str, Any]] = {}  # (idToken, type)
        self.auth_cache: dict[tuple[str, str], dict[str, Any]] = {}
        self.profiles: list[tuple[int, dict[str, Any]]] = []  # (EVSE, ChargingProfileType)
        self.display_messages: dict[int, dict[str, Any]] = {}
        self.network_profiles: dict[int, dict[str, Any]] = {}
        self.installed_certificates: list[InstalledCertificate] = []
        # Its own certificates by use (ChargingStationCertificate, V2GCertificate) and
        # the keys of the CSRs it asked with.
        self.certificate_chains: dict[str, str] = {}
        self.certificate_keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._csr_keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.firmware: Job | None = None
        self.log_upload: Job | None = None
        self.registration: str | None = None  # the last BootNotification answer
        self._boot_reason: str | None = "PowerUp"  # None once a boot was accepted
        self.boot_reasons: list[str] = []  # every BootNotification's reason, in order
        self.booted = asyncio.Event()  # boot accepted and statuses reported
        self._registered = asyncio.Event()
        self._link_up = False
        self._reboot_requested = asyncio.Event()
        self._tx_order = asyncio.Lock()  # transaction events: one at a time, in order
        self._event_id = 0
        self._followups: list[tuple[Factory, bool]] = []
        self._link_tasks: set[asyncio.Task[Any]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._heartbeat: asyncio.Task[Any] | None = None
        self._local_sessions: asyncio.Task[Any] | None = None

    @property
    def basic_auth_password(self) -> str | None:
        """The password the CSMS set (SecurityCtrlr.BasicAuthPassword), for the next connect."""
        return self.model.value("SecurityCtrlr", "BasicAuthPassword") or None

    def setting(self, component: str, name: str, **where: Any) -> str:
        return self.model.value(component, name, **where)

    # --- lifecycle ----------------------------------------------------------------------

    def reconnect(self, connection: Any) -> None:
        """Serve a new connection (after a lost link or a reboot): the library's pending
        answers and its CALL lock belonged to the old one."""
        self._connection = connection
        self._response_queue: asyncio.Queue[Any] = asyncio.Queue()
        self._call_lock = asyncio.Lock()

    async def run(self) -> bool:
        """Serve the connection until it closes. True when the station closed it itself to
        reboot: the runner reconnects at once (with `reconnect`) and runs it again. A
        lost link raises what the connection raised."""
        self._reboot_requested.clear()
        self._link_up = True
        receiver = asyncio.create_task(self.start())
        # Its error is the lost link, re-raised below unless the station closed it itself.
        receiver.add_done_callback(lambda task: task.cancelled() or task.exception())
        self._link(self._come_online)
        rebooting = asyncio.create_task(self._reboot_requested.wait())
        try:
            await asyncio.wait({receiver, rebooting}, return_when=asyncio.FIRST_COMPLETED)
            if self._reboot_requested.is_set():
                await self._close_connection()
                return True
            receiver.result()  # re-raises the connection's error
            return False
        finally:
            self._link_up = False
            self.booted.clear()
            receiver.cancel()
            rebooting.cancel()
            for task in list(self._link_tasks):
                task.cancel()
            if not self.reconnects:
                self.close()

    def close(self) -> None:
        """The station is switched off: everything it was doing stops."""
        for task in [*self._link_tasks, *self._tasks]:
            task.cancel()

    async def _close_connection(self) -> None:
        close = getattr(self._connection, "close", None)
        if close is not None:
            await close()

    async def route_message(self, raw_msg: str) -> None:
        try:
            await super().route_message(raw_msg)
        except Exception:
            # A fault in one handler must not end the whole simulated station.
            LOGGER.exception("%s: could not handle %s", self.id, raw_msg[:200])
        # The answer is on the wire now: what it promised may follow.
        followups, self._followups = self._followups, []
        for factory, lasting in followups:
            (self._spawn if lasting else self._link)(factory)

    def _after_answer(self, factory: Factory, *, lasting: bool = False) -> None:
        """Run `factory()` once the answer to the request being handled has gone out; a
        `lasting` one outlives the connection (a transaction, a firmware update)."""
        self._followups.append((factory, lasting))

    def _spawn(self, factory: Factory) -> asyncio.Task[Any]:
        return self._track(asyncio.create_task(factory()), self._tasks)

    def _link(self, factory: Factory) -> asyncio.Task[Any]:
        return self._track(asyncio.create_task(factory()), self._link_tasks)

    def _track(self, task: asyncio.Task[Any], tasks: set[asyncio.Task[Any]]) -> asyncio.Task[Any]:
        tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                LOGGER.error("%s: %r", self.id, task.exception())

        task.add_done_callback(done)
        return task

    async def _come_online(self) -> None:
        if self._boot_reason is not None:
            await self._boot()
        for evse in self.evses:
            await self._report_status(evse, force=True)
        self.booted.set()
        self._restart_heartbeat()
        if self.config.session_every and self._local_sessions is None:
            self._local_sessions = self._spawn(self._local_session_loop)

    async def _boot(self) -> None:
        """BootNotification until Accepted, waiting out Pending or Rejected as told (or
        until a triggered BootNotification is accepted meanwhile)."""
        assert self._boot_reason is not None
        while not self._registered.is_set():
            interval = await self._send_boot(self._boot_reason)
            if self._registered.is_set():
                return
            try:
                await asyncio.wait_for(self._registered.wait(), max(interval, 1))
            except TimeoutError:
                pass

    async def _send_boot(self, reason: str) -> int:
        self.boot_reasons.append(reason)
        answer = await self.call(
            call.BootNotification(
                charging_station={
                    "model": self.config.model[:20],
                    "vendor_name": self.config.vendor[:50],
                    "serial_number": self.serial_number,
                    "firmware_version": self.firmware_version[:50],
                },
                reason=reason,
            ),
            suppress=False,
        )
        self.registration = answer.status
        if answer.status == "Accepted":
            if answer.interval > 0:
                self._notify(
                    self.model.update("OCPPCommCtrlr", "HeartbeatInterval", str(answer.interval))
                )
            self._boot_reason = None
            self._registered.set()
            LOGGER.info("%s: boot accepted, heartbeat every %ss", self.id, answer.interval)
        else:
            LOGGER.info("%s: boot %s, again in %ss", self.id, answer.status, answer.interval)
        return answer.interval

    @property
    def online(self) -> bool:
        """Connected, registered and its statuses reported (cleared when the link drops)."""
        return self.booted.is_set()

    def _restart_heartbeat(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._heartbeat = self._link(self._heartbeat_loop) if self._link_up else None

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(int(self.setting("OCPPCommCtrlr", "HeartbeatInterval")))
            await self.call(call.Heartbeat(), suppress=False)

    async def _reboot(self, reason: str) -> None:
        """End every transaction, then boot again with `reason`: on a new connection when
        the runner reconnects, else on this one."""
        running = list(self.transactions.values())
        for tx in running:
            tx.request_stop("ResetCommand", "ImmediateReset")
        await asyncio.gather(*(tx.task for tx in running if tx.task), return_exceptions=True)
        self._scheduled_reset = None
        self._boot_reason = reason
        self._registered.clear()
        self.booted.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self.reconnects and getattr(self._connection, "close", None) is not None:
            self._reboot_requested.set()  # run() closes the connection and returns
            return
        await self._come_online()

    async def _wait_online(self) -> None:
        await self.booted.wait()

    async def _deliver(self, payload: Any, *, transactional: bool = False) -> Any:
        """CALL once online. A transaction event is retried over a lost link and after
        timeouts (MessageAttempts); anything else is sent once."""
        attempts = 0
        while True:
            await self._wait_online()
            try:
                return await self.call(payload, suppress=False)
            except (OCPPError, ValidationError):
                raise  # the CSMS answered with an error, or the frame is invalid
            except Exception:
                attempts += 1
                limit = int(
                    self.setting("OCPPCommCtrlr", "MessageAttempts", instance="TransactionEvent")
                )
                if not transactional or (self.online and attempts >= limit):
                    raise
                await asyncio.sleep(1)

    # --- statuses and meters --------------------------------------------------------------

    def _status_of(self, evse: int) -> str:
        if evse in self.plugged or evse in self.transactions:
            return "Occupied"
        if self.station_inoperative or evse in self.inoperative | self._resetting:
            return "Unavailable"
        if self._reservation_on(evse) is not None:
            return "Reserved"
        return "Available"

    async def _report_status(self, evse: int, *, force: bool = False) -> None:
        status = self._status_of(evse)
        if self.status.get(evse) != status:
            self.status[evse] = status
            self._notify(
                self.model.update("EVSE", "AvailabilityState", status, evse=evse)
                + self.model.update(
                    "Connector", "AvailabilityState", status, evse=evse, connector=1
                )
            )
        elif not force:
            return
        if not (self._link_up and self._registered.is_set()):
            return  # reported once the station is back (see _come_online)
        await self.call(
            call.StatusNotification(
                timestamp=now(), connector_status=status, evse_id=evse, connector_id=1
            ),
            suppress=False,
        )

    async def _report_statuses(self, evses: list[int]) -> None:
        for evse in evses:
            await self._report_status(evse, force=True)

    def _advance(self, evse: int) -> None:
        """Bring the energy register up to now at the power drawn since the last sample."""
        loop_now = asyncio.get_running_loop().time()
        last = self._sampled_at.get(evse, loop_now)
        self.meters[evse] += (
            self.power[evse] * (loop_now - last) / 3600 * self.config.energy_speedup
        )
        self._sampled_at[evse] = loop_now

    def _set_power(self, evse: int, watts: float) -> None:
        self._advance(evse)
        self.power[evse] = watts
        self._notify(self.model.update("EVSE", "Power", f"{watts:.0f}", evse=evse))

    def _sampled(self, evse: int, context: str, measurands: str) -> list[dict[str, Any]]:
        """MeterValueType entries: the measurands asked for, as measured now."""
        self._advance(evse)
        power = self.power[evse]
        wanted = measurands.split(",") if measurands else []
        values: list[dict[str, Any]] = []
        if "Energy.Active.Import.Register" in wanted:
            values.append(
                {
                    "value": round(self.meters[evse], 1),
                    "context": context,
                    "measurand": "Energy.Active.Import.Register",
                    "location": "Outlet",
                    "unit_of_measure": {"unit": "Wh"},
                }
            )
        if "Power.Active.Import" in wanted:
            values.append(
                {
                    "value": round(power),
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "unit_of_measure": {"unit": "W"},
                }
            )
        if "Current.Import" in wanted:
            values += [
                {
                    "value": round(power / VOLTAGE / PHASES, 1),
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "unit_of_measure": {"unit": "A"},
                }
                for phase in ("L1", "L2", "L3")
            ]
        if "Voltage" in wanted:
            values.append(
                {
                    "value": VOLTAGE,
                    "context": context,
                    "measurand": "Voltage",
                    "phase": "L1-N",
                    "unit_of_measure": {"unit": "V"},
                }
            )
        return [{"timestamp": now(), "sampled_value": values}] if values else []

    def _notify(self, events: list[dict[str, Any]]) -> None:
        """NotifyEvent for what the monitors saw, sent aside (callers do not wait)."""
        if not events:
            return
        data = []
        for event in events:
            self._event_id += 1
            data.append({"event_id": self._event_id, "timestamp": now(), **event})

        async def send() -> None:
            await self._deliver(call.NotifyEvent(generated_at=now(), seq_no=0, event_data=data))

        self._spawn(send)

    # --- transactions -------------------------------------------------------------------

    def _new_transaction_id(self) -> str:
        # A version-4 UUID, from its seeded random: the same station plays the same ids.
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _free(
        self,
        evse: int,
        id_token: dict[str, Any] | None = None,
        group_id_token: dict[str, Any] | None = None,
    ) -> bool:
        """Whether a session may start on `evse` (for `id_token`, which may hold its
        reservation)."""
        if evse not in self.evses or evse in self.transactions or evse in self.plugged:
            return False
        if self.station_inoperative or evse in self.inoperative | self._resetting:
            return False
        if self._scheduled_reset is not None and self._scheduled_reset[0] in (None, evse):
            return False  # it is to reset once idle: no new session meanwhile
        reservation = self._reservation_on(evse)
        return reservation is None or (
            id_token is not None and self._holds(reservation, id_token, group_id_token)
        )

    def _claim(self, tx: Transaction) -> None:
        self.transactions[tx.evse_id] = tx
        self.idle.clear()

    def _begin(self, tx: Transaction, *, authorize: bool, local: bool) -> None:
        self._claim(tx)
        reservation = self._reservation_on(tx.evse_id)
        if reservation is not None and self._holds(reservation, tx.id_token, tx.group_id_token):
            tx.reservation_id = reservation["id"]
            del self.reservations[reservation["id"]]
        tx.task = self._spawn(lambda: self._run_transaction(tx, authorize=authorize, local=local))

    async def _authorize(self, id_token: dict[str, Any]) -> str:
        key = (id_token["id_token"], id_token["type"])
        if self.setting("AuthCtrlr", "LocalPreAuthorize") == "true":
            known = self.local_list.get(key) or self.auth_cache.get(key)
            if known is not None and known["status"] == "Accepted":
                return "Accepted"  # no need to ask the CSMS
        answer = await self._deliver(call.Authorize(id_token=id_token))
        if self.setting("AuthCacheCtrlr", "Enabled") == "true":
            self.auth_cache[key] = answer.id_token_info
        return answer.id_token_info["status"]

    async def _run_transaction(self, tx: Transaction, *, authorize: bool, local: bool) -> None:
        evse = tx.evse_id
        try:
            await self._transaction(tx, authorize=authorize, local=local)
        except Exception:
            LOGGER.exception("%s: transaction %s failed", self.id, tx.transaction_id)
        finally:
            self._stop_charging(tx)
            self.plugged.discard(evse)  # the EV leaves
            self.transactions.pop(evse, None)
            if not self.transactions:
                self.idle.set()
            for message_id, message in list(self.display_messages.items()):
                if message.get("transaction_id") == tx.transaction_id:
                    del self.display_messages[message_id]
        await self._report_status(evse)
        await self._apply_scheduled(evse)

    async def _transaction(self, tx: Transaction, *, authorize: bool, local: bool) -> None:
        """Plug in, authorise if asked to, Started once the power path is closed, charge
        with periodic meter values until stopped, Ended (the EV leaves afterwards)."""
        self.plugged.add(tx.evse_id)
        await self._report_status(tx.evse_id)
        if authorize:
            status = await self._authorize(tx.id_token)
            if status != "Accepted":
                if local:
                    hint = refused_tag_hint(tx.id_token["id_token"], status)
                    LOGGER.warning("%s: %s", self.id, hint)
                return
        answer = await self._event(
            tx, "Started", tx.trigger, "Transaction.Begin", "TxStartedMeasurands"
        )
        refused = (answer.id_token_info or {}).get("status", "Accepted") != "Accepted"
        meter: asyncio.Task[Any] | None = None
        if refused and self.setting("TxCtrlr", "StopTxOnInvalidId") == "true":
            tx.request_stop("Deauthorized", "DeAuthorized")
        else:
            self._set_power(tx.evse_id, self._power_limit(tx.evse_id))
            tx.charging_state = "Charging"
            tx.charging_since = asyncio.get_running_loop().time()
            await self._event(tx, "Updated", "ChargingStateChanged")
            meter = asyncio.create_task(self._meter_loop(tx))
        try:
            await tx.stopping.wait()
            if meter is not None:
                await meter  # it ends at once, after any sample it is sending
        finally:
            if meter is not None:
                meter.cancel()
        self._stop_charging(tx)
        trigger, reason = tx.stop_trigger or "AbnormalCondition", tx.stop_reason or "Other"
        tx.charging_state = "EVConnected"
        if trigger == "StopAuthorized" and "Authorized" not in self.setting(
            "TxCtrlr", "TxStopPoint"
        ).split(","):
            # Not a stop point: the transaction lasts until the EV leaves.
            await self._event(tx, "Updated", "StopAuthorized")
            trigger, reason = "EVDeparted", "EVDisconnected"
        if trigger == "EVDeparted":
            tx.charging_state = "Idle"
        await self._event(
            tx, "Ended", trigger, "Transaction.End", "TxEndedMeasurands", stopped_reason=reason
        )

    def _stop_charging(self, tx: Transaction) -> None:
        if tx.charging_since is not None:
            tx.time_spent_charging += asyncio.get_running_loop().time() - tx.charging_since
            tx.charging_since = None
        if self.power[tx.evse_id]:
            self._set_power(tx.evse_id, 0.0)

    async def _meter_loop(self, tx: Transaction) -> None:
        while True:
            interval = int(self.setting("SampledDataCtrlr", "TxUpdatedInterval"))
            try:
                # 0: no periodic samples; look again now and then, it may be set.
                await asyncio.wait_for(tx.stopping.wait(), interval or 5)
                return
            except TimeoutError:
                pass
            if interval:
                self._set_power(tx.evse_id, self._power_limit(tx.evse_id))
                await self._event(
                    tx, "Updated", "MeterValuePeriodic", "Sample.Periodic", "TxUpdatedMeasurands"
                )

    async def _event(
        self,
        tx: Transaction,
        event_type: str,
        trigger: str,
        context: str | None = None,
        measurands: str | None = None,
        *,
        stopped_reason: str | None = None,
    ) -> call_result.TransactionEvent:
        """Send a TransactionEvent of `tx`: seqNo in the order sent, evse and idToken on the
        first, meter values of `context` (the SampledDataCtrlr variable `measurands`)."""
        async with self._tx_order:
            first = not tx.started
            info: dict[str, Any] = {
                "transaction_id": tx.transaction_id,
                "charging_state": tx.charging_state,
            }
            spent = tx.time_spent_charging
            if tx.charging_since is not None:
                spent += asyncio.get_running_loop().time() - tx.charging_since
            if spent:
                info["time_spent_charging"] = int(spent)
            if stopped_reason is not None:
                info["stopped_reason"] = stopped_reason
            if first and tx.remote_start_id is not None:
                info["remote_start_id"] = tx.remote_start_id
            event = call.TransactionEvent(
                event_type=event_type,
                timestamp=now(),
                trigger_reason=trigger,
                seq_no=tx.seq_no,
                transaction_info=info,
                meter_value=(
                    self._sampled(tx.evse_id, context, self.setting("SampledDataCtrlr", measurands))
                    if context and measurands
                    else None
                )
                or None,
                offline=True if not self.online else None,
                reservation_id=tx.reservation_id if first else None,
                evse={"id": tx.evse_id, "connector_id": 1} if first else None,
                id_token=(
                    tx.id_token if first or trigger in ("StopAuthorized", "Deauthorized") else None
                ),
            )
            tx.seq_no += 1
            tx.started = True
            answer = await self._deliver(event, transactional=True)
        if answer.total_cost is not None:
            tx.total_cost = answer.total_cost
        return answer

    def _power_limit(self, evse: int) -> float:
        """The power it may draw now: its maximum, or less as the charging profiles in
        force say (their first period: the simulator's schedules do not advance)."""
        limits = [self.config.power_w, *map(self._power_of, self._profiles_in_force(evse))]
        return max(min(limits), 0.0)

    def _profiles_in_force(self, evse: int) -> list[dict[str, Any]]:
        """The station maximum, and the transaction's own profile or else the default one
        with the highest stack level (EVSE-specific before station-wide)."""
        tx = self.transactions.get(evse)
        held = [(target, p) for target, p in self.profiles if target in (0, evse)]

        def of(purpose: str) -> list[tuple[int, dict[str, Any]]]:
            return [(t, p) for t, p in held if p["charging_profile_purpose"] == purpose]

        maxima = of("ChargingStationMaxProfile")
        chosen = [max(maxima, key=lambda tp: tp[1]["stack_level"])[1]] if maxima else []
        tx_profiles = [
            p
            for _, p in of("TxProfile")
            if tx is not None and p.get("transaction_id") in (None, tx.transaction_id)
        ]
        if tx is not None and tx.profile is not None:
            tx_profiles.append(tx.profile)
        if tx_profiles:
            chosen.append(max(tx_profiles, key=lambda p: p["stack_level"]))
        elif of("TxDefaultProfile"):
            chosen.append(
                max(of("TxDefaultProfile"), key=lambda tp: (tp[0], tp[1]["stack_level"]))[1]
            )
        return chosen

    async def _local_session_loop(self) -> None:
        """The simulated drivers: now and then one plugs in, shows a card, charges for a
        while and ends by card or by unplugging."""
        assert self.config.session_every is not None
        id_token = {"id_token": self.config.id_tag, "type": "ISO14443"}
        while True:
            await asyncio.sleep(self.config.session_every * self.rng.uniform(0.5, 1.5))
            await self._wait_online()
            free = [e for e in self.evses if self._free(e, id_token)]
            if not free:
                continue
            tx = Transaction(
                self.rng.choice(free), dict(id_token), self._new_transaction_id(), "Authorized"
            )
            self._begin(tx, authorize=True, local=True)
            by_card = self.rng.random() < 0.5
            self._spawn(functools.partial(self._driver_stops, tx, by_card))

    async def _driver_stops(self, tx: Transaction, by_card: bool) -> None:
        await asyncio.sleep(self.config.session_length)
        if by_card:
            tx.request_stop("StopAuthorized", "Local")
        else:
            tx.request_stop("EVDeparted", "EVDisconnected")

    async def _apply_scheduled(self, evse: int) -> None:
        """What waited for the EVSE to be free: an availability change, a reset."""
        if evse in self._scheduled_availability:
            self._set_availability(evse, self._scheduled_availability.pop(evse))
            await self._report_status(evse)
        if None in self._scheduled_availability and not self.transactions:
            self._set_availability(None, self._scheduled_availability.pop(None))
            await self._report_statuses(self.evses)
        if self._scheduled_reset is not None:
            target, _ = self._scheduled_reset
            if target is None and not self.transactions:
                self._scheduled_reset = None
                await self._reboot("RemoteReset")
            elif target == evse:
                self._scheduled_reset = None
                await self._reset_evse(evse)

    # --- transactions, as the CSMS asks -------------------------------------------------

    @on(Action.request_start_transaction)
    async def on_request_start_transaction(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        evse_id: int | None = None,
        group_id_token: dict[str, Any] | None = None,
        charging_profile: dict[str, Any] | None = None,
        **_: Any,
    ) -> call_result.RequestStartTransaction:
        rejected = call_result.RequestStartTransaction(status="Rejected")
        if not self._registered.is_set():
            return rejected
        if evse_id is None:
            free = [e for e in self.evses if self._free(e, id_token, group_id_token)]
            evse_id = free[0] if free else None
        if evse_id is None or not self._free(evse_id, id_token, group_id_token):
            return rejected
        if charging_profile is not None and charging_profile["charging_profile_purpose"] != (
            "TxProfile"
        ):
            return call_result.RequestStartTransaction(
                status="Rejected", status_info=_info("InvalidProfile")
            )
        tx = Transaction(
            evse_id,
            id_token,
            self._new_transaction_id(),
            "RemoteStart",
            remote_start_id=remote_start_id,
            group_id_token=group_id_token,
            profile=charging_profile,
        )
        authorize = self.setting("AuthCtrlr", "AuthorizeRemoteStart") == "true"

        async def begin() -> None:
            self._begin(tx, authorize=authorize, local=False)

        # Claimed now (another start is refused), started once this answer is out.
        self._claim(tx)
        self._after_answer(begin, lasting=True)
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    async def on_request_stop_transaction(
        self, transaction_id: str, **_: Any
    ) -> call_result.RequestStopTransaction:
        for tx in self.transactions.values():
            if tx.transaction_id == transaction_id and not tx.stopping.is_set():
                tx.request_stop("RemoteStop", "Remote")
                return call_result.RequestStopTransaction(status="Accepted")
        return call_result.RequestStopTransaction(status="Rejected")

    @on(Action.get_transaction_status)
    async def on_get_transaction_status(
        self, transaction_id: str | None = None, **_: Any
    ) -> call_result.GetTransactionStatus:
        # Transaction events wait, in order, behind the one being sent.
        queued = self._tx_order.locked()
        if transaction_id is None:
            return call_result.GetTransactionStatus(messages_in_queue=queued)
        ongoing = any(t.transaction_id == transaction_id for t in self.transactions.values())
        return call_result.GetTransactionStatus(
            messages_in_queue=queued and ongoing, ongoing_indicator=ongoing
        )

    @on(Action.cost_updated)
    async def on_cost_updated(
        self, total_cost: float, transaction_id: str, **_: Any
    ) -> call_result.CostUpdated:
        for tx in self.transactions.values():
            if tx.transaction_id == transaction_id:
                tx.total_cost = total_cost
        return call_result.CostUpdated()

    # --- reset, availability, connectors ------------------------------------------------

    @on(Action.reset)
    async def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
        if evse_id is not None and evse_id not in self.evses:
            return call_result.Reset(status="Rejected", status_info=_info("UnknownEvse"))
        busy = self.transactions if evse_id is None else {evse_id} & set(self.transactions)
        if type == "OnIdle" and busy:
            self._scheduled_reset = (evse_id, type)
            return call_result.Reset(status="Scheduled")
        if evse_id is None:
            self._after_answer(lambda: self._reboot("RemoteReset"), lasting=True)
        else:
            self._after_answer(lambda: self._reset_evse(evse_id), lasting=True)
        return call_result.Reset(status="Accepted")

    async def _reset_evse(self, evse: int) -> None:
        """One EVSE restarts: its transaction ends, it is Unavailable for a moment."""
        tx = self.transactions.get(evse)
        if tx is not None:
            tx.request_stop("ResetCommand", "ImmediateReset")
            if tx.task is not None:
                await asyncio.gather(tx.task, return_exceptions=True)
        self._resetting.add(evse)
        await self._report_status(evse)
        await asyncio.sleep(self.config.notification_delay)
        self._resetting.discard(evse)
        await self._report_status(evse)

    def _set_availability(self, evse: int | None, operational_status: str) -> None:
        inoperative = operational_status == "Inoperative"
        if evse is None:
            self.station_inoperative = inoperative
            state = "Unavailable" if inoperative else "Available"
            self._notify(
                self.model.update("ChargingStation", "AvailabilityState", state)
                + self.model.update("ChargingStation", "Available", str(not inoperative).lower())
            )
        else:
            (self.inoperative.add if inoperative else self.inoperative.discard)(evse)
            self.model.update("EVSE", "Available", str(not inoperative).lower(), evse=evse)
        if inoperative:
            for reservation in list(self.reservations.values()):
                if evse is None or reservation.get("evse_id") == evse:
                    self._remove_reservation(reservation["id"], "Removed")

    @on(Action.change_availability)
    async def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        evse_id = evse["id"] if evse else None
        if evse_id == 0:
            evse_id = None  # EVSE 0 is the station itself
        if evse_id is not None and (
            evse_id not in self.evses or (evse or {}).get("connector_id", 1) != 1
        ):
            return call_result.ChangeAvailability(status="Rejected")
        inoperative = self.station_inoperative if evse_id is None else evse_id in self.inoperative
        if inoperative == (operational_status == "Inoperative"):
            return call_result.ChangeAvailability(status="Accepted")  # it is already
        busy = self.transactions if evse_id is None else {evse_id} & set(self.transactions)
        if busy:
            self._scheduled_availability[evse_id] = operational_status
            return call_result.ChangeAvailability(status="Scheduled")
        self._set_availability(evse_id, operational_status)
        targets = self.evses if evse_id is None else [evse_id]
        self._after_answer(lambda: self._report_statuses(targets))
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.unlock_connector)
    async def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        if evse_id not in self.evses or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        if evse_id in self.transactions:
            # The cable stays locked while an authorised transaction is on (F05.FR.02).
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.trigger_message)
    async def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        evse_id = evse["id"] if evse else None
        if evse_id is not None and (
            evse_id not in self.evses or (evse or {}).get("connector_id", 1) != 1
        ):
            return call_result.TriggerMessage(status="Rejected")
        targets = self.evses if evse_id is None else [evse_id]
        if requested_message == "BootNotification" and self._registered.is_set():
            # It is registered already: a boot is never triggered again (F06.FR.17).
            return call_result.TriggerMessage(status="Rejected")
        started = [self.transactions[e] for e in targets if e in self.transactions]
        if requested_message == "TransactionEvent" and not any(t.started for t in started):
            return call_result.TriggerMessage(status="Rejected")  # no transaction to report
        sender = self._triggered(requested_message, targets)
        if sender is None:
            return call_result.TriggerMessage(status="NotImplemented")
        self._after_answer(sender)
        return call_result.TriggerMessage(status="Accepted")

    def _triggered(self, requested_message: str, targets: list[int]) -> Factory | None:
        """What sends the message TriggerMessage asks for, for the EVSEs `targets`."""

        async def boot() -> None:
            await self._send_boot("Triggered")

        async def transaction_events() -> None:
            for target in targets:
                tx = self.transactions.get(target)
                if tx is not None and tx.started:
                    await self._event(tx, "Updated", "Trigger", "Trigger", "TxUpdatedMeasurands")

        async def meter_values() -> None:
            for target in targets:
                sampled = self._sampled(target, "Trigger", MEASURED)
                await self.call(
                    call.MeterValues(evse_id=target, meter_value=sampled), suppress=False
                )

        async def job_status(job: Job | None, payload: type) -> None:
            if job is None or not job.active:
                await self.call(payload(status="Idle"), suppress=False)
            else:
                await self.call(
                    payload(status=job.status, request_id=job.request_id), suppress=False
                )

        senders: dict[str, Factory] = {
            "BootNotification": boot,
            "TransactionEvent": transaction_events,
            "Heartbeat": lambda: self.call(call.Heartbeat(), suppress=False),
            "StatusNotification": lambda: self._report_statuses(targets),
            "MeterValues": meter_values,
            "FirmwareStatusNotification": lambda: job_status(
                self.firmware, call.FirmwareStatusNotification
            ),
            "LogStatusNotification": lambda: job_status(
                self.log_upload, call.LogStatusNotification
            ),
            "SignChargingStationCertificate": lambda: self.sign_certificate(
                "ChargingStationCertificate"
            ),
            "SignV2GCertificate": lambda: self.sign_certificate("V2GCertificate"),
        }
        return senders.get(requested_message)

    # --- device model -------------------------------------------------------------------

    def _check_items(self, count: int, instance: str) -> None:
        limit = int(self.setting("DeviceDataCtrlr", "ItemsPerMessage", instance=instance))
        if count > limit:
            raise OccurenceConstraintViolationError(
                description=f"more than ItemsPerMessage[{instance}] ({limit}) items"
            )

    @on(Action.get_variables)
    async def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._check_items(len(get_variable_data), "GetVariables")
        return call_result.GetVariables(
            get_variable_result=[self.model.get(data) for data in get_variable_data]
        )

    @on(Action.set_variables)
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self._check_items(len(set_variable_data), "SetVariables")
        results = []
        for data in set_variable_data:
            result, changed = self.model.set(data)
            results.append(result)
            if changed is not None:
                self._changed(changed)
        return call_result.SetVariables(set_variable_result=results)

    def _changed(self, variable: Variable) -> None:
        """What a variable set by the CSMS changes at once."""
        if (variable.component, variable.name) == ("OCPPCommCtrlr", "HeartbeatInterval"):
            self._after_answer(self._restart_heartbeat_later)
        elif (variable.component, variable.name) == ("AuthCacheCtrlr", "Enabled"):
            if variable.value == "false":
                self.auth_cache.clear()
        self._notify(self.model.events_for(variable))

    async def _restart_heartbeat_later(self) -> None:
        if self.booted.is_set():
            self._restart_heartbeat()

    @on(Action.get_base_report)
    async def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        variables = self.model.base_report(report_base)
        if not variables:
            return call_result.GetBaseReport(status="EmptyResultSet")
        self._after_answer(lambda: self._notify_report(request_id, variables))
        return call_result.GetBaseReport(status="Accepted")

    @on(Action.get_report)
    async def on_get_report(
        self,
        request_id: int,
        component_variable: list[dict[str, Any]] | None = None,
        component_criteria: list[str] | None = None,
        **_: Any,
    ) -> Any:
        self._check_items(len(component_variable or []), "GetReport")
        variables = self.model.report(component_variable, component_criteria)
        if not variables:
            return call_result.GetReport(status="EmptyResultSet")
        self._after_answer(lambda: self._notify_report(request_id, variables))
        return call_result.GetReport(status="Accepted")

    async def _notify_report(self, request_id: int, variables: list[Variable]) -> None:
        generated_at = now()
        parts = _parts([v.report_data() for v in variables])
        for seq_no, part in enumerate(parts):
            await self.call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=generated_at,
                    seq_no=seq_no,
                    report_data=part,
                    tbc=seq_no < len(parts) - 1,
                ),
                suppress=False,
            )

    @on(Action.set_variable_monitoring)
    async def on_set_variable_monitoring(
        self, set_monitoring_data: list[dict[str, Any]], **_: Any
    ) -> Any:
        return call_result.SetVariableMonitoring(
            set_monitoring_result=[self.model.set_monitor(data) for data in set_monitoring_data]
        )

    @on(Action.clear_variable_monitoring)
    async def on_clear_variable_monitoring(self, id: list[int], **_: Any) -> Any:
        return call_result.ClearVariableMonitoring(
            clear_monitoring_result=[self.model.clear_monitor(i) for i in id]
        )

    @on(Action.set_monitoring_base)
    async def on_set_monitoring_base(self, monitoring_base: str, **_: Any) -> Any:
        self.model.set_monitoring_base(monitoring_base)
        return call_result.SetMonitoringBase(status="Accepted")

    @on(Action.set_monitoring_level)
    async def on_set_monitoring_level(self, severity: int, **_: Any) -> Any:
        if not 0 <= severity <= 9:
            return call_result.SetMonitoringLevel(status="Rejected")
        self.model.update("MonitoringCtrlr", "ActiveMonitoringLevel", str(severity))
        return call_result.SetMonitoringLevel(status="Accepted")

    @on(Action.get_monitoring_report)
    async def on_get_monitoring_report(
        self,
        request_id: int,
        component_variable: list[dict[str, Any]] | None = None,
        monitoring_criteria: list[str] | None = None,
        **_: Any,
    ) -> Any:
        monitors = self.model.monitoring_report(component_variable, monitoring_criteria)
        if not monitors:
            return call_result.GetMonitoringReport(status="EmptyResultSet")

        async def report() -> None:
            generated_at = now()
            parts = _parts(monitors)
            for seq_no, part in enumerate(parts):
                await self.call(
                    call.NotifyMonitoringReport(
                        request_id=request_id,
                        seq_no=seq_no,
                        generated_at=generated_at,
                        monitor=part,
                        tbc=seq_no < len(parts) - 1,
                    ),
                    suppress=False,
                )

        self._after_answer(report)
        return call_result.GetMonitoringReport(status="Accepted")

    @on(Action.set_network_profile)
    async def on_set_network_profile(
        self, configuration_slot: int, connection_data: dict[str, Any], **_: Any
    ) -> Any:
        slots = self.model.variable("OCPPCommCtrlr", "NetworkConfigurationPriority")
        if str(configuration_slot) not in (slots.values_list or "").split(","):
            return call_result.SetNetworkProfile(
                status="Rejected", status_info=_info("InvalidValue")
            )
        if connection_data["ocpp_version"] != "OCPP20":
            return call_result.SetNetworkProfile(
                status="Rejected", status_info=_info("UnsupportedParam")
            )
        # Never a profile less secure than the one it uses (B09.FR.04).
        if connection_data["security_profile"] < int(
            self.setting("SecurityCtrlr", "SecurityProfile")
        ):
            return call_result.SetNetworkProfile(
                status="Rejected", status_info=_info("InvalidValue")
            )
        self.network_profiles[configuration_slot] = connection_data
        return call_result.SetNetworkProfile(status="Accepted")

    # --- smart charging -----------------------------------------------------------------

    @on(Action.set_charging_profile)
    async def on_set_charging_profile(
        self, evse_id: int, charging_profile: dict[str, Any], **_: Any
    ) -> Any:
        def rejected(reason: str) -> call_result.SetChargingProfile:
            return call_result.SetChargingProfile(status="Rejected", status_info=_info(reason))

        profile = charging_profile
        purpose = profile["charging_profile_purpose"]
        if self.setting("SmartChargingCtrlr", "Enabled") != "true":
            return rejected("NotEnabled")
        if evse_id != 0 and evse_id not in self.evses:
            return rejected("UnknownEvse")
        if purpose == "ChargingStationMaxProfile" and evse_id != 0:
            return rejected("InvalidProfile")
        if purpose == "TxProfile":
            tx = self.transactions.get(evse_id)
            if tx is None:
                return rejected("TxNotFound")
            if profile.get("transaction_id") not in (None, tx.transaction_id):
                return rejected("UnknownTxId")
        if profile["stack_level"] > int(self.setting("SmartChargingCtrlr", "ProfileStackLevel")):
            return rejected("InvalidStackLevel")
        most = int(self.setting("SmartChargingCtrlr", "PeriodsPerSchedule"))
        if any(len(s["charging_schedule_period"]) > most for s in profile["charging_schedule"]):
            return rejected("TooManyElements")
        for target, held in self.profiles:
            if (
                target == evse_id
                and held["id"] != profile["id"]
                and held["stack_level"] == profile["stack_level"]
                and held["charging_profile_purpose"] == purpose
            ):
                return rejected("DuplicateProfile")
        self.profiles = [(t, p) for t, p in self.profiles if p["id"] != profile["id"]]
        self.profiles.append((evse_id, profile))
        self._profiles_changed()
        return call_result.SetChargingProfile(status="Accepted")

    def _profiles_changed(self) -> None:
        self.model.update(
            "SmartChargingCtrlr", "Entries", str(len(self.profiles)), instance="ChargingProfiles"
        )
        for evse, tx in self.transactions.items():
            if tx.charging_state == "Charging":
                self._set_power(evse, self._power_limit(evse))

    @on(Action.clear_charging_profile)
    async def on_clear_charging_profile(
        self,
        charging_profile_id: int | None = None,
        charging_profile_criteria: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        criteria = charging_profile_criteria or {}

        def matches(target: int, profile: dict[str, Any]) -> bool:
            if charging_profile_id is not None:
                return profile["id"] == charging_profile_id
            return all(
                criteria.get(key) is None or criteria[key] == value
                for key, value in (
                    ("evse_id", target),
                    ("charging_profile_purpose", profile["charging_profile_purpose"]),
                    ("stack_level", profile["stack_level"]),
                )
            )

        kept = [(t, p) for t, p in self.profiles if not matches(t, p)]
        if len(kept) == len(self.profiles):
            return call_result.ClearChargingProfile(status="Unknown")
        self.profiles = kept
        self._profiles_changed()
        return call_result.ClearChargingProfile(status="Accepted")

    @on(Action.get_charging_profiles)
    async def on_get_charging_profiles(
        self,
        request_id: int,
        charging_profile: dict[str, Any],
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        criteria = charging_profile
        ids = criteria.get("charging_profile_id")
        sources = criteria.get("charging_limit_source")

        def matches(target: int, profile: dict[str, Any]) -> bool:
            return (
                (evse_id is None or target == evse_id)
                and (not ids or profile["id"] in ids)
                and criteria.get("charging_profile_purpose")
                in (None, profile["charging_profile_purpose"])
                and criteria.get("stack_level") in (None, profile["stack_level"])
                and (not sources or "CSO" in sources)  # every profile it holds is the CSO's
            )

        by_evse: dict[int, list[dict[str, Any]]] = {}
        for target, profile in self.profiles:
            if matches(target, profile):
                by_evse.setdefault(target, []).append(profile)
        if not by_evse:
            return call_result.GetChargingProfiles(status="NoProfiles")

        async def report() -> None:
            groups = sorted(by_evse.items())
            for index, (target, profiles) in enumerate(groups):
                await self.call(
                    call.ReportChargingProfiles(
                        request_id=request_id,
                        charging_limit_source="CSO",
                        charging_profile=profiles,
                        evse_id=target,
                        tbc=index < len(groups) - 1,
                    ),
                    suppress=False,
                )

        self._after_answer(report)
        return call_result.GetChargingProfiles(status="Accepted")

    @on(Action.get_composite_schedule)
    async def on_get_composite_schedule(
        self, duration: int, evse_id: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        if evse_id != 0 and evse_id not in self.evses:
            return call_result.GetCompositeSchedule(
                status="Rejected", status_info=_info("UnknownEvse")
            )
        unit = charging_rate_unit or "W"
        if evse_id == 0:  # what the whole station may draw
            maxima = [
                self._power_of(p)
                for _, p in self.profiles
                if p["charging_profile_purpose"] == "ChargingStationMaxProfile"
            ]
            watts = min([self.config.power_w * len(self.evses), *maxima])
        else:
            watts = self._power_limit(evse_id)
        limit = watts if unit == "W" else watts / VOLTAGE / PHASES
        return call_result.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": now(),
                "charging_rate_unit": unit,
                "charging_schedule_period": [{"start_period": 0, "limit": round(limit, 1)}],
            },
        )

    @staticmethod
    def _power_of(profile: dict[str, Any]) -> float:
        schedule = profile["charging_schedule"][0]
        period = schedule["charging_schedule_period"][0]
        if schedule["charging_rate_unit"] == "W":
            return period["limit"]
        return period["limit"] * VOLTAGE * period.get("number_phases", PHASES)

    # --- reservations -------------------------------------------------------------------

    def _reservation_on(self, evse: int) -> dict[str, Any] | None:
        for reservation in self.reservations.values():
            if reservation.get("evse_id") == evse:
                return reservation
        return None

    @staticmethod
    def _holds(
        reservation: dict[str, Any],
        id_token: dict[str, Any],
        group_id_token: dict[str, Any] | None = None,
    ) -> bool:
        """Whether the reservation is for this driver (or their group)."""
        group = reservation.get("group_id_token")
        return reservation["id_token"]["id_token"] == id_token["id_token"] or (
            group is not None
            and group_id_token is not None
            and group["id_token"] == group_id_token["id_token"]
        )

    @on(Action.reserve_now)
    async def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        connector_type: str | None = None,
        evse_id: int | None = None,
        group_id_token: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        if self.setting("ReservationCtrlr", "Enabled") != "true":
            return call_result.ReserveNow(status="Rejected", status_info=_info("NotEnabled"))
        if connector_type not in (None, "cType2"):
            return call_result.ReserveNow(
                status="Rejected", status_info=_info("UnknownConnectorType")
            )
        previous = self.reservations.pop(id, None)  # the same id: it is replaced
        if evse_id is None:
            # Not for an EVSE of its own: one is kept free for it (NonEvseSpecific).
            free = [e for e in self.evses if self._free(e)]
            evse_id = free[0] if free else None
            if evse_id is None:
                self._restore(previous)
                return call_result.ReserveNow(status="Occupied")
        if evse_id not in self.evses:
            self._restore(previous)
            return call_result.ReserveNow(status="Rejected", status_info=_info("UnknownEvse"))
        if self.station_inoperative or evse_id in self.inoperative:
            self._restore(previous)
            return call_result.ReserveNow(status="Unavailable")
        if not self._free(evse_id):
            self._restore(previous)
            return call_result.ReserveNow(status="Occupied")
        self.reservations[id] = {
            "id": id,
            "evse_id": evse_id,
            "id_token": id_token,
            "group_id_token": group_id_token,
            "expiry_date_time": expiry_date_time,
        }
        self._spawn(lambda: self._expire(id, expiry_date_time))
        targets = sorted({evse_id} | ({previous["evse_id"]} if previous else set()))
        self._after_answer(lambda: self._report_statuses(targets))
        return call_result.ReserveNow(status="Accepted")

    def _restore(self, reservation: dict[str, Any] | None) -> None:
        if reservation is not None:
            self.reservations[reservation["id"]] = reservation

    async def _expire(self, reservation_id: int, expiry_date_time: str) -> None:
        delay = (parse_datetime(expiry_date_time) - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(delay, 0))
        reservation = self.reservations.get(reservation_id)
        if reservation is not None and reservation["expiry_date_time"] == expiry_date_time:
            self._remove_reservation(reservation_id, "Expired")

    def _remove_reservation(self, reservation_id: int, why: str) -> None:
        """The reservation ends without being used: Expired, or Removed."""
        reservation = self.reservations.pop(reservation_id)

        async def report() -> None:
            await self._report_status(reservation["evse_id"])
            await self._deliver(
                call.ReservationStatusUpdate(
                    reservation_id=reservation_id, reservation_update_status=why
                )
            )

        self._spawn(report)

    @on(Action.cancel_reservation)
    async def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is None:
            return call_result.CancelReservation(status="Rejected")
        self._after_answer(lambda: self._report_status(reservation["evse_id"]))
        return call_result.CancelReservation(status="Accepted")

    # --- authorisation ------------------------------------------------------------------

    @on(Action.send_local_list)
    async def on_send_local_list(
        self,
        version_number: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        if self.setting("LocalAuthListCtrlr", "Enabled") != "true":
            return call_result.SendLocalList(status="Failed", status_info=_info("NotEnabled"))
        entries = local_authorization_list or []
        if update_type == "Differential":
            if version_number <= self.local_list_version:
                return call_result.SendLocalList(status="VersionMismatch")
            for entry in entries:
                key = (entry["id_token"]["id_token"], entry["id_token"]["type"])
                if entry.get("id_token_info") is None:
                    self.local_list.pop(key, None)
                else:
                    self.local_list[key] = entry["id_token_info"]
        else:
            self.local_list = {
                (e["id_token"]["id_token"], e["id_token"]["type"]): e["id_token_info"]
                for e in entries
                if e.get("id_token_info") is not None
            }
        self.local_list_version = version_number
        self.model.update("LocalAuthListCtrlr", "Entries", str(len(self.local_list)))
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    async def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(version_number=self.local_list_version)

    @on(Action.clear_cache)
    async def on_clear_cache(self, **_: Any) -> Any:
        if self.setting("AuthCacheCtrlr", "Enabled") != "true":
            return call_result.ClearCache(status="Rejected", status_info=_info("NotEnabled"))
        self.auth_cache.clear()
        return call_result.ClearCache(status="Accepted")

    @on(Action.customer_information)
    async def on_customer_information(
        self,
        request_id: int,
        report: bool,
        clear: bool,
        customer_certificate: dict[str, Any] | None = None,
        id_token: dict[str, Any] | None = None,
        customer_identifier: str | None = None,
        **_: Any,
    ) -> Any:
        if id_token is None and customer_identifier is None and customer_certificate is None:
            return call_result.CustomerInformation(status="Invalid")
        facts = self._customer_facts(id_token, customer_identifier)
        if clear and id_token is not None:
            # Its own data of the customer: what it cached. The local list is the CSMS's.
            self.auth_cache.pop((id_token["id_token"], id_token["type"]), None)
        if report:
            data = "; ".join(facts) or "no data held about this customer"

            async def notify() -> None:
                parts = [
                    data[i : i + CUSTOMER_DATA_CHARS]
                    for i in range(0, len(data), CUSTOMER_DATA_CHARS)
                ]
                generated_at = now()
                for seq_no, part in enumerate(parts):
                    await self.call(
                        call.NotifyCustomerInformation(
                            data=part,
                            seq_no=seq_no,
                            generated_at=generated_at,
                            request_id=request_id,
                            tbc=seq_no < len(parts) - 1,
                        ),
                        suppress=False,
                    )

            self._after_answer(notify)
        return call_result.CustomerInformation(status="Accepted")

    def _customer_facts(
        self, id_token: dict[str, Any] | None, customer_identifier: str | None
    ) -> list[str]:
        facts = []
        if id_token is not None:
            key = (id_token["id_token"], id_token["type"])
            if key in self.local_list:
                facts.append(f"local list: {self.local_list[key]['status']}")
            if key in self.auth_cache:
                facts.append(f"authorization cache: {self.auth_cache[key]['status']}")
            for tx in self.transactions.values():
                if tx.id_token["id_token"] == id_token["id_token"]:
                    facts.append(f"transaction {tx.transaction_id} on EVSE {tx.evse_id}")
        if customer_identifier is not None:
            for message in self.display_messages.values():
                if customer_identifier in message["message"]["content"]:
                    facts.append(f"display message {message['id']}")
        return facts

    # --- firmware, logs, display messages, data transfer --------------------------------

    @on(Action.update_firmware)
    async def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
        if firmware.get("signing_certificate") is not None:
            try:
                x509.load_pem_x509_certificate(firmware["signing_certificate"].encode())
            except ValueError:
                self._after_answer(
                    lambda: self._deliver(
                        call.SecurityEventNotification(
                            type="InvalidFirmwareSigningCertificate", timestamp=now()
                        )
                    )
                )
                return call_result.UpdateFirmware(status="InvalidCertificate")
        status = "Accepted"
        previous = self.firmware
        if previous is not None and previous.active:
            if previous.status in ("Installing", "InstallRebooting"):
                return call_result.UpdateFirmware(
                    status="Rejected", status_info=_info("FwUpdateInProgress")
                )
            previous.cancel()  # the new one replaces it
            status = "AcceptedCanceled"
        job = self.firmware = Job(request_id)
        self._after_answer(lambda: job.run(self._install(job, firmware)), lasting=True)
        return call_result.UpdateFirmware(status=status)

    async def _install(self, job: Job, firmware: dict[str, Any]) -> None:
        """Download at retrieveDateTime, install at installDateTime once no one charges,
        reboot into the new firmware and say it is Installed."""

        async def report(status: str) -> None:
            job.status = status
            await self._deliver(
                call.FirmwareStatusNotification(status=status, request_id=job.request_id)
            )

        async def until(moment: str | None, status: str) -> None:
            if moment is None:
                return
            delay = (parse_datetime(moment) - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await report(status)
                await asyncio.sleep(delay)

        await until(firmware["retrieve_date_time"], "DownloadScheduled")
        for status in ("Downloading", "Downloaded"):
            await asyncio.sleep(self.config.notification_delay)
            await report(status)
        if firmware.get("signature"):
            await report("SignatureVerified")
        await until(firmware.get("install_date_time"), "InstallScheduled")
        await self.idle.wait()
        await asyncio.sleep(self.config.notification_delay)
        await report("Installing")
        await asyncio.sleep(self.config.notification_delay)
        await report("InstallRebooting")
        self.firmware_version = firmware["location"].rstrip("/").rsplit("/", 1)[-1] or "updated"
        await self._reboot("FirmwareUpdate")
        await report("Installed")

    @on(Action.get_log)
    async def on_get_log(
        self, log: dict[str, Any], log_type: str, request_id: int, **_: Any
    ) -> Any:
        status = "Accepted"
        previous = self.log_upload
        if previous is not None and previous.active:
            previous.cancel()  # the new request replaces it
            status = "AcceptedCanceled"
        job = self.log_upload = Job(request_id)
        file_name = f"{log_type}-{self.id}-{request_id}.log"

        async def upload() -> None:
            for step in ("Uploading", "Uploaded"):
                await asyncio.sleep(self.config.notification_delay)
                job.status = step
                await self._deliver(call.LogStatusNotification(status=step, request_id=request_id))

        self._after_answer(lambda: job.run(upload()), lasting=True)
        return call_result.GetLog(status=status, filename=file_name[:255])

    @on(Action.publish_firmware)
    async def on_publish_firmware(self, **_: Any) -> Any:
        # Only a Local Controller publishes firmware to the stations behind it.
        return call_result.PublishFirmware(
            status="Rejected", status_info=_info("UnsupportedRequest", "not a Local Controller")
        )

    @on(Action.unpublish_firmware)
    async def on_unpublish_firmware(self, checksum: str, **_: Any) -> Any:
        return call_result.UnpublishFirmware(status="NoFirmware")

    @on(Action.set_display_message)
    async def on_set_display_message(self, message: dict[str, Any], **_: Any) -> Any:
        formats = self.setting("DisplayMessageCtrlr", "SupportedFormats").split(",")
        priorities = self.setting("DisplayMessageCtrlr", "SupportedPriorities").split(",")
        room = int(self.setting("DisplayMessageCtrlr", "DisplayMessages"))
        if self.setting("DisplayMessageCtrlr", "Enabled") != "true":
            return call_result.SetDisplayMessage(status="Rejected", status_info=_info("NotEnabled"))
        if message["message"]["format"] not in formats:
            return call_result.SetDisplayMessage(status="NotSupportedMessageFormat")
        if message["priority"] not in priorities:
            return call_result.SetDisplayMessage(status="NotSupportedPriority")
        transaction_id = message.get("transaction_id")
        if transaction_id is not None and not any(
            t.transaction_id == transaction_id for t in self.transactions.values()
        ):
            return call_result.SetDisplayMessage(status="UnknownTransaction")
        if message["id"] not in self.display_messages and len(self.display_messages) >= room:
            return call_result.SetDisplayMessage(
                status="Rejected", status_info=_info("OutOfStorage")
            )
        self.display_messages[message["id"]] = message
        return call_result.SetDisplayMessage(status="Accepted")

    @on(Action.get_display_messages)
    async def on_get_display_messages(
        self,
        request_id: int,
        id: list[int] | None = None,
        priority: str | None = None,
        state: str | None = None,
        **_: Any,
    ) -> Any:
        chosen = [
            m
            for m in self.display_messages.values()
            if (not id or m["id"] in id)
            and priority in (None, m["priority"])
            and state in (None, m.get("state"))
        ]
        if not chosen:
            return call_result.GetDisplayMessages(status="Unknown")

        async def notify() -> None:
            parts = _parts(chosen)
            for index, part in enumerate(parts):
                await self.call(
                    call.NotifyDisplayMessages(
                        request_id=request_id, message_info=part, tbc=index < len(parts) - 1
                    ),
                    suppress=False,
                )

        self._after_answer(notify)
        return call_result.GetDisplayMessages(status="Accepted")

    @on(Action.clear_display_message)
    async def on_clear_display_message(self, id: int, **_: Any) -> Any:
        if self.display_messages.pop(id, None) is None:
            return call_result.ClearDisplayMessage(status="Unknown")
        return call_result.ClearDisplayMessage(status="Accepted")

    @on(Action.data_transfer)
    async def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None, **_: Any
    ) -> Any:
        if vendor_id != VENDOR_ID:
            return call_result.DataTransfer(status="UnknownVendorId")
        if message_id != "echo":
            return call_result.DataTransfer(status="UnknownMessageId")
        return call_result.DataTransfer(status="Accepted", data=data)

    # --- certificates -------------------------------------------------------------------

    async def sign_certificate(self, use: str = "ChargingStationCertificate") -> str:
        """Ask for a certificate of its own (SignCertificate with the CSR of a new key,
        CN its serial number). It comes later, in CertificateSigned. Returns the answer."""
        key, pem = signing_request(self.config.vendor, self.serial_number)
        self._csr_keys[use] = key  # before the CALL: CertificateSigned may follow at once
        answer = await self.call(
            call.SignCertificate(csr=pem, certificate_type=use), suppress=False
        )
        LOGGER.info("%s: SignCertificate %s %s", self.id, use, answer.status)
        return answer.status

    @on(Action.certificate_signed)
    async def on_certificate_signed(
        self, certificate_chain: str, certificate_type: str | None = None, **_: Any
    ) -> Any:
        use = certificate_type or "ChargingStationCertificate"
        key = self._csr_keys.get(use)
        if not chain_for_key(certificate_chain, key):
            # Not PEM, or not for the key it asked for: of no use to it.
            return call_result.CertificateSigned(status="Rejected")
        self.certificate_chains[use] = certificate_chain
        if key is not None:
            self.certificate_keys[use] = self._csr_keys.pop(use)
        return call_result.CertificateSigned(status="Accepted")

    @on(Action.install_certificate)
    async def on_install_certificate(
        self, certificate_type: str, certificate: str, **_: Any
    ) -> Any:
        try:
            parsed = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            return call_result.InstallCertificate(status="Rejected")
        issuer = issuer_among(parsed, self.installed_certificates)
        if issuer is None:
            # Neither a root nor issued by one it holds: it could never check a chain to it.
            return call_result.InstallCertificate(status="Rejected")
        installed = InstalledCertificate(certificate_type, parsed, issuer)
        if installed not in self.installed_certificates:
            self.installed_certificates.append(installed)
        self._certificates_changed()
        return call_result.InstallCertificate(status="Accepted")

    def _certificates_changed(self) -> None:
        self.model.update(
            "SecurityCtrlr", "CertificateEntries", str(len(self.installed_certificates))
        )

    def _v2g_chain(self) -> list[x509.Certificate]:
        pem = self.certificate_chains.get("V2GCertificate")
        return x509.load_pem_x509_certificates(pem.encode()) if pem else []

    @on(Action.get_installed_certificate_ids)
    async def on_get_installed_certificate_ids(
        self, certificate_type: list[str] | None = None, **_: Any
    ) -> Any:
        wanted = set(certificate_type or [])
        chains = [
            {"certificate_type": c.certificate_type, "certificate_hash_data": c.hash_data()}
            for c in self.installed_certificates
            if not wanted or c.certificate_type in wanted
        ]
        v2g = self._v2g_chain()
        if v2g and (not wanted or "V2GCertificateChain" in wanted):
            chains.append(self._chain_hash_data(v2g))
        if not chains:
            return call_result.GetInstalledCertificateIds(status="NotFound")
        return call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data_chain=chains
        )

    @staticmethod
    def _chain_hash_data(chain: list[x509.Certificate]) -> dict[str, Any]:
        """A V2G certificate chain as CertificateHashDataChainType: the leaf, then each
        sub-CA, each named with the certificate that issued it."""
        issuers = [*chain[1:], chain[-1]]
        hashes = [
            InstalledCertificate("V2GCertificateChain", cert, issuer).hash_data()
            for cert, issuer in zip(chain, issuers, strict=True)
        ]
        entry: dict[str, Any] = {
            "certificate_type": "V2GCertificateChain",
            "certificate_hash_data": hashes[0],
        }
        if hashes[1:]:
            entry["child_certificate_hash_data"] = hashes[1:]
        return entry

    @on(Action.delete_certificate)
    async def on_delete_certificate(self, certificate_hash_data: dict[str, Any], **_: Any) -> Any:
        algorithm = certificate_hash_data["hash_algorithm"]
        own = self.certificate_chains.get("ChargingStationCertificate")
        if own is not None:
            chain = x509.load_pem_x509_certificates(own.encode())
            mine = InstalledCertificate("", chain[0], chain[1] if len(chain) > 1 else chain[0])
            if same_certificate(mine.hash_data(algorithm), certificate_hash_data):
                # Its own certificate is what it connects with: never deleted (M04.FR.06).
                return call_result.DeleteCertificate(status="Failed")
        for installed in self.installed_certificates:
            if same_certificate(installed.hash_data(algorithm), certificate_hash_data):
                self.installed_certificates.remove(installed)
                self._certificates_changed()
                return call_result.DeleteCertificate(status="Accepted")
        return call_result.DeleteCertificate(status="NotFound")
