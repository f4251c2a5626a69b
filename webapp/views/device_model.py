"""`/charge-points/{id}/device-model`: a 2.0.1 charger's device model as a searchable table
(the search server-side, live from htmx), and each writable variable set in place: its
SetVariables sent through `api.send_operation`, its row drawn again with the charger's answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import NotFound
from ocpp_core.v201.operations import CATALOGUE, from_form
from webapp.api import send_operation
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views.answers import OperationResult, run_operation, summary_201
from webapp.views.common import is_htmx, render, render_partial, rows, text_field, version_spoken
from webapp.views.operations_201 import wrong_version

# Variables the table shows at most (the service's own bound): a search narrows it.
SHOWN = 2000
MAX_SEARCH = 100


def _search(request: web.Request) -> str:
    return request.query.get("q", "").strip()[:MAX_SEARCH]


async def _table_context(request: web.Request, charge_point_id: str) -> dict[str, Any]:
    search = _search(request)
    variables = await request.app[SERVICES].device_model.variables(
        charge_point_id, search or None, limit=SHOWN
    )
    return {"variables": variables, "search": search, "capped": len(variables) >= SHOWN}


async def _page(
    request: web.Request, charge_point_id: str, result: OperationResult | None = None
) -> web.Response:
    try:
        [row] = await rows(request.app, charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    context = {
        **await _table_context(request, charge_point_id),
        "nav": "dashboard",
        "row": row,
        "result": result,
    }
    return await render(request, "device_model.html", context)


def _wants_rows(request: web.Request) -> bool:
    # htmx asks for the table alone (search, refresh on a new report); a history restore
    # wants the whole page back.
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


async def device_model_page(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    charge_point_id = request.match_info["charge_point_id"]
    if not _wants_rows(request):
        return await _page(request, charge_point_id)
    try:
        await request.app[SERVICES].charge_points.get(charge_point_id)
    except NotFound:
        raise web.HTTPNotFound(text=f"No charge point {charge_point_id}\n") from None
    html = await render_partial(
        request,
        "_dm_table.html",
        {**await _table_context(request, charge_point_id), "cp_id": charge_point_id},
    )
    return web.Response(text=html, content_type="text/html")


async def set_variable_in_place(request: web.Request) -> web.Response:
    """One variable's new value: its row again (htmx) with the answer, or the page."""
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    form = await request.post()
    services = request.app[SERVICES]
    named = (text_field(form, "component"), text_field(form, "variable"))
    label = "Set " + ".".join(name for name in named if name)
    sent: list[dict[str, Any]] = []
    if await version_spoken(request, charge_point_id) != "2.0.1":
        result = wrong_version("set-variables", charge_point_id, "1.6")
    else:

        async def send() -> dict[str, Any]:
            entry = CATALOGUE["set-variables"]
            body = await from_form(services, charge_point_id, entry, form)
            sent.extend(body["set_variable_data"])
            return await send_operation(request, user, charge_point_id, "2.0.1", entry, body)

        result = await run_operation(label, send(), summary_201("SetVariables"))
    if not is_htmx(request):
        return await _page(request, charge_point_id, result)
    variable = None
    if sent:
        [item] = sent
        variable = await services.device_model.variable(
            charge_point_id, item["component"], item["variable"], item.get("attribute_type")
        )
    html = await render_partial(
        request, "_dm_row.html", {"v": variable, "answer": result, "cp_id": charge_point_id}
    )
    return web.Response(text=html, content_type="text/html")
