"""The operator portal: templates, sessions and live streams (its routes: webapp/routes.py)."""

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
from webapp.views import events, evses

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
        timespan=presentation.timespan,
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
