"""`/operations`: one operation sent to many charge points at once (a list of ids, or every
connected one), each in the version it speaks, with each one's answer.

An operator picks what to do, not a version's action: "configuration" is ChangeConfiguration
to a 1.6 charger and SetVariables to a 2.0.1 one. Each request is made by the catalogue of
the charger's version from the same form fields (as its own page's form would), sent
through `api.send_operation`, journalled like any other."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ocpp_core.central_system import CATALOGUES
from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.users import UserView
from ocpp_core.v16 import operations as v16
from ocpp_core.v201 import operations as v201
from webapp.api import ocpp_version_of, send_operation
from webapp.auth import require_role
from webapp.keys import CENTRAL_SYSTEM, SERVICES
from webapp.views.answers import OperationResult, run_operation, summary_201
from webapp.views.common import render, submitted

# What an operator does -> (its label, the catalogue name of each version).
KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "reset": ("Reset", {"1.6": "reset", "2.0.1": "reset"}),
    "configuration": (
        "Change configuration / set variable",
        {"1.6": "change-configuration", "2.0.1": "set-variables"},
    ),
    "trigger": ("Trigger message", {"1.6": "trigger-message", "2.0.1": "trigger-message"}),
    "firmware": ("Update firmware", {"1.6": "update-firmware", "2.0.1": "update-firmware"}),
}
# One field of the form named as each version's form reads it.
_SAME_FIELD = {"2.0.1": {"retrieve_date_time": "retrieve_date"}}
MAX_CHARGE_POINTS = 2000
# CALLs under way at once: each waits up to CALL_TIMEOUT for its charger.
CONCURRENT = 100


@dataclass(frozen=True)
class BulkResult:
    charge_point_id: str
    version: str | None
    action: str | None
    result: OperationResult


def charge_point_ids(text: str) -> list[str]:
    """Ids one per line or separated by commas or spaces, each once, in the given order."""
    ids = [part for part in re.split(r"[\s,;]+", text) if part]
    return list(dict.fromkeys(ids))


async def bulk_page(request: web.Request) -> web.Response:
    await require_role(request, "operator")
    return await _page(request, {}, None, [])


async def _page(
    request: web.Request, form: dict[str, str], error: str | None, results: list[BulkResult]
) -> web.Response:
    context = {
        "nav": "operations",
        "kinds": {name: label for name, (label, _) in KINDS.items()},
        "form": form,
        "error": error,
        "results": results,
        "accepted": sum(r.result.ok for r in results),
    }
    template = "_bulk_results.html" if request.headers.get("HX-Request") else "bulk_operations.html"
    return await render(request, template, context, status=400 if error else 200)


async def bulk_operation(request: web.Request) -> web.Response:
    user = await require_role(request, "operator")
    fields = submitted(await request.post())
    try:
        kind = KINDS.get(fields.get("kind", ""))
        if kind is None:
            raise InvalidInput("choose what to do")
        ids = charge_point_ids(fields.get("charge_point_ids", ""))
        if fields.get("all_connected") == "yes":
            statuses = await request.app[CENTRAL_SYSTEM].live_charge_points()
            ids = list(dict.fromkeys([*ids, *(s.charge_point.id for s in statuses if s.connected)]))
        if not ids:
            raise InvalidInput("give the charge points (their ids), or tick every connected one")
        if len(ids) > MAX_CHARGE_POINTS:
            raise InvalidInput(f"at most {MAX_CHARGE_POINTS} charge points at once ({len(ids)})")
    except InvalidInput as error:
        return await _page(request, fields, str(error), [])
    label, names = kind
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(charge_point_id: str) -> BulkResult:
        async with gate:
            return await _send(request, user, charge_point_id, label, names, fields)

    results = await asyncio.gather(*(one(cp) for cp in ids))
    return await _page(request, fields, None, list(results))


async def _send(
    request: web.Request,
    user: UserView,
    charge_point_id: str,
    label: str,
    names: dict[str, str],
    fields: dict[str, str],
) -> BulkResult:
    try:
        version = await ocpp_version_of(request, charge_point_id)
    except NotFound:
        return BulkResult(charge_point_id, None, None, OperationResult(label, "unknown", False))
    entry = CATALOGUES[version][names[version]]
    for theirs, ours in _SAME_FIELD.get(version, {}).items():
        fields = {**fields, theirs: fields.get(ours, "")}
    services = request.app[SERVICES]

    async def send() -> dict[str, Any]:
        if version == "2.0.1":
            body = await v201.from_form(services, charge_point_id, entry, fields)
        else:
            body = await v16.from_form(services, charge_point_id, entry, fields)
        return await send_operation(request, user, charge_point_id, version, entry, body)

    summary = entry.summary if version == "1.6" and entry.summary else summary_201(entry.action)
    try:
        result = await run_operation(label, send(), summary)
    except web.HTTPNotFound:  # removed while the others were sent
        result = OperationResult(label, "unknown", False)
    except web.HTTPForbidden:  # an admin's operation (a key change)
        result = OperationResult(label, "refused", False, "only an admin may send this")
    return BulkResult(charge_point_id, version, entry.action, result)
