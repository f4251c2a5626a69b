"""A charge point's status timeline read from the database: its StatusNotifications of a
period (and the last ones before it, which give the state at its start) and its
connections, laid out by `ocpp_core.status_timeline`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocpp_core.db.models import CONNECTION_EVENTS, OutboxEvent, StatusNotification
from ocpp_core.services.charge_points import ChargePointView, ahead_of_clock
from ocpp_core.status_timeline import ConnectionChange, Facts, StatusChange, Timeline, build

# Changes read of one period at most (notifications, and connections, each): a charger
# flapping for a week stays one page's worth. Past it the newest are shown, and the
# timeline says from when.
MAX_CHANGES = 2000
# Notifications read per connector from before the period: the state at its start is the
# last that counts of these (one older than the one held does not; a few in a row of
# those is as far as a charger's queue goes).
PRIOR_ROWS = 5

_SN = StatusNotification.__table__
_COLUMNS = (
    _SN.c.id,
    _SN.c.evse_id,
    _SN.c.connector_id,
    _SN.c.status,
    _SN.c.error_code,
    _SN.c.received_at,
    _SN.c.timestamp,
    _SN.c.vendor_error_code,
    _SN.c.info,
)
_EVENTS = OutboxEvent.__table__
# Spelled as the partial index ix_events_connections is, so that SQLite uses it too.
_CONNECTIONS = text(CONNECTION_EVENTS)


def _change(row: Row[Any]) -> StatusChange:
    r = row._mapping
    timestamp, received_at = r["timestamp"], r["received_at"]
    return StatusChange(
        evse_id=r["evse_id"] or 0,
        connector_id=r["connector_id"],
        status=r["status"],
        error_code=r["error_code"],
        received_at=received_at,
        timestamp=timestamp,
        vendor_error_code=r["vendor_error_code"],
        info=r["info"],
        # Ordered as StatusWrite orders the connector's status: the charger's time, unless
        # it has none or one ahead of the clock, which counts as when it arrived.
        sent_at=None if timestamp is None or ahead_of_clock(timestamp, received_at) else timestamp,
    )


def connection_queries(
    charge_point_id: str, start: datetime, end: datetime
) -> tuple[Select[tuple[str, datetime]], Select[tuple[str, datetime]]]:
    """A charge point's connection events of [start, end] (newest first, one more than
    are shown), and its last one before `start`: both by ix_events_connections."""
    theirs = (_EVENTS.c.charge_point_id == charge_point_id, _CONNECTIONS)
    columns = (_EVENTS.c.kind, _EVENTS.c.created_at)
    newest_first = (_EVENTS.c.created_at.desc(), _EVENTS.c.id.desc())
    in_period = (
        select(*columns)
        .where(*theirs, _EVENTS.c.created_at >= start, _EVENTS.c.created_at <= end)
        .order_by(*newest_first)
        .limit(MAX_CHANGES + 1)
    )
    before = select(*columns).where(*theirs, _EVENTS.c.created_at < start).order_by(*newest_first)
    return in_period, before.limit(1)


class StatusTimelineService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def timeline(
        self, charge_point: ChargePointView, connected_now: bool, start: datetime, end: datetime
    ) -> Timeline:
        """Its connectors and its connection over [start, end]."""
        return build(await self.facts(charge_point, connected_now, start, end))

    async def facts(
        self, charge_point: ChargePointView, connected_now: bool, start: datetime, end: datetime
    ) -> Facts:
        charge_point_id = charge_point.id
        mine = _SN.c.charge_point_id == charge_point_id
        in_period = (
            select(*_COLUMNS)
            .where(mine, _SN.c.received_at >= start, _SN.c.received_at <= end)
            .order_by(_SN.c.id.desc())
            .limit(MAX_CHANGES + 1)
        )
        rank = (
            func.row_number()
            .over(partition_by=(_SN.c.evse_id, _SN.c.connector_id), order_by=_SN.c.id.desc())
            .label("rank")
        )
        ranked = select(*_COLUMNS, rank).where(mine, _SN.c.received_at < start).subquery()
        before = (
            select(*(ranked.c[c.name] for c in _COLUMNS))
            .where(ranked.c.rank <= PRIOR_ROWS)
            .order_by(ranked.c.id)
        )
        connections_in_period, connection_before = connection_queries(charge_point_id, start, end)
        async with self._sessions() as session:
            period_rows = list((await session.execute(in_period)).all())
            connection_rows = list((await session.execute(connections_in_period)).all())
            shown_from = None
            if len(period_rows) > MAX_CHANGES:
                period_rows = period_rows[:MAX_CHANGES]
                shown_from = period_rows[-1].received_at
            if len(connection_rows) > MAX_CHANGES:
                connection_rows = connection_rows[:MAX_CHANGES]
                cut = connection_rows[-1].created_at
                shown_from = cut if shown_from is None else max(shown_from, cut)
            prior_rows: list[Row[Any]] = []
            prior_connection: list[Row[tuple[str, datetime]]] = []
            if shown_from is None:  # read whole: the state at the start is known
                prior_rows = list((await session.execute(before)).all())
                prior_connection = list((await session.execute(connection_before)).all())
        changes = [_change(row) for row in (*prior_rows, *reversed(period_rows))]
        connections = [
            ConnectionChange(row.created_at, row.kind == "connected")
            for row in (*prior_connection, *connection_rows)
        ]
        # Its own record of its newest connection and disconnection: there whatever the
        # outbox's retention kept.
        if charge_point.connected_at is not None:
            connections.append(ConnectionChange(charge_point.connected_at, True))
        if charge_point.disconnected_at is not None:
            connections.append(ConnectionChange(charge_point.disconnected_at, False))
        reported = {change.key for change in changes}
        held = [
            StatusChange(
                c.evse_id, c.connector_id, c.status, c.error_code,
                c.updated_at or c.timestamp or start, c.timestamp, c.vendor_error_code, c.info,
            )
            for c in charge_point.connectors
            if (c.evse_id, c.connector_id) not in reported
        ]  # fmt: skip
        return Facts(
            start=start,
            end=end,
            changes=changes,
            connections=connections,
            connected_now=connected_now,
            offline_since=charge_point.offline_since,
            held=held,
            shown_from=shown_from,
        )
