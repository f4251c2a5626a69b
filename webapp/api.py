"""The JSON API (README.md). Views parse, call one service method, and map its outcome."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web

from ocpp_core.catalogue import Operation
from ocpp_core.central_system import CATALOGUES, LiveChargePoint
from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidInput,
    InvalidReply,
    NotAccepted,
    NotConnected,
    NotFound,
    OperationFailed,
)
from ocpp_core.payload_checks import INT32_MAX
from ocpp_core.request_schemas import OcppSchemas
from ocpp_core.services.charge_points import StatusHistoryEntry
from ocpp_core.services.id_tags import IdTagView
from ocpp_core.services.meter_samples import SampledValue
from ocpp_core.services.operations import JournalQuery, OperationView
from ocpp_core.services.transaction_queries import TransactionFilter, TransactionView
from ocpp_core.services.users import UserView
from ocpp_core.timeutil import parse_datetime
from ocpp_core.v16 import operations as v16_operations
from ocpp_core.v201 import operations as v201_operations
from webapp import api_objects
from webapp.api_json import error_response, json_response
from webapp.api_objects import ID_TAG_TEXT, array
from webapp.api_pages import Pager, date_range
from webapp.auth import require_role
from webapp.endpoints import Answer, Body, Call, Endpoint, Header, Parameter, View
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.path_ids import path_int

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

if TYPE_CHECKING:
    pass

LOGGER = logging.getLogger(__name__)

# On a closed session's meter values: how many retention removed (RETAIN_METER_VALUES_DAYS).
METER_VALUES_PRUNED_HEADER = "Voltaro-Meter-Values-Pruned"


# A POST to what would be an operation's path: one no OCPP version has.
_UNKNOWN_OPERATION = re.compile(r"/api/charge-points/[^/]+/(?P<name>[^/]+)")


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Domain outcomes become the API's status codes (README.md), with a JSON reason."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except InvalidInput as error:
        return error_response(400, str(error))
    except NotFound as error:
        return error_response(404, str(error))
    except (NotConnected, NotAccepted) as error:
        return error_response(409, str(error))
    except CallTimedOut as error:
        return error_response(504, str(error))
    except CallErrorReply as error:
        return error_response(502, f"charge point answered with CALLERROR {error}")
    except InvalidReply as error:
        return error_response(502, f"charge point sent an invalid answer: {error}")
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        message = error.reason
        unknown = _UNKNOWN_OPERATION.fullmatch(request.path)
        if error.status == 404 and request.method == "POST" and unknown:
            message = f"unknown operation {unknown['name']!r}"
        response = error_response(error.status, message)
        # A 405 says what the path allows (RFC 9110 15.5.6); nothing else of it is kept.
        if hdrs.ALLOW in error.headers:
            response.headers[hdrs.ALLOW] = error.headers[hdrs.ALLOW]
        return response


def charge_point_json(status: LiveChargePoint) -> dict[str, Any]:
    cp = status.charge_point
    return {
        "id": cp.id,
        "connected": status.connected,
        "registration_status": cp.registration_status,
        # The dashboard's word, by ocpp_core's one rule (README, JSON API).
        "status": status.status,
        "status_since": status.status_since,
        "vendor": cp.vendor,
        "model": cp.model,
        "firmware_version": cp.firmware_version,
        "last_heartbeat": cp.last_heartbeat_at,
        "last_seen": status.last_message_at,
        "connected_since": status.connected_since,
        "ocpp_version": cp.ocpp_version,
        # How it is administered (PATCH /api/charge-points/{id}); its key itself never.
        "has_password": cp.has_password,
        "lenient": cp.lenient,
        "ping_interval": cp.ping_interval,
        "pinned_version": cp.pinned_ocpp_version,
        "connectors": [
            {
                "evse_id": c.evse_id if cp.ocpp_version == "2.0.1" else None,
                "connector_id": c.connector_id,
                "status": c.status,
                "error_code": c.error_code,
            }
            for c in cp.connectors
        ],
    }


def _status_entry(entry: StatusHistoryEntry) -> dict[str, Any]:
    return dataclasses.asdict(entry)


def _transaction(tx: TransactionView) -> dict[str, Any]:
    return {
        "id": tx.id,
        "charge_point_id": tx.charge_point_id,
        "connector_id": tx.connector_id,
        "id_tag": tx.id_tag,
        # What the tag was answered at the start; anything but Accepted: a refused session.
        "id_tag_status": tx.id_tag_status,
        "meter_start": tx.meter_start,
        "meter_stop": tx.meter_stop,
        "start_time": tx.start_time,
        "stop_time": tx.stop_time,
        "stop_reason": tx.stop_reason,
        "energy_wh": tx.energy_wh,
        "ocpp_transaction_id": tx.charger_transaction_id,
        "evse_id": tx.evse_id,
        "flags": list(tx.flags),
        # Retention: the closed session's samples removed (its totals above are kept).
        "meter_values_pruned": tx.meter_values_pruned,
        "meter_values_pruned_at": tx.meter_values_pruned_at if tx.meter_values_pruned else None,
    }


def _meter_value(sample: SampledValue) -> dict[str, Any]:
    return {
        "timestamp": sample.timestamp,
        "measurand": sample.measurand,
        "value": sample.value,
        "unit": sample.unit,
        "phase": sample.phase,
        "context": sample.context,
    }


def _id_tag(tag: IdTagView, usage: bool = False) -> dict[str, Any]:
    """A tag as the API gives it; with `usage`, when it was last used and whether it is
    in a session now."""
    shown = {
        "id_tag": tag.id_tag,
        "parent_id_tag": tag.parent_id_tag,
        "expiry_date": tag.expiry_date,
        "blocked": tag.blocked,
    }
    if usage:
        shown.update(last_used=tag.last_used, in_session=tag.in_session)
    return shown


async def send_operation(
    request: web.Request,
    user: UserView,
    charge_point_id: str,
    version: str,
    entry: Operation,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Send an operation of `version`'s catalogue as `user` (API and portal alike), its
    request `body` (snake_case) built. The catalogue's admin-only operations and a change
    of the charger's key (README: keys are set by admins) are an admin's, 403 for anyone
    else; a key change is audited with how it went, never with the key."""
    central = request.app[CENTRAL_SYSTEM]
    key_change = entry.key_change if entry.key_change and entry.key_change.sets_key(body) else None
    if entry.admin_only or key_change is not None:
        await require_role(request, "admin")
    if key_change is None:
        return await central.operate(charge_point_id, version, entry, body, user.username)
    audit = request.app[SERVICES].audit
    try:
        answer = await central.operate(charge_point_id, version, entry, body, user.username)
    except OperationFailed as error:
        outcome = type(error).__name__
        await audit.record(user.username, key_change.audit_action, charge_point_id, outcome)
        raise
    outcome = key_change.outcome(answer)
    await audit.record(user.username, key_change.audit_action, charge_point_id, outcome)
    return answer


