"""`/charge-points/{id}`: details, remote start/stop, message log, sessions, administration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ocpp_core.errors import (
    CallErrorReply,
    CallTimedOut,
    InvalidInput,
    InvalidReply,
    NotAccepted,
    NotConnected,
    NotFound,
)
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.views.common import (
    Message,
    is_htmx,
    redirect,
    render,
    render_partial,
    rows,
    text_field,
)


@dataclass(frozen=True)
class OperationResult:
    action: str
    text: str
    ok: bool
    detail: str | None = None


async def _page(
    request: web.Request,
    charge_point_id: str,
    result: OperationResult | None = None,
    admin_message: Message | None = None,
    status: int = 200,
) -> web.Response:
    services = request.app[SERVICES]
    try:
        [row] = await rows(request.app, charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    context: dict[str, Any] = {
        "nav": "dashboard",
        "row": row,
        "sessions": await services.transactions.list(charge_point_id=charge_point_id, limit=20),
        "messages": await services.message_log.recent(charge_point_id, limit=100),
        "id_tags": await services.id_tags.list(),
        "result": result,
        "admin_message": admin_message,
    }
    return await render(request, "charge_point.html", context, status=status)


async def charge_point_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return await _page(request, request.match_info["charge_point_id"])


async def _run(action: str, operation: Any) -> OperationResult:
    """Await an operation and say how it went, in the words the page shows."""
    try:
        answer = await operation
    except NotFound as error:
        raise web.HTTPNotFound(text=f"{error}\n") from None
    except InvalidInput as error:
        return OperationResult(action, "invalid input", False, str(error))
    except NotConnected:
        return OperationResult(action, "not connected", False)
    except NotAccepted as error:
        return OperationResult(action, "not accepted", False, str(error))
    except CallTimedOut:
        return OperationResult(action, "timed out", False)
    except CallErrorReply as error:
        return OperationResult(action, "error", False, str(error))
    except InvalidReply as error:
        return OperationResult(action, "invalid answer", False, str(error))
    status = str(answer.status)
    return OperationResult(action, status, status == "Accepted")


async def _answer(request: web.Request, result: OperationResult) -> web.Response:
    if is_htmx(request):
        html = await render_partial(request, "_op_result.html", {"result": result})
        return web.Response(text=html, content_type="text/html")
    return await _page(request, request.match_info["charge_point_id"], result=result)


def _optional_int(value: str, name: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number") from None


async def remote_start(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    form = await request.post()

    async def start() -> Any:
        return await request.app[CENTRAL_SYSTEM].remote_start_transaction(
            charge_point_id,
            text_field(form, "id_tag"),
            connector_id=_optional_int(text_field(form, "connector_id"), "connector"),
            requested_by=user.username,
        )

    return await _answer(request, await _run("Remote start", start()))


async def remote_stop(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    form = await request.post()

    async def stop() -> Any:
        transaction_id = _optional_int(text_field(form, "transaction_id"), "transaction")
        if transaction_id is None:
            raise InvalidInput("choose the session to stop")
        return await request.app[CENTRAL_SYSTEM].remote_stop_transaction(
            charge_point_id, transaction_id, requested_by=user.username
        )

    return await _answer(request, await _run("Remote stop", stop()))


# --- administration (admin) -------------------------------------------------------------


async def accept(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    await _existing(request, charge_point_id)
    await request.app[SERVICES].charge_points.register(charge_point_id)
    return await _page(
        request,
        charge_point_id,
        admin_message=Message("Accepted: its next BootNotification is answered Accepted."),
    )


async def set_password(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    await _existing(request, charge_point_id)
    password = text_field(await request.post(), "password")
    await request.app[SERVICES].charge_points.set_password(charge_point_id, password or None)
    text = "Key set: it must now send HTTP Basic auth." if password else "Key cleared."
    return await _page(request, charge_point_id, admin_message=Message(text))


async def remove(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    charge_point_id = request.match_info["charge_point_id"]
    try:
        await request.app[SERVICES].charge_points.delete(charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    except InvalidInput as error:
        return await _page(
            request, charge_point_id, admin_message=Message(str(error), "error"), status=409
        )
    raise redirect(request, "dashboard")


async def _existing(request: web.Request, charge_point_id: str) -> None:
    try:
        await request.app[SERVICES].charge_points.get(charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
