"""How things read on the portal: overall status, units, durations. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web
from yarl import URL

_TONE = {
    "Available": "ok",
    "Charging": "busy",
    "SuspendedEV": "busy",
    "SuspendedEVSE": "busy",
    "Preparing": "busy",
    "Finishing": "busy",
    "Reserved": "busy",
    "Faulted": "bad",
    "Unavailable": "bad",
    "Offline": "off",
    "Pending": "warn",
    "Rejected": "bad",
}


def tone(status: str | None) -> str:
    return _TONE.get(status or "", "off")


def event_key(charge_point_id: str) -> str:
    """A charge point id (or any text) as an SSE event name or in a DOM id: no commas,
    spaces or newlines. A charge point's dashboard row is `cp-{event_key(id)}`, so no
    fixed event or element of the dashboard begins with `cp-` (an id `new` or `list`
    would be one)."""
    return quote(charge_point_id, safe="")


def _path_part(value: str) -> str:
    # `.` and `..` would be path steps: as %2E they are the id (for clients that do not
    # fold them anyway, which browsers do).
    if value.strip(".") == "":
        return "%2E" * len(value)
    return quote(value, safe="")


def path_url(
    router: web.UrlDispatcher,
    name: str,
    query_: Mapping[str, str] | None = None,
    **parts: str | int,
) -> URL:
    """The address of route `name`, each part percent-encoded whole. aiohttp's own
    url_for keeps a `/` in a part as a separator, so an id `a/b` named another page; as
    %2F it is the one segment the routes match (on the raw path) and decode back. Called
    as the templates' `url(name, query_=..., **parts)`."""
    resource = router[name]
    if not parts:
        url = resource.url_for()
    else:
        encoded = {key: _path_part(str(value)) for key, value in parts.items()}
        url = URL.build(path=resource.canonical.format_map(encoded), encoded=True)
    return url.with_query(query_) if query_ else url


def kwh(wh: float | None) -> str:
    return "\u2013" if wh is None else f"{wh / 1000:.2f}"


def kw(w: float | None) -> str:
    return "\u2013" if w is None else f"{w / 1000:.1f}"


def duration(start: datetime, stop: datetime | None) -> str:
    end = stop or datetime.now(UTC)
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def hours(seconds: float) -> str:
    """A total of time: "312 h 05 min", "7 min"."""
    minutes = round(seconds / 60)
    whole, rest = divmod(minutes, 60)
    return f"{whole} h {rest:02d} min" if whole else f"{rest} min"


def timespan(length: timedelta) -> str:
    """A stretch of time to the minute, or the second when shorter: "2 d 03 h",
    "5 h 07 min", "12 min", "40 s"."""
    seconds = max(0, int(length.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    whole_hours, rest = divmod(rest, 60)
    if days:
        return f"{days} d {whole_hours:02d} h"
    return f"{whole_hours} h {rest:02d} min" if whole_hours else f"{rest} min"


def when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{timedelta(seconds=seconds).days} d"


def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    return _span(int((datetime.now(UTC) - value).total_seconds())) + " ago"


def lasting(value: datetime | None) -> str:
    """How long something has been so since `value` ("for 5 min"); empty if unknown."""
    if value is None:
        return ""
    return "for " + _span(int((datetime.now(UTC) - value).total_seconds()))


_FLAG_HELP = {
    "offline": "sent long after it happened: queued while the charger was offline",
    "future_timestamp": "the charger's clock is ahead: its timestamp is in the future",
    "overlap": "another session was still open on the same connector",
    "meter_stop_below_start": "the meter reading at stop is lower than at start",
    "closed_by_operator": "closed by an operator: no StopTransaction came",
    "corrected_after_close": "closed by an operator, then corrected by what the charger sent"
    " after (its stop or meter values): meter, energy and stop time are the charger's",
}


def flag_help(flag: str) -> str:
    return _FLAG_HELP.get(flag, flag)
