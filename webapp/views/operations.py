"""`POST /charge-points/{id}/operations/{operation}`: every OCPP operation from a form.

The form's fields make the request as the catalogue of the version the charger speaks
says (`ocpp_core.v16.operations`; 2.0.1: `operations_201`); it then goes the same way as
the API's: schema and meaning checked, sent through the registry, journalled, its answer
shown in place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.v16 import operations as catalogue
from ocpp_core.v201 import operations as catalogue_201
from webapp.api import send_operation
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views import operations_201
from webapp.views.answers import run_operation
from webapp.views.charge_points import answer_operation
from webapp.views.common import submitted, version_spoken


async def operation(request: web.Request) -> web.Response:
    """An operation form's post, in the version the charger speaks (as the API's)."""
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    if await version_spoken(request, charge_point_id) == "2.0.1":
        return await operations_201.operation(request, user)
    name = request.match_info["operation"]
    entry = catalogue.CATALOGUE.get(name)
    if entry is None or entry.form is None:
        entry_201 = catalogue_201.CATALOGUE.get(name)
        if entry_201 is not None and entry_201.form is not None:
            result = operations_201.wrong_version(name, charge_point_id, "1.6")
            return await answer_operation(request, result, template="charge_point_operations.html")
        raise web.HTTPNotFound(text="No such operation\n")
    fields = submitted(await request.post())

    async def send() -> Any:
        services = request.app[SERVICES]
        body = await catalogue.from_form(services, charge_point_id, entry, fields)
        return await send_operation(request, user, charge_point_id, "1.6", entry, body)

    assert entry.summary is not None  # every 1.6 entry has one (test_operation_catalogue)
    result = await run_operation(entry.action, send(), entry.summary)
    return await answer_operation(request, result, template="charge_point_operations.html")
