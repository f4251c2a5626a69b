"""The status timeline on a charge point's page (`_cp_timeline.html`): the period the
address asks for (`?period=1h|24h|7d`), the timeline of it, and the marks of its time
axis. The segments themselves are worked out by `ocpp_core.status_timeline`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from ocpp_core.status_timeline import DEFAULT_PERIOD, PERIODS, UNKNOWN, Segment, Timeline
from webapp.keys import SERVICES
from webapp.views.common import FleetRow
from webapp.views.evses import tone

PERIOD_LABELS = {"1h": "1 h", "24h": "24 h", "7d": "7 d"}
# The axis of each period: a mark every so often, on the clock (UTC), labelled so.
_AXIS = {
    "1h": (timedelta(minutes=15), "%H:%M"),
    "24h": (timedelta(hours=6), "%H:%M"),
    "7d": (timedelta(days=1), "%m-%d"),
}
# A mark this close to either end (percent) would have its label cut off, or run into
# the "now" at the right, on a phone's width.
_EDGE = 8.0
# Changes listed per lane under the timeline, newest first.
CHANGES_LISTED = 20


# The narrowest a segment is drawn (percent of the bar, a few pixels): a state of a few
# seconds in a day, the one just begun among them, stays visible (and has its title).
MIN_WIDTH = 0.4


@dataclass(frozen=True)
class Drawn:
    segment: Segment
    x: float  # percent of the bar
    width: float


def drawn(timeline: Timeline, segments: Sequence[Segment]) -> list[Drawn]:
    """Where each segment is drawn: at its share of the period, at least MIN_WIDTH wide and
    within the bar. Drawn in order, a narrow one covers the end of the one before."""
    found = []
    for segment in segments:
        x = timeline.share(segment.start)
        width = max(timeline.share(segment.end) - x, MIN_WIDTH)
        found.append(Drawn(segment, max(0.0, min(x, 100 - width)), width))
    return found


@dataclass(frozen=True)
class Tick:
    at: float  # percent of the period
    label: str


def period_asked(value: str | None) -> tuple[str, str | None]:
    """The period's name from the address, and what was wrong with it (the default
    is shown then)."""
    if not value:
        return DEFAULT_PERIOD, None
    if value in PERIODS:
        return value, None
    choices = ", ".join(PERIOD_LABELS.values())
    wrong = (
        f"unknown period {value[:20]!r}: choose {choices}; "
        f"showing the last {PERIOD_LABELS[DEFAULT_PERIOD]}"
    )
    return DEFAULT_PERIOD, wrong


def ticks(timeline: Timeline, period: str) -> list[Tick]:
    step, label = _AXIS[period]
    epoch = datetime(2000, 1, 1, tzinfo=UTC)  # a midnight: marks fall on the clock's
    steps = -(-(timeline.start - epoch) // step)
    found = []
    moment = epoch + steps * step
    while moment <= timeline.end:
        at = timeline.share(moment)
        if _EDGE <= at <= 100 - _EDGE:
            found.append(Tick(at, moment.strftime(label)))
        moment += step
    return found


def segment_tone(segment: Segment, lane: str = "connector") -> str:
    """The segment's colour: its state's, as the status badges have it; a state nothing
    tells of has none of theirs. The connection lane is green while connected."""
    if segment.state == UNKNOWN:
        return "none"
    if lane == "connection" and not segment.offline:
        return "ok"
    return tone(segment.state)


def states_shown(timeline: Timeline) -> list[str]:
    """Every state the connectors' lanes show, in the order first met: the legend."""
    seen: dict[str, None] = {}
    for connector in timeline.connectors:
        for segment in connector.segments:
            seen.setdefault(segment.state, None)
    return list(seen)


async def timeline_context(
    app: web.Application, row: FleetRow, asked: str | None, now: datetime | None = None
) -> dict[str, Any]:
    """What `_cp_timeline.html` shows for the period `asked` (the address's `period`)."""
    period, wrong = period_asked(asked)
    end = now or datetime.now(UTC)
    timeline = await app[SERVICES].status_timeline.timeline(
        row.status.charge_point, row.status.connected, end - PERIODS[period], end
    )
    return {
        "timeline": timeline,
        "period": period,
        "periods": PERIOD_LABELS,
        "period_error": wrong,
        "ticks": ticks(timeline, period),
        "timeline_states": states_shown(timeline),
        "segment_tone": segment_tone,
        "drawn": drawn,
        "changes_listed": CHANGES_LISTED,
        "v201": row.version == "2.0.1",
    }