# --- charge points ----------------------------------------------------------------------


async def list_charge_points(request: web.Request, call: Call) -> web.Response:
    statuses = await request.app[CENTRAL_SYSTEM].live_charge_points()
    return json_response([charge_point_json(s) for s in statuses])


async def get_charge_point(request: web.Request, call: Call) -> web.Response:
    status = await request.app[CENTRAL_SYSTEM].live_charge_point(
        request.match_info["charge_point_id"]
    )
    return json_response(charge_point_json(status))


async def remove_charge_point(request: web.Request, call: Call) -> web.Response:
    """Remove a charge point, whatever its id: one holding `/` is named with it
    percent-encoded (`%2F`), `.` and `..` as `%2E` and `%2E%2E` (what clients leave as
    they are; the routes match the raw path and decode the id after)."""
    charge_point_id = request.match_info["charge_point_id"]
    try:
        await request.app[SERVICES].charge_points.delete(charge_point_id, actor=call.user.username)
    except InvalidInput as error:  # it has recorded sessions, and is kept for them
        return error_response(409, str(error))
    return web.Response(status=204)


async def remote_start(request: web.Request, call: Call) -> web.Response:
    charge_point_id = request.match_info["charge_point_id"]
    body = call.body
    if await ocpp_version_of(request, charge_point_id) == "2.0.1":
        REMOTE_START.check(body, REMOTE_START_201)
        start = v201_operations.start_request(
            body["id_tag"], body.get("evse_id"), body.get("charging_profile")
        )
        entry = v201_operations.BY_ACTION["RequestStartTransaction"]
        answer = await send_operation(request, call.user, charge_point_id, "2.0.1", entry, start)
        return json_response(answer)
    entry = v16_operations.BY_ACTION["RemoteStartTransaction"]
    start = await v16_operations.from_api(request.app[SERVICES], charge_point_id, entry, body)
    return json_response(
        await send_operation(request, call.user, charge_point_id, "1.6", entry, start)
    )


