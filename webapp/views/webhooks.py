"""`/webhooks` (admin): register URLs for the events they want, see each one's deliveries
and their tries. Making one shows its secret on the answer to that form, and never again."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.event_log import EVENT_KINDS
from ocpp_core.services.users import UserView
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.path_ids import path_int
from webapp.views.common import Message, render_with_message, text_field

# What a new webhook's form has ticked.
DEFAULT_KINDS = ("connected", "disconnected", "status", "fault", "transaction_started",
                 "transaction_stopped", "security_event")  # fmt: skip


async def _page(
    request: web.Request,
    message: Message | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
    secret: str | None = None,
) -> web.Response:
    context = {
        "nav": "webhooks",
        "webhooks": await request.app[SERVICES].webhooks.list(),
        "kinds": EVENT_KINDS,
        "ticked": (form or {}).get("event_types") or DEFAULT_KINDS,
        "secret": secret,
    }
    return await render_with_message(request, "webhooks.html", context, message, form, status)


async def webhooks_page(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    return await _page(request)


async def create_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    form = await request.post()
    url = text_field(form, "url")
    kinds = [k for k in form.getall("event_types", []) if isinstance(k, str)]
    values = {"url": url, "event_types": kinds}
    try:
        created = await request.app[SERVICES].webhooks.create(url, kinds, user.username)
    except InvalidInput as error:
        return await _page(request, Message(str(error), "error"), values, 400)
    done = Message(f"Webhook {created.webhook.id} created for {created.webhook.url}.")
    return await _page(request, done, secret=created.secret)


async def _webhook_id(request: web.Request) -> int:
    try:
        return path_int(request, "webhook_id")
    except ValueError:
        raise web.HTTPNotFound(text="No such webhook\n") from None


async def toggle_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    webhook_id = await _webhook_id(request)
    form = await request.post()
    active = text_field(form, "active") == "true"
    try:
        webhook = await request.app[SERVICES].webhooks.update(
            webhook_id, active=active, actor=user.username
        )
    except NotFound:
        raise web.HTTPNotFound(text="No such webhook\n") from None
    state = "active" if webhook.active else "paused"
    return await _page(request, Message(f"Webhook {webhook.id} is {state}."))


async def delete_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    try:
        webhook = await request.app[SERVICES].webhooks.delete(
            await _webhook_id(request), actor=user.username
        )
    except NotFound:
        raise web.HTTPNotFound(text="No such webhook\n") from None
    return await _page(request, Message(f"Webhook {webhook.id} removed."))


async def _deliveries_page(
    request: web.Request, user: UserView, message: Message | None = None
) -> web.Response:
    services = request.app[SERVICES]
    webhook_id = await _webhook_id(request)
    state = request.query.get("status") or None
    try:
        webhook = await services.webhooks.get(webhook_id)
        deliveries = await services.webhooks.deliveries(webhook_id, state, limit=100)
    except NotFound:
        raise web.HTTPNotFound(text="No such webhook\n") from None
    except InvalidInput as error:
        raise web.HTTPBadRequest(text=f"{error}\n") from None
    context = {"nav": "webhooks", "webhook": webhook, "deliveries": deliveries, "state": state}
    return await render_with_message(request, "webhook.html", context, message)


async def webhook_page(request: web.Request) -> web.Response:
    return await _deliveries_page(request, await require_role(request, "admin"))


async def retry_delivery(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    webhook_id = await _webhook_id(request)
    try:
        delivery_id = path_int(request, "delivery_id")
        await request.app[SERVICES].webhooks.retry(webhook_id, delivery_id, actor=user.username)
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="No such failed delivery\n") from None
    return await _deliveries_page(request, user, Message(f"Delivery {delivery_id} queued again."))
