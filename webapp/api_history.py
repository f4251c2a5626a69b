"""The history the portal shows, in the API: a charge point's OCPP message log, the
fleet's journal of operations, a session's meter values as CSV. Each list is filtered and
paged as the API's others are (`webapp/api_pages.py`)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ocpp_core.services.charge_points import SecurityEventView
from ocpp_core.services.message_log import MAX_PAYLOAD_CHARS, LoggedMessage, LogQuery
from webapp import api_objects
from webapp.api import (
    CHARGE_POINT_ID,
    COUNT,
    JOURNAL_ACTION,
    JOURNAL_PAGES,
    METER_VALUES_PRUNED_HEADER,
    TRANSACTION_ID,
    id_in_path,
    journal_page,
)
from webapp.api_objects import DATE_TIME, array, closed, nullable
from webapp.api_pages import BIG_ID_CURSOR, Pager, date_range
from webapp.endpoints import Answer, Call, Endpoint, Header, Parameter
from webapp.keys import SERVICES
from webapp.views.transactions import meter_values_csv_of

DIRECTIONS = ("in", "out")  # from the charge point, to it (the log's own words)


def message_json(message: LoggedMessage) -> dict[str, Any]:
    """A logged frame: the frame itself as JSON, or, when what was kept is not JSON (a
    charger's unreadable frame, or one cut at MAX_PAYLOAD_CHARS), as the text it is."""
    try:
        payload, text = orjson.loads(message.payload), None
    except orjson.JSONDecodeError:
        payload, text = None, message.payload
    return {
        "id": message.id,
        "created_at": message.created_at,
        "direction": message.direction,
        "message_type": message.message_type,
        "unique_id": message.unique_id,
        "action": message.action,
        "payload": payload,
        "payload_text": text,
    }


def _message_id(message: LoggedMessage) -> int | None:
    return message.id


MESSAGE_PAGES = Pager(BIG_ID_CURSOR)


async def charge_point_messages(request: web.Request, call: Call) -> web.Response:
    """A charge point's logged frames, newest first, as the portal's log page filters
    them (MessageLog.search)."""
    charge_point_id = request.match_info["charge_point_id"]
    services = request.app[SERVICES]
    await services.charge_points.get(charge_point_id)  # NotFound: a 404 naming it
    page = MESSAGE_PAGES.page(call)
    messages = await services.message_log.search(
        charge_point_id,
        LogQuery(
            action=call.query.get("action"),
            direction=call.query.get("direction"),
            since=call.query.get("since"),
            until=call.query.get("until"),
            before_id=page.after,
            limit=page.fetch,
        ),
    )
    return MESSAGE_PAGES.answer(request, page, messages, message_json, _message_id)


SECURITY_EVENT_PAGES = Pager(default=100)


def security_event_json(event: SecurityEventView) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": event.timestamp,
        "tech_info": event.tech_info,
        "received_at": event.received_at,
    }


async def security_events(request: web.Request, call: Call) -> web.Response:
    """A charge point's SecurityEventNotifications, newest first."""
    charge_point_id = request.match_info["charge_point_id"]
    services = request.app[SERVICES]
    await services.charge_points.get(charge_point_id)  # NotFound: a 404 naming it
    page = SECURITY_EVENT_PAGES.page(call)
    events = await services.charge_points.security_events(
        charge_point_id, limit=page.fetch, before=page.after
    )
    return SECURITY_EVENT_PAGES.answer(
        request, page, events, security_event_json, lambda event: event.id
    )


async def fleet_operations(request: web.Request, call: Call) -> web.Response:
    """The journal of every charge point's operations (removed ones' too: the journal
    outlives them), or of the one `charge_point_id` names."""
    return await journal_page(request, call, call.query.get("charge_point_id"))