async def remote_stop(request: web.Request, call: Call) -> web.Response:
    transaction_id = call.body["transaction_id"]
    charge_point_id = request.match_info["charge_point_id"]
    if await ocpp_version_of(request, charge_point_id) == "2.0.1":
        try:
            tx = await request.app[SERVICES].transaction_queries.get(transaction_id)
        except NotFound:
            raise InvalidInput(f"transaction {transaction_id} does not exist") from None
        if tx.charge_point_id != charge_point_id or tx.ocpp_transaction_id is None:
            raise InvalidInput(
                f"transaction {transaction_id} is not a 2.0.1 session of {charge_point_id!r}"
            )
        entry = v201_operations.BY_ACTION["RequestStopTransaction"]
        stop = {"transaction_id": tx.ocpp_transaction_id}
        version = "2.0.1"
    else:
        entry = v16_operations.BY_ACTION["RemoteStopTransaction"]
        stop = await v16_operations.from_api(
            request.app[SERVICES], charge_point_id, entry, call.body
        )
        version = "1.6"
    answer = await send_operation(request, call.user, charge_point_id, version, entry, stop)
    return json_response(answer)


async def ocpp_version_of(request: web.Request, charge_point_id: str) -> str:
    """The version to speak to a charge point: its live connection's, else the last one
    it connected with (or its pinned one); 1.6 for one never connected."""
    live = request.app[CENTRAL_SYSTEM].connected_version(charge_point_id)
    if live is not None:
        return live
    view = await request.app[SERVICES].charge_points.get(charge_point_id)
    return view.ocpp_version or view.pinned_ocpp_version or "1.6"


def catalogue_entry(name: str, version: str, charge_point_id: str) -> Operation:
    """The operation `name` of the version a charge point speaks; InvalidInput when it is
    another version's, NotFound when it is none's."""
    entry = CATALOGUES[version].get(name)
    if entry is not None:
        return entry
    for other, catalogue in CATALOGUES.items():
        if name in catalogue:
            raise InvalidInput(
                f"{name} is an OCPP {other} operation; {charge_point_id!r} speaks {version}"
            )
    raise NotFound(f"unknown operation {name!r}")


def operation_view(name: str) -> View:
    """The view of `POST /api/charge-points/{id}/{name}`: the operation of that name in the
    catalogue of the version the charge point speaks."""

    async def operation(request: web.Request, call: Call) -> web.Response:
        charge_point_id = request.match_info["charge_point_id"]
        version = await ocpp_version_of(request, charge_point_id)
        entry = catalogue_entry(name, version, charge_point_id)
        body = call.body
        if (
            version == "1.6"
        ):  # the payload's fields (2.0.1: as given; its schema says what is wrong)
            body = await v16_operations.from_api(
                request.app[SERVICES], charge_point_id, entry, body
            )
        answer = await send_operation(request, call.user, charge_point_id, version, entry, body)
        return json_response(answer)

    return operation


JOURNAL_PAGES = Pager()


async def list_operations(request: web.Request, call: Call) -> web.Response:
    """A charge point's journal, newest first, by request time and paged."""
    charge_point_id = request.match_info["charge_point_id"]
    await request.app[SERVICES].charge_points.get(charge_point_id)
    return await journal_page(request, call, charge_point_id)


async def journal_page(
    request: web.Request, call: Call, charge_point_id: str | None
) -> web.Response:
    """A page of the journal's entries (of one charge point, or with None the fleet's)
    that the query's `action`, `since` and `until` admit, newest first."""
    page = JOURNAL_PAGES.page(call)
    entries = await request.app[SERVICES].operations.search(
        JournalQuery(
            charge_point_id=charge_point_id,
            action=call.query.get("action"),
            since=call.query.get("since"),
            until=call.query.get("until"),
            before_id=page.after,
            limit=page.fetch,
        )
    )
    return JOURNAL_PAGES.answer(request, page, entries, dataclasses.asdict, _entry_id)


