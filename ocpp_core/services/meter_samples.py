"""Meter values: the samples of MeterValues, StopTransaction and TransactionEvent as they
are stored, the write of a MeterValues message (batched by the group commit), and the
readings taken from them (a session's latest register, its power)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ocpp_core.db.bulk import BulkInsert
from ocpp_core.db.models import MeterValue, Transaction, utcnow
from ocpp_core.payload_checks import INT32_MAX
from ocpp_core.services.session_flags import (
    CLOCK_TOLERANCE,
    FOREIGN_TRANSACTION,
    UNKNOWN_TRANSACTION,
    closed_by_operator,
    correct_closed,
)
from ocpp_core.timeutil import parse_datetime

ENERGY_REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


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


def samples_of(tx: Any) -> tuple[Any, ...]:
    """The conditions that pick a session's samples (a Transaction, or its table in a
    join): by its charger and id, the order of ix_meter_values_charge_point, which a
    session's id alone cannot use."""
    return (
        MeterValue.charge_point_id == tx.charge_point_id,
        MeterValue.transaction_id == tx.id,
    )


# The charge point each named session belongs to (MeterValuesWrite).
_TX = Transaction.__table__
_OWNERS = select(_TX.c.id, _TX.c.charge_point_id, _TX.c.stop_time, _TX.c.flags).where(
    _TX.c.id.in_(bindparam("ids", expanding=True))
)


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


async def latest_readings(
    session: AsyncSession, transaction_ids: list[int], measurand: str = ENERGY_REGISTER
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
        .join(Transaction, and_(*samples_of(Transaction)))
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
            .join(Transaction, and_(*samples_of(Transaction)))
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
