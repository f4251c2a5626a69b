"""`/api/webhooks`: an admin's webhooks, and their deliveries with each try."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import NotFound
from ocpp_core.services.event_log import EVENT_KINDS
from ocpp_core.services.webhooks import DELIVERY_STATES, MAX_URL_LENGTH, DeliveryView, WebhookView
from webapp.api_json import json_response
from webapp.api_objects import DATE_TIME, array, closed, nullable
from webapp.endpoints import Answer, Body, Call, Endpoint, Parameter
from webapp.keys import SERVICES
from webapp.path_ids import path_int


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


async def list_webhooks(request: web.Request, call: Call) -> web.Response:
    return json_response([webhook_json(w) for w in await request.app[SERVICES].webhooks.list()])


async def create_webhook(request: web.Request, call: Call) -> web.Response:
    user, body = call.user, call.body
    created = await request.app[SERVICES].webhooks.create(
        body["url"], body["event_types"], user.username
    )
    return json_response({**webhook_json(created.webhook), "secret": created.secret}, status=201)


async def get_webhook(request: web.Request, call: Call) -> web.Response:
    webhook = await request.app[SERVICES].webhooks.get(_webhook_id(request))
    return json_response(webhook_json(webhook))


async def update_webhook(request: web.Request, call: Call) -> web.Response:
    body = call.body
    webhook = await request.app[SERVICES].webhooks.update(
        _webhook_id(request),
        body.get("url"),
        body.get("event_types"),
        body.get("active"),
        actor=call.user.username,
    )
    return json_response(webhook_json(webhook))


async def delete_webhook(request: web.Request, call: Call) -> web.Response:
    await request.app[SERVICES].webhooks.delete(_webhook_id(request), actor=call.user.username)
    return web.Response(status=204)


async def list_deliveries(request: web.Request, call: Call) -> web.Response:
    deliveries = await request.app[SERVICES].webhooks.deliveries(
        _webhook_id(request), call.query.get("status"), call.query.get("limit", 50)
    )
    return json_response([delivery_json(d) for d in deliveries])


async def retry_delivery(request: web.Request, call: Call) -> web.Response:
    webhook_id = _webhook_id(request)
    try:
        delivery_id = path_int(request, "delivery_id")
    except ValueError:
        raise NotFound(f"delivery {request.match_info['delivery_id']} does not exist") from None
    await request.app[SERVICES].webhooks.retry(webhook_id, delivery_id, actor=call.user.username)
    return web.Response(status=202)


_KINDS = {"type": "array", "items": {"enum": list(EVENT_KINDS)}, "minItems": 1}
# What services.webhooks.check_url admits, as a pattern a client (and a fuzzer) can read:
# a host name or IPv4 address (an IPv6 literal is left out: no pattern says which are
# addresses), a port of up to 65535, printable ASCII after it.
_URL = {
    "type": "string",
    "maxLength": MAX_URL_LENGTH,
    "pattern": r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
    r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"([/?#][!-~]*)?$",
    "description": "an http:// or https:// URL with a host",
}
WEBHOOK = closed(
    {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "event_types": array({"enum": list(EVENT_KINDS)}),
        "active": {"type": "boolean"},
        "created_at": DATE_TIME,
        "created_by": {"type": "string"},
        "deliveries": closed(
            {state: {"type": "integer"} for state in ("pending", "delivered", "failed")},
            "DeliveryCounts",
        ),
    },
    "Webhook",
)
NEW_WEBHOOK = closed(
    {**WEBHOOK["properties"], "secret": {"type": "string", "description": "shown this once"}},
    "NewWebhook",
)
DELIVERY = closed(
    {
        "id": {"type": "integer"},
        "event_id": {"type": "integer"},
        "event_type": {"type": "string"},
        "charge_point_id": {"type": "string"},
        "status": {"enum": list(DELIVERY_STATES)},
        "attempts": array(
            closed(
                {
                    "at": DATE_TIME,
                    "status_code": nullable({"type": "integer"}),
                    "error": nullable({"type": "string"}),
                    "seconds": {"type": "number"},
                },
                "DeliveryAttempt",
            )
        ),
        "next_attempt_at": nullable(DATE_TIME),
        "created_at": DATE_TIME,
        "delivered_at": nullable(DATE_TIME),
        "last_error": nullable({"type": "string"}),
    },
    "Delivery",
)
_WEBHOOK_ID = Parameter("webhook_id", {"type": "integer"}, "the webhook's id", "path")
_DELIVERY_ID = Parameter("delivery_id", {"type": "integer"}, "the delivery's id", "path")

ENDPOINTS = [
    Endpoint(
        "GET", "/api/webhooks", list_webhooks, "admin", "The webhooks, never their secrets",
        Answer(200, "the webhooks", array(WEBHOOK)), tag="webhooks",
    ),
    Endpoint(
        "POST", "/api/webhooks", create_webhook, "admin",
        "Register a URL for the event types it wants; the secret that signs its deliveries "
        "is in the answer, this once",
        Answer(201, "the webhook with its secret", NEW_WEBHOOK),
        body=Body(closed({"url": _URL, "event_types": _KINDS}, "NewWebhookBody")),
        tag="webhooks",
    ),
    Endpoint(
        "GET", "/api/webhooks/{webhook_id}", get_webhook, "admin", "One webhook",
        Answer(200, "the webhook", WEBHOOK), path_parameters=(_WEBHOOK_ID,), tag="webhooks",
    ),
    Endpoint(
        "PATCH", "/api/webhooks/{webhook_id}", update_webhook, "admin",
        "Change a webhook's URL, event types or whether it is active",
        Answer(200, "the webhook", WEBHOOK), path_parameters=(_WEBHOOK_ID,),
        body=Body(
            closed(
                {"url": _URL, "event_types": _KINDS, "active": {"type": "boolean"}},
                "WebhookChange",
                optional=("url", "event_types", "active"),
            )
        ),
        tag="webhooks",
    ),
    Endpoint(
        "DELETE", "/api/webhooks/{webhook_id}", delete_webhook, "admin",
        "Remove a webhook with its deliveries", Answer(204, "removed"),
        path_parameters=(_WEBHOOK_ID,), tag="webhooks",
    ),
    Endpoint(
        "GET", "/api/webhooks/{webhook_id}/deliveries", list_deliveries, "admin",
        "A webhook's deliveries, newest first, each with its attempts",
        Answer(200, "the deliveries", array(DELIVERY)), path_parameters=(_WEBHOOK_ID,),
        query=(
            Parameter("status", {"enum": list(DELIVERY_STATES)}, "only those in this state"),
            Parameter("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most"),
        ),
        tag="webhooks",
    ),
    Endpoint(
        "POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", retry_delivery,
        "admin", "Send a failed delivery again, its attempts counted anew",
        Answer(202, "queued"), path_parameters=(_WEBHOOK_ID, _DELIVERY_ID), errors=(404,),
        tag="webhooks",
    ),
]  # fmt: skip
