"""The OCPP message log: every frame of every charge point, both directions.

Frames are buffered and written in batches by a background task: the log is for people
reading it, and must not put a database round trip on every message's path. Secrets
(AuthorizationKey) are redacted before a frame is kept or published.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.bulk import BulkInsert
from ocpp_core.db.engine import once_more_if_reconnected
from ocpp_core.db.models import OcppMessage, utcnow
from ocpp_core.events import EventBus

LOGGER = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 65_536
REDACTED = "***"
SECRET_KEYS = frozenset({"AuthorizationKey"})

LOG_ROWS = BulkInsert(
    OcppMessage.__table__,
    (
        "charge_point_id",
        "direction",
        "message_type",
        "unique_id",
        "action",
        "payload",
        "created_at",
    ),
)


@dataclass(frozen=True)
class LoggedMessage:
    charge_point_id: str
    direction: str
    message_type: int | None
    unique_id: str | None
    action: str | None
    payload: str
    created_at: datetime


def redact(frame: list[Any]) -> list[Any]:
    """The frame with the value of any secret configuration key replaced."""
    if len(frame) == 4 and frame[0] == 2 and frame[2] == "ChangeConfiguration":
        payload = frame[3]
        if isinstance(payload, dict) and payload.get("key") in SECRET_KEYS:
            return [*frame[:3], {**payload, "value": REDACTED}]
    return frame


def redact_text(raw: str) -> str:
    """Redact a raw frame's text; frames that are not JSON are kept as they came."""
    if "AuthorizationKey" not in raw:
        return raw
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.replace("AuthorizationKey", "AuthorizationKey(redacted)")[:200]
    if isinstance(frame, list):
        return orjson.dumps(redact(frame)).decode()
    return raw


class MessageLog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        flush_interval: float = 0.25,
        keep_per_charge_point: int = 5000,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._flush_interval = flush_interval
        self._keep = keep_per_charge_point
        self._buffer: list[tuple[Any, ...]] = []  # LOG_ROWS rows
        self._written: dict[str, int] = {}
        self._flushing = asyncio.Lock()

    def record(
        self,
        charge_point_id: str,
        direction: str,
        raw: str,
        message_type: int | None = None,
        unique_id: str | None = None,
        action: str | None = None,
    ) -> None:
        payload = redact_text(raw)[:MAX_PAYLOAD_CHARS]
        now = utcnow()
        self._buffer.append(
            (
                charge_point_id,
                direction,
                message_type,
                unique_id[:64] if unique_id else None,
                action[:64] if action else None,
                payload,
                now,
            )
        )
        self._bus.publish(
            "message",
            charge_point_id,
            direction=direction,
            message_type=message_type,
            unique_id=unique_id,
            action=action,
            payload=payload,
            created_at=now.isoformat(),
        )

    async def run(self) -> None:
        """Write the buffer every `flush_interval` until cancelled, then once more.

        A flush is never cancelled half-way: asyncpg leaves a connection whose commit was
        interrupted in a state no other query can use ("another operation is in progress"),
        and shutting the pool down then waits on it.
        """
        while True:
            try:
                await asyncio.sleep(self._flush_interval)
            except asyncio.CancelledError:
                await self.flush()
                raise
            flushing = asyncio.ensure_future(self.flush())
            try:
                await asyncio.shield(flushing)
            except asyncio.CancelledError:
                await flushing
                await self.flush()
                raise

    async def flush(self) -> None:
        """Write what is buffered. One flush at a time, so entries get their ids in the order
        they were recorded, and a reader's flush (`recent`) returns only once everything
        recorded before it, including a batch the background flush is writing, is stored."""
        async with self._flushing:
            if not self._buffer:
                return
            batch, self._buffer = self._buffer, []
            try:
                await once_more_if_reconnected(lambda: self._write(batch))
            except Exception:
                LOGGER.exception("could not write %d OCPP log entries", len(batch))
                return
        due = set()
        for row in batch:
            cp = row[0]
            count = self._written[cp] = self._written.get(cp, 0) + 1
            if count >= self._keep:
                due.add(cp)
        await self._prune(due)

    async def _write(self, batch: list[tuple[Any, ...]]) -> None:
        async with self._sessions.begin() as session:
            await LOG_ROWS.write(session, batch)

    async def _prune(self, due: set[str]) -> None:
        """Keep the newest entries per charge point; checked every `keep` writes (only of
        the charge points just written: with 10,000 connected, not a scan of them all)."""
        for cp in due:
            self._written[cp] = 0
            async with self._sessions.begin() as session:
                cutoff = (
                    await session.scalars(
                        select(OcppMessage.id)
                        .where(OcppMessage.charge_point_id == cp)
                        .order_by(OcppMessage.id.desc())
                        .offset(self._keep)
                        .limit(1)
                    )
                ).first()
                if cutoff is not None:
                    await session.execute(
                        delete(OcppMessage).where(
                            OcppMessage.charge_point_id == cp, OcppMessage.id <= cutoff
                        )
                    )

    async def recent(self, charge_point_id: str, limit: int = 100) -> list[LoggedMessage]:
        """Newest first, including what is still waiting to be written."""
        await self.flush()
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(OcppMessage)
                    .where(OcppMessage.charge_point_id == charge_point_id)
                    .order_by(OcppMessage.id.desc())
                    .limit(limit)
                )
            ).all()
        return [
            LoggedMessage(
                r.charge_point_id,
                r.direction,
                r.message_type,
                r.unique_id,
                r.action,
                r.payload,
                r.created_at,
            )
            for r in rows
        ]
