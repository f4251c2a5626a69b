"""Protocol deviations: frames a charge point in lenient mode sent outside OCPP 1.6, kept
as evidence for the operator (and for the charger's vendor)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import ProtocolDeviation, utcnow
from ocpp_core.db.newest import newest
from ocpp_core.events import EventBus
from ocpp_core.services.budget import STORED_TEXT_CHARS
from ocpp_core.services.message_log import redact_text, truncated
from ocpp_core.services.registration import ChargePointRecords

# The newest deviations kept per charge point: a charger that deviates in every frame must
# not fill the database.
KEEP_PER_CHARGE_POINT = 1000


@dataclass(frozen=True)
class DeviationView:
    received_at: datetime
    unique_id: str
    action: str
    deviations: tuple[str, ...]
    frame: str


class DeviationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        registration: ChargePointRecords,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._registration = registration
        self._recorded: dict[str, int] = {}

    async def record(
        self,
        charge_point_id: str,
        unique_id: str,
        action: str,
        deviations: list[str],
        frame: str,
    ) -> None:
        async with self._sessions.begin() as session:
            await self._registration.record(session, charge_point_id)  # removed meanwhile?
            session.add(
                ProtocolDeviation(
                    charge_point_id=charge_point_id,
                    unique_id=unique_id[:64],
                    action=action[:64],
                    deviations=truncated("\n".join(deviations), STORED_TEXT_CHARS),
                    frame=truncated(redact_text(frame), STORED_TEXT_CHARS),
                    received_at=utcnow(),
                )
            )
            count = self._recorded[charge_point_id] = self._recorded.get(charge_point_id, 0) + 1
            if count >= KEEP_PER_CHARGE_POINT:
                self._recorded[charge_point_id] = 0
                await self._prune(session, charge_point_id)
        self._bus.publish("deviation", charge_point_id, action=action, count=len(deviations))

    @staticmethod
    async def _prune(session: AsyncSession, charge_point_id: str) -> None:
        cutoff = (
            await session.scalars(
                select(ProtocolDeviation.id)
                .where(ProtocolDeviation.charge_point_id == charge_point_id)
                .order_by(ProtocolDeviation.id.desc())
                .offset(KEEP_PER_CHARGE_POINT)
                .limit(1)
            )
        ).first()
        if cutoff is not None:
            await session.execute(
                delete(ProtocolDeviation).where(
                    ProtocolDeviation.charge_point_id == charge_point_id,
                    ProtocolDeviation.id <= cutoff,
                )
            )

    async def recent(self, charge_point_id: str, limit: int = 50) -> list[DeviationView]:
        """Newest first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    newest(
                        ProtocolDeviation,
                        ProtocolDeviation.charge_point_id == charge_point_id,
                        limit=limit,
                    )
                )
            ).all()
        return [
            DeviationView(
                r.received_at, r.unique_id, r.action, tuple(r.deviations.splitlines()), r.frame
            )
            for r in rows
        ]
