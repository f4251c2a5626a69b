"""The portal's forms of the 2.0.1 operations: what each form's fields become, the
snake_case request as the JSON API takes it, which `CentralSystem.operate` then checks and
sends. A field missing or of the wrong kind is an InvalidInput naming it; values the schema
knows (enumerations, lengths) are left to its check, which names them as well. The
catalogue (`ocpp_core.v201.operations`) gives each entry with a form its `RequestForm`."""

from __future__ import annotations

import secrets
from typing import Any

from ocpp_core.catalogue import RequestForm
from ocpp_core.db.models import utcnow
from ocpp_core.errors import InvalidInput
from ocpp_core.field_values import finite_number, utc_datetime
from ocpp_core.form_fields import (
    Fields,
    optional_number,
    optional_text,
    required_number,
    required_text,
    text_field,
)
from ocpp_core.services import Services
from ocpp_core.timeutil import format_datetime

# The purposes an operator sets by hand; TxProfile belongs to a session (remote start).
PROFILE_PURPOSES = ("TxDefaultProfile", "ChargingStationMaxProfile")


def new_request_id() -> int:
    """A requestId the charger echoes in what follows (NotifyReport parts, status
    notifications of a log or firmware upload): unique enough to tell requests apart."""
    return secrets.randbelow(2**31 - 2) + 1


def _evse(form: Fields, required: bool = False) -> int | None:
    if required:
        return required_number(form, "evse_id", "EVSE", minimum=1)
    return optional_number(form, "evse_id", "EVSE", minimum=1)


def _with_evse(request: dict[str, Any], form: Fields) -> dict[str, Any]:
    """`evse: {id, connector_id}` from the optional EVSE and connector fields."""
    evse_id = _evse(form)
    connector_id = optional_number(form, "connector_id", "connector", minimum=1)
    if connector_id is not None and evse_id is None:
        raise InvalidInput("give the EVSE of the connector")
    if evse_id is not None:
        request["evse"] = {"id": evse_id}
        if connector_id is not None:
            request["evse"]["connector_id"] = connector_id
    return request


def _optional(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**request, **{name: value for name, value in fields.items() if value is not None}}


def _retrieve_time(form: Fields) -> str:
    # Empty: at once (retrieveDateTime is required; "now" is what an operator means).
    value = text_field(form, "retrieve_date_time")
    if not value:
        return format_datetime(utcnow()) or ""
    return utc_datetime(value, "retrieve time")


