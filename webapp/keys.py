"""Every application-level object, behind a typed key."""

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ocpp_core.central_system import CentralSystem
from ocpp_core.events import EventBus
from ocpp_core.fleet_index import FleetIndex
from ocpp_core.services import Services
from ocpp_core.settings import Settings
from webapp.client_address import TrustedProxies
from webapp.gc_policy import CollectorPolicy
from webapp.keepalive import KeepAlive
from webapp.metrics_access import MetricsAccess
from webapp.throttle import Throttle

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
BUS = web.AppKey("bus", EventBus)
SERVICES = web.AppKey("services", Services)
CENTRAL_SYSTEM = web.AppKey("central_system", CentralSystem)
# Every charge point's status in memory, for the dashboard (ocpp_core.fleet_index).
FLEET = web.AppKey("fleet", FleetIndex)
SSE_STREAMS = web.AppKey("sse_streams", set[asyncio.Task[web.StreamResponse]])
LOGIN_THROTTLE = web.AppKey("login_throttle", Throttle)
# Charge points' failed keys (HTTP Basic before the upgrade).
KEY_THROTTLE = web.AppKey("key_throttle", Throttle)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
KEEP_ALIVE = web.AppKey("keep_alive", KeepAlive)
METRICS_ACCESS = web.AppKey("metrics_access", MetricsAccess)
# The garbage collector's policy while the app runs (webapp.gc_policy).
COLLECTOR_POLICY = web.AppKey("collector_policy", CollectorPolicy)
# Basic-auth logins verified in the last minute: argon2 is too slow to pay per API request.
# (name, password digest) -> (account id, the hash it was checked against, until when).
VERIFIED_LOGINS = web.AppKey("verified_logins", dict[tuple[str, bytes], tuple[int, str, float]])
# API tokens verified in the last minute (SHA-256 of the token -> until when): they get
# through while their address is throttled for bad tokens.
VERIFIED_TOKENS = web.AppKey("verified_tokens", dict[bytes, float])
# The JSON API's OpenAPI document, written once from its endpoints' declarations.
API_DOCUMENT = web.AppKey("api_document", dict)
