"""The audit log: who changed what, for admins to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import AuditEntry, utcnow


@dataclass(frozen=True)
class AuditView:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str | None


class AuditService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self, actor: str | None, action: str, target: str, detail: str | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            session.add(
                AuditEntry(
                    at=utcnow(),
                    actor=(actor or "system")[:64],
                    action=action[:64],
                    target=target[:255],
                    detail=detail,
                )
            )

    async def recent(self, limit: int = 200) -> list[AuditView]:
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
                )
            ).all()
        return [AuditView(r.at, r.actor, r.action, r.target, r.detail) for r in rows]
