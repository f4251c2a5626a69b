"""Charging sessions and their meter values."""

from __future__ import annotations

import builtins
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVarTuple

from sqlalchemy import Select, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db import outbox
from ocpp_core.db.bulk import BulkInsert
from ocpp_core.db.ci_string import same_tag
from ocpp_core.db.models import MeterValue, Reservation, Transaction, utcnow
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.events import EventBus
from ocpp_core.frames import INT32_MAX
from ocpp_core.services.id_tags import (
    ID_TAG,
    TAG_ROW,
    IdTagInfo,
    IdTagService,
    info_of,
    tag_facts,
)
from ocpp_core.services.registration import ChargePointRecords
from ocpp_core.timeutil import parse_datetime

LOGGER = logging.getLogger(__name__)
# The columns of a query's rows, which filtering keeps.
Columns = TypeVarTuple("Columns")

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"

# Flags for the operator: the data is kept as the charger sent it, never silently "fixed".
OFFLINE = "offline"  # sent long after it happened (queued while offline)
FUTURE = "future_timestamp"  # the charger's clock is ahead of ours
OVERLAP = "overlap"  # another session was still open on the same connector
METER_BACKWARDS = "meter_stop_below_start"
CLOSED_BY_OPERATOR = "closed_by_operator"
# An operator closed it, and then the charger spoke of it (its StopTransaction or Ended,
# or meter values): what the charger sent corrected the close.
CORRECTED_AFTER_CLOSE = "corrected_after_close"
UNKNOWN_TRANSACTION = "unknown_transaction"
FOREIGN_TRANSACTION = "foreign_transaction"

OFFLINE_AFTER = timedelta(minutes=10)
CLOCK_TOLERANCE = timedelta(minutes=5)


def timing_flags(timestamp: datetime, received: datetime) -> list[str]:
    if timestamp > received + CLOCK_TOLERANCE:
        return [FUTURE]
    if timestamp < received - OFFLINE_AFTER:
        return [OFFLINE]
    return []


def _with_flags(flags: str | None, *more: str) -> str:
    current = [f for f in (flags or "").split(",") if f]
    return ",".join(current + [f for f in more if f not in current])


class Flagged(Protocol):
    """A session's flags: its row (Transaction) or the columns a writer holds of it."""

    flags: str


def add_flags(tx: Flagged, *flags: str) -> None:
    tx.flags = _with_flags(tx.flags, *flags)


def remove_flag(tx: Flagged, flag: str) -> None:
    """A flag says what is true: gone once it no longer is."""
    tx.flags = ",".join(f for f in (tx.flags or "").split(",") if f and f != flag)


class Stopped(Flagged, Protocol):
    """A session's stop: its row (Transaction) or the columns a writer holds of it."""

    start_time: datetime
    meter_stop: int | None
    stop_time: datetime | None
    stop_reason: str | None


def closed_by_operator(tx: Any) -> bool:
    """Whether a session (a Transaction, or a row with its `flags`) is closed by an
    operator and nothing the charger sent has ended it since."""
    return CLOSED_BY_OPERATOR in (tx.flags or "").split(",")


def correct_closed(
    tx: Stopped,
    at: datetime,
    meter_stop: int | None,
    ended: bool = False,
    reason: str | None = None,
) -> None:
    """A session an operator closed, spoken of by its charger after all: what the charger
    sends is the truth, the close an estimate. Its end (`ended`: StopTransaction, Ended)
    sets the stop; anything else only moves the stop later and the meter up."""
    if ended:
        if meter_stop is not None:
            tx.meter_stop = meter_stop
        tx.stop_time = max(at, tx.start_time)
        tx.stop_reason = reason or "Local"
        remove_flag(tx, CLOSED_BY_OPERATOR)
    else:
        if meter_stop is not None and (tx.meter_stop is None or meter_stop > tx.meter_stop):
            tx.meter_stop = meter_stop
        if tx.stop_time is None or at > tx.stop_time:
            tx.stop_time = at
    add_flags(tx, CORRECTED_AFTER_CLOSE)


