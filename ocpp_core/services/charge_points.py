"""Charge points: registration, boot, heartbeat, status and notifications (admission of
connections is services/admission.py)."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core import versions
from ocpp_core.db import outbox
from ocpp_core.db.engine import aborted_for_others
from ocpp_core.db.models import (
    ChargePoint,
    Connector,
    DataTransferMessage,
    MeterValue,
    SecurityEvent,
    StatusNotification,
    StatusReport,
    Transaction,
    UTCDateTime,
    utcnow,
)
from ocpp_core.db.newest import newest
from ocpp_core.db.upsert import per_dialect
from ocpp_core.errors import AlreadyExists, InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.identifiers import charge_point_id_problem
from ocpp_core.passwords import (
    check_charge_point_key,
    hash_password_async,
)
from ocpp_core.services import audit
from ocpp_core.services.budget import StorageBudget, bounded
from ocpp_core.services.registration import ChargePointRecords
from ocpp_core.services.session_flags import CLOCK_TOLERANCE
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)

REGISTRATION_STATUSES = ("Accepted", "Pending", "Rejected")
# How soon a Pending or Rejected charge point should boot again (BootNotification.conf interval).
REGISTRATION_RETRY_INTERVAL = 60
MAX_CHARGE_POINT_ID_LENGTH = 255
# A removal that meets a row the charger wrote meanwhile looks again, this many times.
REMOVAL_TRIES = 3
KEY = frozenset({"charge_point_id", "evse_id", "connector_id"})


class Keep(enum.Enum):
    """A setting left as it is (where None means something: the global ping interval)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def pings_text(seconds: int | None) -> str:
    """A charger's ping interval as the audit log and the portal say it."""
    return "global" if seconds is None else f"{seconds} s" if seconds else "off"


def _check_administration(status: str | Keep, ocpp_version: str | Keep | None) -> None:
    """A registration status and a pinned version as the services take them (KEEP: none)."""
    if not isinstance(status, Keep) and status not in REGISTRATION_STATUSES:
        raise InvalidInput(f"registration status must be one of {REGISTRATION_STATUSES}")
    if not isinstance(ocpp_version, Keep | None) and ocpp_version not in versions.VERSIONS:
        raise InvalidInput(f"OCPP version must be one of {', '.join(versions.VERSIONS)}")


async def registered_charge_point(
    session: AsyncSession, charge_point_id: str, *, lock: bool = False
) -> ChargePoint:
    """The charge point's record; NotFound (a 404 to the API and the portal) if it is not
    registered. `lock` holds its row (PostgreSQL) until the session ends."""
    cp = await session.get(ChargePoint, charge_point_id, with_for_update=lock)
    if cp is None:
        raise NotFound(f"charge point {charge_point_id!r} is not registered")
    return cp


@dataclass(frozen=True)
class BootInfo:
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    boot_reason: str | None = None  # 2.0.1


@dataclass(frozen=True)
class ConnectorView:
    connector_id: int
    status: str
    error_code: str
    info: str | None
    timestamp: datetime | None
    evse_id: int = 0  # 2.0.1: the EVSE (from 1); 1.6: 0
    vendor_error_code: str | None = None
    updated_at: datetime | None = None  # when we received its status


@dataclass(frozen=True)
class StatusHistoryEntry:
    """One StatusNotification as received."""

    id: int
    evse_id: int | None  # 2.0.1: the EVSE; None for 1.6
    connector_id: int
    status: str
    error_code: str
    info: str | None
    vendor_id: str | None
    vendor_error_code: str | None
    timestamp: datetime | None  # the charger's
    received_at: datetime


@dataclass(frozen=True)
class SecurityEventView:
    """A SecurityEventNotification as the charger reported it."""

    id: int
    type: str
    timestamp: datetime
    tech_info: str | None
    received_at: datetime


