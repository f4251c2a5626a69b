"""The operator portal: templates, sessions, static files and every page's route."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import session_middleware

from ocpp_core.services.message_log import is_secret_variable
from webapp import assets, presentation
from webapp.auth import secure_session_cookie, session_storage
from webapp.dashboard_feed import feed_context
from webapp.keys import SETTINGS, SSE_STREAMS
from webapp.views import (
    attention,
    bulk_operations,
    charge_points,
    dashboard,
    device_model,
    events,
    evses,
    id_tags,
    login,
    message_log,
    operations,
    tokens,
    transactions,
    users,
    webhooks,
)

ROOT = Path(__file__).resolve().parents[1]


def middlewares(secret_key: str) -> list[Middleware]:
    """Outermost first: the Secure flag is set on the cookie the session middleware wrote."""
    return [secure_session_cookie, session_middleware(session_storage(secret_key))]


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(ROOT / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    env.globals.update(
        assets=assets,
        asset_scripts=partial(assets.scripts, app[SETTINGS].portal_assets),
        tone=evses.tone,
        event_key=presentation.event_key,
        kwh=presentation.kwh,
        kw=presentation.kw,
        duration=presentation.duration,
        hours=presentation.hours,
        when=presentation.when,
        ago=presentation.ago,
        lasting=presentation.lasting,
        flag_help=presentation.flag_help,
        # A password variable (2.0.1 BasicAuthPassword): set by admins only, never shown.
        secret_variable=is_secret_variable,
    )
    app[aiohttp_jinja2.static_root_key] = "/static"
    app[SSE_STREAMS] = set()
    app.cleanup_ctx.append(feed_context)
    app.on_shutdown.append(events.stop_streams)

    r = app.router
    r.add_static("/static", ROOT / "static", name="static")
    r.add_get("/login", login.login_page, name="login")
    r.add_post("/login", login.login)
    r.add_post("/logout", login.logout, name="logout")
    r.add_get("/", dashboard.dashboard, name="dashboard")
    r.add_get("/events", events.events, name="events")
    r.add_get("/attention", attention.attention_page, name="attention")
    r.add_post("/charge-points", dashboard.register_charge_point, name="register_charge_point")
    r.add_get(
        "/charge-points/{charge_point_id}", charge_points.charge_point_page, name="charge_point"
    )
    r.add_post(
        "/charge-points/{charge_point_id}/remote-start",
        charge_points.remote_start,
        name="remote_start",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/remote-stop",
        charge_points.remote_stop,
        name="remote_stop",
    )
    r.add_get("/charge-points/{charge_point_id}/log", message_log.log_page, name="cp_log")
    r.add_get(
        "/charge-points/{charge_point_id}/operations",
        charge_points.operations_page,
        name="cp_operations_page",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/operations/{operation}",
        operations.operation,
        name="cp_operation",
    )
    r.add_get(
        "/charge-points/{charge_point_id}/device-model",
        device_model.device_model_page,
        name="device_model",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/device-model/set",
        device_model.set_variable_in_place,
        name="set_variable",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/accept", charge_points.accept, name="accept_charge_point"
    )
    r.add_post(
        "/charge-points/{charge_point_id}/password",
        charge_points.set_password,
        name="charge_point_password",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/protocol",
        charge_points.protocol_settings,
        name="charge_point_protocol",
    )
    r.add_post(
        "/charge-points/{charge_point_id}/remove", charge_points.remove, name="remove_charge_point"
    )
    r.add_get("/operations", bulk_operations.bulk_page, name="bulk_operations")
    r.add_post("/operations", bulk_operations.bulk_operation)
    r.add_get("/transactions", transactions.transactions_page, name="transactions")
    r.add_get("/transactions.csv", transactions.transactions_csv, name="transactions_csv")
    r.add_get("/transactions/{transaction_id}", transactions.transaction_page, name="transaction")
    r.add_get(
        "/transactions/{transaction_id}/meter-values.csv",
        transactions.meter_values_csv,
        name="transaction_meter_values_csv",
    )
    r.add_post(
        "/transactions/{transaction_id}/close",
        transactions.close_transaction,
        name="close_transaction",
    )
    r.add_get("/id-tags", id_tags.id_tags_page, name="id_tags")
    r.add_post("/id-tags", id_tags.add_id_tag)
    r.add_post("/id-tags/{id_tag}", id_tags.update_id_tag, name="id_tag")
    r.add_post("/id-tags/{id_tag}/delete", id_tags.delete_id_tag, name="delete_id_tag")
    r.add_get("/users", users.users_page, name="users")
    r.add_get("/audit", users.audit_page, name="audit")
    r.add_post("/users", users.add_user)
    r.add_post("/users/{user_id}/role", users.change_role, name="user_role")
    r.add_post("/users/{user_id}/password", users.reset_password, name="user_password")
    r.add_post("/users/{user_id}/delete", users.delete_user, name="delete_user")
    r.add_get("/tokens", tokens.tokens_page, name="tokens")
    r.add_post("/tokens", tokens.create_token)
    r.add_post("/tokens/{token_id}/revoke", tokens.revoke_token, name="revoke_token")
    r.add_get("/webhooks", webhooks.webhooks_page, name="webhooks")
    r.add_post("/webhooks", webhooks.create_webhook)
    r.add_get("/webhooks/{webhook_id}", webhooks.webhook_page, name="webhook")
    r.add_post("/webhooks/{webhook_id}/active", webhooks.toggle_webhook, name="webhook_active")
    r.add_post("/webhooks/{webhook_id}/delete", webhooks.delete_webhook, name="delete_webhook")
    r.add_post(
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        webhooks.retry_delivery,
        name="retry_webhook_delivery",
    )