async def meter_values_csv(request: web.Request, call: Call) -> web.StreamResponse:
    """The portal's CSV of a session's sampled values (the same code), and as on the
    JSON list, how many retention removed in a header."""
    tx = await request.app[SERVICES].transaction_queries.get(id_in_path(request, "transaction_id"))
    response = await meter_values_csv_of(request, tx)
    if tx.meter_values_pruned:
        response.headers[METER_VALUES_PRUNED_HEADER] = str(tx.meter_values_pruned)
    return response


MESSAGE = closed(
    {
        "id": {"type": "integer"},
        "created_at": DATE_TIME | {"description": "when it was received or sent"},
        "direction": {"enum": list(DIRECTIONS), "description": "in: from the charge point"},
        "message_type": nullable({"type": "integer"})
        | {"description": "2 CALL, 3 CALLRESULT, 4 CALLERROR; null: an unreadable frame"},
        "unique_id": nullable({"type": "string"}),
        "action": nullable({"type": "string"}),
        "payload": {
            "description": "the frame as JSON (`[2, id, action, {...}]`), secrets redacted; "
            "null when what was kept is not JSON (then `payload_text`)"
        },
        "payload_text": nullable({"type": "string"})
        | {
            "description": "the frame as kept when it is not JSON: unreadable, or cut at "
            f"{MAX_PAYLOAD_CHARS:,} characters (it says so); null otherwise"
        },
    },
    "LoggedMessage",
)

SECURITY_EVENT = closed(
    {
        "id": {"type": "integer"},
        "type": {"type": "string"},
        "timestamp": DATE_TIME | {"description": "the charger's"},
        "tech_info": nullable({"type": "string"}),
        "received_at": DATE_TIME,
    },
    "SecurityEvent",
)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/charge-points/{charge_point_id}/security-events",
        security_events,
        "viewer",
        "Its security events (SecurityEventNotification), newest first",
        Answer(200, "the events", array(SECURITY_EVENT), SECURITY_EVENT_PAGES.headers),
        path_parameters=(CHARGE_POINT_ID,),
        query=SECURITY_EVENT_PAGES.parameters,
        tag="charge points",
    ),
    Endpoint(
        "GET",
        "/api/charge-points/{charge_point_id}/messages",
        charge_point_messages,
        "viewer",
        "Its OCPP message log, newest first",
        Answer(200, "the frames", array(MESSAGE), MESSAGE_PAGES.headers),
        path_parameters=(CHARGE_POINT_ID,),
        query=(
            Parameter("action", {"type": "string"}, "only frames of this action"),
            Parameter(
                "direction",
                {"type": "string", "enum": list(DIRECTIONS)},
                "only those from the charge point (in) or to it (out)",
            ),
            *date_range("logged"),
            *MESSAGE_PAGES.parameters,
        ),
        description="As long as it is kept: KEEP_MESSAGE_LOG frames of each charge point, "
        "RETAIN_MESSAGE_LOG_DAYS days.",
        tag="history",
    ),
    Endpoint(
        "GET",
        "/api/operations",
        fleet_operations,
        "viewer",
        "The journal of operations sent to every charge point, newest first",
        Answer(
            200,
            "the entries, newest first",
            array(api_objects.OPERATION_ENTRY),
            JOURNAL_PAGES.headers,
        ),
        query=(
            Parameter("charge_point_id", {"type": "string"}, "of this charge point only"),
            JOURNAL_ACTION,
            *date_range("requested"),
            *JOURNAL_PAGES.parameters,
        ),
        description="Those of removed charge points too: the journal outlives them.",
        tag="history",
    ),
    Endpoint(
        "GET",
        "/api/transactions/{transaction_id}/meter-values.csv",
        meter_values_csv,
        "viewer",
        "A session's sampled values as CSV, oldest first",
        Answer(
            200,
            "timestamp, measurand, phase, value, unit, context, location, format: one line a "
            "sampled value",
            {"type": "string"},
            {
                METER_VALUES_PRUNED_HEADER: Header(
                    "how many samples retention removed, when it did", COUNT, always=False
                )
            },
            media_type="text/csv",
        ),
        path_parameters=(TRANSACTION_ID,),
        tag="transactions",
    ),
]
