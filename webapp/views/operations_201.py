"""`POST /charge-points/{id}/operations/{operation}` for a charger speaking 2.0.1: the form's
fields made the 2.0.1 request by its catalogue entry's form, sent through
`api.send_operation` as the API sends it (schema, meaning checks, journal, what the answer
changes), the answer shown in place."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.catalogue import RequestForm
from ocpp_core.services.users import UserView
from ocpp_core.v16 import operations as v16_operations
from ocpp_core.v201.operations import CATALOGUE, from_form
from webapp.api import send_operation
from webapp.keys import SERVICES
from webapp.views.answers import OperationResult, run_operation, summary_201
from webapp.views.charge_points import answer_operation


def wrong_version(name: str, charge_point_id: str, speaks: str) -> OperationResult:
    """A form of the other version (the charger reconnected speaking another since the
    page was drawn): said on the page, nothing sent."""
    other = "2.0.1" if speaks == "1.6" else "1.6"
    detail = f"{name} is an OCPP {other} operation; {charge_point_id!r} speaks {speaks}"
    return OperationResult(name, "invalid input", False, f"{detail}: reload the page")


async def operation(request: web.Request, user: UserView) -> web.Response:
    charge_point_id = request.match_info["charge_point_id"]
    name = request.match_info["operation"]
    entry = CATALOGUE.get(name)
    if entry is None or not isinstance(entry.form, RequestForm):
        if name in v16_operations.CATALOGUE:
            result = wrong_version(name, charge_point_id, "2.0.1")
            return await answer_operation(request, result, template="charge_point_operations.html")
        raise web.HTTPNotFound(text="No such operation\n")
    label = entry.form.label
    form = await request.post()

    async def send() -> Any:
        body = await from_form(request.app[SERVICES], charge_point_id, entry, form)
        return await send_operation(request, user, charge_point_id, "2.0.1", entry, body)

    result = await run_operation(label, send(), summary_201(entry.action))
    return await answer_operation(request, result, template="charge_point_operations.html")
