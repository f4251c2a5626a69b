"""Every route the app serves but the JSON API's, in one table: method, path, handler and
name. Templates and views build addresses from the names (`url(name, ...)` in templates,
`views.common.redirect`), never from paths. The JSON API's routes come from its endpoint
declarations (`webapp/endpoints.py`, named there after their OpenAPI operation)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from aiohttp import web
from aiohttp.typedefs import Handler

from webapp.ocpp_route import ocpp_socket
from webapp.views import (
    attention,
    bulk_operations,
    charge_points,
    dashboard,
    device_model,
    events,
    health,
    id_tags,
    login,
    message_log,
    metrics,
    operations,
    tokens,
    transactions,
    users,
    webhooks,
)

ROOT = Path(__file__).resolve().parents[1]
OCPP_ROUTE = "ocpp"
STATIC_ROUTE = "static"

CP = "/charge-points/{charge_point_id}"


class Route(NamedTuple):
    method: str  # a GET route answers HEAD too
    path: str
    handler: Handler
    name: str


ROUTES = (
    # Charge points' OCPP WebSocket.
    Route("GET", "/ocpp/{charge_point_id}", ocpp_socket, OCPP_ROUTE),
    # For load balancers, PaaS checks and Prometheus: no login (/metrics has its own guard).
    Route("GET", "/healthz", health.healthz, "healthz"),
    Route("GET", "/readyz", health.readyz, "readyz"),
    Route("GET", "/metrics", metrics.metrics, "metrics"),
    # The portal.
    Route("GET", "/login", login.login_page, "login"),
    Route("POST", "/login", login.login, "log_in"),
    Route("POST", "/logout", login.logout, "logout"),
    Route("GET", "/", dashboard.dashboard, "dashboard"),
    Route("GET", "/events", events.events, "events"),
    Route("GET", "/attention", attention.attention_page, "attention"),
    Route("GET", "/id-tag-options", charge_points.id_tag_options, "id_tag_options"),
    Route("POST", "/charge-points", dashboard.register_charge_point, "register_charge_point"),
    Route("GET", CP, charge_points.charge_point_page, "charge_point"),
    Route("POST", f"{CP}/remote-start", charge_points.remote_start, "remote_start"),
    Route(
        "GET",
        f"{CP}/remote-start-outcome",
        charge_points.remote_start_outcome,
        "remote_start_outcome",
    ),
    Route("POST", f"{CP}/remote-stop", charge_points.remote_stop, "remote_stop"),
    Route("GET", f"{CP}/log", message_log.log_page, "cp_log"),
    Route("GET", f"{CP}/operations", charge_points.operations_page, "cp_operations_page"),
    Route("POST", f"{CP}/operations/{{operation}}", operations.operation, "cp_operation"),
    Route("GET", f"{CP}/device-model", device_model.device_model_page, "device_model"),
    Route("POST", f"{CP}/device-model/set", device_model.set_variable_in_place, "set_variable"),
    Route("POST", f"{CP}/accept", charge_points.accept, "accept_charge_point"),
    Route("POST", f"{CP}/password", charge_points.set_password, "charge_point_password"),
    Route("POST", f"{CP}/protocol", charge_points.protocol_settings, "charge_point_protocol"),
    Route("POST", f"{CP}/remove", charge_points.remove, "remove_charge_point"),
    Route("GET", "/operations", bulk_operations.bulk_page, "bulk_operations"),
    Route("POST", "/operations", bulk_operations.bulk_operation, "send_bulk_operation"),
    Route("GET", "/transactions", transactions.transactions_page, "transactions"),
    Route("GET", "/transactions.csv", transactions.transactions_csv, "transactions_csv"),
    Route("GET", "/transactions/{transaction_id}", transactions.transaction_page, "transaction"),
    Route(
        "GET",
        "/transactions/{transaction_id}/meter-values.csv",
        transactions.meter_values_csv,
        "transaction_meter_values_csv",
    ),
    Route(
        "POST",
        "/transactions/{transaction_id}/close",
        transactions.close_transaction,
        "close_transaction",
    ),
    Route("GET", "/id-tags", id_tags.id_tags_page, "id_tags"),
    Route("POST", "/id-tags", id_tags.add_id_tag, "add_id_tag"),
    Route("POST", "/id-tags/{id_tag}", id_tags.update_id_tag, "id_tag"),
    Route("POST", "/id-tags/{id_tag}/delete", id_tags.delete_id_tag, "delete_id_tag"),
    Route("GET", "/users", users.users_page, "users"),
    Route("POST", "/users", users.add_user, "add_user"),
    Route("POST", "/users/{user_id}/role", users.change_role, "user_role"),
    Route("POST", "/users/{user_id}/password", users.reset_password, "user_password"),
    Route("POST", "/users/{user_id}/delete", users.delete_user, "delete_user"),
    Route("GET", "/audit", users.audit_page, "audit"),
    Route("GET", "/tokens", tokens.tokens_page, "tokens"),
    Route("POST", "/tokens", tokens.create_token, "create_token"),
    Route("POST", "/tokens/{token_id}/revoke", tokens.revoke_token, "revoke_token"),
    Route("GET", "/webhooks", webhooks.webhooks_page, "webhooks"),
    Route("POST", "/webhooks", webhooks.create_webhook, "create_webhook"),
    Route("GET", "/webhooks/{webhook_id}", webhooks.webhook_page, "webhook"),
    Route("POST", "/webhooks/{webhook_id}/active", webhooks.toggle_webhook, "webhook_active"),
    Route("POST", "/webhooks/{webhook_id}/delete", webhooks.delete_webhook, "delete_webhook"),
    Route(
        "POST",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        webhooks.retry_delivery,
        "retry_webhook_delivery",
    ),
)


def add_routes(app: web.Application) -> None:
    """The table's routes, and the portal's static files (templates' `static(...)`)."""
    for route in ROUTES:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler, name=route.name)
        else:
            app.router.add_route(route.method, route.path, route.handler, name=route.name)
    app.router.add_static("/static", ROOT / "static", name=STATIC_ROUTE)
