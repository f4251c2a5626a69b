"""`/transactions` (filters, pages, CSV) and `/transactions/{id}` (chart)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.meter_samples import ENERGY_REGISTER, POWER, SampledValue, energy_in_wh
from ocpp_core.services.transaction_queries import TransactionFilter, TransactionView
from ocpp_core.timeutil import format_datetime
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.path_ids import path_int
from webapp.views.common import render
from webapp.views.meter_table import meter_table

PAGE_SIZE = 50
READINGS_PAGE = 50  # reading instants a page of the session's meter table shows
# Sessions read per statement while the CSV is written.
CSV_PAGE = 5000
CSV_HEADER = [
    "transaction_id",
    "charge_point_id",
    "connector_id",
    "id_tag",
    "start_time",
    "stop_time",
    "meter_start_wh",
    "meter_stop_wh",
    "energy_kwh",
    "duration_s",
    "stop_reason",
    "flags",
    "evse_id",
    "ocpp_transaction_id",
    "id_tag_status",
]
FILTER_FIELDS = ("charge_point_id", "id_tag", "from", "to", "active")


def _day(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)") from None


def _filters(query: Any) -> tuple[TransactionFilter, dict[str, str]]:
    """The page's filters (charge point and id tag as parts, in any case)."""
    form = {name: query.get(name, "").strip() for name in FILTER_FIELDS}
    active = {"true": True, "false": False}.get(form["active"])
    until = _day(form["to"], "To")
    return (
        TransactionFilter(
            charge_point_id=form["charge_point_id"] or None,
            id_tag=form["id_tag"] or None,
            active=active,
            since=_day(form["from"], "From"),
            # "to" is inclusive; to 9999-12-31 is to the end of time.
            until=until + timedelta(days=1) if until and until.date() < date.max else None,
            partial=True,
        ),
        form,
    )


async def transactions_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    services = request.app[SERVICES]
    error = None
    try:
        filters, form = _filters(request.query)
    except InvalidInput as invalid:
        error = str(invalid)
        filters, form = TransactionFilter(), {name: "" for name in FILTER_FIELDS}
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    total = await services.transaction_queries.count(filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    transactions = await services.transaction_queries.list(
        filters=filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    totals = await services.transaction_totals.of(filters)
    chart = {
        "days": [
            {"day": d.key, "kwh": round(d.energy_wh / 1000, 3), "sessions": d.sessions}
            for d in totals.by_day
        ]
    }
    return await render(
        request,
        "transactions.html",
        {
            "nav": "transactions",
            "transactions": transactions,
            "form": form,
            "query": urlencode({k: v for k, v in form.items() if v}),
            "page": page,
            "pages": pages,
            "total": total,
            "totals": totals,
            "chart": chart,
            "error": error,
        },
        status=400 if error else 200,
    )


# OWASP's CSV injection rule: a cell beginning with one of these is read by spreadsheets as
# a formula (which may run commands or send data away), so it is made text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """A text cell of the export: one a spreadsheet would run as a formula gets a single
    quote in front, which shows it as the text it is."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_row(tx: TransactionView) -> list[Any]:
    # Ids and tags are the charger's or an operator's text; numbers and times are ours.
    return [
        tx.id,
        text_cell(tx.charge_point_id),
        tx.connector_id,
        text_cell(tx.id_tag or ""),  # a 2.0.1 session may have no token
        format_datetime(tx.start_time),
        format_datetime(tx.stop_time) or "",
        tx.meter_start,
        "" if tx.meter_stop is None else tx.meter_stop,
        "" if tx.energy_wh is None else f"{tx.energy_wh / 1000:.3f}",
        int(((tx.stop_time or datetime.now(UTC)) - tx.start_time).total_seconds()),
        text_cell(tx.stop_reason or ""),
        text_cell(" ".join(tx.flags)),
        "" if tx.evse_id is None else tx.evse_id,
        text_cell(tx.ocpp_transaction_id or ""),  # the charger's own id (2.0.1)
        tx.id_tag_status or "",
    ]


async def transactions_csv(request: web.Request) -> web.StreamResponse:
    """Every session the filters select, however many: written a page at a time, so a
    large export neither stops at a cap nor is held in memory whole."""
    await require_role(request, "viewer")
    try:
        filters, _ = _filters(request.query)
    except InvalidInput as error:
        raise web.HTTPBadRequest(text=f"{error}\n") from None
    transactions = request.app[SERVICES].transaction_queries
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="voltaro-transactions.csv"',
        }
    )
    await response.prepare(request)
    before: int | None = None
    rows: list[list[Any]] = [CSV_HEADER]
    while True:
        page = await transactions.list(filters=filters, limit=CSV_PAGE, before_id=before)
        rows.extend(_csv_row(tx) for tx in page)
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        await response.write(out.getvalue().encode())
        if len(page) < CSV_PAGE:
            break
        before, rows = page[-1].id, []
    await response.write_eof()
    return response