def _entry_id(entry: OperationView) -> int:
    return entry.id


# Its default page stays the 100 it always was; `before` is `after`'s older name.
STATUS_PAGES = Pager(default=100, older=("before",))


async def status_history(request: web.Request, call: Call) -> web.Response:
    """A charge point's StatusNotifications as received, newest first, paged; those
    received from `since` and before `until`."""
    page = STATUS_PAGES.page(call)
    history = await request.app[SERVICES].charge_points.status_history(
        request.match_info["charge_point_id"],
        limit=page.fetch,
        before=page.after,
        since=call.query.get("since"),
        until=call.query.get("until"),
    )
    return STATUS_PAGES.answer(request, page, history, _status_entry, _status_id)


def _status_id(entry: StatusHistoryEntry) -> int:
    return entry.id


def state_view(state: str) -> View:
    """`configuration`, `reservations`, `charging-profiles` or (lenient mode) protocol
    `deviations` of one charge point."""

    async def charge_point_state(request: web.Request, call: Call) -> web.Response:
        charge_point_id = request.match_info["charge_point_id"]
        await request.app[SERVICES].charge_points.get(charge_point_id)
        operations = request.app[SERVICES].operations
        # Each reads a list of views of a charge point.
        readers: dict[str, Callable[[str], Awaitable[Sequence[DataclassInstance]]]] = {
            "configuration": operations.configuration,
            "reservations": operations.reservations,
            "charging-profiles": operations.charging_profiles,
            "deviations": request.app[SERVICES].deviations.recent,
        }
        reader = readers[state]
        return json_response([dataclasses.asdict(item) for item in await reader(charge_point_id)])

    return charge_point_state


# --- transactions -----------------------------------------------------------------------


def id_in_path(request: web.Request, name: str) -> int:
    """The record id in the URL's `name` part; NotFound naming it if it is none."""
    try:
        return path_int(request, name)
    except ValueError:
        thing = name.removesuffix("_id")
        raise NotFound(f"{thing} {request.match_info[name]} does not exist") from None


TRANSACTION_PAGES = Pager()


async def list_transactions(request: web.Request, call: Call) -> web.Response:
    """Sessions newest first, filtered (charge point exactly, open or closed, started
    from `since` and before `until`) and paged: every one there is, a page at a time."""
    page = TRANSACTION_PAGES.page(call)
    transactions = await request.app[SERVICES].transaction_queries.list(
        filters=TransactionFilter(
            charge_point_id=call.query.get("charge_point_id"),
            active=call.query.get("active"),
            since=call.query.get("since"),
            until=call.query.get("until"),
        ),
        limit=page.fetch,
        before_id=page.after,
    )
    return TRANSACTION_PAGES.answer(request, page, transactions, _transaction, _transaction_id)


def _transaction_id(tx: TransactionView) -> int:
    return tx.id


async def get_transaction(request: web.Request, call: Call) -> web.Response:
    tx = await request.app[SERVICES].transaction_queries.get(id_in_path(request, "transaction_id"))
    return json_response(_transaction(tx))


async def transaction_meter_values(request: web.Request, call: Call) -> web.Response:
    transaction_id = id_in_path(request, "transaction_id")
    transactions = request.app[SERVICES].transaction_queries
    samples = await transactions.meter_values_of(transaction_id)
    response = json_response([_meter_value(s) for s in samples])
    # The list keeps its documented shape; that retention emptied it is said in a header.
    pruned = (await transactions.get(transaction_id)).meter_values_pruned
    if pruned:
        response.headers[METER_VALUES_PRUNED_HEADER] = str(pruned)
    return response


async def close_transaction(request: web.Request, call: Call) -> web.Response:
    """Close a session whose StopTransaction never came; energy from its last reading.
    Closing is for a charger gone or silent: one connected is a 409 unless the body says
    `{"force": true}` (a connected one's session ends by remote-stop)."""
    transaction_id = id_in_path(request, "transaction_id")
    force = (call.body or {}).get("force", False)
    services = request.app[SERVICES]
    tx = await services.transaction_queries.get(transaction_id)
    if tx.active and not force and request.app[CENTRAL_SYSTEM].is_connected(tx.charge_point_id):
        return error_response(
            409,
            f"charge point {tx.charge_point_id!r} is connected: stop the session with "
            'remote-stop, or close it anyway with {"force": true}',
        )
    tx = await services.transactions.close(transaction_id, call.user.username)
    return json_response(_transaction(tx))