async def _reset(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    return _optional({"type": required_text(form, "type", "reset type")}, evse_id=_evse(form))


async def _change_availability(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    status = required_text(form, "operational_status", "operational status")
    return _with_evse({"operational_status": status}, form)


async def _unlock_connector(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    return {
        "evse_id": _evse(form, required=True),
        "connector_id": required_number(form, "connector_id", "connector", minimum=1),
    }


async def _trigger_message(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    message = required_text(form, "requested_message", "message to trigger")
    return _with_evse({"requested_message": message}, form)


def _component(form: Fields) -> dict[str, Any]:
    component: dict[str, Any] = {"name": required_text(form, "component", "component")}
    instance = optional_text(form, "component_instance")
    if instance is not None:
        component["instance"] = instance
    evse_id = optional_number(form, "evse_id", "EVSE", minimum=0)
    connector_id = optional_number(form, "connector_id", "connector", minimum=0)
    if connector_id is not None and evse_id is None:
        raise InvalidInput("give the EVSE of the connector")
    if evse_id is not None:
        component["evse"] = {"id": evse_id}
        if connector_id is not None:
            component["evse"]["connector_id"] = connector_id
    return component


def _variable(form: Fields) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": required_text(form, "variable", "variable")}
    instance = optional_text(form, "variable_instance")
    if instance is not None:
        variable["instance"] = instance
    return variable


def variable_reference(form: Fields) -> dict[str, Any]:
    """The attribute a form names: component (instance, EVSE, connector), variable
    (instance) and attribute type, as GetVariableData / SetVariableData hold them."""
    return _optional(
        {"component": _component(form), "variable": _variable(form)},
        attribute_type=optional_text(form, "attribute_type"),
    )


async def _get_variables(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    return {"get_variable_data": [variable_reference(form)]}


async def set_variable(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    """One attribute set to the typed value (an empty value is a value: it clears it)."""
    value = form.get("value", "")
    if not isinstance(value, str):
        raise InvalidInput("value must be text")
    return {"set_variable_data": [{**variable_reference(form), "attribute_value": value}]}


async def _get_base_report(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    report_base = text_field(form, "report_base") or "FullInventory"
    return {"request_id": new_request_id(), "report_base": report_base}


async def _set_charging_profile(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    """A limit from now on: one Absolute schedule of one period, on an EVSE or (EVSE 0)
    the whole station."""
    purpose = text_field(form, "charging_profile_purpose") or "TxDefaultProfile"
    if purpose not in PROFILE_PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PROFILE_PURPOSES)}")
    evse_id = optional_number(form, "evse_id", "EVSE", minimum=0) or 0
    if purpose == "ChargingStationMaxProfile" and evse_id != 0:
        raise InvalidInput("a ChargingStationMaxProfile is the whole station's: EVSE 0")
    profile_id = required_number(form, "charging_profile_id", "profile id", minimum=1)
    limit = finite_number(required_text(form, "limit", "limit"), "limit")
    if limit < 0:
        raise InvalidInput("limit must not be negative")
    schedule = {
        "id": profile_id,
        "start_schedule": format_datetime(utcnow()),
        "charging_rate_unit": text_field(form, "charging_rate_unit") or "A",
        "charging_schedule_period": [{"start_period": 0, "limit": limit}],
    }
    profile = {
        "id": profile_id,
        "stack_level": required_number(form, "stack_level", "stack level"),
        "charging_profile_purpose": purpose,
        "charging_profile_kind": "Absolute",
        "charging_schedule": [schedule],
    }
    return {"evse_id": evse_id, "charging_profile": profile}


async def _reserve_now(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    token = required_text(form, "id_token", "id token")
    expiry = utc_datetime(required_text(form, "expiry_date_time", "expiry"), "expiry")
    request = {
        "id": await services.operations.next_reservation_id(),
        "expiry_date_time": expiry,
        "id_token": {"id_token": token, "type": "Central"},
    }
    return _optional(request, evse_id=_evse(form))


async def _cancel_reservation(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    return {"reservation_id": required_number(form, "reservation_id", "reservation")}


async def _clear_charging_profile(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    """One profile by its id (the button on a kept profile's row)."""
    return {"charging_profile_id": required_number(form, "id", "profile id", minimum=1)}


def _authorization_data(entry: dict[str, Any]) -> dict[str, Any]:
    """A local list entry of the id-tag table (1.6 shape) as 2.0.1 AuthorizationData."""
    tag_info = entry["id_tag_info"]
    info: dict[str, Any] = {"status": tag_info["status"]}
    if "expiry_date" in tag_info:
        info["cache_expiry_date_time"] = tag_info["expiry_date"]
    if "parent_id_tag" in tag_info:
        info["group_id_token"] = {"id_token": tag_info["parent_id_tag"], "type": "Central"}
    return {"id_token": {"id_token": entry["id_tag"], "type": "Central"}, "id_token_info": info}


async def _send_local_list(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    """The whole id-tag table as the charger's list, under the next version number."""
    version, entries = await services.operations.local_list(charge_point_id, "Full")
    request: dict[str, Any] = {"version_number": version, "update_type": "Full"}
    if entries:  # a Full list of none is sent without the list (minItems 1)
        request["local_authorization_list"] = [_authorization_data(e) for e in entries]
    return request


async def _update_firmware(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    firmware = {
        "location": required_text(form, "location", "firmware URL"),
        "retrieve_date_time": _retrieve_time(form),
    }
    return {"request_id": new_request_id(), "firmware": firmware}


async def _get_log(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    return {
        "log": {"remote_location": required_text(form, "location", "upload URL")},
        "log_type": text_field(form, "log_type") or "DiagnosticsLog",
        "request_id": new_request_id(),
    }


async def _set_display_message(
    services: Services, charge_point_id: str, form: Fields
) -> dict[str, Any]:
    # A new message: the next id after those the charger holds (NotifyDisplayMessages
    # and those it accepted); the same id would replace one.
    held = await services.device_model.messages(charge_point_id)
    message_id = max((m["id"] for m in held), default=0) + 1
    message = {
        "id": message_id,
        "priority": required_text(form, "priority", "priority"),
        "message": {"format": "UTF8", "content": required_text(form, "text", "message text")},
    }
    return {"message": message}


async def _data_transfer(services: Services, charge_point_id: str, form: Fields) -> dict[str, Any]:
    return _optional(
        {"vendor_id": required_text(form, "vendor_id", "vendor id")},
        message_id=optional_text(form, "message_id"),
        data=optional_text(form, "data"),
    )


# The forms, each with how its answer is introduced on the page.
RESET = RequestForm("Reset", _reset)
CHANGE_AVAILABILITY = RequestForm("Availability", _change_availability)
UNLOCK_CONNECTOR = RequestForm("Unlock connector", _unlock_connector)
TRIGGER_MESSAGE = RequestForm("Trigger message", _trigger_message)
GET_VARIABLES = RequestForm("Get variable", _get_variables)
SET_VARIABLE = RequestForm("Set variable", set_variable)
GET_BASE_REPORT = RequestForm("Base report", _get_base_report)
SET_CHARGING_PROFILE = RequestForm("Charging limit", _set_charging_profile)
RESERVE_NOW = RequestForm("Reserve", _reserve_now)
CANCEL_RESERVATION = RequestForm("Cancel reservation", _cancel_reservation)
CLEAR_CHARGING_PROFILE = RequestForm("Clear charging profile", _clear_charging_profile)
SEND_LOCAL_LIST = RequestForm("Local list", _send_local_list)
UPDATE_FIRMWARE = RequestForm("Firmware", _update_firmware)
GET_LOG = RequestForm("Log upload", _get_log)
SET_DISPLAY_MESSAGE = RequestForm("Display message", _set_display_message)
DATA_TRANSFER = RequestForm("Data transfer", _data_transfer)