@dataclass(frozen=True)
class ChargePointView:
    id: str
    registration_status: str
    vendor: str | None
    model: str | None
    serial_number: str | None
    charge_box_serial_number: str | None
    firmware_version: str | None
    iccid: str | None
    imsi: str | None
    meter_type: str | None
    meter_serial_number: str | None
    last_boot_at: datetime | None
    last_heartbeat_at: datetime | None
    last_seen_at: datetime | None
    has_password: bool
    connectors: tuple[ConnectorView, ...]
    local_list_version: int | None = None
    firmware_status: str | None = None
    firmware_status_at: datetime | None = None
    diagnostics_status: str | None = None
    diagnostics_status_at: datetime | None = None
    ping_interval: int | None = None
    lenient: bool = False
    ocpp_version: str | None = None
    pinned_ocpp_version: str | None = None
    boot_reason: str | None = None
    # When its newest connection opened and its last one closed (any instance).
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None

    @property
    def offline_since(self) -> datetime | None:
        """When it was last heard from before it went: its disconnection, or (an instance
        that died never wrote one) its last message persisted."""
        if self.disconnected_at is not None and (
            self.connected_at is None or self.disconnected_at >= self.connected_at
        ):
            return self.disconnected_at
        return self.last_seen_at


def _view(cp: ChargePoint, connectors: list[Connector]) -> ChargePointView:
    return ChargePointView(
        id=cp.id,
        registration_status=cp.registration_status,
        vendor=cp.vendor,
        model=cp.model,
        serial_number=cp.serial_number,
        charge_box_serial_number=cp.charge_box_serial_number,
        firmware_version=cp.firmware_version,
        iccid=cp.iccid,
        imsi=cp.imsi,
        meter_type=cp.meter_type,
        meter_serial_number=cp.meter_serial_number,
        last_boot_at=cp.last_boot_at,
        last_heartbeat_at=cp.last_heartbeat_at,
        last_seen_at=cp.last_seen_at,
        has_password=cp.password_hash is not None,
        connectors=tuple(
            ConnectorView(
                c.connector_id,
                c.status,
                c.error_code,
                c.info,
                c.timestamp,
                c.evse_id,
                c.vendor_error_code,
                c.updated_at,
            )
            for c in sorted(connectors, key=lambda c: (c.evse_id, c.connector_id))
        ),
        local_list_version=cp.local_list_version,
        firmware_status=cp.firmware_status,
        firmware_status_at=cp.firmware_status_at,
        diagnostics_status=cp.diagnostics_status,
        diagnostics_status_at=cp.diagnostics_status_at,
        ping_interval=cp.ping_interval,
        lenient=cp.lenient,
        ocpp_version=cp.ocpp_version,
        pinned_ocpp_version=cp.pinned_ocpp_version,
        boot_reason=cp.boot_reason,
        connected_at=cp.connected_at,
        disconnected_at=cp.disconnected_at,
    )


# A charger's clock further ahead of ours than this (the sessions' rule): its timestamp
# does not outrank the present.
FUTURE_TOLERANCE = CLOCK_TOLERANCE


def ahead_of_clock(timestamp: datetime | None, now: datetime) -> bool:
    """Whether a charger's timestamp is further ahead of `now` than the clocks may differ."""
    return timestamp is not None and timestamp > now + FUTURE_TOLERANCE