# --- id tags ----------------------------------------------------------------------------


# By the tag itself, the order they are listed in; `limit=0` still asks only for the count.
ID_TAG_PAGES = Pager(
    cursor=ID_TAG_TEXT,
    cursor_description="the `id_tag` of the last row of the page before: those after it",
    minimum=0,
)


async def list_id_tags(request: web.Request, call: Call) -> web.Response:
    """A page of the tags, or of those whose id or parent contains `q` (any part, any
    case), by id; the number matching in X-Total-Count; `offset` skips rows (after the
    cursor, if any); `usage=true` adds last use and open session."""
    page = ID_TAG_PAGES.page(call)
    found = await request.app[SERVICES].id_tags.search(
        call.query.get("q", "").strip() or None,
        page.fetch,
        call.query.get("offset", 0),
        after=page.after,
    )
    usage = call.query.get("usage", False)
    response = ID_TAG_PAGES.answer(
        request, page, found.tags, lambda tag: _id_tag(tag, usage), _tag_key
    )
    response.headers["X-Total-Count"] = str(found.total)
    return response


def _tag_key(tag: IdTagView) -> str:
    return tag.id_tag


async def add_id_tag(request: web.Request, call: Call) -> web.Response:
    body = call.body
    expiry = body.get("expiry_date")
    try:
        expiry_date = parse_datetime(expiry) if expiry else None
    except ValueError:
        raise InvalidInput(f"expiry_date is not an ISO 8601 date-time: {expiry!r}") from None
    tag = await request.app[SERVICES].id_tags.add(
        body["id_tag"],
        expiry_date,
        body.get("parent_id_tag"),
        body.get("blocked", False),
        actor=call.user.username,
    )
    return json_response(_id_tag(tag), status=201)


async def delete_id_tag(request: web.Request, call: Call) -> web.Response:
    await request.app[SERVICES].id_tags.delete(
        request.match_info["id_tag"], actor=call.user.username
    )
    return web.Response(status=204)


# --- the endpoints ----------------------------------------------------------------------

OCPP = OcppSchemas()  # the operations' schemas, shared by the endpoints that use them
_COMPONENTS = OCPP.components

CHARGE_POINT_ID = Parameter(
    "charge_point_id",
    {"type": "string"},
    "the charge point's id (`/` as `%2F`, `.` and `..` as `%2E` and `%2E%2E`)",
    "path",
)
TRANSACTION_ID = Parameter("transaction_id", {"type": "integer"}, "our session id", "path")
_OPERATION_ERRORS = (409, 502, 504)
COUNT = {"type": "integer", "minimum": 0}  # a header's whole number
JOURNAL_ACTION = Parameter("action", {"type": "string"}, "only operations of this OCPP action")


def _versions_of(name: str) -> list[str]:
    return [version for version, catalogue in CATALOGUES.items() if name in catalogue]


def _either(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}


def _api_request(version: str, entry: Operation) -> dict[str, Any]:
    """The schema of an operation's API body: its request's, less what the central system
    fills in (`Operation.fills`)."""
    reference = OCPP.request(version, entry.action)
    if not entry.fills:
        return reference
    schema = dict(OCPP.resolve(reference))
    schema["required"] = [name for name in schema.get("required", ()) if name not in entry.fills]
    schema["description"] += (
        f"; where left out, the central system fills in {', '.join(sorted(entry.fills))}"
    )
    return schema


def _operation_endpoint(name: str) -> Endpoint:
    versions = _versions_of(name)
    actions = {version: CATALOGUES[version][name].action for version in versions}
    # An admin-only entry is refused to others where it is sent (`send_operation`).
    admins = [f"OCPP {v}: admin only. " for v in versions if CATALOGUES[v][name].admin_only]
    spelled = ", ".join(f"OCPP {v} {a}" for v, a in actions.items())
    return Endpoint(
        "POST",
        f"/api/charge-points/{{charge_point_id}}/{name}",
        operation_view(name),
        "operator",
        spelled,
        Answer(
            200,
            "the charge point's answer, in snake_case",
            _either([OCPP.answer(v, a) for v, a in actions.items()]),
        ),
        path_parameters=(CHARGE_POINT_ID,),
        body=Body(_either([_api_request(v, CATALOGUES[v][name]) for v in versions]), checked=False),
        errors=_OPERATION_ERRORS,
        description="".join(admins)
        + (
            "The request in snake_case, checked against the schema of the version the "
            "charge point speaks and for meaning before anything is sent (400 otherwise; "
            "an operation of the other version is a 400 naming it)."
        ),
        tag="operations",
        components=_COMPONENTS,
    )


