"""Reading charging sessions: the views of them the portal and the API show, filtered and
paged, and the open ones with their energy and power so far."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.ci_string import same_tag
from ocpp_core.db.models import MeterValue, Transaction
from ocpp_core.db.newest import newest
from ocpp_core.errors import NotFound
from ocpp_core.services.meter_samples import POWER, SampledValue, latest_readings, samples_of

# The columns of a query's rows, which filtering keeps.
Columns = TypeVarTuple("Columns")


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


def transaction_view(tx: Transaction, last_register: float | None = None) -> TransactionView:
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


class TransactionQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
        query = filtered(newest(Transaction, limit=limit, before=before_id).offset(offset), filters)
        async with self._sessions() as session:
            transactions = (await session.scalars(query)).all()
            registers = await latest_readings(
                session, [tx.id for tx in transactions if tx.stop_time is None]
            )
        return [transaction_view(tx, registers.get(tx.id)) for tx in transactions]

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
            registers = await latest_readings(session, ids)
            powers = await latest_readings(session, ids, POWER)
        return [
            LiveSession(transaction_view(tx, registers.get(tx.id)), powers.get(tx.id))
            for tx in transactions
        ]

    async def get(self, transaction_id: int) -> TransactionView:
        async with self._sessions() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            registers = await latest_readings(session, [tx.id])
        return transaction_view(tx, registers.get(tx.id))

    async def by_ocpp_id(self, charge_point_id: str, ocpp_id: str) -> TransactionView | None:
        """A 2.0.1 charger's session by the transactionId it gave it."""
        async with self._sessions() as session:
            tx = await session.scalar(
                select(Transaction).where(
                    Transaction.charge_point_id == charge_point_id,
                    Transaction.ocpp_transaction_id == ocpp_id,
                )
            )
        return transaction_view(tx) if tx is not None else None

    async def meter_values_of(self, transaction_id: int) -> builtins.list[SampledValue]:
        async with self._sessions() as session:
            tx = await session.get(Transaction, transaction_id)
            if tx is None:
                raise NotFound(f"transaction {transaction_id} does not exist")
            rows = (
                await session.scalars(
                    select(MeterValue)
                    .where(*samples_of(tx))
                    .order_by(MeterValue.timestamp, MeterValue.id)
                )
            ).all()
        return [
            SampledValue(
                r.timestamp, r.value, r.measurand, r.unit, r.phase, r.context, r.location, r.format
            )
            for r in rows
        ]
