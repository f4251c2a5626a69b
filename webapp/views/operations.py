"""`POST /charge-points/{id}/operations/{operation}`: every OCPP operation from a form.

Each form field becomes a field of the OCPP request (snake_case, as the JSON API takes it);
the request then goes the same way as the API's: schema and meaning checked, sent through
the registry, journalled, its answer shown in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from aiohttp import web
from ocpp.v16 import call

from ocpp_core.errors import InvalidInput
from ocpp_core.timeutil import format_datetime, parse_datetime
from webapp.api import OPERATIONS, send_operation
from webapp.auth import require_role
from webapp.keys import SERVICES
from webapp.views.answers import run_operation
from webapp.views.charge_points import answer_operation
from webapp.views.common import text_field


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number") from None


def _float(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    # "nan", "inf" and "1e400" parse as floats, but are no limit the schema can check.
    if not math.isfinite(number):
        raise InvalidInput(f"{name.replace('_', ' ')} must be a number")
    return number


def _datetime(value: str, name: str) -> str:
    """`<input type=datetime-local>` is zone-less; the page says UTC."""
    try:
        return format_datetime(parse_datetime(value)) or ""
    except ValueError:
        raise InvalidInput(f"{name.replace('_', ' ')} must be a date and time") from None


def _keys(value: str, _name: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


def _text(value: str, _name: str) -> str:
    return value


# Form field -> how to read it, per operation. Empty fields are left out.
FIELDS: dict[str, dict[str, Callable[[str, str], Any]]] = {
    "Reset": {"type": _text},
    "ChangeAvailability": {"connector_id": _int, "type": _text},
    "GetConfiguration": {"key": _keys},
    "ChangeConfiguration": {"key": _text, "value": _text},
    "ClearCache": {},
    "UnlockConnector": {"connector_id": _int},
    "DataTransfer": {"vendor_id": _text, "message_id": _text, "data": _text},
    "TriggerMessage": {"requested_message": _text, "connector_id": _int},
    "ReserveNow": {
        "connector_id": _int,
        "id_tag": _text,
        "expiry_date": _datetime,
        "parent_id_tag": _text,
    },
    "CancelReservation": {"reservation_id": _int},
    "SendLocalList": {"update_type": _text},
    "GetLocalListVersion": {},
    "ClearChargingProfile": {
        "id": _int,
        "connector_id": _int,
        "charging_profile_purpose": _text,
        "stack_level": _int,
    },
    "GetCompositeSchedule": {"connector_id": _int, "duration": _int, "charging_rate_unit": _text},
    "GetDiagnostics": {
        "location": _text,
        "retries": _int,
        "retry_interval": _int,
        "start_time": _datetime,
        "stop_time": _datetime,
    },
    "UpdateFirmware": {
        "location": _text,
        "retrieve_date": _datetime,
        "retries": _int,
        "retry_interval": _int,
    },
}

PROFILE_FIELDS = {
    "charging_profile_id": _int,
    "stack_level": _int,
    "charging_profile_purpose": _text,
    "charging_profile_kind": _text,
    "charging_rate_unit": _text,
    "limit": _float,
    "transaction_id": _int,
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
    connector_id = _int(text_field(form, "connector_id") or "0", "connector_id")
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
    user = await require_role(request, "operator")
    charge_point_id = request.match_info["charge_point_id"]
    action = OPERATIONS.get(request.match_info["operation"])
    if action is None:
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