def chart_points(tx: TransactionView, samples: list[SampledValue]) -> list[dict[str, Any]]:
    """One point per meter timestamp: power in kW and energy charged so far in kWh."""
    points: dict[datetime, dict[str, Any]] = {}
    for sample in samples:
        if sample.phase is not None or sample.measurand not in (ENERGY_REGISTER, POWER):
            continue
        value = energy_in_wh(sample.value, sample.unit)
        if value is None:
            continue
        point = points.setdefault(
            sample.timestamp,
            {"t": sample.timestamp.strftime("%H:%M:%S"), "kw": None, "kwh": None},
        )
        if sample.measurand == POWER:
            point["kw"] = round(value / 1000, 3)
        elif tx.meter_start is not None:  # a session with energy readings has one
            point["kwh"] = round((value - tx.meter_start) / 1000, 3)
    return [points[t] for t in sorted(points)]


async def close_transaction(request: web.Request) -> web.Response:
    """Close a session whose charger is gone or silent. One whose charger is connected
    (and may still be charging) is closed only with the form's confirmation that says so:
    its session ends by Remote stop."""
    user = await require_role(request, "operator")
    services = request.app[SERVICES]
    try:
        transaction_id = path_int(request, "transaction_id")
        tx = await services.transaction_queries.get(transaction_id)
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="No such session\n") from None
    try:
        form = await request.post()
        connected = request.app[CENTRAL_SYSTEM].is_connected(tx.charge_point_id)
        if tx.active and connected and form.get("confirm_online") != "yes":
            raise InvalidInput(
                f"{tx.charge_point_id} is connected and may still be charging: stop the "
                "session with Remote stop, or tick the confirmation to close it anyway"
            )
        await services.transactions.close(transaction_id, user.username)
    except InvalidInput as error:  # already stopped, or not confirmed
        return await transaction_page(request, message=str(error))
    raise web.HTTPSeeOther(
        request.app.router["transaction"].url_for(transaction_id=str(transaction_id))
    )


async def _session(request: web.Request) -> TransactionView:
    try:
        return await request.app[SERVICES].transaction_queries.get(
            path_int(request, "transaction_id")
        )
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="No such session\n") from None


def _page_number(request: web.Request, pages: int) -> int:
    try:
        page = int(request.query.get("page", "1"))
    except ValueError:
        page = 1
    return min(max(page, 1), pages)


async def meter_values_csv(request: web.Request) -> web.Response:
    """The session's sampled values, one line each, oldest first."""
    await require_role(request, "viewer")
    return await meter_values_csv_of(request, await _session(request))


async def meter_values_csv_of(request: web.Request, tx: TransactionView) -> web.Response:
    """The CSV of a session's sampled values, the portal's and the API's alike."""
    samples = await request.app[SERVICES].transaction_queries.meter_values_of(tx.id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["timestamp", "measurand", "phase", "value", "unit", "context", "location", "format"]
    )
    writer.writerows(
        [
            format_datetime(s.timestamp),
            text_cell(s.measurand),
            text_cell(s.phase or ""),
            text_cell(s.value),
            text_cell(s.unit or ""),
            text_cell(s.context or ""),
            text_cell(s.location or ""),
            text_cell(s.format or ""),
        ]
        for s in samples
    )
    name = f"voltaro-session-{tx.id}-meter-values.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def transaction_page(request: web.Request, message: str | None = None) -> web.Response:
    await require_role(request, "viewer")
    services = request.app[SERVICES]
    tx = await _session(request)
    transaction_id = tx.id
    samples = await services.transaction_queries.meter_values_of(transaction_id)
    table = meter_table(samples)
    pages = max(1, math.ceil(len(table.readings) / READINGS_PAGE))
    page = _page_number(request, pages)
    # Newest first: the end of a session is what an operator looks at.
    newest_first = table.readings[::-1]
    shown = newest_first[(page - 1) * READINGS_PAGE : page * READINGS_PAGE]
    remote_start = (
        await services.operations.remote_start(tx.charge_point_id, tx.remote_start_id)
        if tx.remote_start_id is not None
        else None
    )
    # A 2.0.1 session is its TransactionEvents: shown as received, in seqNo order.
    events = (
        await services.transaction_events.events_of(transaction_id)
        if tx.ocpp_transaction_id is not None
        else []
    )
    return await render(
        request,
        "transaction.html",
        {
            "nav": "transactions",
            "tx": tx,
            "samples": samples,
            "table": table,
            "readings": shown,
            "page": page,
            "pages": pages,
            "events": events,
            "remote_start": remote_start,
            "chart": {"points": chart_points(tx, samples)},
            "message": message,
            "charger_connected": request.app[CENTRAL_SYSTEM].is_connected(tx.charge_point_id),
        },
        status=400 if message else 200,
    )
