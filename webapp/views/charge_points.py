"""`/charge-points/{id}`: details, remote start/stop, message log, sessions, administration."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.form_fields import optional_number
from ocpp_core.services.charge_points import pings_text
from ocpp_core.services.transaction_queries import TransactionView
from ocpp_core.services.users import UserView
from ocpp_core.v16 import operations as v16_operations
from webapp.api import send_operation
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.presentation import path_url
from webapp.views import remote_201
from webapp.views.answers import OperationResult, run_operation, summary_201
from webapp.views.common import (
    Message,
    done,
    is_htmx,
    outcome_message,
    redirect,
    render,
    render_partial,
    rows,
    submitted,
    text_field,
    version_spoken,
)
from webapp.views.status_timeline import timeline_context

# How many of a 2.0.1 charger's reports and notifications its page shows.
NOTIFICATIONS_SHOWN = 30
# How many of its StatusNotifications (newest first) its page shows; the API pages on.
STATUS_HISTORY_SHOWN = 50
# What its administration says after a form post there succeeded (views.common.done).
ADMIN_OUTCOMES = {
    "accepted": "Accepted: its next BootNotification is answered Accepted.",
    "key-set": "Key set: it must now send HTTP Basic auth.",
    "key-cleared": "Key cleared.",
    "protocol": (
        "Lenient mode {lenient}, effective now; ping interval {pings}, from its next connection."
    ),
}
# The id tags an id tag field offers at a time (`id_tag_options`): the first ones by id,
# then those matching what is typed, rather than the whole table in every page.
TAG_OPTIONS = 20
# Longer than any id tag or 2.0.1 idToken (36): a search that cannot match.
MAX_TAG_SEARCH = 36


async def _page(
    request: web.Request,
    charge_point_id: str,
    result: OperationResult | None = None,
    admin_message: Message | None = None,
    status: int = 200,
    template: str = "charge_point.html",
) -> web.Response:
    services = request.app[SERVICES]
    try:
        [row] = await rows(request.app, charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    context: dict[str, Any] = {
        **await operations_context(request.app, charge_point_id),
        **await notifications_context(request.app, charge_point_id),
        **await status_history_context(request.app, charge_point_id, row.version),
        "nav": "dashboard",
        "row": row,
        "sessions": await services.transaction_queries.list(
            charge_point_id=charge_point_id, limit=20
        ),
        "messages": await services.message_log.recent(charge_point_id, limit=100),
        "id_tags": (await services.id_tags.search(None, TAG_OPTIONS)).tags,
        "result": result,
        "admin_message": admin_message,
    }
    if template == "charge_point.html":  # the overview: the other tabs have no timeline
        context.update(await timeline_context(request.app, row, request.query.get("period")))
    return await render(request, template, context, status=status)


async def operations_context(app: web.Application, charge_point_id: str) -> dict[str, Any]:
    """What `_cp_operations.html` shows: state kept from operations, and their journal."""
    operations = app[SERVICES].operations
    return {
        "configuration": await operations.configuration(charge_point_id),
        "reservations": await operations.reservations(charge_point_id),
        "charging_profiles": await operations.charging_profiles(charge_point_id),
        "journal": await operations.journal(charge_point_id, limit=30),
        "security_events": await app[SERVICES].charge_points.security_events(charge_point_id),
        "deviations": await app[SERVICES].deviations.recent(charge_point_id, limit=30),
        # 2.0.1: whether a report has filled the device model (its page shows it).
        "has_device_model": await app[SERVICES].device_model.has_report(charge_point_id),
    }


async def notifications_context(app: web.Application, charge_point_id: str) -> dict[str, Any]:
    """What `_cp_notifications.html` shows: a 2.0.1 charger's recent reports and
    notifications (NotifyEvent, NotifyReport, ...), newest first."""
    notifications = app[SERVICES].notifications
    return {"notifications": await notifications.recent(charge_point_id, NOTIFICATIONS_SHOWN)}


async def status_history_context(
    app: web.Application, charge_point_id: str, version: str
) -> dict[str, Any]:
    """What `_cp_status_history.html` shows: its newest StatusNotifications, with the
    error code, info and vendor error code each came with."""
    history = await app[SERVICES].charge_points.status_history(
        charge_point_id, limit=STATUS_HISTORY_SHOWN
    )
    return {
        "status_history": history,
        "status_history_shown": STATUS_HISTORY_SHOWN,
        "v201": version == "2.0.1",
    }


async def id_tag_options(request: web.Request) -> web.Response:
    """`GET /id-tag-options?id_tag=`: the `<option>`s of an id tag field's datalist, at most
    TAG_OPTIONS tags whose id or parent contains what is typed (any case). htmx sends the
    field's own value under its name: `id_tag`, or `id_token` (2.0.1 forms), or `q`."""
    await require_role(request, "viewer")
    typed = next(
        (request.query[name] for name in ("id_tag", "id_token", "q") if name in request.query), ""
    ).strip()
    if len(typed) > MAX_TAG_SEARCH:
        raise web.HTTPBadRequest(
            text=f"an id tag search is at most {MAX_TAG_SEARCH} characters, got {len(typed)}\n"
        )
    found = await request.app[SERVICES].id_tags.search(typed or None, TAG_OPTIONS)
    html = await render_partial(request, "_id_tag_options.html", {"id_tags": found.tags})
    return web.Response(text=html, content_type="text/html")


