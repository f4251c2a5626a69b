"""`/`: the charge points, searched, filtered by status, sorted and paged, live."""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput
from ocpp_core.fleet_index import FleetQuery
from webapp import dashboard_query
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, FLEET, SERVICES
from webapp.presentation import path_url
from webapp.views.common import (
    counters_context,
    is_htmx,
    redirect,
    render,
    render_partial,
    rows_of,
    text_field,
)


async def fleet_context(request: web.Request) -> dict[str, Any]:
    """What the fleet part of the page shows for the view in the request's query."""
    query, problems = dashboard_query.parse(request.query)
    await request.app[FLEET].refresh()
    return {"problems": problems, **await page_context(request.app, query)}


async def page_context(app: web.Application, query: FleetQuery) -> dict[str, Any]:
    """The page of charge points `query` shows (`_fleet_page.html`) and the counters, from
    the fleet index as of its last refresh."""
    index = app[FLEET]
    page = index.query(query)
    # The page's rows read afresh: the index is as of the last event, the page as of now.
    statuses = await app[CENTRAL_SYSTEM].statuses_of(page.ids)
    order = {charge_point_id: n for n, charge_point_id in enumerate(page.ids)}
    statuses.sort(key=lambda s: order[s.charge_point.id])
    return {
        "query": query,
        "page": page,
        "rows": await rows_of(app, statuses),
        "view": dashboard_query.params(query, page=page.page),
        "sorted_by": functools.partial(dashboard_query.sorted_by, query),
        "paged": lambda n: dashboard_query.params(query, page=n),
        **counters_context(index, query),
    }


async def dashboard(request: web.Request, register_error: str | None = None) -> web.Response:
    await require_role(request, "viewer")
    context = await fleet_context(request)
    if is_htmx(request) and "HX-History-Restore-Request" not in request.headers:
        # A search, filter, sort or page from the page itself: only the part that changes.
        # The address pushed to the history is the view's own, without empty fields.
        html = await render_partial(request, "_fleet.html", context)
        address = path_url(request.app.router, "dashboard", context["view"])
        return web.Response(
            text=html.strip(), content_type="text/html", headers={"HX-Push-Url": str(address)}
        )
    context.update(nav="dashboard", register_error=register_error)
    return await render(request, "dashboard.html", context, status=400 if register_error else 200)


async def register_charge_point(request: web.Request) -> web.Response:
    user = await require_role(request, "admin")
    form = await request.post()
    charge_point_id = text_field(form, "charge_point_id")
    try:
        await request.app[SERVICES].charge_points.register(
            charge_point_id, text_field(form, "password") or None, actor=user.username
        )
    except InvalidInput as error:
        return await dashboard(request, register_error=str(error))
    raise redirect(request, "charge_point", charge_point_id=charge_point_id)
