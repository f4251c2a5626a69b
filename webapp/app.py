"""The application factory: wires settings, database, services, routes. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ocpp_core.central_system import CentralSystem
from ocpp_core.cluster import create_cluster
from ocpp_core.db.engine import create_engine, create_session_factory
from ocpp_core.db.migrate import upgrade
from ocpp_core.events import EventBus
from ocpp_core.metrics import Metrics
from ocpp_core.services import Services
from ocpp_core.settings import Settings
from webapp import (
    api,
    api_admin,
    api_events,
    api_history,
    api_tokens,
    api_webhooks,
    openapi,
    portal,
    routes,
)
from webapp.auth import api_write_guard
from webapp.client_address import TrustedProxies
from webapp.error_pages import portal_error_pages
from webapp.gc_policy import CollectorPolicy
from webapp.keepalive import KeepAlive
from webapp.keys import (
    BUS,
    CENTRAL_SYSTEM,
    COLLECTOR_POLICY,
    ENGINE,
    KEEP_ALIVE,
    KEY_THROTTLE,
    LOGIN_THROTTLE,
    METRICS_ACCESS,
    SERVICES,
    SETTINGS,
    TRUSTED_PROXIES,
    VERIFIED_LOGINS,
    VERIFIED_TOKENS,
)
from webapp.metrics_access import MetricsAccess
from webapp.nul_guard import refuse_nul
from webapp.routes import OCPP_ROUTE
from webapp.security_headers import add_security_headers
from webapp.throttle import Throttle
from webapp.webhook_delivery import DeliveryWorker

LOGGER = logging.getLogger(__name__)

# What a fresh install with no account says, in the log at start-up and on the login page.
NO_ACCOUNT_HELP = (
    "create one with `python -m webapp user add NAME --password PASSWORD --role admin`, "
    "or set ADMIN_USER and ADMIN_PASSWORD and restart"
)


async def database_context(app: web.Application) -> AsyncIterator[None]:
    """Open the database, bring the schema up to date, build the services, join the other
    instances on the same database; leave and dispose at exit."""
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url)
    instrumentation = Metrics()
    instrumentation.watch_engine(engine)
    try:
        await upgrade(engine)
        sessions = create_session_factory(engine)
        services = Services.create(sessions, app[BUS], settings, instrumentation)
        if settings.admin_user and settings.admin_password:
            await services.users.add(settings.admin_user, settings.admin_password, "admin")
            LOGGER.info("Admin account %r is ready", settings.admin_user)
        elif not await services.users.exist():
            LOGGER.warning("No operator account yet: %s", NO_ACCOUNT_HELP)
        app[ENGINE] = engine
        app[SERVICES] = services
        cluster = create_cluster(engine, sessions, settings)
        app[CENTRAL_SYSTEM] = CentralSystem(settings, services, app[BUS], cluster)
        await cluster.start()
        log_writer = asyncio.create_task(services.message_log.run())
        services.budget.start()
        services.retention.start()
        deliveries = DeliveryWorker(services.webhooks, app[BUS], settings.webhook_timeout)
        deliveries.start()
        try:
            yield
        finally:
            await deliveries.stop()
            await services.retention.stop()
            await services.budget.stop()
            await cluster.stop()
            await services.writes.drain()
            log_writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await log_writer
    finally:
        await engine.dispose()


async def keep_alive_context(app: web.Application) -> AsyncIterator[None]:
    pinger = asyncio.create_task(app[KEEP_ALIVE].run())
    yield
    pinger.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pinger


async def collector_policy_context(app: web.Application) -> AsyncIterator[None]:
    """What startup loaded (modules, the ORM's mappings and compiled statements, schemas)
    and, later, the connections live long: frozen out of the garbage collector, whose
    full collections would otherwise walk them again and again (see webapp.gc_policy).
    Stopped at shutdown, before the loop it schedules thaws on is closed; the frozen heap
    is handed on to the next app of the process."""
    policy = CollectorPolicy(asyncio.get_running_loop())
    app[COLLECTOR_POLICY] = policy
    policy.install()
    try:
        yield
    finally:
        policy.uninstall()


async def log_event_loop(app: web.Application) -> None:
    # Which loop serves is the runner's choice (uvloop where installed: webapp.cli).
    loop = asyncio.get_running_loop()
    LOGGER.info("Event loop: %s.%s", type(loop).__module__, type(loop).__qualname__)


async def close_charge_point_sockets(app: web.Application) -> None:
    # On shutdown, before handlers are cancelled: chargers see a clean close and reconnect.
    if CENTRAL_SYSTEM in app:
        await app[CENTRAL_SYSTEM].close_all()


def not_for_charge_points(middleware: Middleware) -> Middleware:
    """`middleware` for every route but the OCPP socket. A charge point's connection lives
    in its request handler for as long as it is connected, and each coroutine middleware
    around it would keep a suspended frame (some 300 bytes, 10,000 times over); this one is
    a plain function that hands the socket's request straight on, so it keeps none."""

    @web.middleware
    def scoped(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if request.match_info.route.name == OCPP_ROUTE:
            return handler(request)
        return middleware(request, handler)

    return scoped


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    middlewares = [
        *portal.middlewares(settings.secret_key),
        api.api_errors,
        portal_error_pages,
        api_write_guard,
        refuse_nul,
    ]
    app = web.Application(middlewares=[not_for_charge_points(m) for m in middlewares])
    app[SETTINGS] = settings
    app[BUS] = EventBus()
    app[LOGIN_THROTTLE] = Throttle("login")
    app[KEY_THROTTLE] = Throttle("charge point key")
    app[TRUSTED_PROXIES] = TrustedProxies(settings.forwarded_allow_ips)
    app[KEEP_ALIVE] = KeepAlive(settings.ws_ping_timeout)
    app[METRICS_ACCESS] = MetricsAccess(
        settings.metrics_token, settings.metrics_allow, app[TRUSTED_PROXIES]
    )
    app[VERIFIED_LOGINS] = {}
    app[VERIFIED_TOKENS] = {}
    app.cleanup_ctx.append(database_context)
    app.cleanup_ctx.append(keep_alive_context)
    app.on_shutdown.append(close_charge_point_sockets)
    app.on_response_prepare.append(add_security_headers)
    routes.add_routes(app)
    openapi.setup(
        app,
        [
            *api.ENDPOINTS,
            *api_admin.ENDPOINTS,
            *api_history.ENDPOINTS,
            *api_tokens.ENDPOINTS,
            *api_events.ENDPOINTS,
            *api_webhooks.ENDPOINTS,
        ],
    )
    portal.setup(app)
    # Last: it freezes what every other start-up step loaded, and is undone first.
    app.cleanup_ctx.append(collector_policy_context)
    app.on_startup.append(log_event_loop)
    return app