async def charge_point_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    admin_message = outcome_message(request, ADMIN_OUTCOMES)
    return await _page(request, request.match_info["charge_point_id"], admin_message=admin_message)


async def answer_operation(
    request: web.Request, result: OperationResult, template: str = "charge_point.html"
) -> web.Response:
    """The answer in place (htmx), or the whole page with it (a plain form post)."""
    if is_htmx(request):
        html = await render_partial(request, "_op_result.html", {"result": result})
        return web.Response(text=html, content_type="text/html")
    return await _page(
        request, request.match_info["charge_point_id"], result=result, template=template
    )


async def operations_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return await _page(
        request, request.match_info["charge_point_id"], template="charge_point_operations.html"
    )


# A day: a ping rarer than that keeps no link alive, and the column holds 32 bits
# (99999999999999999999 was a 500 on SQLite, 2147483648 on PostgreSQL).
MAX_PING_INTERVAL = 86_400


def ping_interval_of(value: str) -> int | None:
    """A per-charger WebSocket ping interval as typed: None (empty) for the global one."""
    ping_interval = _optional_int(value, "ping interval")
    if ping_interval is not None and not 0 <= ping_interval <= MAX_PING_INTERVAL:
        raise InvalidInput(
            f"ping interval must be 0 (off) to {MAX_PING_INTERVAL} seconds, or empty (global)"
        )
    return ping_interval


