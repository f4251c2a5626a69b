"""`/charge-points/{id}/log`: a charge point's OCPP message log, filtered by action,
direction and dates, newest first, paged by entry."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.message_log import LogQuery
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views.common import render, rows

PAGE = 100
DIRECTIONS = {"in": "from the charger", "out": "to the charger"}


def _day(value: str, label: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{label} must be a date (YYYY-MM-DD)") from None


def log_query(query: Any) -> tuple[LogQuery, dict[str, str]]:
    """The filters of the page's query string; InvalidInput names a wrong one."""
    form = {name: query.get(name, "").strip() for name in ("action", "direction", "from", "to")}
    if form["direction"] and form["direction"] not in DIRECTIONS:
        raise InvalidInput("direction must be in or out")
    until = _day(form["to"], "To")
    before = query.get("before", "").strip()
    try:
        before_id = int(before) if before else None
    except ValueError:
        raise InvalidInput("before must be an entry number") from None
    return (
        LogQuery(
            action=form["action"] or None,
            direction=form["direction"] or None,
            since=_day(form["from"], "From"),
            # "to" is inclusive, to the end of its day.
            until=until + timedelta(days=1) if until and until.date() < date.max else None,
            before_id=before_id,
            limit=PAGE,
        ),
        form,
    )


async def log_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        [row] = await rows(request.app, charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    log = request.app[SERVICES].message_log
    error = None
    try:
        query, form = log_query(request.query)
    except InvalidInput as invalid:
        error = str(invalid)
        query, form = LogQuery(limit=PAGE), {}
    messages = await log.search(charge_point_id, query)
    filters = {k: v for k, v in form.items() if v}
    older = {}
    if len(messages) == PAGE and messages[-1].id is not None:
        older = {**filters, "before": str(messages[-1].id)}
    return await render(
        request,
        "charge_point_log.html",
        {
            "nav": "dashboard",
            "tab": "log",
            "row": row,
            "messages": messages,
            "actions": await log.actions(charge_point_id),
            "directions": DIRECTIONS,
            "form": form,
            "filters": filters,
            "older": older,
            "paged": query.before_id is not None,
            "error": error,
        },
        status=400 if error else 200,
    )
