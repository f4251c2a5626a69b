"""What a filtered set of sessions adds up to: how many, their energy and time, per day
and per charge point and id tag, each an aggregate the database computes (a fleet's
sessions are far too many to read for a sum)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from ocpp_core.db.models import Transaction
from ocpp_core.services.transaction_queries import TransactionFilter, filtered

TOP = 10  # charge points and id tags listed by energy
DAYS = 60  # days the energy-per-day chart covers, up to the newest in the set


@dataclass(frozen=True)
class Share:
    """A day's, a charge point's or an id tag's part of the set."""

    key: str
    sessions: int
    energy_wh: int


@dataclass(frozen=True)
class Totals:
    sessions: int
    finished: int
    # Energy of the sessions with both readings (an open 2.0.1 session's latest one
    # included); time of the finished sessions.
    energy_wh: int
    duration_s: int
    by_day: tuple[Share, ...]  # oldest first, the newest DAYS days that have sessions
    by_charge_point: tuple[Share, ...]  # most energy first
    by_tag: tuple[Share, ...]


_ENERGY = case(
    (
        Transaction.meter_stop.is_not(None) & Transaction.meter_start.is_not(None),
        Transaction.meter_stop - Transaction.meter_start,
    ),
    else_=0,
)


def _seconds(dialect: str) -> ColumnElement[Any]:
    """A finished session's length in seconds (SQLite keeps times as text)."""
    if dialect == "sqlite":
        days = func.julianday(Transaction.stop_time) - func.julianday(Transaction.start_time)
        return days * 86400
    return func.extract("epoch", Transaction.stop_time - Transaction.start_time)


def _day(dialect: str) -> ColumnElement[str]:
    """A session's start day (UTC) as YYYY-MM-DD."""
    if dialect == "sqlite":
        return func.substr(Transaction.start_time, 1, 10)
    return func.to_char(func.timezone("UTC", Transaction.start_time), "YYYY-MM-DD")


class TransactionTotals:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def of(self, filters: TransactionFilter) -> Totals:
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            sums = (
                await session.execute(
                    filtered(
                        select(
                            func.count(),
                            func.count(Transaction.stop_time),
                            func.coalesce(func.sum(_ENERGY), 0),
                            func.coalesce(func.sum(_seconds(dialect)), 0),
                        ),
                        filters,
                    )
                )
            ).one()
            day = _day(dialect).label("day")
            days = await self._shares(session, filters, day, day.desc(), DAYS)
            charge_points = await self._shares(
                session, filters, Transaction.charge_point_id, func.sum(_ENERGY).desc(), TOP
            )
            tags = await self._shares(
                session,
                filters,
                Transaction.id_tag,
                func.sum(_ENERGY).desc(),
                TOP,
                skip_null=True,
            )
        return Totals(
            sessions=int(sums[0]),
            finished=int(sums[1]),
            energy_wh=int(sums[2]),
            duration_s=round(sums[3]),
            by_day=tuple(reversed(days)),
            by_charge_point=charge_points,
            by_tag=tags,
        )

    @staticmethod
    async def _shares(
        session: AsyncSession,
        filters: TransactionFilter,
        key: ColumnElement[Any] | InstrumentedAttribute[Any],
        order: ColumnElement[Any],
        limit: int,
        skip_null: bool = False,
    ) -> tuple[Share, ...]:
        query = select(key, func.count(), func.coalesce(func.sum(_ENERGY), 0))
        if skip_null:
            query = query.where(key.is_not(None))
        query = filtered(query.group_by(key).order_by(order, key).limit(limit), filters)
        rows = (await session.execute(query)).all()
        return tuple(Share(str(k), int(n), int(wh)) for k, n, wh in rows)