def _optional_int(value: str, name: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


# Why a remote start with a tag in this state would come to nothing: the charger asks us
# (Authorize, or at the start) and is told to stop.
TAG_PROBLEMS = {
    "Invalid": "is unknown to this central system",
    "Blocked": "is blocked",
    "Expired": "has expired",
    "ConcurrentTx": "is in a session already",
}


async def remote_start(request: web.Request) -> web.Response:
    """A remote start, the tag checked first: one the charger would be refused for is not
    sent unless the operator says to (`anyway`). Once accepted, the page waits for the
    session it leads to (the `remote-start` event)."""
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    form = submitted(await request.post())
    form.pop("csrf_token", None)  # checked by the middleware; the form has its own
    anyway = form.pop("anyway", "") == "1"
    id_tag = form.get("id_tag", "")
    version = await version_spoken(request, charge_point_id)  # 404 for an unknown one
    # Checked only when it could be sent: an absent charger is said first.
    if id_tag and not anyway and request.app[CENTRAL_SYSTEM].is_connected(charge_point_id):
        info = await request.app[SERVICES].id_tags.status_of(id_tag)
        problem = TAG_PROBLEMS.get(info.status)
        if problem is not None:
            detail = f"id tag {id_tag} {problem}: the charger would be told to stop"
            result = OperationResult(
                "Remote start", "not sent", False, detail,
                resend_to=request.path, resend={**form, "anyway": "1"},
            )  # fmt: skip
            return await answer_operation(request, result)
    if version == "2.0.1":
        return await _request_start(request, user, charge_point_id, form)
    return await _remote(request, user, "Remote start", "RemoteStartTransaction", form)


async def remote_stop(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    form = await request.post()
    if await version_spoken(request, charge_point_id) == "2.0.1":
        return await _request_stop(request, user, charge_point_id, form)
    return await _remote(request, user, "Remote stop", "RemoteStopTransaction", form)


async def _remote(
    request: web.Request, user: UserView, label: str, action: str, form: Any
) -> web.Response:
    """A 1.6 remote start or stop from its form, as the catalogue reads it."""
    charge_point_id = request.match_info["charge_point_id"]
    entry = v16_operations.BY_ACTION[action]
    fields = submitted(form)

    async def send() -> dict[str, Any]:
        services = request.app[SERVICES]
        body = await v16_operations.from_form(services, charge_point_id, entry, fields)
        return await send_operation(request, user, charge_point_id, "1.6", entry, body)

    assert entry.summary is not None  # every 1.6 entry has one (test_operation_catalogue)
    after = await _newest_session_id(request, charge_point_id)
    result = await run_operation(label, send(), entry.summary)
    if action == "RemoteStartTransaction" and result.ok:
        result = _following_start(request, result, charge_point_id, after)
    return await answer_operation(request, result)


async def _newest_session(request: web.Request, charge_point_id: str) -> TransactionView | None:
    newest = await request.app[SERVICES].transaction_queries.list(charge_point_id, limit=1)
    return newest[0] if newest else None


async def _newest_session_id(request: web.Request, charge_point_id: str) -> int:
    newest = await _newest_session(request, charge_point_id)
    return newest.id if newest else 0


def _following_start(
    request: web.Request, result: OperationResult, charge_point_id: str, after: int
) -> OperationResult:
    """An accepted remote start's answer waits for the session it leads to: pushed live,
    and asked for once as the answer lands, for a charger that started it before."""
    url = path_url(
        request.app.router,
        "remote_start_outcome",
        {"after": str(after)},
        charge_point_id=charge_point_id,
    )
    return dataclasses.replace(result, follow="remote-start", follow_url=str(url))


async def remote_start_outcome(request: web.Request) -> web.Response:
    """The session a remote start led to, if it started already: the newest session of
    the charge point after `after` (204, nothing to show, while there is none)."""
    await require_role(request, "viewer")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        after = int(request.query.get("after", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="after must be a session id\n") from None
    newest = await _newest_session(request, charge_point_id)
    if newest is None or newest.id <= after:
        return web.Response(status=204)
    started = {"transaction_id": newest.id, "id_tag_status": newest.id_tag_status}
    html = await render_partial(request, "_remote_start_outcome.html", {"started": started})
    return web.Response(text=html, content_type="text/html")


async def _request_start(
    request: web.Request, user: UserView, charge_point_id: str, form: Any
) -> web.Response:
    async def start() -> dict[str, Any]:
        id_tag = text_field(form, "id_tag")
        if not id_tag:
            raise InvalidInput("give the id tag")
        evse_id = optional_number(form, "evse_id", "EVSE", minimum=1)
        return await remote_201.request_start_transaction(
            request, user, charge_point_id, id_tag, evse_id
        )

    after = await _newest_session_id(request, charge_point_id)
    result = await run_operation("Remote start", start(), summary_201("RequestStartTransaction"))
    if result.ok:
        result = _following_start(request, result, charge_point_id, after)
    return await answer_operation(request, result)


async def _request_stop(
    request: web.Request, user: UserView, charge_point_id: str, form: Any
) -> web.Response:
    async def stop() -> dict[str, Any]:
        transaction_id = optional_number(form, "transaction_id", "transaction", minimum=1)
        if transaction_id is None:
            raise InvalidInput("choose the session to stop")
        return await remote_201.request_stop_transaction(
            request, user, charge_point_id, transaction_id
        )

    result = await run_operation("Remote stop", stop(), summary_201("RequestStopTransaction"))
    return await answer_operation(request, result)


# --- administration (admin) -------------------------------------------------------------


async def accept(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        await request.app[SERVICES].charge_points.set_registration_status(
            charge_point_id, "Accepted", actor=user.username
        )
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    raise _administered(request, charge_point_id, "accepted")


async def set_password(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    await _existing(request, charge_point_id)
    password = text_field(await request.post(), "password")
    try:
        await request.app[SERVICES].charge_points.set_password(
            charge_point_id, password or None, actor=user.username
        )
    except InvalidInput as error:
        return await _page(
            request, charge_point_id, admin_message=Message(str(error), "error"), status=400
        )
    raise _administered(request, charge_point_id, "key-set" if password else "key-cleared")


async def protocol_settings(request: web.Request) -> web.Response:
    """Lenient mode and the WebSocket ping interval: how Voltaro bears with this charger."""
    user = await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    await _existing(request, charge_point_id)
    form = await request.post()
    # Every field checked before anything is written: a refused form leaves all as it was.
    lenient = text_field(form, "lenient") == "on"
    try:
        ping_interval = ping_interval_of(text_field(form, "ping_interval"))
    except InvalidInput as error:
        return await _page(
            request, charge_point_id, admin_message=Message(str(error), "error"), status=400
        )
    await request.app[SERVICES].charge_points.set_protocol_settings(
        charge_point_id, lenient=lenient, ping_interval=ping_interval, actor=user.username
    )
    told = {"lenient": "on" if lenient else "off", "pings": pings_text(ping_interval)}
    raise _administered(request, charge_point_id, "protocol", told)


async def remove(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        await request.app[SERVICES].charge_points.delete(charge_point_id, actor=user.username)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    except InvalidInput as error:
        return await _page(
            request, charge_point_id, admin_message=Message(str(error), "error"), status=409
        )
    raise redirect(request, "dashboard")


def _administered(
    request: web.Request, charge_point_id: str, outcome: str, told: dict[str, str] | None = None
) -> web.HTTPSeeOther:
    """Back to its page's administration, saying what was done (ADMIN_OUTCOMES)."""
    return done(
        request,
        "charge_point",
        outcome,
        told,
        fragment="administration",
        charge_point_id=charge_point_id,
    )


async def _existing(request: web.Request, charge_point_id: str) -> None:
    try:
        await request.app[SERVICES].charge_points.get(charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
