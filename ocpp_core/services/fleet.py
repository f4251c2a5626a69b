"""Over every session: the metrics' totals (open sessions, energy delivered), and the open
sessions that have gone quiet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import MeterValue, Transaction


@dataclass(frozen=True)
class FleetTotals:
    active_sessions: int
    # Stopped sessions' meterStop - meterStart, where it is not negative: a session
    # flagged for a meter that went backwards must not make the total go down.
    energy_wh: float


@dataclass(frozen=True)
class QuietSession:
    transaction_id: int
    charge_point_id: str
    start_time: datetime
    last_meter_value_at: datetime | None  # None: none since it started


class FleetService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def totals(self) -> FleetTotals:
        """One aggregate statement over the sessions table (read at scrape time, never
        on a charge point's message)."""
        stopped = and_(
            Transaction.stop_time.is_not(None),
            Transaction.meter_start.is_not(None),
            Transaction.meter_stop >= Transaction.meter_start,
        )
        statement = select(
            func.count().filter(Transaction.stop_time.is_(None)),
            func.coalesce(
                func.sum(Transaction.meter_stop - Transaction.meter_start).filter(stopped), 0
            ),
        )
        async with self._sessions() as session:
            active, energy = (await session.execute(statement)).one()
        return FleetTotals(active_sessions=int(active), energy_wh=float(energy or 0))

    async def quiet_sessions(self, heard_before: datetime, limit: int = 100) -> list[QuietSession]:
        """Open sessions with no meter value since `heard_before` (nor a start since), the
        longest quiet first. Each one's newest sample is one look-up in the meter values'
        index (charge point, session, time), however long the session."""
        last = (
            select(func.max(MeterValue.timestamp))
            .where(
                MeterValue.charge_point_id == Transaction.charge_point_id,
                MeterValue.transaction_id == Transaction.id,
            )
            .correlate(Transaction)
            .scalar_subquery()
        )
        heard = func.coalesce(last, Transaction.start_time)
        statement = (
            select(Transaction.id, Transaction.charge_point_id, Transaction.start_time, last)
            .where(Transaction.stop_time.is_(None), heard < heard_before)
            .order_by(heard, Transaction.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            found = (await session.execute(statement)).all()
        return [QuietSession(*row) for row in found]