@dataclass(frozen=True)
class TransactionFilter:
    charge_point_id: str | None = None
    id_tag: str | None = None
    active: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Charge point and id tag as parts of theirs, in any case (the portal's search); else
    # each exactly (the API's).
    partial: bool = False


def filtered(query: Select[*Columns], filters: TransactionFilter) -> Select[*Columns]:
    """`query` of transactions narrowed to those `filters` admit."""
    if filters.charge_point_id:
        if filters.partial:
            query = query.where(
                Transaction.charge_point_id.icontains(filters.charge_point_id, autoescape=True)
            )
        else:
            query = query.where(Transaction.charge_point_id == filters.charge_point_id)
    if filters.id_tag:
        if filters.partial:
            query = query.where(Transaction.id_tag.icontains(filters.id_tag, autoescape=True))
        else:
            query = query.where(same_tag(Transaction.id_tag, filters.id_tag))
    if filters.active is True:
        query = query.where(Transaction.stop_time.is_(None))
    elif filters.active is False:
        query = query.where(Transaction.stop_time.is_not(None))
    if filters.since is not None:
        query = query.where(Transaction.start_time >= filters.since)
    if filters.until is not None:
        query = query.where(Transaction.start_time < filters.until)
    return query


class SampledValue(NamedTuple):
    # A tuple (nine a MeterValues, built on every one): made several times faster than a
    # frozen dataclass, and it is the middle of its METER_VALUE_ROWS row as it stands.
    timestamp: datetime
    value: str
    measurand: str
    unit: str | None
    phase: str | None
    context: str | None
    location: str | None
    format: str | None


@dataclass(frozen=True)
class TransactionView:
    id: int
    charge_point_id: str
    connector_id: int
    # 2.0.1 sessions may have no tag (yet) and no register reading at their start.
    id_tag: str | None
    id_tag_status: str | None
    meter_start: int | None
    meter_stop: int | None
    start_time: datetime
    stop_time: datetime | None
    stop_reason: str | None
    reservation_id: int | None
    # Energy so far in whole Wh: meterStop - meterStart once stopped, else from the latest
    # register value.
    energy_wh: int | None
    flags: tuple[str, ...] = ()
    closed_by: str | None = None
    # 2.0.1: the EVSE and the charger's own transactionId.
    evse_id: int | None = None
    ocpp_transaction_id: str | None = None
    charging_state: str | None = None
    # 2.0.1: the remoteStartId of the RequestStartTransaction that began it, if one did.
    remote_start_id: int | None = None
    # Retention (RETAIN_METER_VALUES_DAYS): how many of the closed session's samples were
    # removed, and when it was pruned; readings and energy above are kept.
    meter_values_pruned: int = 0
    meter_values_pruned_at: datetime | None = None

    @property
    def charger_transaction_id(self) -> str:
        """The id the charge point knows the session by: 2.0.1's own, 1.6's our integer."""
        return self.ocpp_transaction_id or str(self.id)

    @property
    def active(self) -> bool:
        return self.stop_time is None

    @property
    def refused(self) -> bool:
        """Its tag was not accepted (unknown, blocked, expired, in another session): the
        charger was told to stop it, whether or not it did."""
        return self.id_tag_status not in (None, "Accepted")


@dataclass(frozen=True)
class LiveSession:
    transaction: TransactionView
    power_w: float | None


def event_values(samples: Iterable[SampledValue]) -> list[dict[str, Any]]:
    """What a `meter_values` event carries of each sample (the portal's live figures)."""
    return [
        {"measurand": s.measurand, "value": s.value, "unit": s.unit, "phase": s.phase}
        for s in samples
    ]


def sampled_values(meter_values: Iterable[dict[str, Any]]) -> list[SampledValue]:
    """Flatten OCPP MeterValue objects (snake_case, as the `ocpp` library hands them over),
    filling in the defaults the specification gives for omitted fields."""
    flat = []
    for meter_value in meter_values:
        timestamp = parse_datetime(meter_value["timestamp"])
        for sample in meter_value["sampled_value"]:
            flat.append(
                SampledValue(
                    timestamp=timestamp,
                    value=sample["value"],
                    measurand=sample.get("measurand") or ENERGY_REGISTER,
                    unit=sample.get("unit") or "Wh",
                    phase=sample.get("phase"),
                    context=sample.get("context") or "Sample.Periodic",
                    location=sample.get("location") or "Outlet",
                    format=sample.get("format") or "Raw",
                )
            )
    return flat


# No meter reads beyond what meterStart and meterStop, OCPP's 32-bit integers of Wh, can
# hold: a larger reading (1e30, 1e999 as infinity, NaN) is no energy or power, and is left
# out of every sum, chart and operator's close rather than stored as a session's meterStop.
MAX_READING = INT32_MAX


# How far back a session's latest sane reading is looked for behind unreadable ones.
_EARLIER_READINGS = 100


def energy_in_wh(value: str, unit: str | None) -> float | None:
    """A reading in its base unit (Wh, W, ...): the kilo- units are scaled. None when it is
    no number, or none a meter can read (not finite, beyond MAX_READING)."""
    try:
        number = float(value)
    except ValueError:
        return None
    if unit in ("kWh", "kW", "kvarh", "kvar", "kVA"):
        number *= 1000
    return number if math.isfinite(number) and abs(number) <= MAX_READING else None


def _view(tx: Transaction, last_register: float | None = None) -> TransactionView:
    # Whole Wh: a register read in kWh (30.6) is no exact binary fraction, and its
    # difference carried the noise (30599.999999998545) into page, API and CSV.
    if tx.meter_start is None:
        energy = None
    elif tx.meter_stop is not None:
        energy = tx.meter_stop - tx.meter_start
    elif last_register is not None:
        energy = round(last_register - tx.meter_start)
    else:
        energy = None
    return TransactionView(
        id=tx.id,
        charge_point_id=tx.charge_point_id,
        connector_id=tx.connector_id,
        id_tag=tx.id_tag,
        id_tag_status=tx.id_tag_status,
        meter_start=tx.meter_start,
        meter_stop=tx.meter_stop,
        start_time=tx.start_time,
        stop_time=tx.stop_time,
        stop_reason=tx.stop_reason,
        reservation_id=tx.reservation_id,
        energy_wh=energy,
        flags=tuple(f for f in (tx.flags or "").split(",") if f),
        closed_by=tx.closed_by,
        evse_id=tx.evse_id,
        ocpp_transaction_id=tx.ocpp_transaction_id,
        charging_state=tx.charging_state,
        remote_start_id=tx.remote_start_id,
        meter_values_pruned=tx.meter_values_pruned or 0,
        meter_values_pruned_at=tx.meter_values_pruned_at,
    )


@dataclass
class MeterValuesWrite:
    """One MeterValues message, written together with the others of its transaction: one
    query finds the transactions named, one inserts every sample.

    `may_be_retry`: the message could repeat one stored before whose answer the charger
    never got, and is looked up first. With one CALL outstanding (OCPP-J 4.1.1) only the
    message in flight when a link dropped can be such a repeat: the first MeterValues on
    a new connection. Later ones are compared by the connection itself with the one before
    (a charger that gave up waiting and sent it again), see `ChargePointHandler`."""

    batched: ClassVar[bool] = True
    charge_point_id: str
    connector_id: int
    transaction_id: int | None
    samples: list[SampledValue]
    may_be_retry: bool = True
    evse_id: int | None = None  # 2.0.1

    @classmethod
    async def write_all(
        cls, session: AsyncSession, items: list[MeterValuesWrite]
    ) -> list[tuple[bool, int | None, bool]]:
        """Each item's (stored now, the session it belongs to, whether that is unknown)."""
        retried = await cls._retries(session, items)
        named = {item.transaction_id for item in items if item.transaction_id is not None}
        owners: dict[int, str] = {}
        closed: dict[int, Any] = {}  # sessions an operator closed: the samples correct them
        if named:
            rows = await session.execute(_OWNERS, {"ids": list(named)})
            for row in rows:
                owners[row.id] = row.charge_point_id
                if row.stop_time is not None and closed_by_operator(row):
                    closed[row.id] = row
        results: list[tuple[bool, int | None, bool]] = []
        rows_to_insert: list[tuple[Any, ...]] = []
        corrected: dict[int, list[SampledValue]] = {}
        now = utcnow()
        for index, item in enumerate(items):
            if index in retried:
                results.append((False, None, False))
                continue
            linked = flag = None
            if item.transaction_id is not None:
                # By (charge point, id): one charger must never touch another's session.
                owner = owners.get(item.transaction_id)
                if owner == item.charge_point_id:
                    linked = item.transaction_id
                else:
                    flag = FOREIGN_TRANSACTION if owner is not None else UNKNOWN_TRANSACTION
            rows_to_insert += sample_rows(
                item.charge_point_id,
                item.connector_id,
                linked,
                item.transaction_id,
                item.samples,
                "MeterValues",
                flag,
                now,
                item.evse_id,
            )
            results.append((True, linked, flag is not None))
            if linked in closed:
                corrected.setdefault(linked, []).extend(item.samples)
        await METER_VALUE_ROWS.write(session, rows_to_insert)
        for transaction_id, samples in corrected.items():
            await _correct_by_samples(session, closed[transaction_id], samples, now)
        return results

    @staticmethod
    async def _retries(session: AsyncSession, items: list[MeterValuesWrite]) -> set[int]:
        """The items (of those that may be one) whose first sample is stored already."""
        retried = set()
        for index, item in enumerate(items):
            if not item.may_be_retry or not item.samples:
                continue
            first = item.samples[0]
            parameters = {
                "charge_point_id": item.charge_point_id,
                "timestamp": first.timestamp,
                "connector_id": item.connector_id,
                "measurand": first.measurand,
                "value": first.value,
                "claimed_transaction_id": item.transaction_id,
            }
            # Stored applied to the session it names, or (unknown, foreign, none named)
            # to no session: each way has its own index.
            queries: tuple[Select[int], ...] = (_STORED_UNLINKED,)
            if item.transaction_id is not None:
                queries = (_STORED_LINKED, _STORED_STRAY)
            for query in queries:
                if (await session.scalars(query, parameters)).first() is not None:
                    retried.add(index)
                    break
        return retried


async def _correct_by_samples(
    session: AsyncSession, closed: Any, samples: list[SampledValue], now: datetime
) -> None:
    """Meter values for a session an operator closed while its charger was still there
    (rare, never on the common path): the stop moves to the latest reading, the meter up
    to the latest register (never above the present: a clock ahead outranks nothing)."""
    present = [s for s in samples if s.timestamp <= now + CLOCK_TOLERANCE]
    if not present:
        return
    tx = await session.get(Transaction, closed.id)
    if tx is None:
        return
    registers = [
        (s.timestamp, wh)
        for s in present
        if s.measurand == ENERGY_REGISTER
        and s.phase is None
        and (wh := energy_in_wh(s.value, s.unit)) is not None
    ]
    reading = round(max(registers, key=lambda r: r[0])[1]) if registers else None
    correct_closed(tx, max(s.timestamp for s in present), reading)
    await session.flush()


# Built once: a statement made per message costs more to build and key for the cache
# than to run. A sample stored before from the same message: same charger, connector,
# time, measurand and value, from a MeterValues message.
_STORED = select(MeterValue.id).where(
    MeterValue.charge_point_id == bindparam("charge_point_id"),
    MeterValue.timestamp == bindparam("timestamp"),
    MeterValue.connector_id == bindparam("connector_id"),
    MeterValue.measurand == bindparam("measurand"),
    MeterValue.value == bindparam("value"),
    MeterValue.source == "MeterValues",
)
# Found by ix_meter_values_charge_point, as are the two below.
_STORED_LINKED = _STORED.where(
    MeterValue.transaction_id == bindparam("claimed_transaction_id")
).limit(1)
_UNLINKED = _STORED.where(MeterValue.transaction_id.is_(None))
_STORED_STRAY = _UNLINKED.where(
    MeterValue.claimed_transaction_id == bindparam("claimed_transaction_id")
).limit(1)
_STORED_UNLINKED = _UNLINKED.where(MeterValue.claimed_transaction_id.is_(None)).limit(1)


def _samples_of(tx: Any) -> tuple[Any, ...]:
    """The conditions that pick a session's samples (a Transaction, or its table in a
    join): by its charger and id, the order of ix_meter_values_charge_point, which a
    session's id alone cannot use."""
    return (
        MeterValue.charge_point_id == tx.charge_point_id,
        MeterValue.transaction_id == tx.id,
    )


# StartTransaction's statements, built once for the same reason.
_TX = Transaction.__table__
# The charge point each named session belongs to (MeterValuesWrite).
_OWNERS = select(_TX.c.id, _TX.c.charge_point_id, _TX.c.stop_time, _TX.c.flags).where(
    _TX.c.id.in_(bindparam("ids", expanding=True))
)
# A replay sends the tag as it did the first time: compared exactly, on the index of 1.6
# sessions (uq_transactions_v16_start_identity, whose condition the query repeats).
_START_IDENTITY = select(_TX.c.id).where(
    _TX.c.ocpp_transaction_id.is_(None),
    _TX.c.charge_point_id == bindparam("charge_point_id"),
    _TX.c.connector_id == bindparam("connector_id"),
    _TX.c.id_tag == bindparam("id_tag"),
    _TX.c.start_time == bindparam("start_time"),
    _TX.c.meter_start == bindparam("meter_start"),
)
_OPEN_ON_CONNECTOR = (
    select(_TX.c.id)
    .where(
        _TX.c.charge_point_id == bindparam("charge_point_id"),
        _TX.c.connector_id == bindparam("connector_id"),
        _TX.c.stop_time.is_(None),
    )
    .limit(1)
)
_INSERT_TRANSACTION = insert(_TX).returning(_TX.c.id)
_STOP_TRANSACTION = (
    update(_TX)
    .where(_TX.c.id == bindparam("transaction_id"))
    .values(
        meter_stop=bindparam("meter_stop"),
        stop_time=bindparam("stop_time"),
        stop_reason=bindparam("stop_reason"),
        stop_id_tag=bindparam("stop_id_tag"),
        flags=bindparam("flags"),
    )
)
_RESERVATIONS = Reservation.__table__
_RESERVED = select(_RESERVATIONS.c.id).where(
    _RESERVATIONS.c.charge_point_id == bindparam("charge_point_id"),
    _RESERVATIONS.c.status == "Reserved",
)
_RESERVATION_BY_ID = _RESERVED.where(_RESERVATIONS.c.id == bindparam("reservation_id")).limit(1)
_RESERVATION_BY_TAG = _RESERVED.where(
    _RESERVATIONS.c.connector_id == bindparam("connector_id"),
    same_tag(_RESERVATIONS.c.id_tag, ID_TAG),
).limit(1)
_USE_RESERVATION = (
    update(_RESERVATIONS)
    .where(_RESERVATIONS.c.id == bindparam("reservation"))
    .values(status="Used", transaction_id=bindparam("transaction_id"))
)
# All that StartTransaction reads, in one statement (on PostgreSQL each is a round trip
# that every message in the group commit's transaction waits for): the tag (TAG_FACTS),
# the same start stored before (a replay), another session open on the connector, and the
# reservation it may use, by its id or by the tag on the connector.
_START_FACTS = tag_facts(
    _START_IDENTITY.limit(1).correlate(None).scalar_subquery().label("existing"),
    _OPEN_ON_CONNECTOR.correlate(None).exists().label("busy"),
    _RESERVATION_BY_ID.correlate(None).scalar_subquery().label("by_id"),
    _RESERVATION_BY_TAG.correlate(None).scalar_subquery().label("by_tag"),
)
# StopTransaction's: the session, by (charge point, id) - one charger must never touch
# another's - and the tag of the stop.
_OWN = _TX.alias("own")
_STOP_FACTS = tag_facts(
    _OWN.c.id.label("own_id"), _OWN.c.connector_id, _OWN.c.meter_start, _OWN.c.stop_time,
    _OWN.c.flags,
).select_from(
    TAG_ROW.outerjoin(
        _OWN,
        (_OWN.c.id == bindparam("transaction_id"))
        & (_OWN.c.charge_point_id == bindparam("charge_point_id")),
    )
)  # fmt: skip


METER_VALUE_ROWS = BulkInsert(
    MeterValue.__table__,
    (
        "charge_point_id",
        "connector_id",
        "transaction_id",
        "claimed_transaction_id",
        "timestamp",
        "value",
        "measurand",
        "unit",
        "phase",
        "context",
        "location",
        "format",
        "source",
        "flag",
        "received_at",
        "evse_id",
    ),
)
# sample_rows puts a SampledValue in the middle of a row as it stands.
assert METER_VALUE_ROWS.columns[4:12] == SampledValue._fields


def sample_rows(
    charge_point_id: str,
    connector_id: int,
    transaction_id: int | None,
    claimed_transaction_id: int | None,
    samples: list[SampledValue],
    source: str,
    flag: str | None,
    received_at: datetime,
    evse_id: int | None = None,
) -> list[tuple[Any, ...]]:
    """METER_VALUE_ROWS rows of `samples`."""
    before = (charge_point_id, connector_id, transaction_id, claimed_transaction_id)
    after = (source, flag, received_at, evse_id)
    return [before + sample + after for sample in samples]


class TransactionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        id_tags: IdTagService,
        registration: ChargePointRecords,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._id_tags = id_tags
        # A charge point's own messages are written by group commit.
        self._registration = registration

    async def start(
        self,
        charge_point_id: str,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: datetime,
        reservation_id: int | None = None,
    ) -> tuple[int, IdTagInfo]:
        """Record a session and assign its id. A replay of the same start (the charger lost
        our answer) gets the id it was given the first time."""
        identity = {
            "charge_point_id": charge_point_id,
            "connector_id": connector_id,
            "id_tag": id_tag,
            "start_time": timestamp,
            "meter_start": meter_start,
        }

        async def work(session: AsyncSession) -> tuple[int, IdTagInfo, bool]:
            facts = (
                await session.execute(
                    _START_FACTS,
                    {**identity, "reservation_id": reservation_id, "owner": "", "ignore": 0},
                )
            ).one()
            if facts.existing is not None:
                ignore = (charge_point_id, facts.existing)
                return facts.existing, await self._id_tags.info(session, id_tag, ignore), False
            # The charger has started already: the session is stored whatever the tag's
            # status; a non-Accepted status tells the charger to stop it.
            info = info_of(facts)
            flags = timing_flags(timestamp, utcnow())
            if facts.busy:
                flags.append(OVERLAP)
            inserted = await session.execute(
                _INSERT_TRANSACTION,
                {
                    **identity,
                    "id_tag_status": info.status,
                    "reservation_id": reservation_id,
                    "flags": ",".join(flags),
                },
            )
            transaction_id = inserted.scalar_one()
            # A session started on a reservation (by its id, or by its tag on its
            # connector) uses it up.
            reservation = facts.by_id if reservation_id is not None else facts.by_tag
            if reservation is not None:
                await session.execute(
                    _USE_RESERVATION,
                    {"reservation": reservation, "transaction_id": transaction_id},
                )
            outbox.record(
                session,
                "transaction_started",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                id_tag=id_tag,
                id_tag_status=info.status,
                meter_start=meter_start,
                timestamp=timestamp,
            )
            return transaction_id, info, True

        # Run again if the same start raced in twice: the second attempt finds the first.
        transaction_id, info, new = await self._registration.run(charge_point_id, work)
        if not new:
            LOGGER.info(
                "%s: replayed StartTransaction, answering transaction %s again",
                charge_point_id,
                transaction_id,
            )
            return transaction_id, info
        self._bus.publish(
            "transaction_started",
            charge_point_id,
            transaction_id=transaction_id,
            connector_id=connector_id,
            id_tag=id_tag,
            id_tag_status=info.status,
            meter_start=meter_start,
        )
        return transaction_id, info

    async def stop(
        self,
        charge_point_id: str,
        transaction_id: int,
        meter_stop: int,
        timestamp: datetime,
        id_tag: str | None = None,
        reason: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
    ) -> IdTagInfo | None:
        """Close a session. Always succeeds: a charger whose StopTransaction is refused
        retries it forever, so unknown ids are logged and their data kept unlinked."""
        samples = sampled_values(transaction_data or [])

        async def work(session: AsyncSession) -> tuple[bool, bool, int, IdTagInfo | None]:
            # By (charge point, id): one charger must never touch another's session.
            tx = (
                await session.execute(
                    _STOP_FACTS,
                    {
                        "transaction_id": transaction_id,
                        "charge_point_id": charge_point_id,
                        "id_tag": id_tag,
                        # Its own session, stopped now, is no concurrent one.
                        "owner": charge_point_id,
                        "ignore": transaction_id,
                    },
                )
            ).one()
            known = tx.own_id is not None
            stopped = False
            if known and tx.stop_time is None:
                flags = timing_flags(timestamp, utcnow())
                if tx.meter_start is not None and meter_stop < tx.meter_start:
                    flags.append(METER_BACKWARDS)
                await session.execute(
                    _STOP_TRANSACTION,
                    {
                        "transaction_id": transaction_id,
                        "meter_stop": meter_stop,
                        "stop_time": timestamp,
                        "stop_reason": reason or "Local",
                        "stop_id_tag": id_tag,
                        "flags": _with_flags(tx.flags, *flags),
                    },
                )
                stopped = True
            elif known and closed_by_operator(tx):
                # Closed by an operator while the charger was still there: its own stop
                # is the truth (meter, time, reason), and the session says it was corrected.
                corrected = _with_flags(
                    tx.flags, CORRECTED_AFTER_CLOSE, *timing_flags(timestamp, utcnow())
                )
                if tx.meter_start is not None and meter_stop < tx.meter_start:
                    corrected = _with_flags(corrected, METER_BACKWARDS)
                await session.execute(
                    _STOP_TRANSACTION,
                    {
                        "transaction_id": transaction_id,
                        "meter_stop": meter_stop,
                        "stop_time": timestamp,
                        "stop_reason": reason or "Local",
                        "stop_id_tag": id_tag,
                        "flags": ",".join(
                            f for f in corrected.split(",") if f != CLOSED_BY_OPERATOR
                        ),
                    },
                )
                stopped = True
            connector_id = tx.connector_id if known else 0
            flag = None if known else await self._stray_flag(session, transaction_id)
            rows = sample_rows(
                charge_point_id,
                connector_id,
                transaction_id if known else None,
                transaction_id,
                samples,
                "StopTransaction",
                flag,
                utcnow(),
            )
            await METER_VALUE_ROWS.write(session, rows)
            if stopped:
                outbox.record(
                    session,
                    "transaction_stopped",
                    charge_point_id,
                    transaction_id=transaction_id,
                    connector_id=connector_id,
                    meter_stop=meter_stop,
                    reason=reason or "Local",
                    timestamp=timestamp,
                )
            return known, stopped, connector_id, info_of(tx) if id_tag else None

        known, stopped, connector_id, info = await self._registration.run(charge_point_id, work)
        if not known:
            LOGGER.warning(
                "%s: StopTransaction for unknown transaction %s", charge_point_id, transaction_id
            )
        if stopped:
            self._bus.publish(
                "transaction_stopped",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                meter_stop=meter_stop,
                reason=reason or "Local",
            )
        return info

    async def meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_value: list[dict[str, Any]],
        may_be_retry: bool = True,
    ) -> bool:
        """Store a MeterValues message; False if it was stored before (a charger's retry).
        `may_be_retry`: see MeterValuesWrite."""
        samples = sampled_values(meter_value)
        write = MeterValuesWrite(
            charge_point_id, connector_id, transaction_id, samples, may_be_retry
        )
        stored, linked, stray = await self._registration.run(charge_point_id, write)
        if not stored:
            # A retry of a message whose answer was lost (server restart, broken link):
            # stored once already, acknowledged again.
            LOGGER.info("%s: MeterValues already stored, not stored twice", charge_point_id)
            return False
        if stray:
            LOGGER.warning(
                "%s: MeterValues for unknown transaction %s", charge_point_id, transaction_id
            )
        self._bus.publish(
            "meter_values",
            charge_point_id,
            connector_id=connector_id,
            transaction_id=linked,
            values=event_values(samples),
        )
        return True

    async def close(self, transaction_id: int, closed_by: str) -> TransactionView:
        """Close a session whose StopTransaction never came (charger replaced, reset): the
        energy is taken from its last meter reading, and the session is flagged."""
        async with self._sessions.begin() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            if tx.stop_time is not None:
                raise InvalidInput(f"transaction {transaction_id} has already stopped")
            registers = await self._last_registers(session, [tx.id])
            last_reading = await session.scalar(
                select(func.max(MeterValue.timestamp)).where(
                    *_samples_of(tx), MeterValue.timestamp <= utcnow() + CLOCK_TOLERANCE
                )
            )
            last = registers.get(tx.id, tx.meter_start)
            tx.meter_stop = round(last) if last is not None else None
            tx.stop_time = last_reading or utcnow()
            tx.stop_reason = "Other"
            tx.closed_by = closed_by
            add_flags(tx, CLOSED_BY_OPERATOR)
            charge_point_id, connector_id = tx.charge_point_id, tx.connector_id
            view = _view(tx)
            outbox.record(
                session,
                "transaction_stopped",
                charge_point_id,
                transaction_id=transaction_id,
                connector_id=connector_id,
                meter_stop=view.meter_stop,
                reason="Other",
                timestamp=tx.stop_time,
                closed_by=closed_by,
            )
        self._bus.publish(
            "transaction_stopped",
            charge_point_id,
            transaction_id=transaction_id,
            connector_id=connector_id,
            meter_stop=view.meter_stop,
            reason="Other",
        )
        return view

    # --- queries ------------------------------------------------------------------------

    async def list(
        self,
        charge_point_id: str | None = None,
        active: bool | None = None,
        limit: int = 1000,
        offset: int = 0,
        filters: TransactionFilter | None = None,
        before_id: int | None = None,
    ) -> list[TransactionView]:
        """Newest first, `limit` of them (a caller that pages asks for one more than it
        shows, to know whether more follow). `filters` adds id tag and date range to the
        two plain ones; `before_id`: those older than that session (the next page, by the
        primary key at any depth)."""
        filters = filters or TransactionFilter(charge_point_id=charge_point_id, active=active)
        query = filtered(
            select(Transaction).order_by(Transaction.id.desc()).limit(limit).offset(offset),
            filters,
        )
        if before_id is not None:
            query = query.where(Transaction.id < before_id)
        async with self._sessions() as session:
            transactions = (await session.scalars(query)).all()
            registers = await self._last_registers(
                session, [tx.id for tx in transactions if tx.stop_time is None]
            )
        return [_view(tx, registers.get(tx.id)) for tx in transactions]

    async def count(self, filters: TransactionFilter) -> int:
        query = filtered(select(func.count()).select_from(Transaction), filters)
        async with self._sessions() as session:
            return int(await session.scalar(query) or 0)

    async def charging_states(
        self, charge_point_ids: builtins.list[str] | None = None
    ) -> dict[str, builtins.list[str | None]]:
        """The chargingState of each open session (2.0.1; None for 1.6) by charge point:
        what the one-word status of a 2.0.1 station needs, without the meter readings."""
        query = select(Transaction.charge_point_id, Transaction.charging_state).where(
            Transaction.stop_time.is_(None)
        )
        if charge_point_ids is not None:
            query = query.where(Transaction.charge_point_id.in_(charge_point_ids))
        states: dict[str, builtins.list[str | None]] = {}
        async with self._sessions() as session:
            for charge_point_id, state in await session.execute(query):
                states.setdefault(charge_point_id, []).append(state)
        return states

    async def live(
        self, charge_point_ids: builtins.list[str] | None = None
    ) -> builtins.list[LiveSession]:
        """The open sessions (of the given charge points), with energy and power so far."""
        query = select(Transaction).where(Transaction.stop_time.is_(None))
        if charge_point_ids is not None:
            query = query.where(Transaction.charge_point_id.in_(charge_point_ids))
        async with self._sessions() as session:
            transactions = (await session.scalars(query.order_by(Transaction.id))).all()
            ids = [tx.id for tx in transactions]
            registers = await self._last_registers(session, ids)
            powers = await self._last_registers(session, ids, POWER)
        return [
            LiveSession(_view(tx, registers.get(tx.id)), powers.get(tx.id)) for tx in transactions
        ]

    async def get(self, transaction_id: int) -> TransactionView:
        async with self._sessions() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            registers = await self._last_registers(session, [tx.id])
        return _view(tx, registers.get(tx.id))

    async def by_ocpp_id(self, charge_point_id: str, ocpp_id: str) -> TransactionView | None:
        """A 2.0.1 charger's session by the transactionId it gave it."""
        async with self._sessions() as session:
            tx = await session.scalar(
                select(Transaction).where(
                    Transaction.charge_point_id == charge_point_id,
                    Transaction.ocpp_transaction_id == ocpp_id,
                )
            )
        return _view(tx) if tx is not None else None

    async def meter_values_of(self, transaction_id: int) -> builtins.list[SampledValue]:
        async with self._sessions() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            rows = (
                await session.scalars(
                    select(MeterValue)
                    .where(*_samples_of(tx))
                    .order_by(MeterValue.timestamp, MeterValue.id)
                )
            ).all()
        return [
            SampledValue(
                r.timestamp, r.value, r.measurand, r.unit, r.phase, r.context, r.location, r.format
            )
            for r in rows
        ]

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    async def _stray_flag(session: AsyncSession, transaction_id: int) -> str:
        """Why data naming `transaction_id`, not a session of its sender's, is applied to
        no session."""
        other = await session.get(Transaction, transaction_id)
        return FOREIGN_TRANSACTION if other is not None else UNKNOWN_TRANSACTION

    @staticmethod
    async def _last_registers(
        session: AsyncSession, transaction_ids: builtins.list[int], measurand: str = ENERGY_REGISTER
    ) -> dict[int, float]:
        """The latest total (not per-phase) reading of `measurand` of each transaction, in
        Wh or W: kWh and kW are converted."""
        if not transaction_ids:
            return {}
        # Each session's samples by its charger and id, as ix_meter_values_charge_point
        # finds them: the sessions are joined for their chargers.
        latest = (
            select(
                MeterValue.charge_point_id,
                MeterValue.transaction_id,
                func.max(MeterValue.timestamp).label("at"),
            )
            .join(Transaction, and_(*_samples_of(Transaction)))
            .where(
                Transaction.id.in_(transaction_ids),
                MeterValue.measurand == measurand,
                MeterValue.phase.is_(None),
                # A reading stamped ahead of our clock does not outrank the present ones.
                MeterValue.timestamp <= utcnow() + CLOCK_TOLERANCE,
            )
            .group_by(MeterValue.charge_point_id, MeterValue.transaction_id)
            .subquery()
        )
        rows = await session.execute(
            select(MeterValue.transaction_id, MeterValue.value, MeterValue.unit)
            .join(
                latest,
                (MeterValue.charge_point_id == latest.c.charge_point_id)
                & (MeterValue.transaction_id == latest.c.transaction_id)
                & (MeterValue.timestamp == latest.c.at),
            )
            .where(MeterValue.measurand == measurand, MeterValue.phase.is_(None))
        )
        registers: dict[int, float] = {}
        unreadable: set[int] = set()
        for transaction_id, value, unit in rows:
            if transaction_id is None:  # the samples are joined by it: never, but nullable
                continue
            wh = energy_in_wh(value, unit)
            if wh is not None:
                registers[transaction_id] = wh
            else:
                unreadable.add(transaction_id)
        # A latest reading that is no number a meter makes is ignored: the one before it
        # counts, looked for among the last few (rare: one query per such session).
        for transaction_id in unreadable - registers.keys():
            earlier = await session.execute(
                select(MeterValue.value, MeterValue.unit)
                .join(Transaction, and_(*_samples_of(Transaction)))
                .where(
                    Transaction.id == transaction_id,
                    MeterValue.measurand == measurand,
                    MeterValue.phase.is_(None),
                    MeterValue.timestamp <= utcnow() + CLOCK_TOLERANCE,
                )
                .order_by(MeterValue.timestamp.desc(), MeterValue.id.desc())
                .limit(_EARLIER_READINGS)
            )
            for value, unit in earlier:
                wh = energy_in_wh(value, unit)
                if wh is not None:
                    registers[transaction_id] = wh
                    break
        return registers
