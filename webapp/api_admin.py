"""The portal's administration in the JSON API (admin): registering charge points and how
they are let in and borne with, the accounts, the audit log. Each change goes through the
service method the portal's form uses, which audits it as the portal's, with the acting
API user.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import AlreadyExists, InvalidInput, NotFound
from ocpp_core.identifiers import MAX_CHARGE_POINT_ID_LENGTH
from ocpp_core.passwords import KEY_MAX_LENGTH, KEY_MIN_LENGTH
from ocpp_core.services.audit import AuditView
from ocpp_core.services.charge_points import KEEP
from ocpp_core.services.users import MAX_USERNAME_LENGTH, ROLES, UserView
from ocpp_core.versions import VERSIONS
from webapp import api_objects
from webapp.api import CHARGE_POINT_ID, charge_point_json
from webapp.api_json import error_response, json_response
from webapp.api_objects import DATE_TIME, array, closed, nullable, nullable_enum
from webapp.api_pages import Pager, date_range
from webapp.endpoints import Answer, Body, Call, Endpoint, Parameter
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.path_ids import path_int
from webapp.views.charge_points import MAX_PING_INTERVAL

# --- charge points ----------------------------------------------------------------------


async def register_charge_point(request: web.Request, call: Call) -> web.StreamResponse:
    charge_point_id, password = call.body["id"], call.body.get("password")
    # Registering updates one that exists: here that is a conflict, not a change.
    try:
        await request.app[SERVICES].charge_points.register(
            charge_point_id, password, new_only=True, actor=call.user.username
        )
    except AlreadyExists as error:
        return error_response(409, str(error))
    return await _charge_point(request, charge_point_id, 201)


async def change_charge_point(request: web.Request, call: Call) -> web.StreamResponse:
    """Each field given, as the portal's forms change it; the body is checked whole by its
    schema before anything is written, and what it changes is changed in one transaction,
    audited with it."""
    charge_point_id = request.match_info["charge_point_id"]
    body = call.body
    # Only what the body names changes (KEEP the rest); the schema allows nothing else.
    await request.app[SERVICES].charge_points.change(
        charge_point_id,
        registration_status=body.get("registration_status") or KEEP,
        lenient=body.get("lenient", KEEP),
        ping_interval=body.get("ping_interval", KEEP),
        pinned_version=body.get("pinned_version", KEEP),
        actor=call.user.username,
    )
    return await _charge_point(request, charge_point_id)


async def set_charge_point_password(request: web.Request, call: Call) -> web.Response:
    charge_point_id = request.match_info["charge_point_id"]
    await request.app[SERVICES].charge_points.set_password(
        charge_point_id, call.body["password"], actor=call.user.username
    )
    return web.Response(status=204)


async def _charge_point(
    request: web.Request, charge_point_id: str, status: int = 200
) -> web.Response:
    """The charge point as `GET /api/charge-points/{id}` answers it."""
    shown = await request.app[CENTRAL_SYSTEM].live_charge_point(charge_point_id)
    return json_response(charge_point_json(shown), status=status)


# --- users ------------------------------------------------------------------------------


def user_json(user: UserView) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "role": user.role}


def _user_id(request: web.Request) -> int:
    try:
        return path_int(request, "user_id")
    except ValueError:
        raise NotFound(f"user {request.match_info['user_id']} does not exist") from None


async def _user(request: web.Request, user_id: int) -> UserView:
    user = await request.app[SERVICES].users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


async def list_users(request: web.Request, call: Call) -> web.Response:
    return json_response([user_json(u) for u in await request.app[SERVICES].users.list()])


async def add_user(request: web.Request, call: Call) -> web.Response:
    username, password, role = call.body["username"], call.body["password"], call.body["role"]
    # Adding one that exists would replace its password and role: here that is a conflict.
    try:
        user = await request.app[SERVICES].users.add(
            username, password, role, new_only=True, actor=call.user.username
        )
    except AlreadyExists as error:
        return error_response(409, str(error))
    return json_response(user_json(user), status=201)


async def change_user(request: web.Request, call: Call) -> web.Response:
    user_id = _user_id(request)
    user = await _user(request, user_id)
    users = request.app[SERVICES].users
    role, password = call.body.get("role"), call.body.get("password")
    if role is not None and role != user.role:
        try:
            await users.set_role(user_id, role, actor=call.user.username)
        except InvalidInput as error:  # the last admin (the role itself is checked above)
            return error_response(409, str(error))
    if password is not None:
        await users.set_password(user_id, password, actor=call.user.username)
    return json_response(user_json(await _user(request, user_id)))


async def delete_user(request: web.Request, call: Call) -> web.Response:
    user_id = _user_id(request)
    if user_id == call.user.id:
        return error_response(409, "you cannot remove yourself")
    try:
        await request.app[SERVICES].users.delete(user_id, actor=call.user.username)
    except InvalidInput as error:  # the last admin
        return error_response(409, str(error))
    return web.Response(status=204)


# --- the audit log ----------------------------------------------------------------------


def audit_json(entry: AuditView) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "user": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "detail": entry.detail,
    }


# Newest first: `after` (or its older name `before`) is the last entry's id shown.
AUDIT_PAGES = Pager(default=100, older=("before",))


async def list_audit(request: web.Request, call: Call) -> web.Response:
    page = AUDIT_PAGES.page(call)
    entries = await request.app[SERVICES].audit.search(
        actor=call.query.get("user"),
        action=call.query.get("action"),
        since=call.query.get("since"),
        until=call.query.get("until"),
        before=page.after,
        limit=page.fetch,
    )
    return AUDIT_PAGES.answer(request, page, entries, audit_json, lambda entry: entry.id)


# --- the endpoints ----------------------------------------------------------------------

# The id rule of ocpp_core.identifiers as a pattern a client (and a fuzzer) can read:
# printable ASCII but `/` and `:`, not `.` or `..`. `(?![\s\S])` is the end of the text:
# `$` would also match before a final newline.
_NEW_ID = {
    "type": "string",
    "pattern": rf"^(?!\.\.?(?![\s\S]))[ -.0-9;-~]{{1,{MAX_CHARGE_POINT_ID_LENGTH}}}(?![\s\S])",
    "description": f"1 to {MAX_CHARGE_POINT_ID_LENGTH} printable ASCII characters, no '/' "
    "or ':', not '.' or '..'",
}
_KEY = {"type": "string", "minLength": KEY_MIN_LENGTH, "maxLength": KEY_MAX_LENGTH}
_KEY_OR_NONE = nullable(_KEY) | {"description": "its HTTP Basic key; null: none"}
NEW_CHARGE_POINT = closed(
    {"id": _NEW_ID, "password": _KEY_OR_NONE}, "NewChargePoint", ("password",)
)
_CHANGES = {
    "registration_status": {
        "enum": ["Accepted", "Rejected"],
        "description": "answered at its next BootNotification",
    },
    "lenient": {"type": "boolean"},
    "ping_interval": nullable({"type": "integer", "minimum": 0, "maximum": MAX_PING_INTERVAL})
    | {"description": "seconds, 0: no pings, null: the global; from its next connection"},
    "pinned_version": nullable_enum(VERSIONS)
    | {"description": "the only version it may connect with; null: any"},
}
CHARGE_POINT_CHANGE = closed(_CHANGES, "ChargePointChange", tuple(_CHANGES)) | {"minProperties": 1}
CHARGE_POINT_KEY = closed({"password": _KEY_OR_NONE}, "ChargePointKey")

_ROLE = {"type": "string", "enum": list(ROLES)}
_PASSWORD = {"type": "string", "minLength": 1}
USER = closed({"id": {"type": "integer"}, "username": {"type": "string"}, "role": _ROLE}, "User")
NEW_USER = closed(
    {
        "username": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_USERNAME_LENGTH,
            "pattern": "^[^:]*$",
            "description": f"1 to {MAX_USERNAME_LENGTH} characters without ':'",
        },
        "password": _PASSWORD,
        "role": _ROLE,
    },
    "NewUser",
)
USER_CHANGE = closed({"role": _ROLE, "password": _PASSWORD}, "UserChange", ("role", "password")) | {
    "minProperties": 1
}
AUDIT_ENTRY = closed(
    {
        "id": {"type": "integer"},
        "at": DATE_TIME,
        "user": {"type": "string", "description": "who: an account, `cli` or `system`"},
        "action": {"type": "string"},
        "target": {"type": "string"},
        "detail": nullable({"type": "string"}),
    },
    "AuditEntry",
)
_USER_ID = Parameter("user_id", {"type": "integer"}, "the account's id", "path")

ENDPOINTS = [
    Endpoint(
        "POST", "/api/charge-points", register_charge_point, "admin",
        "Register a charge point, accepted (as the portal's dashboard does)",
        Answer(201, "the charge point", api_objects.CHARGE_POINT),
        body=Body(NEW_CHARGE_POINT), errors=(409,),
        description="409 if it is registered already.", tag="charge points",
    ),
    Endpoint(
        "PATCH", "/api/charge-points/{charge_point_id}", change_charge_point, "admin",
        "Accept or reject it, and how it is borne with: lenient mode, ping interval, "
        "pinned OCPP version",
        Answer(200, "the charge point", api_objects.CHARGE_POINT),
        path_parameters=(CHARGE_POINT_ID,), body=Body(CHARGE_POINT_CHANGE),
        description="A connected charger is answered the registration status at its next "
        "BootNotification, and gets the ping interval and pinned version at its next "
        "connection; lenient mode applies at once.",
        tag="charge points",
    ),
    Endpoint(
        "PUT", "/api/charge-points/{charge_point_id}/password", set_charge_point_password,
        "admin", "Set the HTTP Basic key it must connect with (null: none)",
        Answer(204, "set"), path_parameters=(CHARGE_POINT_ID,), body=Body(CHARGE_POINT_KEY),
        tag="charge points",
    ),
    Endpoint(
        "GET", "/api/users", list_users, "admin", "The accounts, by name; never a password",
        Answer(200, "the accounts", array(USER)), tag="users",
    ),
    Endpoint(
        "POST", "/api/users", add_user, "admin", "Add an account",
        Answer(201, "the account", USER), body=Body(NEW_USER), errors=(409,),
        description="409 if the name is taken.", tag="users",
    ),
    Endpoint(
        "PATCH", "/api/users/{user_id}", change_user, "admin",
        "Change an account's role or password (its sessions and streams end)",
        Answer(200, "the account", USER), path_parameters=(_USER_ID,), body=Body(USER_CHANGE),
        errors=(409,), description="409 for demoting the last admin.", tag="users",
    ),
    Endpoint(
        "DELETE", "/api/users/{user_id}", delete_user, "admin", "Remove an account",
        Answer(204, "removed"), path_parameters=(_USER_ID,), errors=(409,),
        description="409 for yourself or the last admin.", tag="users",
    ),
    Endpoint(
        "GET", "/api/audit", list_audit, "admin", "The audit log, newest first",
        Answer(200, "the entries", array(AUDIT_ENTRY), AUDIT_PAGES.headers),
        query=(
            Parameter("user", {"type": "string"}, "by this account (or `cli`, `system`)"),
            Parameter("action", {"type": "string"}, "of this action, as written"),
            *date_range("recorded"),
            *AUDIT_PAGES.parameters,
        ),
        tag="audit",
    ),
]  # fmt: skip
