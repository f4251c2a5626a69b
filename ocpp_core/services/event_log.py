"""The events outbox read back: what `/api/events` streams and replays, by id.

The outbox holds the events that tell of a charge point's state and sessions, each
written with its fact (`db.outbox`). The bus carries more (every OCPP frame of the message
log, heartbeats, meter values, the portal's own reactions): those are each one row of
their own tables already, read through their own API, and a second row for each would
double the busiest writes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import OutboxEvent
from ocpp_core.errors import InvalidInput
from ocpp_core.timeutil import format_datetime

# Every kind the outbox holds, and so every kind a webhook may ask for.
EVENT_KINDS = (
    "connected",
    "disconnected",
    "boot",
    "status",
    "fault",
    "transaction_started",
    "transaction_stopped",
    "security_event",
    "firmware_status",
    "diagnostics_status",
    "log_status",
    "signed_firmware_status",
)
# Told on the bus (and so to the other instances) after a commit that wrote events.
EVENTS_WRITTEN = "events_written"
MAX_PAGE = 1000


@dataclass(frozen=True)
class StoredEvent:
    id: int
    kind: str
    charge_point_id: str
    data: dict[str, Any]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The event as `/api/events` and webhooks send it."""
        return {
            "id": self.id,
            "type": self.kind,
            "charge_point_id": self.charge_point_id,
            "at": format_datetime(self.created_at),
            "data": self.data,
        }


@dataclass(frozen=True)
class EventPage:
    events: list[StoredEvent]
    # The id the next read starts after: the last event's, or further when the events
    # of other types after it have been passed over.
    resume_after: int
    full: bool  # as many as asked for: more may follow at once


def event_kinds(raw: str | Collection[str]) -> tuple[str, ...]:
    """Kinds named by a client (a comma-separated text or a list): each must be known."""
    names = [n.strip() for n in raw.split(",")] if isinstance(raw, str) else list(raw)
    if not all(isinstance(n, str) for n in names):
        raise InvalidInput("event types must be strings")
    names = [n for n in names if n]
    unknown = sorted(set(names) - set(EVENT_KINDS))
    if unknown:
        raise InvalidInput(
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_KINDS)}"
        )
    if not names:
        raise InvalidInput(f"name at least one event type of: {', '.join(EVENT_KINDS)}")
    return tuple(dict.fromkeys(names))


def stored(row: OutboxEvent) -> StoredEvent:
    return StoredEvent(
        row.id, row.kind, row.charge_point_id, orjson.loads(row.data), row.created_at
    )


class EventLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def after(
        self, after: int, kinds: Collection[str] | None = None, limit: int = 500
    ) -> EventPage:
        """The events after id `after`, oldest first (of `kinds` only, if given), and where
        the next read starts."""
        limit = min(limit, MAX_PAGE)
        query = select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id)
        async with self._sessions() as session:
            newest = None
            if kinds:
                # Up to the newest id, which is read first: ids become visible in the order
                # they are given (db.outbox), so all up to it are there, and the next read
                # starts past the events of other types instead of scanning them again.
                newest = await session.scalar(select(func.max(OutboxEvent.id))) or 0
                query = query.where(OutboxEvent.kind.in_(list(kinds)), OutboxEvent.id <= newest)
            events = [stored(row) for row in (await session.scalars(query.limit(limit))).all()]
        resume = events[-1].id if events else after
        if newest is not None and len(events) < limit:
            resume = max(resume, newest)
        return EventPage(events, resume, full=len(events) == limit)

    async def latest_id(self) -> int:
        """The newest event's id (0: none yet): a stream without a Last-Event-ID starts
        after it."""
        async with self._sessions() as session:
            return await session.scalar(select(func.max(OutboxEvent.id))) or 0

    async def oldest_id(self) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(select(func.min(OutboxEvent.id)))
