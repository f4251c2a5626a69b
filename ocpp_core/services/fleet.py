"""Totals over every session, for the metrics: open sessions and the energy delivered."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import Transaction


@dataclass(frozen=True)
class FleetTotals:
    active_sessions: int
    # Stopped sessions' meterStop - meterStart, where it is not negative: a session
    # flagged for a meter that went backwards must not make the total go down.
    energy_wh: float


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
