"""Each charge point's storage budget: of what a charger may send as often as it likes and
Voltaro keeps, the newest rows per charge point.

Data transfers, meter values applied to no session, the status history and security events
were never pruned: one charger could fill the disk without anyone logging in. The services
note what they store (`note`); a charge point's table is checked when first written after
start-up and then every tenth of its budget, and rows beyond the newest `keep` are deleted
by a background task, a small batch per transaction, so the charge points' own writes are
never held up behind a long delete. Sessions' samples are billing records: not budgeted.

What one frame may store is bounded too (`bounded`): a text field longer than a charger
has reason to send is kept cut short, saying so and how long it was.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import (
    ChargePointNotification,
    DataTransferMessage,
    MeterValue,
    SecurityEvent,
    StatusNotification,
)
from ocpp_core.db.rowcount import rowcount
from ocpp_core.services.message_log import truncated
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)

# The longest text of one field kept from a charger's frame (DataTransfer data, a reading,
# a deviation's evidence). OCPP 1.6 gives DataTransfer's data no length, but vendors send
# status and configuration blobs of a few KB; 16 KiB keeps those whole, and bounds 1,000 data
# transfers to 16 MiB per charge point where 250 KB frames made them 250 MB.
STORED_TEXT_CHARS = 16_384
# Rows deleted per transaction, and the pause between two: the charge points' writes (one
# connection on SQLite) go between.
PRUNE_BATCH = 500
PRUNE_PAUSE = 0.02


def bounded(text: str | None, limit: int = STORED_TEXT_CHARS) -> str | None:
    """A charger's text as stored: whole up to `limit`, else cut with a marker."""
    return None if text is None else truncated(text, limit)


@dataclass(frozen=True)
class _Budgeted:
    """A table a charger fills, and which of its rows count against the budget."""

    model: Any
    keep: int

    def rows_of(self, charge_point_id: str) -> list[ColumnElement[bool]]:
        where = [self.model.charge_point_id == charge_point_id]
        if self.model is MeterValue:
            where.append(MeterValue.transaction_id.is_(None))  # a session's are kept
        return where


class StorageBudget:
    """Keeps the newest rows per charge point of the budgeted tables (their names:
    `data_transfers`, `meter_values` applied to no session, `status_notifications`,
    `security_events`, 2.0.1's `charge_point_notifications`), as many as the settings say
    (0: all)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._tables = {
            budgeted.model.__tablename__: budgeted
            for budgeted in (
                _Budgeted(DataTransferMessage, settings.keep_data_transfers),
                _Budgeted(MeterValue, settings.keep_unlinked_meter_values),
                _Budgeted(StatusNotification, settings.keep_status_history),
                _Budgeted(SecurityEvent, settings.keep_security_events),
                _Budgeted(ChargePointNotification, settings.keep_notifications),
            )
        }
        # Rows written since the last check, per (table, charge point).
        self._written: dict[tuple[str, str], int] = {}
        # Due for a check, oldest first (a dict: ordered, each once).
        self._due: dict[tuple[str, str], None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._settled = asyncio.Event()
        self._settled.set()

    def note(self, table: str, charge_point_id: str, rows: int = 1) -> None:
        """`rows` were stored in `table` for the charge point; cheap, on every write."""
        budgeted = self._tables[table]
        if budgeted.keep <= 0:
            return
        key = (table, charge_point_id)
        written = self._written.get(key)
        # Unknown since start-up: checked at once, so the budget holds across restarts.
        if written is not None and written + rows < max(1, budgeted.keep // 10):
            self._written[key] = written + rows
            return
        self._written[key] = 0
        self._due[key] = None
        self._settled.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the batch under way: a delete cancelled half-way leaves an asyncpg
        connection no other query can use."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def settled(self) -> None:
        """Return once nothing is due nor being pruned."""
        await self._settled.wait()

    async def _run(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self._due and not self._stopping:
                table, charge_point_id = key = next(iter(self._due))
                del self._due[key]
                try:
                    deleted = await self.prune(table, charge_point_id)
                except Exception:
                    LOGGER.exception("could not prune %s of %s", table, charge_point_id)
                else:
                    if deleted:
                        LOGGER.info(
                            "%s: %d oldest %s pruned (storage budget)",
                            charge_point_id,
                            deleted,
                            table,
                        )
                await asyncio.sleep(PRUNE_PAUSE)
            if not self._due:
                self._settled.set()

    async def prune(self, table: str, charge_point_id: str) -> int:
        """Delete the charge point's rows of `table` beyond the newest `keep`, a batch per
        transaction; the number deleted."""
        budgeted = self._tables[table]
        model, where = budgeted.model, budgeted.rows_of(charge_point_id)
        async with self._sessions() as session:
            # The newest row beyond the budget: it and every older one go.
            cutoff = await session.scalar(
                select(model.id).where(*where).order_by(model.id.desc()).offset(budgeted.keep)
                .limit(1)
            )  # fmt: skip
        if cutoff is None:
            return 0
        deleted = 0
        while not self._stopping:
            batch = (
                select(model.id).where(*where, model.id <= cutoff).order_by(model.id)
                .limit(PRUNE_BATCH)
            )  # fmt: skip
            async with self._sessions.begin() as session:
                result = await session.execute(delete(model).where(model.id.in_(batch)))
            removed = rowcount(result)
            deleted += removed
            if removed < PRUNE_BATCH:
                break
            await asyncio.sleep(PRUNE_PAUSE)
        return deleted
