"""`POST /charge-points/{id}/operations/{operation}`: every OCPP operation from a form.

Each form field becomes a field of the OCPP request (snake_case, as the JSON API takes it);
the request then goes the same way as the API's: schema and meaning checked, sent through
the registry, journalled, its answer shown in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from ocpp.v16 import call

from ocpp_core.errors import InvalidInput
from webapp.api import OPERATIONS, send_operation
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views import operations_201
from webapp.views.answers import run_operation
from webapp.views.charge_points import answer_operation
from webapp.views.common import text_field, version_spoken
from webapp.views.form_fields import finite_number, utc_datetime, whole_number
from webapp.views.forms_201 import FORMS


def _keys(value: str, _name: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def _text(value: str, _name: str) -> str:
    return value


# Form field -> how to read it, per operation. Empty fields are left out.
FIELDS: dict[str, dict[str, Callable[[str, str], Any]]] = {
    "Reset": {"type": _text},
    "ChangeAvailability": {"connector_id": whole_number, "type": _text},
    "GetConfiguration": {"key": _keys},
    "ChangeConfiguration": {"key": _text, "value": _text},
    "ClearCache": {},
    "UnlockConnector": {"connector_id": whole_number},
    "DataTransfer": {"vendor_id": _text, "message_id": _text, "data": _text},
    "TriggerMessage": {"requested_message": _text, "connector_id": whole_number},
    "ReserveNow": {
        "connector_id": whole_number,
        "id_tag": _text,
        "expiry_date": utc_datetime,
        "parent_id_tag": _text,
    },
    "CancelReservation": {"reservation_id": whole_number},
    "SendLocalList": {"update_type": _text},
    "GetLocalListVersion": {},
    "ClearChargingProfile": {
        "id": whole_number,
        "connector_id": whole_number,
        "charging_profile_purpose": _text,
        "stack_level": whole_number,
    },
    "GetCompositeSchedule": {
        "connector_id": whole_number,
        "duration": whole_number,
        "charging_rate_unit": _text,
    },
    "GetDiagnostics": {
        "location": _text,
        "retries": whole_number,
        "retry_interval": whole_number,
        "start_time": utc_datetime,
        "stop_time": utc_datetime,
    },
    "UpdateFirmware": {
        "location": _text,
        "retrieve_date": utc_datetime,
        "retries": whole_number,
        "retry_interval": whole_number,
    },
}

PROFILE_FIELDS = {
    "charging_profile_id": whole_number,
    "stack_level": whole_number,
    "charging_profile_purpose": _text,
    "charging_profile_kind": _text,
    "charging_rate_unit": _text,
    "limit": finite_number,
    "transaction_id": whole_number,
}


def _read(form: Any, fields: dict[str, Callable[[str, str], Any]]) -> dict[str, Any]:
    values = {}
    for name, read in fields.items():
        raw = text_field(form, name)
        if raw:
            values[name] = read(raw, name)
    return values


def request_from_form(action: str, form: Any) -> dict[str, Any]:
    if action != "SetChargingProfile":
        return _read(form, FIELDS[action])
    # One schedule period: what an operator sets by hand (a limit from now on).
    profile = _read(form, PROFILE_FIELDS)
    missing = [n for n in ("charging_profile_id", "stack_level", "limit") if n not in profile]
    if missing:
        raise InvalidInput(f"give the {', '.join(m.replace('_', ' ') for m in missing)}")
    connector_id = whole_number(text_field(form, "connector_id") or "0", "connector_id")
    limit = profile.pop("limit")
    unit = profile.pop("charging_rate_unit", "A")
    profile.setdefault("charging_profile_purpose", "TxDefaultProfile")
    profile.setdefault("charging_profile_kind", "Relative")
    profile["charging_schedule"] = {
        "charging_rate_unit": unit,
        "charging_schedule_period": [{"start_period": 0, "limit": limit}],
    }
    return {"connector_id": connector_id, "cs_charging_profiles": profile}


async def operation(request: web.Request) -> web.Response:
    """An operation form's post, in the version the charger speaks (as the API's)."""
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    if await version_spoken(request, charge_point_id) == "2.0.1":
        return await operations_201.operation(request, user)
    name = request.match_info["operation"]
    action = OPERATIONS.get(name)
    if action is None:
        if name in FORMS:
            result = operations_201.wrong_version(name, charge_point_id, "1.6")
            return await answer_operation(request, result, template="charge_point_operations.html")
        raise web.HTTPNotFound(text="No such operation\n")
    form = await request.post()
    label = action

    async def send() -> Any:
        body = await request.app[SERVICES].operations.complete_request(
            charge_point_id, action, request_from_form(action, form)
        )
        try:
            payload = getattr(call, action)(**body)
        except TypeError as error:
            raise InvalidInput(str(error)) from None
        return await send_operation(request, user, charge_point_id, payload)

    result = await run_operation(label, action, send())
    return await answer_operation(request, result, template="charge_point_operations.html")