_START_201 = OCPP.resolve(OCPP.request("2.0.1", "RequestStartTransaction"))["properties"]
REMOTE_START_201 = {
    "title": "RemoteStart201",
    "type": "object",
    "properties": {
        "id_tag": OCPP.resolve(_START_201["id_token"])["properties"]["id_token"],
        "evse_id": _START_201["evse_id"],
        "charging_profile": _START_201["charging_profile"],
    },
    "required": ["id_tag"],
    "additionalProperties": False,
    "description": "sent as RequestStartTransaction with a new remote_start_id",
}
REMOTE_START = Endpoint(
    "POST",
    "/api/charge-points/{charge_point_id}/remote-start",
    remote_start,
    "operator",
    "Start a session",
    Answer(
        200,
        "the charge point's answer",
        _either(
            [
                OCPP.answer("1.6", "RemoteStartTransaction"),
                OCPP.answer("2.0.1", "RequestStartTransaction"),
            ]
        ),
    ),
    path_parameters=(CHARGE_POINT_ID,),
    body=Body(
        _either([OCPP.request("1.6", "RemoteStartTransaction"), REMOTE_START_201]),
        checked=False,
    ),
    errors=_OPERATION_ERRORS,
    description="1.6: RemoteStartTransaction; 2.0.1: RequestStartTransaction.",
    tag="operations",
    components=_COMPONENTS,
)

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/charge-points",
        list_charge_points,
        "viewer",
        "Every charge point",
        Answer(200, "the charge points", array(api_objects.CHARGE_POINT)),
        tag="charge points",
    ),
    Endpoint(
        "GET",
        "/api/charge-points/{charge_point_id}",
        get_charge_point,
        "viewer",
        "One charge point",
        Answer(200, "the charge point", api_objects.CHARGE_POINT),
        path_parameters=(CHARGE_POINT_ID,),
        tag="charge points",
    ),
    Endpoint(
        "DELETE",
        "/api/charge-points/{charge_point_id}",
        remove_charge_point,
        "admin",
        "Remove a charge point",
        Answer(204, "removed"),
        path_parameters=(CHARGE_POINT_ID,),
        errors=(409,),
        description="409 while it has recorded sessions (it is kept for them).",
        tag="charge points",
    ),
    Endpoint(
        "GET",
        "/api/charge-points/{charge_point_id}/status-history",
        status_history,
        "viewer",
        "Its StatusNotifications as received, newest first",
        Answer(
            200,
            "the notifications",
            array(api_objects.STATUS_ENTRY),
            STATUS_PAGES.headers,
        ),
        path_parameters=(CHARGE_POINT_ID,),
        query=(*date_range("received"), *STATUS_PAGES.parameters),
        tag="charge points",
    ),
    Endpoint(
        "GET",
        "/api/charge-points/{charge_point_id}/operations",
        list_operations,
        "viewer",
        "The journal of operations sent: who, when, request, outcome, answer",
        Answer(
            200,
            "the entries, newest first",
            array(api_objects.OPERATION_ENTRY),
            JOURNAL_PAGES.headers,
        ),
        path_parameters=(CHARGE_POINT_ID,),
        query=(JOURNAL_ACTION, *date_range("requested"), *JOURNAL_PAGES.parameters),
        tag="charge points",
    ),
    *(
        Endpoint(
            "GET",
            f"/api/charge-points/{{charge_point_id}}/{state}",
            state_view(state),
            "viewer",
            summary,
            Answer(200, summary, array(schema)),
            path_parameters=(CHARGE_POINT_ID,),
            tag="charge points",
        )
        for state, summary, schema in (
            (
                "configuration",
                "Its configuration as last read or set",
                api_objects.CONFIGURATION_ENTRY,
            ),
            ("reservations", "Its reservations", api_objects.RESERVATION),
            ("charging-profiles", "Its charging profiles set", api_objects.CHARGING_PROFILE),
            (
                "deviations",
                "Its protocol deviations (lenient mode), newest first",
                api_objects.DEVIATION,
            ),
        )
    ),
    REMOTE_START,
    Endpoint(
        "POST",
        "/api/charge-points/{charge_point_id}/remote-stop",
        remote_stop,
        "operator",
        "Stop a session",
        Answer(
            200,
            "the charge point's answer",
            _either(
                [
                    OCPP.answer("1.6", "RemoteStopTransaction"),
                    OCPP.answer("2.0.1", "RequestStopTransaction"),
                ]
            ),
        ),
        path_parameters=(CHARGE_POINT_ID,),
        body=Body(api_objects.REMOTE_STOP_BODY),
        errors=_OPERATION_ERRORS,
        description="2.0.1: sent as RequestStopTransaction with the charger's own id.",
        tag="operations",
        components=_COMPONENTS,
    ),
    *(
        _operation_endpoint(name)
        for name in sorted({name for catalogue in CATALOGUES.values() for name in catalogue})
    ),
    Endpoint(
        "GET",
        "/api/transactions",
        list_transactions,
        "viewer",
        "Sessions, newest first",
        Answer(
            200,
            "the sessions, with their integrity flags",
            array(api_objects.TRANSACTION),
            TRANSACTION_PAGES.headers,
        ),
        query=(
            Parameter("charge_point_id", {"type": "string"}, "of this charge point only"),
            Parameter("active", {"type": "boolean"}, "only those open (true) or closed (false)"),
            *date_range("started"),
            *TRANSACTION_PAGES.parameters,
        ),
        tag="transactions",
    ),
    Endpoint(
        "GET",
        "/api/transactions/{transaction_id}",
        get_transaction,
        "viewer",
        "One session",
        Answer(200, "the session", api_objects.TRANSACTION),
        path_parameters=(TRANSACTION_ID,),
        tag="transactions",
    ),
    Endpoint(
        "GET",
        "/api/transactions/{transaction_id}/meter-values",
        transaction_meter_values,
        "viewer",
        "A session's sampled values",
        Answer(
            200,
            "the samples, oldest first",
            array(api_objects.METER_VALUE),
            {
                METER_VALUES_PRUNED_HEADER: Header(
                    "how many samples retention removed, when it did", COUNT, always=False
                )
            },
        ),
        path_parameters=(TRANSACTION_ID,),
        tag="transactions",
    ),
    Endpoint(
        "POST",
        "/api/transactions/{transaction_id}/close",
        close_transaction,
        "operator",
        "Close a session whose StopTransaction never came",
        Answer(200, "the session closed", api_objects.TRANSACTION),
        path_parameters=(TRANSACTION_ID,),
        body=Body(api_objects.CLOSE_BODY, required=False),
        errors=(409,),
        description='While its charger is connected, 409 unless `{"force": true}`.',
        tag="transactions",
    ),
    Endpoint(
        "GET",
        "/api/id-tags",
        list_id_tags,
        "viewer",
        "Id tags by id",
        Answer(
            200,
            "the tags",
            array(api_objects.ID_TAG),
            {"X-Total-Count": Header("how many match", COUNT), **ID_TAG_PAGES.headers},
        ),
        query=(
            Parameter("q", {"type": "string"}, "those whose id or parent contains it, any case"),
            *ID_TAG_PAGES.parameters,
            Parameter(
                "offset",
                {"type": "integer", "minimum": 0, "maximum": INT32_MAX},
                "rows skipped (after the cursor, if any)",
            ),
            Parameter("usage", {"type": "boolean"}, "add `last_used` and `in_session`"),
        ),
        tag="id tags",
    ),
    Endpoint(
        "POST",
        "/api/id-tags",
        add_id_tag,
        "operator",
        "Add or update an id tag",
        Answer(201, "the tag", api_objects.ID_TAG),
        body=Body(api_objects.ID_TAG_BODY),
        tag="id tags",
    ),
    Endpoint(
        "DELETE",
        "/api/id-tags/{id_tag}",
        delete_id_tag,
        "operator",
        "Delete an id tag",
        Answer(204, "deleted"),
        path_parameters=(Parameter("id_tag", {"type": "string"}, "the tag", "path"),),
        tag="id tags",
    ),
]
