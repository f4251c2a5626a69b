"""Remote start and stop of a 2.0.1 session: RequestStartTransaction and
RequestStopTransaction, built as the JSON API builds them (`api.remote_start`,
`api.remote_stop`) and sent the one way operations go, `api.send_operation`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocpp_core.errors import InvalidInput, NotFound
from ocpp_core.services.users import UserView
from ocpp_core.v201 import operations as catalogue
from webapp.api import send_operation
from webapp.keys import SERVICES


async def request_start_transaction(
    request: web.Request,
    user: UserView,
    charge_point_id: str,
    id_tag: str,
    evse_id: int | None = None,
) -> dict[str, Any]:
    entry = catalogue.BY_ACTION["RequestStartTransaction"]
    start = catalogue.start_request(id_tag, evse_id)
    return await send_operation(request, user, charge_point_id, "2.0.1", entry, start)


async def request_stop_transaction(
    request: web.Request, user: UserView, charge_point_id: str, transaction_id: int
) -> dict[str, Any]:
    """Stop one of our sessions (by our integer id), named to the charger by its own
    transactionId."""
    try:
        tx = await request.app[SERVICES].transaction_queries.get(transaction_id)
    except NotFound:
        raise InvalidInput(f"transaction {transaction_id} does not exist") from None
    if tx.charge_point_id != charge_point_id or tx.ocpp_transaction_id is None:
        raise InvalidInput(
            f"transaction {transaction_id} is not a 2.0.1 session of {charge_point_id!r}"
        )
    entry = catalogue.BY_ACTION["RequestStopTransaction"]
    stop = {"transaction_id": tx.ocpp_transaction_id}
    return await send_operation(request, user, charge_point_id, "2.0.1", entry, stop)
