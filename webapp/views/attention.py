"""`/attention`: what needs an operator: faulted, unavailable and offline charge points,
open sessions gone quiet, chargers rebooting in a loop; each with how long it has been so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from ocpp_core.fleet_index import BOOT_LOOP_BOOTS, BOOT_LOOP_WINDOW
from webapp.auth import require_role
from webapp.keys import FLEET, SERVICES
from webapp.views.common import render

# The states listed, each its own section, in this order.
STATES = ("Faulted", "Unavailable", "Offline")
# An open session with no meter value for this long has gone quiet.
QUIET_AFTER = timedelta(minutes=15)
# Entries listed per section; the dashboard's filter shows them all.
SHOWN = 100


async def attention_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    index = request.app[FLEET]
    await index.refresh()
    now = datetime.now(UTC)
    states = [(state, index.entries([state])) for state in STATES]
    quiet = await request.app[SERVICES].fleet.quiet_sessions(now - QUIET_AFTER, SHOWN)
    return await render(
        request,
        "attention.html",
        {
            "nav": "dashboard",
            "states": [(state, found[:SHOWN], len(found)) for state, found in states],
            "quiet": quiet,
            "quiet_minutes": int(QUIET_AFTER.total_seconds() // 60),
            "boot_loops": index.boot_loops(now)[:SHOWN],
            "boot_loop_boots": BOOT_LOOP_BOOTS,
            "boot_loop_minutes": int(BOOT_LOOP_WINDOW.total_seconds() // 60),
        },
    )
