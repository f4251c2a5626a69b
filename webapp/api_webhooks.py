"""`/api/webhooks`: an admin's webhooks, and their deliveries with each try."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.webhooks import DeliveryView, WebhookView
from webapp.api import json_body, json_response
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.path_ids import path_int

FIELDS = frozenset({"url", "event_types", "active"})


def webhook_json(webhook: WebhookView) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "active": webhook.active,
        "created_at": webhook.created_at,
        "created_by": webhook.created_by,
        "deliveries": {
            "pending": webhook.pending,
            "delivered": webhook.delivered,
            "failed": webhook.failed,
        },
    }


def delivery_json(delivery: DeliveryView) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "charge_point_id": delivery.charge_point_id,
        "status": delivery.status,
        "attempts": [
            {"at": a.at, "status_code": a.status_code, "error": a.error, "seconds": a.seconds}
            for a in delivery.tries
        ],
        "next_attempt_at": delivery.next_attempt_at,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
        "last_error": delivery.last_error,
    }


def _webhook_id(request: web.Request) -> int:
    try:
        return path_int(request, "webhook_id")
    except ValueError:
        raise NotFound(f"webhook {request.match_info['webhook_id']} does not exist") from None


def _checked(body: dict[str, Any], required: frozenset[str] = frozenset()) -> dict[str, Any]:
    unknown = sorted(body.keys() - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    missing = sorted(required - body.keys())
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(missing)}")
    for name in ("url", "event_types", "active"):
        if name in body and body[name] is None:
            raise InvalidInput(f"{name} must not be null")
    return body


async def list_webhooks(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    return json_response([webhook_json(w) for w in await request.app[SERVICES].webhooks.list()])


async def create_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    body = _checked(await json_body(request), frozenset({"url", "event_types"}))
    if "active" in body:
        raise InvalidInput("a new webhook is active: set active with PATCH")
    created = await request.app[SERVICES].webhooks.create(
        body["url"], body["event_types"], user.username
    )
    await audit(request, user.username, "create webhook", created.webhook)
    return json_response({**webhook_json(created.webhook), "secret": created.secret}, status=201)


async def get_webhook(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    webhook = await request.app[SERVICES].webhooks.get(_webhook_id(request))
    return json_response(webhook_json(webhook))


async def update_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    webhook_id = _webhook_id(request)
    body = _checked(await json_body(request))
    webhook = await request.app[SERVICES].webhooks.update(
        webhook_id, body.get("url"), body.get("event_types"), body.get("active")
    )
    await audit(request, user.username, "update webhook", webhook)
    return json_response(webhook_json(webhook))


async def delete_webhook(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    webhook = await request.app[SERVICES].webhooks.delete(_webhook_id(request))
    await audit(request, user.username, "delete webhook", webhook)
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise InvalidInput("limit must be a whole number") from None
    deliveries = await request.app[SERVICES].webhooks.deliveries(
        _webhook_id(request), request.query.get("status") or None, limit
    )
    return json_response([delivery_json(d) for d in deliveries])


async def retry_delivery(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    webhook_id = _webhook_id(request)
    try:
        delivery_id = path_int(request, "delivery_id")
    except ValueError:
        raise NotFound(f"delivery {request.match_info['delivery_id']} does not exist") from None
    await request.app[SERVICES].webhooks.retry(webhook_id, delivery_id)
    webhook = await request.app[SERVICES].webhooks.get(webhook_id)
    await audit(
        request, user.username, "retry webhook delivery", webhook, f"delivery {delivery_id}"
    )
    return web.Response(status=202)


async def audit(
    request: web.Request, actor: str, action: str, webhook: WebhookView, detail: str | None = None
) -> None:
    """A webhook as the audit log names it: never its secret."""
    target = f"webhook {webhook.id} {webhook.url}"
    detail = detail or f"types {','.join(webhook.event_types)}; active {webhook.active}"
    await request.app[SERVICES].audit.record(actor, action, target, detail)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/webhooks", list_webhooks, name="api_webhooks")
    r.add_post("/api/webhooks", create_webhook)
    r.add_get("/api/webhooks/{webhook_id}", get_webhook)
    r.add_patch("/api/webhooks/{webhook_id}", update_webhook)
    r.add_delete("/api/webhooks/{webhook_id}", delete_webhook)
    r.add_get("/api/webhooks/{webhook_id}/deliveries", list_deliveries)
    r.add_post("/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", retry_delivery)
