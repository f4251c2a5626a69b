"""`/`: every charge point, live."""

from __future__ import annotations

from aiohttp import web

from ocpp_core.errors import InvalidInput
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views.common import audit, counters, redirect, render, rows, text_field


async def dashboard(request: web.Request, register_error: str | None = None) -> web.Response:
    await require_role(request, "viewer")
    all_rows = await rows(request.app)
    return await render(
        request,
        "dashboard.html",
        {
            "nav": "dashboard",
            "rows": all_rows,
            "counters": counters(all_rows),
            "register_error": register_error,
        },
        status=400 if register_error else 200,
    )


async def register_charge_point(request: web.Request) -> web.Response:
    await require_role(request, "admin")
    form = await request.post()
    charge_point_id = text_field(form, "charge_point_id")
    try:
        await request.app[SERVICES].charge_points.register(
            charge_point_id, text_field(form, "password") or None
        )
    except InvalidInput as error:
        return await dashboard(request, register_error=str(error))
    await audit(request, "register charge point", charge_point_id)
    raise redirect(request, "charge_point", charge_point_id=charge_point_id)