@dataclass(frozen=True)
class StatusWrite:
    """A StatusNotification: its history row, and the connector's current status unless
    the notification is older than what is held (queued while offline). One without a
    timestamp, or stamped further ahead of our clock than FUTURE_TOLERANCE, counts for that
    as sent when it arrived (the history keeps what was sent): 9999-12-31 otherwise
    outranked every later one for good. All of a transaction in two statements."""

    batched: ClassVar[bool] = True
    row: dict[str, object]

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[StatusWrite]) -> list[None]:
        now = utcnow()
        await session.execute(_STATUS_HISTORY, [{**item.row, "received_at": now} for item in items])
        await session.execute(
            _CONNECTOR_UPSERT(session),
            [item._connector_row(now) for item in items],
        )
        for item in items:
            row = item.row
            # 2.0.1 statuses name their EVSE, as the bus's events do.
            where = {"evse_id": row["evse_id"]} if row["evse_id"] else {}
            fields = {
                "connector_id": row["connector_id"],
                "status": row["status"],
                "error_code": row["error_code"],
                "info": row["info"],
                "vendor_error_code": row["vendor_error_code"],
                "timestamp": row["timestamp"],
                **where,
            }
            charge_point_id = str(row["charge_point_id"])
            outbox.record(session, "status", charge_point_id, **fields)
            if row["status"] == "Faulted":
                outbox.record(session, "fault", charge_point_id, **fields)
        return [None] * len(items)

    def _connector_row(self, now: datetime) -> dict[str, object]:
        timestamp: Any = self.row["timestamp"]
        if ahead_of_clock(timestamp, now):
            timestamp = None  # ordered as received: by `updated_at`
        future_from = now + FUTURE_TOLERANCE
        return {**self.row, "timestamp": timestamp, "updated_at": now, "future_from": future_from}


# What a StatusNotification writes (StatusWrite.row) of the connector.
_STATUS_COLUMNS = (
    "charge_point_id",
    "evse_id",
    "connector_id",
    "status",
    "error_code",
    "info",
    "vendor_id",
    "vendor_error_code",
    "timestamp",
)
_STATUS_HISTORY = insert(StatusNotification.__table__)


@per_dialect
def _CONNECTOR_UPSERT(insert: Any) -> Any:
    upsert = insert(Connector.__table__)
    held = func.coalesce(Connector.timestamp, Connector.updated_at)
    sent = func.coalesce(upsert.excluded.timestamp, upsert.excluded.updated_at)
    return upsert.on_conflict_do_update(
        index_elements=[Connector.charge_point_id, Connector.evse_id, Connector.connector_id],
        set_={
            column: upsert.excluded[column]
            for column in (*_STATUS_COLUMNS, "updated_at")
            if column not in KEY
        },
        # A held timestamp still ahead of the clock (stored before the rule) is no newer.
        where=or_(
            held.is_(None),
            held <= sent,
            held > bindparam("future_from", type_=UTCDateTime),
        ),
    )


@dataclass(frozen=True)
class BootWrite:
    """A BootNotification: what the charge point says of itself, and its registration
    status back. One removed while connected is registered again as `registers_as` says
    (ChargePointRecords.status); with None it is not, and is answered Rejected."""

    batched: ClassVar[bool] = True
    charge_point_id: str
    info: BootInfo
    at: datetime
    registers_as: str | None

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[BootWrite]) -> list[str]:
        rows = [
            {
                "id": item.charge_point_id,
                "registration_status": item.registers_as,
                **dataclasses.asdict(item.info),
                "last_boot_at": item.at,
                "last_seen_at": item.at,
            }
            for item in items
        ]
        ids = [item.charge_point_id for item in items]
        if items[0].registers_as is not None:  # one server's items share its policy
            # The statuses are read back rather than RETURNed: an upsert with RETURNING is
            # run one row at a time (SQLAlchemy cannot batch it in order), 10,000
            # statements in a restart's storm, where this is one executemany and a SELECT.
            await session.execute(_BOOT_UPSERT(session), rows)
            statuses = await _registration_statuses(session, ids)
        else:
            statuses = await _registration_statuses(session, ids)
            known = [_by_id(row) for row in rows if row["id"] in statuses]
            if known:
                await session.execute(_UPDATE_BY_ID, known)
        answers = [statuses.get(item.charge_point_id, "Rejected") for item in items]
        for item, status in zip(items, answers, strict=True):
            outbox.record(
                session,
                "boot",
                item.charge_point_id,
                registration_status=status,
                vendor=item.info.vendor,
                model=item.info.model,
                firmware_version=item.info.firmware_version,
            )
        return answers


