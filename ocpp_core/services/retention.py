"""Retention: how long what piles up is kept, by age.

The message log, the samples of closed sessions, the status history, the operations
journal and the audit log are each kept for the days their RETAIN_*_DAYS setting says (0:
forever). A closed session whose samples go keeps its readings and energy, and says how
many samples were removed and when. `prune` deletes what is older in batches of at most
`batch` rows a transaction, with a pause between two: on SQLite the charge points' writes
share the one connection, which one long DELETE would hold from all of them.

The server prunes every PRUNE_INTERVAL seconds, jittered so that instances started
together do not prune together, and on PostgreSQL one instance at a time (an advisory
lock); `python -m webapp db prune [--dry-run]` does it by hand. The per-charge-point row
budgets (services.budget, KEEP_*) hold besides: whichever comes first removes a row.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, and_, case, delete, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from ocpp_core.db.models import (
    AuditEntry,
    MeterValue,
    OcppMessage,
    Operation,
    OutboxEvent,
    StatusNotification,
    Transaction,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from ocpp_core.db.rowcount import rowcount
from ocpp_core.services import audit
from ocpp_core.settings import Settings

LOGGER = logging.getLogger(__name__)

# Rows deleted per transaction, and the pause after each: a batch of 1,000 takes SQLite a
# few milliseconds, which is as long as a charge point's write may wait behind it.
PRUNE_BATCH = 1000
PRUNE_PAUSE = 0.02
# Closed sessions looked at per query.
SESSION_BATCH = 100
# The first background run comes this long (or PRUNE_INTERVAL, if shorter) after start-up,
# +-50%: not while every charger reconnects after a restart. Later ones every
# PRUNE_INTERVAL +-10%.
FIRST_RUN_AFTER = 300.0
JITTER = 0.1
# PostgreSQL advisory lock held by the instance pruning ("prun").
RETENTION_LOCK = 0x7072756E
LOCK_POLL = 1.0

METER_VALUES = "meter_values"


@dataclass(frozen=True)
class _ByAge:
    """A table whose rows go when older than its setting's days. Its rows' times are when
    Voltaro stored them, so its ids follow time: they are walked oldest first by primary
    key, and the walk stops at a batch with nothing old in it (no index on the time)."""

    table: Table
    at: str  # the time column
    setting: str
    days: int

    @property
    def name(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class Pruned:
    """What one setting removed (or, in a dry run, would remove)."""

    table: str
    setting: str
    days: int
    # Rows stored (meter values: sessions closed) before this go; None: kept forever.
    cutoff: datetime | None
    rows: int = 0
    # Transactions (statements) it took: at most `batch` rows each.
    batches: int = 0
    # meter_values only: the sessions whose samples went.
    sessions: int | None = None


class Retention:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        batch: int = PRUNE_BATCH,
        pause: float = PRUNE_PAUSE,
    ) -> None:
        self._sessions = sessions
        self._batch = batch
        self._pause = pause
        self._interval = settings.prune_interval
        self._postgres = settings.database_url.startswith("postgresql")
        self._meter_values_days = settings.retain_meter_values_days
        self._events_days = settings.retain_events_days
        self._by_age = {
            rule.name: rule
            for rule in (
                _ByAge(
                    OcppMessage.__table__,
                    "created_at",
                    "RETAIN_MESSAGE_LOG_DAYS",
                    settings.retain_message_log_days,
                ),
                _ByAge(
                    StatusNotification.__table__,
                    "received_at",
                    "RETAIN_STATUS_HISTORY_DAYS",
                    settings.retain_status_history_days,
                ),
                _ByAge(
                    Operation.__table__,
                    "requested_at",
                    "RETAIN_JOURNAL_DAYS",
                    settings.retain_journal_days,
                ),
                _ByAge(AuditEntry.__table__, "at", "RETAIN_AUDIT_DAYS", settings.retain_audit_days),
            )
        }
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()
        self._waiting: list[asyncio.Future[list[Pruned] | None]] = []

    # --- by hand ----------------------------------------------------------------------

    async def prune(
        self,
        dry_run: bool = False,
        now: datetime | None = None,
        wait: bool = True,
        *,
        actor: str | None = None,
    ) -> list[Pruned] | None:
        """Remove (or, `dry_run`, count) what each setting no longer keeps, a batch per
        transaction. On PostgreSQL one instance prunes at a time: with `wait` this waits
        for the other to finish, without it returns None at once. A run `actor` asked for
        is audited after its last batch, with what it removed (each batch commits on its
        own, so no one transaction holds the whole run to add the entry to)."""
        results = await self._prune_locked(dry_run, now or utcnow(), wait)
        if results and not dry_run and actor is not None:
            removed = ", ".join(f"{r.table} {r.rows}" for r in results if r.cutoff)
            async with self._sessions.begin() as session:
                audit.add(
                    session, actor, "prune", "retention", removed or "everything kept forever"
                )
        return results

    async def _prune_locked(self, dry_run: bool, now: datetime, wait: bool) -> list[Pruned] | None:
        if dry_run or not self._postgres:
            return await self._prune_all(now, dry_run)
        # Its own connection, in autocommit: the lock is the session's, across the
        # batches' transactions (on other connections), and holds no transaction open.
        async with self._sessions() as holder:
            connection = await holder.connection(
                execution_options={"isolation_level": "AUTOCOMMIT"}
            )
            while not await self._try_lock(connection):
                if not wait or self._stopping:
                    return None
                LOGGER.info("another instance is pruning; waiting for it to finish")
                await asyncio.sleep(LOCK_POLL)
            try:
                return await self._prune_all(now, dry_run)
            finally:
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": RETENTION_LOCK}
                )

    @staticmethod
    async def _try_lock(connection: AsyncConnection) -> bool:
        query = text("SELECT pg_try_advisory_lock(:key)")
        return bool(await connection.scalar(query, {"key": RETENTION_LOCK}))

    async def _prune_all(self, now: datetime, dry_run: bool) -> list[Pruned]:
        results = []
        for name in (
            OcppMessage.__tablename__,
            METER_VALUES,
            StatusNotification.__tablename__,
            Operation.__tablename__,
            AuditEntry.__tablename__,
            OutboxEvent.__tablename__,
        ):
            if name == METER_VALUES:
                results.append(await self._prune_meter_values(now, dry_run))
            elif name == OutboxEvent.__tablename__:
                results.append(await self._prune_events(now, dry_run))
            else:
                results.append(await self._prune_by_age(self._by_age[name], now, dry_run))
        return results

    async def _step(self, rows: int) -> None:
        """Between two transactions: the charge points' writes go first."""
        await asyncio.sleep(self._pause if rows else 0)

    # --- tables by age ----------------------------------------------------------------

    async def _prune_by_age(self, rule: _ByAge, now: datetime, dry_run: bool) -> Pruned:
        if rule.days <= 0:
            return Pruned(rule.name, rule.setting, 0, None)
        cutoff = now - timedelta(days=rule.days)
        ids: Column[Any] = rule.table.c.id
        at: Column[Any] = rule.table.c[rule.at]
        removed = batches = 0
        after = 0
        while not self._stopping:
            window = select(ids, at).where(ids > after).order_by(ids).limit(self._batch).subquery()
            summary = select(
                func.max(window.c.id),
                func.count(),
                func.coalesce(func.sum(case((window.c[rule.at] < cutoff, 1), else_=0)), 0),
            )
            async with self._sessions.begin() as session:
                last, seen, old = (await session.execute(summary)).one()
                if old and not dry_run:
                    result = await session.execute(
                        delete(rule.table).where(ids > after, ids <= last, at < cutoff)
                    )
                    old = rowcount(result)
            removed += old
            batches += 1 if old else 0
            if not old or seen < self._batch:
                break
            after = last
            await self._step(old)
        return Pruned(rule.name, rule.setting, rule.days, cutoff, removed, batches)

    # --- the events outbox ------------------------------------------------------------

    async def _prune_events(self, now: datetime, dry_run: bool) -> Pruned:
        """Events older than RETAIN_EVENTS_DAYS go, with their deliveries and tries,
        unless a delivery of theirs is still pending or an active webhook has not had
        them fanned out yet: nothing owed to a receiver is pruned."""
        setting, table = "RETAIN_EVENTS_DAYS", OutboxEvent.__table__
        if self._events_days <= 0:
            return Pruned(table.name, setting, 0, None)
        cutoff = now - timedelta(days=self._events_days)
        owed = exists().where(
            WebhookDelivery.event_id == table.c.id, WebhookDelivery.status == "pending"
        )
        removed = batches = 0
        after = 0
        while not self._stopping:
            window = (
                select(table.c.id, table.c.created_at)
                .where(table.c.id > after)
                .order_by(table.c.id)
                .limit(self._batch)
                .subquery()
            )
            summary = select(
                func.max(window.c.id),
                func.count(),
                func.coalesce(func.sum(case((window.c.created_at < cutoff, 1), else_=0)), 0),
            )
            async with self._sessions.begin() as session:
                last, seen, aged = (await session.execute(summary)).one()
                if not seen:
                    break
                old = aged
                fanned_out = await session.scalar(
                    select(func.min(Webhook.last_event_id)).where(Webhook.active.is_(True))
                )
                prunable = [table.c.id > after, table.c.id <= last, table.c.created_at < cutoff]
                prunable.append(~owed)
                if fanned_out is not None:
                    prunable.append(table.c.id <= fanned_out)
                if old and dry_run:
                    old = await session.scalar(
                        select(func.count()).select_from(table).where(*prunable)
                    )
                elif old:
                    # Their deliveries and tries go with them (ON DELETE CASCADE).
                    old = rowcount(await session.execute(delete(table).where(*prunable)))
            removed += old
            batches += 1 if old else 0
            # Ids follow time: a batch with nothing old in it has nothing old after it.
            if not aged or seen < self._batch:
                break
            after = last
            await self._step(old)
        return Pruned(table.name, setting, self._events_days, cutoff, removed, batches)

    # --- closed sessions' samples -----------------------------------------------------

    async def _prune_meter_values(self, now: datetime, dry_run: bool) -> Pruned:
        setting = "RETAIN_METER_VALUES_DAYS"
        if self._meter_values_days <= 0:
            return Pruned(METER_VALUES, setting, 0, None)
        cutoff = now - timedelta(days=self._meter_values_days)
        removed = batches = sessions = 0
        after: tuple[datetime, int] | None = None
        while not self._stopping:
            # By ix_transactions_samples_kept: the closed sessions not pruned yet, in the
            # order they ended (a dry run marks none, so it walks on from the last). The
            # end is the charger's clock; one set years back must not make a session
            # just closed look old, so the session must also be older here.
            query = (
                select(
                    Transaction.id,
                    Transaction.charge_point_id,
                    Transaction.stop_time,
                    Transaction.meter_start,
                    Transaction.meter_stop,
                )
                .where(
                    Transaction.meter_values_pruned_at.is_(None),
                    Transaction.stop_time < cutoff,
                    Transaction.created_at < cutoff,
                )
                .order_by(Transaction.stop_time, Transaction.id)
                .limit(SESSION_BATCH)
            )
            if after is not None:
                query = query.where(
                    Transaction.stop_time >= after[0],
                    or_(
                        Transaction.stop_time > after[0],
                        and_(Transaction.stop_time == after[0], Transaction.id > after[1]),
                    ),
                )
            async with self._sessions() as session:
                closed = (await session.execute(query)).all()
            for tx in closed:
                if self._stopping:
                    break
                # A session closed without a final reading takes its energy from its
                # samples (TransactionView.energy_wh): they are its total, and stay.
                keep = tx.meter_start is not None and tx.meter_stop is None
                rows, statements = await self._prune_session(
                    tx.id, tx.charge_point_id, keep, dry_run
                )
                removed += rows
                batches += statements
                sessions += 1 if rows else 0
            if len(closed) < SESSION_BATCH:
                break
            after = (closed[-1].stop_time, closed[-1].id)
        return Pruned(
            METER_VALUES, setting, self._meter_values_days, cutoff, removed, batches, sessions
        )

    async def _prune_session(
        self, transaction_id: int, charge_point_id: str, keep: bool, dry_run: bool
    ) -> tuple[int, int]:
        """Remove one closed session's samples, a batch a transaction, each counted on the
        session, which the last marks as done; the rows removed and the transactions that
        removed some. Stopped half-way, the next run goes on with it."""
        table = MeterValue.__table__
        # By ix_meter_values_charge_point: led by the charger, then the session.
        of_session = (table.c.charge_point_id == charge_point_id) & (
            table.c.transaction_id == transaction_id
        )
        if dry_run:
            if keep:
                return 0, 0
            async with self._sessions() as session:
                count = await session.scalar(
                    select(func.count()).select_from(table).where(of_session)
                )
            return count or 0, math.ceil((count or 0) / self._batch)
        sessions = Transaction.__table__
        removed = statements = 0
        while True:
            async with self._sessions.begin() as session:
                rows = 0
                if not keep:
                    batch = select(table.c.id).where(of_session).limit(self._batch)
                    result = await session.execute(delete(table).where(table.c.id.in_(batch)))
                    rows = rowcount(result)
                done = rows < self._batch
                values: dict[str, Any] = {}
                if rows:
                    values["meter_values_pruned"] = sessions.c.meter_values_pruned + rows
                if done:
                    values["meter_values_pruned_at"] = utcnow()
                if values:
                    await session.execute(
                        update(sessions).where(sessions.c.id == transaction_id).values(values)
                    )
            removed += rows
            statements += 1 if rows else 0
            await self._step(rows)
            if done or self._stopping:
                return removed, statements

    # --- in the background ------------------------------------------------------------

    def start(self) -> None:
        """Prune every PRUNE_INTERVAL seconds (none if 0), until `stop`."""
        if self._interval > 0:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the batch under way: a statement cancelled half-way leaves an asyncpg
        connection no other query can use."""
        self._stopping = True
        self._stop.set()
        if self._task is not None:
            await self._task
        for waiter in self._waiting:
            waiter.cancel()

    async def next_run(self) -> list[Pruned] | None:
        """What the next background run removes (None: another instance was pruning)."""
        waiter: asyncio.Future[list[Pruned] | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        return await waiter

    async def _run(self) -> None:
        delay = min(self._interval, FIRST_RUN_AFTER) * random.uniform(0.5, 1.5)
        while not await self._stopped_within(delay):
            delay = self._interval * random.uniform(1 - JITTER, 1 + JITTER)
            try:
                results = await self.prune(wait=False)
            except Exception as error:
                LOGGER.exception("could not prune (retention)")
                self._ran(error=error)
                continue
            for pruned in results or ():
                if pruned.rows:
                    LOGGER.info(
                        "%d rows of %s older than %d days pruned (%s)",
                        pruned.rows,
                        pruned.table,
                        pruned.days,
                        pruned.setting,
                    )
            self._ran(results)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _ran(self, results: list[Pruned] | None = None, error: Exception | None = None) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if waiter.done():
                continue
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(results)
