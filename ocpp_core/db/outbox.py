"""The outbox: events written in the same transaction as the facts they report.

A work (or any transaction) calls `record` with the event; the rows are inserted as the
transaction commits, so an event exists exactly when its fact does: a rollback takes both,
and a group commit that runs its works again one by one records each event once.

Readers (`/api/events`, the webhooks' fan-out) walk the events by id, resuming after the
last one they saw. That needs ids to become visible in the order they are given: on
PostgreSQL two transactions could otherwise commit ids 11 and 10 in that order, and a
reader that saw 11 would never see 10. So the rows are inserted last, under a
transaction-level advisory lock held until commit: the next transaction takes its ids
only once the one before has committed. The lock and the rows are one statement (the
rows are joined to the lock's CTE, so none takes its id before the lock is held): each
statement is a round trip, and most transactions of charge point messages write an event.
SQLite has one writer at a time, which already orders them.

After a commit that wrote events, the session factory's `on_written` (set by `notify`) is
called with the highest id: the central system wakes its readers with it, on every
instance.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from ocpp_core.db.models import OutboxEvent, utcnow

# The events of a transaction not yet written, in the session's `info`.
_PENDING = "outbox_pending"
_WRITTEN = "outbox_written"
_ON_WRITTEN = "outbox_on_written"
# PostgreSQL advisory lock that orders the outbox's ids by commit ("evnt").
OUTBOX_LOCK = 0x65766E74
_INSERT = insert(OutboxEvent.__table__).returning(OutboxEvent.__table__.c.id)
_LOCKED_INSERT = text(
    "WITH outbox_lock AS (SELECT pg_advisory_xact_lock(:key)) "
    "INSERT INTO events (kind, charge_point_id, data, created_at) "
    "SELECT kind, charge_point_id, data, CAST(:created_at AS TIMESTAMPTZ) "
    "FROM unnest(CAST(:kinds AS TEXT[]), CAST(:charge_point_ids AS TEXT[]), "
    "CAST(:datas AS TEXT[])) AS rows (kind, charge_point_id, data) CROSS JOIN outbox_lock "
    "RETURNING id"
)


def record(session: AsyncSession | Session, kind: str, charge_point_id: str, **data: Any) -> None:
    """Write the event `kind` as `session`'s transaction commits. `data` is JSON-able
    (datetimes are written as ISO 8601)."""
    pending = session.info.setdefault(_PENDING, [])
    pending.append((kind, charge_point_id, data))


def notify(sessions: async_sessionmaker[AsyncSession], on_written: Callable[[int], None]) -> None:
    """Call `on_written(highest id)` after each commit of `sessions` that wrote events."""
    sessions.configure(info={_ON_WRITTEN: on_written})


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        params = {
            "key": OUTBOX_LOCK,
            "created_at": now,
            "kinds": [kind for kind, _, _ in pending],
            "charge_point_ids": [charge_point_id for _, charge_point_id, _ in pending],
            "datas": [orjson.dumps(data, default=_json).decode() for _, _, data in pending],
        }
        session.info[_WRITTEN] = max(session.execute(_LOCKED_INSERT, params).scalars())
        return
    rows = [
        {
            "kind": kind,
            "charge_point_id": charge_point_id,
            "data": orjson.dumps(data, default=_json).decode(),
            "created_at": now,
        }
        for kind, charge_point_id, data in pending
    ]
    ids = session.execute(_INSERT, rows).scalars().all() if len(rows) > 1 else None
    if ids is None:
        ids = [session.execute(_INSERT, rows[0]).scalar_one()]
    session.info[_WRITTEN] = max(ids)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    highest = session.info.pop(_WRITTEN, None)
    on_written = session.info.get(_ON_WRITTEN)
    if highest is not None and on_written is not None:
        on_written(highest)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    # What a rolled-back transaction recorded never happened.
    session.info.pop(_PENDING, None)
    session.info.pop(_WRITTEN, None)
