"""A charge point's connectors over a period: which state each was in, from when to when.

Built from what is stored: its StatusNotifications as received (the status history) and
its connections (the `connected` / `disconnected` events of the outbox, and the charge
point's own record of its newest connection and disconnection). No I/O here; the service
(`services/status_timeline.py`) reads the rows and this module lays them out.

Everything is placed by when the central system received it, one clock for the whole
timeline: a charger's clock can be off, and its connections are only known by ours. A
notification whose charger timestamp is older than the one the connector holds (queued
while it was offline, sent after a newer one) does not change the state, as it does not
change the connector's current status (`charge_points.StatusWrite`); it is listed among
the changes, marked so.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ocpp_core.charge_point_state import CONNECTED, OFFLINE

# The periods a timeline may cover, by the name the portal's address gives them.
PERIODS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_PERIOD = "24h"
# A state nothing tells of: before a connector's first notification kept, or before what
# was read of a period with too many changes.
UNKNOWN = "Unknown"


def period_of(name: str | None) -> timedelta:
    """The length of the period `name` (None or empty: the default); ValueError names the
    choices."""
    found = PERIODS.get(name or DEFAULT_PERIOD)
    if found is None:
        raise ValueError(f"unknown period {name!r}: choose one of {', '.join(PERIODS)}")
    return found


@dataclass(frozen=True)
class StatusChange:
    """One StatusNotification as stored (1.6: EVSE 0)."""

    evse_id: int
    connector_id: int
    status: str
    error_code: str
    received_at: datetime
    timestamp: datetime | None = None  # the charger's
    vendor_error_code: str | None = None
    info: str | None = None
    # When it happened, as the connector's current status orders notifications: the
    # charger's timestamp unless it has none or one too far ahead of our clock
    # (`charge_points.ahead_of_clock`). None: when it was received.
    sent_at: datetime | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.evse_id, self.connector_id)

    @property
    def order(self) -> datetime:
        return self.sent_at or self.received_at

    def _shown(self) -> tuple[str, str, str | None, str | None]:
        return (self.status, self.error_code, self.vendor_error_code, self.info)


@dataclass(frozen=True)
class ConnectionChange:
    at: datetime
    connected: bool


@dataclass(frozen=True)
class Segment:
    """A stretch of time in one state. `status` is the connector's last report (None:
    none known); while the charger was not connected the state shown is Offline."""

    start: datetime
    end: datetime
    status: str | None
    error_code: str | None = None
    vendor_error_code: str | None = None
    info: str | None = None
    offline: bool = False

    @property
    def state(self) -> str:
        if self.offline:
            return OFFLINE
        return self.status or UNKNOWN

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def _same(self, other: Segment) -> bool:
        return (self.state, self.status, self.error_code, self.vendor_error_code, self.info) == (
            other.state, other.status, other.error_code, other.vendor_error_code, other.info,
        )  # fmt: skip


@dataclass(frozen=True)
class Change:
    """A notification received in the period, as the table of changes lists it."""

    at: datetime  # received
    status: str
    error_code: str
    vendor_error_code: str | None
    info: str | None
    sent_at: datetime | None  # the charger's timestamp
    applied: bool  # False: older than the status held, so not the connector's state


@dataclass(frozen=True)
class ConnectorTimeline:
    evse_id: int  # 0 for 1.6
    connector_id: int
    segments: tuple[Segment, ...]
    changes: tuple[Change, ...]

    @property
    def totals(self) -> list[tuple[str, timedelta]]:
        """How long it was in each state over the period, the longest first."""
        return _totals(self.segments)


@dataclass(frozen=True)
class ConnectionTimeline:
    segments: tuple[Segment, ...]
    changes: tuple[ConnectionChange, ...]  # those in the period that changed something

    @property
    def totals(self) -> list[tuple[str, timedelta]]:
        return _totals(self.segments)


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    connection: ConnectionTimeline
    connectors: tuple[ConnectorTimeline, ...]
    # Set when the period held more changes than were read: before it nothing is shown.
    shown_from: datetime | None = None

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def share(self, moment: datetime) -> float:
        """Where `moment` falls in the period, 0 to 100 (percent)."""
        seconds = self.length.total_seconds()
        if seconds <= 0:
            return 0.0
        fraction = (moment - self.start).total_seconds() / seconds
        return min(100.0, max(0.0, fraction * 100))


def _totals(segments: Iterable[Segment]) -> list[tuple[str, timedelta]]:
    totals: dict[str, timedelta] = {}
    for segment in segments:
        totals[segment.state] = totals.get(segment.state, timedelta()) + segment.duration
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


# --- the connection -----------------------------------------------------------------------


def connection_changes(
    changes: Iterable[ConnectionChange],
    connected_now: bool,
    offline_since: datetime | None = None,
) -> list[ConnectionChange]:
    """The connections and disconnections in time order, made to agree with the present.

    Connected now: a disconnection after its newest connection was an older connection's
    (one taken over by a newer one, on this instance or another) and is passed over. Not
    connected now but connected last we know (an instance died, no disconnection written):
    it went at `offline_since` (its last message persisted)."""
    ordered = sorted(changes, key=lambda change: change.at)
    if connected_now:
        newest = max((i for i, c in enumerate(ordered) if c.connected), default=-1)
        ordered = [c for i, c in enumerate(ordered) if c.connected or i < newest]
    elif ordered and ordered[-1].connected and offline_since is not None:
        ordered.append(ConnectionChange(max(offline_since, ordered[-1].at), False))
    return ordered


def connection_timeline(
    changes: Sequence[ConnectionChange], start: datetime, end: datetime, connected_now: bool
) -> ConnectionTimeline:
    """Connected and Offline over [start, end] from `changes` (as `connection_changes`
    gives them). The state at the start is the last change's before it; with none before,
    the opposite of the first one in the period (a connection ends an offline stretch);
    with none at all, the present one."""
    before = [c for c in changes if c.at < start]
    within = [c for c in changes if start <= c.at <= end]
    if before:
        connected = before[-1].connected
    elif within:
        connected = not within[0].connected
    else:
        connected = connected_now
    segments: list[Segment] = []
    shown: list[ConnectionChange] = []
    since = start
    for change in within:
        if change.connected == connected:
            continue  # a second connection while connected (a takeover), or the like
        if change.at > since:
            segments.append(_connection_segment(since, change.at, connected))
        shown.append(change)
        connected, since = change.connected, change.at
    if end > since or not segments:
        segments.append(_connection_segment(since, end, connected))
    return ConnectionTimeline(tuple(segments), tuple(shown))


def _connection_segment(start: datetime, end: datetime, connected: bool) -> Segment:
    return Segment(start, end, CONNECTED, offline=not connected)


def offline_spans(connection: ConnectionTimeline) -> list[tuple[datetime, datetime]]:
    return [(s.start, s.end) for s in connection.segments if s.offline]


# --- the connectors -----------------------------------------------------------------------


def connector_timeline(
    changes: Sequence[StatusChange],
    start: datetime,
    end: datetime,
    offline: Sequence[tuple[datetime, datetime]] = (),
) -> ConnectorTimeline:
    """One connector's states over [start, end] from its notifications in the order they
    were stored, those received before `start` included (the last one that counts gives
    the state at the start). A notification counts when its charger time is not older
    than the held one's; consecutive ones that show the same make one segment. Within the
    `offline` spans the state is Offline (the last report kept with it)."""
    assert changes, "a connector's timeline needs at least one notification"
    held: StatusChange | None = None  # the connector's status as the rule keeps it
    shown: StatusChange | None = None  # the one the open segment shows
    since = start
    segments: list[Segment] = []
    listed: list[Change] = []
    for change in changes:
        applies = held is None or held.order <= change.order
        if change.received_at < start:
            if applies:
                held = shown = change
            continue
        if change.received_at > end:
            break
        listed.append(
            Change(change.received_at, change.status, change.error_code,
                   change.vendor_error_code, change.info, change.timestamp, applies)
        )  # fmt: skip
        if not applies:
            continue
        held = change
        if shown is not None and shown._shown() == change._shown():
            continue
        at = max(since, change.received_at)
        if at > since:
            segments.append(_status_segment(since, at, shown))
        since, shown = at, change
    segments.append(_status_segment(since, end, shown))
    first = changes[0]
    return ConnectorTimeline(
        first.evse_id,
        first.connector_id,
        tuple(_with_offline(segments, offline)),
        tuple(listed),
    )


def _status_segment(start: datetime, end: datetime, change: StatusChange | None) -> Segment:
    if change is None:
        return Segment(start, end, None)
    return Segment(
        start, end, change.status, change.error_code, change.vendor_error_code, change.info
    )


def _with_offline(
    segments: Sequence[Segment], offline: Sequence[tuple[datetime, datetime]]
) -> list[Segment]:
    """The segments cut where the charger went and came back, the parts in between
    Offline; neighbours that then show the same are one."""
    pieces: list[Segment] = []
    for segment in segments:
        cuts = sorted(
            {segment.start, segment.end}
            | {t for span in offline for t in span if segment.start < t < segment.end}
        )
        for a, b in itertools.pairwise(cuts):
            gone = any(s <= a and b <= e for s, e in offline)
            pieces.append(replace(segment, start=a, end=b, offline=gone))
    merged: list[Segment] = []
    for piece in pieces:
        if merged and merged[-1]._same(piece) and merged[-1].end == piece.start:
            merged[-1] = replace(merged[-1], end=piece.end)
        else:
            merged.append(piece)
    return merged


# --- the whole ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What is known of a charge point for a timeline, as the service reads it."""

    start: datetime
    end: datetime
    # Its notifications as stored (received before the start included), any connector.
    changes: Sequence[StatusChange]
    connections: Sequence[ConnectionChange]
    connected_now: bool
    offline_since: datetime | None = None
    # Connectors with nothing in `changes` (their history pruned): their status as held.
    held: Sequence[StatusChange] = field(default_factory=tuple)
    # The period held more changes than were read: from this on they all were.
    shown_from: datetime | None = None


