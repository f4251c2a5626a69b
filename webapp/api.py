"""The JSON API (README.md). Views parse, call one service method, and map its outcome."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ocpp_core.catalogue import Operation
from ocpp_core.central_system import CATALOGUES, ChargePointStatus
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
from ocpp_core.frames import nested_deeper_than
from ocpp_core.request_fields import check_fields
from ocpp_core.services.charge_points import StatusHistoryEntry
from ocpp_core.services.id_tags import MAX_ID_TAG_LENGTH, IdTagView
from ocpp_core.services.transactions import SampledValue, TransactionView
from ocpp_core.services.users import UserView
from ocpp_core.timeutil import format_datetime, parse_datetime
from ocpp_core.v16 import operations as v16_operations
from ocpp_core.v201 import operations as v201_operations
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.path_ids import path_int

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

LOGGER = logging.getLogger(__name__)

# No request nests deeper than a charging profile's schedule periods (5 levels): a body
# far deeper is no request, and is refused before anything walks it.
MAX_JSON_DEPTH = 32
# On a closed session's meter values: how many retention removed (RETAIN_METER_VALUES_DAYS).
METER_VALUES_PRUNED_HEADER = "Voltaro-Meter-Values-Pruned"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=_default, option=orjson.OPT_UTC_Z),
        status=status,
        content_type="application/json",
    )


def error_response(status: int, message: str) -> web.Response:
    return json_response({"error": message}, status)


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
        return error_response(error.status, error.reason)


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"body is not valid JSON: {error}") from None
    if nested_deeper_than(body, MAX_JSON_DEPTH):
        LOGGER.warning(
            "refused %s %r: body nested more than %d levels deep",
            request.method,
            request.path,
            MAX_JSON_DEPTH,
        )
        raise InvalidInput(f"body is nested more than {MAX_JSON_DEPTH} levels deep")
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


def _charge_point(status: ChargePointStatus) -> dict[str, Any]:
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


async def list_charge_points(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    statuses = await request.app[CENTRAL_SYSTEM].get_charge_point_status()
    return json_response([_charge_point(s) for s in statuses])


async def get_charge_point(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    status = await request.app[CENTRAL_SYSTEM].get_charge_point_status(
        request.match_info["charge_point_id"]
    )
    return json_response(_charge_point(status))


async def remove_charge_point(request: web.Request) -> web.Response:
    """Remove a charge point, whatever its id: one holding `/` is named with it
    percent-encoded (`%2F`), `.` and `..` as `%2E` and `%2E%2E` (what clients leave as
    they are; the routes match the raw path and decode the id after)."""
    user = await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        await request.app[SERVICES].charge_points.delete(charge_point_id)
    except InvalidInput as error:  # it has recorded sessions, and is kept for them
        return error_response(409, str(error))
    await request.app[SERVICES].audit.record(user.username, "remove charge point", charge_point_id)
    return web.Response(status=204)


async def remote_start(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    if await ocpp_version_of(request, charge_point_id) == "2.0.1":
        body = check_fields(await json_body(request), {"id_tag"}, {"evse_id", "charging_profile"})
        if not isinstance(body["id_tag"], str):
            raise InvalidInput("id_tag must be a string")
        start = v201_operations.start_request(
            body["id_tag"], body.get("evse_id"), body.get("charging_profile")
        )
        entry = v201_operations.BY_ACTION["RequestStartTransaction"]
        answer = await send_operation(request, user, charge_point_id, "2.0.1", entry, start)
        return json_response(answer)
    entry = v16_operations.BY_ACTION["RemoteStartTransaction"]
    start = await v16_operations.from_api(
        request.app[SERVICES], charge_point_id, entry, await json_body(request)
    )
    return json_response(await send_operation(request, user, charge_point_id, "1.6", entry, start))


async def remote_stop(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    body = check_fields(await json_body(request), {"transaction_id"}, set())
    transaction_id = body["transaction_id"]
    if type(transaction_id) is not int:
        raise InvalidInput("transaction_id must be an integer")
    charge_point_id = request.match_info["charge_point_id"]
    if await ocpp_version_of(request, charge_point_id) == "2.0.1":
        try:
            tx = await request.app[SERVICES].transactions.get(transaction_id)
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
        stop = await v16_operations.from_api(request.app[SERVICES], charge_point_id, entry, body)
        version = "1.6"
    return json_response(await send_operation(request, user, charge_point_id, version, entry, stop))


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


async def operation(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    version = await ocpp_version_of(request, charge_point_id)
    entry = catalogue_entry(request.match_info["operation"], version, charge_point_id)
    body = await json_body(request)
    if version == "1.6":  # the payload's fields (2.0.1: as given; its schema says what is wrong)
        body = await v16_operations.from_api(request.app[SERVICES], charge_point_id, entry, body)
    answer = await send_operation(request, user, charge_point_id, version, entry, body)
    return json_response(answer)


async def list_operations(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    charge_point_id = request.match_info["charge_point_id"]
    await request.app[SERVICES].charge_points.get(charge_point_id)
    journal = await request.app[SERVICES].operations.journal(charge_point_id, limit=200)
    return json_response([dataclasses.asdict(o) for o in journal])


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name, "")
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


async def status_history(request: web.Request) -> web.Response:
    """A charge point's StatusNotifications as received, newest first: `limit` (default
    100) of them, those before id `before` for the next page."""
    await require_role(request, "viewer")
    limit = _query_int(request, "limit")
    history = await request.app[SERVICES].charge_points.status_history(
        request.match_info["charge_point_id"],
        limit=100 if limit is None else limit,
        before=_query_int(request, "before"),
    )
    return json_response([_status_entry(entry) for entry in history])


async def charge_point_state(request: web.Request) -> web.Response:
    """`configuration`, `reservations`, `charging-profiles` or (lenient mode) protocol
    `deviations` of one charge point."""
    await require_role(request, "viewer")
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
    reader = readers[request.match_info["state"]]
    return json_response([dataclasses.asdict(item) for item in await reader(charge_point_id)])


# --- transactions -----------------------------------------------------------------------


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise InvalidInput(f"{name} must be true or false")


def _int_path(request: web.Request, name: str) -> int:
    try:
        return path_int(request, name)
    except ValueError:
        thing = name.removesuffix("_id")
        raise NotFound(f"{thing} {request.match_info[name]} does not exist") from None


async def list_transactions(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    transactions = await request.app[SERVICES].transactions.list(
        charge_point_id=request.query.get("charge_point_id") or None,
        active=_flag(request.query.get("active"), "active"),
    )
    return json_response([_transaction(tx) for tx in transactions])


async def get_transaction(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    tx = await request.app[SERVICES].transactions.get(_int_path(request, "transaction_id"))
    return json_response(_transaction(tx))


async def transaction_meter_values(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    transaction_id = _int_path(request, "transaction_id")
    transactions = request.app[SERVICES].transactions
    samples = await transactions.meter_values_of(transaction_id)
    response = json_response([_meter_value(s) for s in samples])
    # The list keeps its documented shape; that retention emptied it is said in a header.
    pruned = (await transactions.get(transaction_id)).meter_values_pruned
    if pruned:
        response.headers[METER_VALUES_PRUNED_HEADER] = str(pruned)
    return response


async def close_transaction(request: web.Request) -> web.Response:
    """Close a session whose StopTransaction never came; energy from its last reading.
    Closing is for a charger gone or silent: one connected is a 409 unless the body says
    `{"force": true}` (a connected one's session ends by remote-stop)."""
    user = await require_role(request, "operator")
    transaction_id = _int_path(request, "transaction_id")
    body = check_fields(await json_body(request), set(), {"force"}) if request.body_exists else {}
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise InvalidInput("force must be true or false")
    services = request.app[SERVICES]
    tx = await services.transactions.get(transaction_id)
    if tx.active and not force and request.app[CENTRAL_SYSTEM].is_connected(tx.charge_point_id):
        return error_response(
            409,
            f"charge point {tx.charge_point_id!r} is connected: stop the session with "
            'remote-stop, or close it anyway with {"force": true}',
        )
    tx = await services.transactions.close(transaction_id, user.username)
    await request.app[SERVICES].audit.record(user.username, "close session", str(tx.id))
    return json_response(_transaction(tx))


# --- id tags ----------------------------------------------------------------------------


MAX_PAGE = 1000


def _query_count(request: web.Request, name: str, default: int | None, most: int) -> int | None:
    """A whole number query parameter from 0 to `most`."""
    value = request.query.get(name, "")
    if value == "":
        return default
    if not value.isdigit() or int(value) > most:
        raise InvalidInput(f"{name} must be a whole number from 0 to {most}")
    return int(value)


async def list_id_tags(request: web.Request) -> web.Response:
    """All tags, or a page (`limit`, `offset`) of those whose id or parent contains `q`;
    the number matching in X-Total-Count; `usage=true` adds last use and open session."""
    await require_role(request, "viewer")
    found = await request.app[SERVICES].id_tags.search(
        request.query.get("q", "").strip() or None,
        _query_count(request, "limit", None, MAX_PAGE),
        _query_count(request, "offset", 0, 2**31 - 1) or 0,
    )
    usage = bool(_flag(request.query.get("usage"), "usage"))
    response = json_response([_id_tag(t, usage) for t in found.tags])
    response.headers["X-Total-Count"] = str(found.total)
    return response


async def add_id_tag(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    body = check_fields(
        await json_body(request), {"id_tag"}, {"expiry_date", "parent_id_tag", "blocked"}
    )
    # Checked here, all of it, before the database: a null id_tag was a NOT NULL error (500).
    if not isinstance(body["id_tag"], str):
        raise InvalidInput("id_tag must be a string")
    for name in ("parent_id_tag", "expiry_date"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInput(f"{name} must be a string or null")
    for name in ("id_tag", "parent_id_tag"):  # CiString20Type
        value = body.get(name)
        if value is not None and not 0 < len(value) <= MAX_ID_TAG_LENGTH:
            raise InvalidInput(f"{name} must be 1 to {MAX_ID_TAG_LENGTH} characters")
    blocked = body.get("blocked", False)
    if not isinstance(blocked, bool):
        raise InvalidInput("blocked must be true or false")
    expiry = body.get("expiry_date")
    try:
        expiry_date = parse_datetime(expiry) if expiry else None
    except ValueError:
        raise InvalidInput(f"expiry_date is not an ISO 8601 date-time: {expiry!r}") from None
    tag = await request.app[SERVICES].id_tags.add(
        body["id_tag"], expiry_date, body.get("parent_id_tag"), blocked
    )
    await request.app[SERVICES].audit.record(user.username, "add id tag", tag.id_tag)
    return json_response(_id_tag(tag), status=201)


async def delete_id_tag(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    await request.app[SERVICES].id_tags.delete(request.match_info["id_tag"])
    await request.app[SERVICES].audit.record(
        user.username, "delete id tag", request.match_info["id_tag"]
    )
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/charge-points", list_charge_points, name="api_charge_points")
    r.add_get("/api/charge-points/{charge_point_id}", get_charge_point, name="api_charge_point")
    r.add_delete("/api/charge-points/{charge_point_id}", remove_charge_point)
    r.add_post("/api/charge-points/{charge_point_id}/remote-start", remote_start)
    r.add_post("/api/charge-points/{charge_point_id}/remote-stop", remote_stop)
    r.add_post("/api/charge-points/{charge_point_id}/{operation}", operation)
    r.add_get("/api/charge-points/{charge_point_id}/operations", list_operations)
    r.add_get("/api/charge-points/{charge_point_id}/status-history", status_history)
    r.add_get(
        "/api/charge-points/{charge_point_id}/"
        "{state:configuration|reservations|charging-profiles|deviations}",
        charge_point_state,
    )
    r.add_get("/api/transactions", list_transactions, name="api_transactions")
    r.add_get("/api/transactions/{transaction_id}", get_transaction)
    r.add_get("/api/transactions/{transaction_id}/meter-values", transaction_meter_values)
    r.add_post("/api/transactions/{transaction_id}/close", close_transaction)
    r.add_get("/api/id-tags", list_id_tags, name="api_id_tags")
    r.add_post("/api/id-tags", add_id_tag)
    r.add_delete("/api/id-tags/{id_tag}", delete_id_tag)
