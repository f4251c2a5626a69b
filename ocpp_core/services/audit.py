"""The audit log: who changed what, for admins to read.

A change's entry is added by the service method that makes it, to that change's own
transaction (`add`): both are written, or neither. The methods take the acting user as
`actor`; None (a charger's own message, the system's work) writes no entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import AuditEntry, utcnow
from ocpp_core.db.newest import newest


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str | None


def add(
    session: AsyncSession, actor: str | None, action: str, target: str, detail: str | None = None
) -> None:
    """Add `actor`'s entry to `session`, committed (or rolled back) with the change it
    records; none for no actor."""
    if actor is None:
        return
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor[:64],
            action=action[:64],
            target=target[:255],
            detail=detail,
        )
    )


class AuditService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, actor: str, action: str, target: str, detail: str | None = None) -> None:
        """An entry on its own, for an outcome rather than a change: a login, the answer
        to an operation that changes the charger's key."""
        async with self._sessions.begin() as session:
            add(session, actor, action, target, detail)

    async def recent(self, limit: int = 200) -> list[AuditView]:
        return await self._read(newest(AuditEntry, limit=limit))

    async def search(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[AuditView]:
        """Entries newest first (by id: two may share a moment): by `actor` and `action`
        exactly, at or after `since` and before `until`, with an id below `before` (the
        next page after an entry)."""
        where = []
        if actor is not None:
            where.append(AuditEntry.actor == actor)
        if action is not None:
            where.append(AuditEntry.action == action)
        if since is not None:
            where.append(AuditEntry.at >= since)
        if until is not None:
            where.append(AuditEntry.at < until)
        return await self._read(newest(AuditEntry, *where, limit=limit, before=before))

    async def _read(self, query: Select[AuditEntry]) -> list[AuditView]:
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [AuditView(r.id, r.at, r.actor, r.action, r.target, r.detail) for r in rows]