def build(facts: Facts) -> Timeline:
    connection = connection_timeline(
        connection_changes(facts.connections, facts.connected_now, facts.offline_since),
        facts.start,
        facts.end,
        facts.connected_now,
    )
    offline = offline_spans(connection)
    by_connector: dict[tuple[int, int], list[StatusChange]] = {}
    for change in facts.changes:
        by_connector.setdefault(change.key, []).append(change)
    for held in facts.held:
        by_connector.setdefault(held.key, [held])
    connectors = [
        connector_timeline(by_connector[key], facts.start, facts.end, offline)
        for key in sorted(by_connector)
    ]
    timeline = Timeline(facts.start, facts.end, connection, tuple(connectors))
    if facts.shown_from is not None and facts.shown_from > facts.start:
        timeline = _cropped(timeline, facts.shown_from)
    return timeline


def _cropped(timeline: Timeline, shown_from: datetime) -> Timeline:
    """Nothing is known before `shown_from`: what was worked out of it is Unknown."""

    def crop(segments: Sequence[Segment]) -> tuple[Segment, ...]:
        kept = [Segment(timeline.start, shown_from, None)]
        for segment in segments:
            if segment.end > shown_from:
                kept.append(replace(segment, start=max(segment.start, shown_from)))
        return tuple(kept)

    connection = replace(
        timeline.connection,
        segments=crop(timeline.connection.segments),
        changes=tuple(c for c in timeline.connection.changes if c.at >= shown_from),
    )
    connectors = tuple(
        replace(
            c, segments=crop(c.segments), changes=tuple(x for x in c.changes if x.at >= shown_from)
        )
        for c in timeline.connectors
    )
    return replace(timeline, connection=connection, connectors=connectors, shown_from=shown_from)
