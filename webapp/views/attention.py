"""`/attention`: what needs an operator: faulted, unavailable and offline charge points,
open sessions gone quiet, chargers rebooting in a loop; each with how long it has been so.
The thresholds are settings (ATTENTION_*), said on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from webapp.auth import require_role
from webapp.keys import FLEET, SERVICES, SETTINGS
from webapp.views.common import render

# The states listed, each its own section, in this order.
STATES = ("Faulted", "Unavailable", "Offline")
# Entries listed per section; the dashboard's filter shows them all.
SHOWN = 100


async def attention_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    index = request.app[FLEET]
    settings = request.app[SETTINGS]
    await index.refresh()
    now = datetime.now(UTC)
    states = [(state, index.entries([state])) for state in STATES]
    # An open session with no meter value for this long has gone quiet.
    quiet_after = timedelta(minutes=settings.attention_quiet_minutes)
    quiet = await request.app[SERVICES].fleet.quiet_sessions(now - quiet_after, SHOWN)
    return await render(
        request,
        "attention.html",
        {
            "nav": "dashboard",
            "states": [(state, found[:SHOWN], len(found)) for state, found in states],
            "quiet": quiet,
            "quiet_minutes": settings.attention_quiet_minutes,
            "boot_loops": index.boot_loops(now)[:SHOWN],
            "boot_loop_boots": index.boot_loop_boots,
            "boot_loop_minutes": int(index.boot_loop_window.total_seconds() // 60),
        },
    )
