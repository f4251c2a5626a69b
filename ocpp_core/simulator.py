"""A simulated OCPP 1.6J charge point, on the `ocpp` library's client side.

It boots (waiting out Pending), reports every connector's status, heartbeats at the
interval it is given, runs charging sessions with rising meter values, and answers
RemoteStartTransaction / RemoteStopTransaction by really starting and stopping a session.
Transport-agnostic: give it anything with `recv()` and `send()`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as LibraryChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
)

from ocpp_core.db.models import utcnow
from ocpp_core.timeutil import format_datetime

LOGGER = logging.getLogger(__name__)
# The library logs every frame at INFO through the logger it is given; keep that apart.
FRAME_LOGGER = logging.getLogger(__name__ + ".frames")
FRAME_LOGGER.setLevel(logging.WARNING)


@dataclass
class SimulatorConfig:
    connectors: int = 2
    vendor: str = "Voltaro"
    model: str = "Simulator"
    firmware_version: str = "1.0.0"
    power_w: float = 11000.0
    meter_interval: float = 10.0
    # Local sessions started by the simulated driver; None: only remote sessions.
    session_every: float | None = None
    session_length: float = 60.0
    id_tag: str = "SIMTAG"
    # Time runs this many times faster for the meter, so energy visibly rises in a demo.
    energy_speedup: float = 1.0


@dataclass
class Session:
    connector_id: int
    id_tag: str
    transaction_id: int | None = None
    stop_reason: Reason = Reason.local
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)


class SimulatedChargePoint(LibraryChargePoint):
    def __init__(self, charge_point_id: str, connection: Any, config: SimulatorConfig) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30, logger=FRAME_LOGGER)
        self.config = config
        self.heartbeat_interval = 300
        self.status: dict[int, str] = {}
        # Energy meter per connector, in Wh; starts where a real meter might.
        self.meters: dict[int, float] = {
            c: float(random.randint(1_000, 100_000)) for c in range(1, config.connectors + 1)
        }
        self.sessions: dict[int, Session] = {}
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

    async def boot(self) -> None:
        while True:
            answer = await self.call(
                call.BootNotification(
                    charge_point_vendor=self.config.vendor,
                    charge_point_model=self.config.model,
                    charge_point_serial_number=f"{self.id}-SN",
                    firmware_version=self.config.firmware_version,
                    meter_type="SimMeter",
                ),
                suppress=False,
            )
            if answer.status == RegistrationStatus.accepted:
                self.heartbeat_interval = answer.interval or self.heartbeat_interval
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
            await asyncio.sleep(self.heartbeat_interval)
            await self.call(call.Heartbeat(), suppress=False)

    async def _local_session_loop(self) -> None:
        assert self.config.session_every is not None
        while True:
            await asyncio.sleep(self.config.session_every * random.uniform(0.5, 1.5))
            free = [c for c in self.meters if c not in self.sessions]
            if not free:
                continue
            answer = await self.call(call.Authorize(id_tag=self.config.id_tag), suppress=False)
            if answer.id_tag_info["status"] != AuthorizationStatus.accepted:
                LOGGER.warning(
                    "%s: id tag %s not accepted (%s); add it with `python -m webapp id-tag add`",
                    self.id,
                    self.config.id_tag,
                    answer.id_tag_info["status"],
                )
                continue
            session = self.begin_session(random.choice(free), self.config.id_tag)
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

    def begin_session(self, connector_id: int, id_tag: str) -> Session:
        session = Session(connector_id, id_tag)
        self.sessions[connector_id] = session
        self._spawn(self._run_session(session))
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
            voltage = 230.0
            current = power / voltage / 3
            await self.call(
                call.MeterValues(
                    connector_id=session.connector_id,
                    transaction_id=session.transaction_id,
                    meter_value=[
                        {
                            "timestamp": format_datetime(utcnow()),
                            "sampled_value": [
                                {
                                    "value": f"{self.meters[session.connector_id]:.1f}",
                                    "measurand": "Energy.Active.Import.Register",
                                    "unit": "Wh",
                                    "context": "Sample.Periodic",
                                    "location": "Outlet",
                                },
                                {
                                    "value": f"{power:.0f}",
                                    "measurand": "Power.Active.Import",
                                    "unit": "W",
                                },
                                *(
                                    {
                                        "value": f"{current:.1f}",
                                        "measurand": "Current.Import",
                                        "unit": "A",
                                        "phase": phase,
                                    }
                                    for phase in ("L1", "L2", "L3")
                                ),
                                {
                                    "value": f"{voltage:.1f}",
                                    "measurand": "Voltage",
                                    "unit": "V",
                                    "phase": "L1-N",
                                },
                            ],
                        }
                    ],
                ),
                suppress=False,
            )

    # --- central-system-initiated operations --------------------------------------------

    @on(Action.remote_start_transaction)
    async def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> call_result.RemoteStartTransaction:
        if connector_id is None:
            free = [c for c in sorted(self.meters) if c not in self.sessions]
            connector_id = free[0] if free else None
        if (
            connector_id is None
            or connector_id not in self.meters
            or connector_id in self.sessions
            or self.status.get(connector_id) != ChargePointStatus.available
        ):
            return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected)
        self.begin_session(connector_id, id_tag)
        return call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

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