async def _registration_statuses(session: AsyncSession, ids: list[str]) -> dict[str, str]:
    """The registration status of each of `ids` still registered."""
    return {
        row.id: row.registration_status
        for row in await session.execute(_REGISTRATION_STATUSES, {"ids": ids})
    }


def _by_id(row: dict[str, Any]) -> dict[str, Any]:
    """An upsert's `row` for _UPDATE_BY_ID: the columns it sets, and the id apart."""
    values = {key: value for key, value in row.items() if key not in ("id", "registration_status")}
    return {**values, "by_id": row["id"]}


@per_dialect
def _BOOT_UPSERT(insert: Any) -> Any:
    table = ChargePoint.__table__
    upsert = insert(table)
    # BootInfo's fields are the charge point's columns of the same names.
    described = [field.name for field in dataclasses.fields(BootInfo)]
    return upsert.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={
            column: upsert.excluded[column]
            for column in (*described, "last_boot_at", "last_seen_at")
        },
    )


# Built once: every boot and heartbeat of a fleet runs them.
_CHARGE_POINTS = ChargePoint.__table__
_REGISTRATION_STATUSES = select(_CHARGE_POINTS.c.id, _CHARGE_POINTS.c.registration_status).where(
    _CHARGE_POINTS.c.id.in_(bindparam("ids", expanding=True))
)
# Under UNKNOWN_CHARGE_POINTS=reject BootWrite and HeartbeatWrite register nobody: they
# update the charge points still registered, the columns named by each row's keys.
_UPDATE_BY_ID = update(_CHARGE_POINTS).where(_CHARGE_POINTS.c.id == bindparam("by_id"))
# A connection closed: its last message, kept in memory while it lasted, and when it went.
_NOTE_GONE = (
    update(_CHARGE_POINTS)
    .where(_CHARGE_POINTS.c.id == bindparam("gone_id"))
    .values(last_seen_at=bindparam("last_message_at"), disconnected_at=bindparam("gone_at"))
)


@dataclass(frozen=True)
class DisconnectWrite:
    """A connection closed: its last message's time (kept in memory by the connection,
    never written per message) and the disconnection's. All of a transaction in one
    statement; a charge point removed meanwhile is simply not updated."""

    batched: ClassVar[bool] = True
    charge_point_id: str
    last_message_at: datetime
    at: datetime

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[DisconnectWrite]) -> list[None]:
        await session.execute(
            _NOTE_GONE,
            [
                {"gone_id": item.charge_point_id, "last_message_at": item.last_message_at,
                 "gone_at": item.at}
                for item in items
            ],
        )  # fmt: skip
        for item in items:
            outbox.record(
                session, "disconnected", item.charge_point_id, last_seen_at=item.last_message_at
            )
        return [None] * len(items)


@dataclass(frozen=True)
class HeartbeatWrite:
    """A Heartbeat: when the charge point was last heard of. All of a transaction in one
    statement; one removed while connected is registered again as `registers_as` says
    (ChargePointRecords.status), with None not at all."""

    batched: ClassVar[bool] = True
    charge_point_id: str
    at: datetime
    registers_as: str | None

    @classmethod
    async def write_all(cls, session: AsyncSession, items: list[HeartbeatWrite]) -> list[None]:
        rows = [
            {
                "id": item.charge_point_id,
                "registration_status": item.registers_as,
                "last_heartbeat_at": item.at,
                "last_seen_at": item.at,
            }
            for item in items
        ]
        if items[0].registers_as is not None:  # one server's items share its policy
            await session.execute(_HEARTBEAT_UPSERT(session), rows)
        else:
            await session.execute(_UPDATE_BY_ID, [_by_id(row) for row in rows])
        return [None] * len(items)


@per_dialect
def _HEARTBEAT_UPSERT(insert: Any) -> Any:
    upsert = insert(ChargePoint.__table__)
    return upsert.on_conflict_do_update(
        index_elements=[ChargePoint.id],
        set_={
            "last_heartbeat_at": upsert.excluded.last_heartbeat_at,
            "last_seen_at": upsert.excluded.last_seen_at,
        },
    )


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        LOGGER.error("could not note a disconnection: %r", future.exception())


class ChargePointService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        settings: Settings,
        registration: ChargePointRecords,
        budget: StorageBudget,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._settings = settings
        self._budget = budget  # told of each row a charger's message adds to its tables
        # A charge point's own messages are written by group commit.
        self._registration = registration
        self._writes = registration.writes

    @property
    def settings(self) -> Settings:
        """What the protocol handler needs beyond the database (the CA that signs charge
        point certificates)."""
        return self._settings

    # --- registration -------------------------------------------------------------------

    async def register(
        self,
        charge_point_id: str,
        password: str | None = None,
        status: str = "Accepted",
        serial_number: str | None = None,
        ocpp_version: str | None = None,
        *,
        new_only: bool = False,
        actor: str | None = None,
    ) -> None:
        """Create or update a charge point; a password enables HTTP Basic auth for it. A
        serial number binds the client certificate it must present (security profile 3).
        An `ocpp_version` pins the only version it may connect with. `new_only`: one
        registered already (at the same moment too) is AlreadyExists, not updated."""
        # Only a new id must follow the rule: one registered before it stays manageable.
        # One holding NUL is refused at once: PostgreSQL cannot even look it up.
        problem = charge_point_id_problem(charge_point_id)
        if problem is not None and "\x00" in charge_point_id:
            raise InvalidInput(problem)
        _check_administration(status, ocpp_version)
        if password:
            check_charge_point_key(password)
        password_hash = await hash_password_async(password) if password else None
        fields = {
            "id": charge_point_id,
            "password_hash": password_hash,
            "registration_status": status,
            "serial_number": serial_number,
            "pinned_ocpp_version": ocpp_version,
        }
        try:
            await self._register_once(fields, problem, new_only, actor)
        except IntegrityError:
            if not await self._exists(charge_point_id):
                raise  # another check failed
            # Registered at the same moment by another request or instance.
            if new_only:
                raise AlreadyExists(
                    f"charge point {charge_point_id!r} is registered already"
                ) from None
            await self._register_once(fields, problem, new_only, actor)
        self._bus.publish("registered", charge_point_id, registration_status=status)

    async def _exists(self, charge_point_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(ChargePoint, charge_point_id) is not None

    async def _register_once(
        self, fields: dict[str, Any], problem: str | None, new_only: bool, actor: str | None
    ) -> None:
        charge_point_id = fields["id"]
        async with self._sessions.begin() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            if cp is None:
                if problem is not None:
                    raise InvalidInput(problem)
                session.add(ChargePoint(**fields))
            elif new_only:
                raise AlreadyExists(f"charge point {charge_point_id!r} is registered already")
            else:
                # What is given changes; the status always (it has a default).
                for name, value in fields.items():
                    if value is not None and name != "id":
                        setattr(cp, name, value)
            audit.add(session, actor, "register charge point", charge_point_id)

    async def set_registration_status(
        self, charge_point_id: str, status: str, *, actor: str | None = None
    ) -> None:
        """Accept (or hold Pending, or reject) a registered charge point: its next
        BootNotification is answered so."""
        await self.change(charge_point_id, registration_status=status, actor=actor)

    async def count(self) -> int:
        """How many charge points are registered."""
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(ChargePoint)) or 0)

    async def set_password(
        self, charge_point_id: str, password: str | None, *, actor: str | None = None
    ) -> None:
        """Set (or, with None, clear) the HTTP Basic key a charge point must present."""
        if password:
            check_charge_point_key(password)
        password_hash = await hash_password_async(password) if password else None
        async with self._sessions.begin() as session:
            cp = await registered_charge_point(session, charge_point_id)
            cp.password_hash = password_hash
            audit.add(session, actor, "set key" if password else "clear key", charge_point_id)

    async def ping_interval(self, charge_point_id: str) -> int | None:
        """This charger's own WebSocket ping interval, None for the global one."""
        async with self._sessions() as session:
            cp = await session.get(ChargePoint, charge_point_id)
            return cp.ping_interval if cp is not None else None

    async def set_protocol_settings(
        self,
        charge_point_id: str,
        *,
        lenient: bool | Keep = KEEP,
        ping_interval: int | Keep | None = KEEP,
        actor: str | None = None,
    ) -> None:
        """How Voltaro bears with this charger: lenient mode on or off (a live connection
        follows at once, by the event), its own WebSocket ping interval (None: the global
        one; 0: off). What is not given stays as it is."""
        await self.change(
            charge_point_id, lenient=lenient, ping_interval=ping_interval, actor=actor
        )

    async def set_pinned_version(
        self, charge_point_id: str, ocpp_version: str | None, *, actor: str | None = None
    ) -> None:
        """Pin the only version the charge point may connect with (None: any we serve);
        it applies from its next connection."""
        await self.change(charge_point_id, pinned_version=ocpp_version, actor=actor)

    async def change(
        self,
        charge_point_id: str,
        *,
        registration_status: str | Keep = KEEP,
        lenient: bool | Keep = KEEP,
        ping_interval: int | Keep | None = KEEP,
        pinned_version: str | Keep | None = KEEP,
        actor: str | None = None,
    ) -> None:
        """Change what is given of a registered charge point's administration, all in one
        transaction with its audit entries; what is not given stays as it is."""
        status, version = registration_status, pinned_version
        _check_administration(status, version)
        if not isinstance(ping_interval, Keep) and ping_interval is not None and ping_interval < 0:
            raise InvalidInput("ping interval must be 0 (off) or more seconds")
        async with self._sessions.begin() as session:
            cp = await registered_charge_point(session, charge_point_id)
            if not isinstance(status, Keep):
                cp.registration_status = status
                action = "accept charge point" if status == "Accepted" else "reject charge point"
                audit.add(session, actor, action, charge_point_id)
            settings = []
            if not isinstance(lenient, Keep):
                cp.lenient = lenient
                settings.append(f"lenient {lenient}")
            if not isinstance(ping_interval, Keep):
                cp.ping_interval = ping_interval
                settings.append(f"pings {pings_text(ping_interval)}")
            if settings:
                audit.add(session, actor, "protocol settings", charge_point_id, ", ".join(settings))
            if not isinstance(version, Keep):
                cp.pinned_ocpp_version = version
                audit.add(session, actor, "pin OCPP version", charge_point_id, version or "any")
        # After the commit: a live connection follows its lenient mode, the portal its status.
        if not isinstance(status, Keep):
            self._bus.publish("registered", charge_point_id, registration_status=status)
        if not isinstance(lenient, Keep):
            self._bus.publish("lenient", charge_point_id, lenient=lenient)

    async def delete(self, charge_point_id: str, *, actor: str | None = None) -> None:
        """Remove a charge point. One with sessions is kept: they are billing records. The
        "removed" event closes its connection, on whichever instance holds it."""
        for attempt in range(1, REMOVAL_TRIES + 1):
            try:
                await self._delete_once(charge_point_id, actor)
            except DBAPIError as error:
                # A row of it written meanwhile, or a charger's write met in a deadlock:
                # look again; the last time the error stands.
                raced = isinstance(error, IntegrityError) or aborted_for_others(error)
                if raced and attempt < REMOVAL_TRIES:
                    continue
                raise
            self._bus.publish("removed", charge_point_id)
            return

    async def _delete_once(self, charge_point_id: str, actor: str | None) -> None:
        async with self._sessions.begin() as session:
            # Locked first (PostgreSQL): a connected charger's writes that would add a row of
            # its own wait for this removal, and those under way are finished and counted.
            cp = await registered_charge_point(session, charge_point_id, lock=True)
            sessions = await session.scalar(
                select(func.count())
                .select_from(Transaction)
                .where(Transaction.charge_point_id == charge_point_id)
            )
            if sessions:
                raise InvalidInput(
                    f"charge point {charge_point_id!r} has {sessions} recorded session(s) "
                    "and is kept for their sake"
                )
            # Without sessions all its samples are applied to none (ix_meter_values_charge_point).
            await session.execute(
                delete(MeterValue).where(
                    MeterValue.charge_point_id == charge_point_id,
                    MeterValue.transaction_id.is_(None),
                )
            )
            await session.delete(cp)
            audit.add(session, actor, "remove charge point", charge_point_id)

    def note_disconnected(self, charge_point_id: str, last_message_at: datetime) -> None:
        """A connection closed: persist its last message's time and the disconnection's,
        by group commit, without waiting (called as the socket goes)."""
        write = DisconnectWrite(charge_point_id, last_message_at, utcnow())
        self._writes.submit(write).add_done_callback(_log_failure)

    # --- charge-point-initiated messages ----------------------------------------------

    async def boot(self, charge_point_id: str, info: BootInfo) -> tuple[str, int]:
        """Store what the charge point says of itself; answer (status, interval)."""
        boot = BootWrite(charge_point_id, info, utcnow(), self._registration.status)
        status = await self._writes.run(boot)
        self._bus.publish("boot", charge_point_id, registration_status=status)
        if status == "Accepted":
            return status, self._settings.heartbeat_interval
        return status, REGISTRATION_RETRY_INTERVAL

    async def heartbeat(self, charge_point_id: str) -> datetime:
        now = utcnow()
        await self._writes.run(HeartbeatWrite(charge_point_id, now, self._registration.status))
        self._bus.publish("heartbeat", charge_point_id, at=now.isoformat())
        return now

    async def status_notification(
        self,
        charge_point_id: str,
        connector_id: int,
        status: str,
        error_code: str,
        info: str | None = None,
        timestamp: datetime | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
        evse_id: int = 0,
    ) -> None:
        values = (
            charge_point_id,
            evse_id,
            connector_id,
            status,
            error_code,
            info,
            vendor_id,
            vendor_error_code,
            timestamp,
        )
        row: dict[str, object] = dict(zip(_STATUS_COLUMNS, values, strict=True))
        await self._registration.run(charge_point_id, StatusWrite(row))
        self._budget.note("status_notifications", charge_point_id)
        # 2.0.1 statuses name their EVSE; 1.6 events stay as they were.
        where = {"evse_id": evse_id} if evse_id else {}
        self._bus.publish(
            "status",
            charge_point_id,
            connector_id=connector_id,
            status=status,
            error_code=error_code,
            **where,
        )

    async def data_transfer(
        self, charge_point_id: str, vendor_id: str, message_id: str | None, data: str | None
    ) -> None:
        async def work(session: AsyncSession) -> None:
            session.add(
                DataTransferMessage(
                    charge_point_id=charge_point_id,
                    vendor_id=vendor_id,
                    message_id=message_id,
                    data=bounded(data),
                )
            )

        await self._registration.run(charge_point_id, work)
        self._budget.note("data_transfers", charge_point_id)

    async def status_report(self, charge_point_id: str, kind: str, status: str) -> None:
        """A DiagnosticsStatusNotification or FirmwareStatusNotification, or a
        LogStatusNotification (1.6 security extension, 2.0.1): a log upload's progress,
        kept where 1.6's diagnostics upload is."""
        now = utcnow()

        async def work(session: AsyncSession) -> None:
            cp = await self._registration.record(session, charge_point_id)
            if kind in ("diagnostics", "log"):
                cp.diagnostics_status, cp.diagnostics_status_at = status, now
            elif kind in ("firmware", "signed_firmware"):
                cp.firmware_status, cp.firmware_status_at = status, now
            session.add(StatusReport(charge_point_id=charge_point_id, kind=kind, status=status))
            outbox.record(session, f"{kind}_status", charge_point_id, status=status)

        await self._writes.run(work)
        self._bus.publish(f"{kind}_status", charge_point_id, status=status)

    async def security_event(
        self, charge_point_id: str, type: str, timestamp: datetime, tech_info: str | None
    ) -> None:
        async def work(session: AsyncSession) -> None:
            session.add(
                SecurityEvent(
                    charge_point_id=charge_point_id,
                    type=type,
                    timestamp=timestamp,
                    tech_info=bounded(tech_info),
                )
            )
            outbox.record(
                session,
                "security_event",
                charge_point_id,
                type=type,
                timestamp=timestamp,
                tech_info=bounded(tech_info),
            )

        await self._registration.run(charge_point_id, work)
        self._budget.note("security_events", charge_point_id)
        LOGGER.warning("%s: security event %s %s", charge_point_id, type, tech_info or "")
        self._bus.publish("security_event", charge_point_id, type=type)

    async def security_events(
        self, charge_point_id: str, limit: int = 50, before: int | None = None
    ) -> list[SecurityEventView]:
        """The charge point's newest security events (those before the id `before`),
        newest first."""
        query = newest(
            SecurityEvent,
            SecurityEvent.charge_point_id == charge_point_id,
            limit=limit,
            before=before,
        )
        async with self._sessions() as session:
            rows = await session.scalars(query)
            return [
                SecurityEventView(r.id, r.type, r.timestamp, r.tech_info, r.received_at)
                for r in rows
            ]

    # --- queries ------------------------------------------------------------------------

    async def status_history(
        self,
        charge_point_id: str,
        limit: int = 50,
        before: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StatusHistoryEntry]:
        """A charge point's StatusNotifications, newest first: `limit` of them, those
        received before the one numbered `before` (the next page), and at or after
        `since` and before `until` (when received). NotFound if unknown."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        where = [StatusNotification.charge_point_id == charge_point_id]
        if since is not None:
            where.append(StatusNotification.received_at >= since)
        if until is not None:
            where.append(StatusNotification.received_at < until)
        query = newest(StatusNotification, *where, limit=limit, before=before)
        async with self._sessions() as session:
            await registered_charge_point(session, charge_point_id)
            rows = (await session.scalars(query)).all()
        return [
            StatusHistoryEntry(
                r.id, r.evse_id or None, r.connector_id, r.status, r.error_code, r.info,
                r.vendor_id, r.vendor_error_code, r.timestamp, r.received_at,
            )
            for r in rows
        ]  # fmt: skip

    async def get(self, charge_point_id: str) -> ChargePointView:
        async with self._sessions() as session:
            cp = await registered_charge_point(session, charge_point_id)
            connectors = (
                await session.scalars(
                    select(Connector).where(Connector.charge_point_id == charge_point_id)
                )
            ).all()
            return _view(cp, list(connectors))

    async def list(self, charge_point_ids: Sequence[str] | None = None) -> list[ChargePointView]:
        """Every charge point, or those of `charge_point_ids` that are registered, by id."""
        charge_points = select(ChargePoint).order_by(ChargePoint.id)
        of_them = select(Connector)
        if charge_point_ids is not None:
            charge_points = charge_points.where(ChargePoint.id.in_(charge_point_ids))
            of_them = of_them.where(Connector.charge_point_id.in_(charge_point_ids))
        async with self._sessions() as session:
            cps = (await session.scalars(charge_points)).all()
            connectors = (await session.scalars(of_them)).all()
        by_cp: dict[str, list[Connector]] = {}
        for connector in connectors:
            by_cp.setdefault(connector.charge_point_id, []).append(connector)
        return [_view(cp, by_cp.get(cp.id, [])) for cp in cps]
